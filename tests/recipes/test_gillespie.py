import math

import numpy as np
import pytest
from scipy.special import comb

from genlab.recipes.gillespie import Reaction, System, Trajectory, gene_expression

K, G = 10.0, 1.0  # birth-death 0 -> X at rate K, X -> 0 at rate G * x: stationary Poisson(K / G)
LAM = K / G


def birth_death() -> System:
    return System([Reaction(K, (0,), (1,)), Reaction(G, (1,), (0,))])


def test_propensities_are_mass_action_combinations():
    system = System([Reaction(1.5, (2, 0, 3), (0, 1, 0)), Reaction(2.0, (0, 1, 1), (0, 0, 0)),
                     Reaction(3.0, (0, 0, 0), (1, 0, 0))])
    counts = np.random.default_rng(0).integers(0, 7, (40, 3))
    expected = system.rates * comb(counts[:, None, :], system.left).prod(-1)
    np.testing.assert_allclose(system.propensities(counts), expected, rtol=1e-12)


def test_time_weighting_on_a_hand_made_path():
    path = Trajectory(np.array([0.0, 1.0, 3.0, 3.5]), np.array([[0], [2], [5], [9]]))
    mean, var = path.time_weighted_moments()
    exact = (0 * 1.0 + 2 * 2.0 + 5 * 0.5) / 3.5  # the last state has no dwell
    assert mean[0] == pytest.approx(exact)
    assert var[0] == pytest.approx((0**2 * 1.0 + 2**2 * 2.0 + 5**2 * 0.5) / 3.5 - exact**2)


def test_birth_death_ensemble_is_poisson():
    runs = birth_death().ensemble(2000, [20.0], rng=1, burn_in=5.0)
    final = runs.observed[:, 0, 0].astype(float)
    # why: 2000 iid draws at t=20 (relaxation e^{-20}); SE(mean)=sqrt(lam/B), SE(var)=sqrt((lam+2lam^2)/B)
    b = final.size
    assert abs(final.mean() - LAM) < 4 * math.sqrt(LAM / b)
    assert abs(final.var(ddof=1) - LAM) < 4 * math.sqrt((LAM + 2 * LAM**2) / b)
    mean, var = runs.pooled_moments()
    # why: time averages over 15 units with correlation time 1/G: about B * 15 * G / 2 effective draws
    n_eff = b * 15 * G / 2
    assert abs(mean[0] - LAM) < 4 * math.sqrt(LAM / n_eff)
    assert abs(var[0] - LAM) < 4 * math.sqrt((LAM + 2 * LAM**2) / n_eff)


def test_single_path_time_vs_event_average():
    path = birth_death().simulate(40_000, rng=2, initial=[10])
    mean, _ = path.time_weighted_moments(burn_in=5.0)
    events = path.states[path.times > 5.0, 0]
    # why: ~2000 time units, correlation time 1 -> SE ~ sqrt(2 lam / T) ~ 0.1; event average is lam + 1/2
    se = math.sqrt(2 * LAM / path.times[-1])
    assert abs(mean[0] - LAM) < 4 * se
    assert abs(events.mean() - (LAM + 0.5)) < 4 * se


def test_pure_decay_mean_and_binomial_variance():
    n0, g = 40, 0.7
    times = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    runs = System([Reaction(g, (1,), (0,))]).ensemble(3000, times, rng=3, initial=[n0])
    x = runs.observed[:, :, 0].astype(float)
    p = np.exp(-g * times)
    se = np.sqrt(n0 * p * (1 - p) / x.shape[0]) + 1e-12  # each molecule survives independently w.p. p
    assert np.all(np.abs(x.mean(0) - n0 * p) < 4 * se)
    np.testing.assert_allclose(x.var(0, ddof=1)[1:], (n0 * p * (1 - p))[1:], rtol=0.15)  # why: ~5 SE


def test_gene_expression_means_and_fano():
    runs = gene_expression().ensemble(300, [15.0], rng=4, burn_in=5.0)
    mean, var = runs.pooled_moments()
    # why: 300 paths x 10 units, correlation time ~1: ~1500 draws; SE(protein mean) ~ 0.3, SE(Fano) ~ 0.1
    assert mean[0] == pytest.approx(20.0, abs=0.6)
    assert mean[1] == pytest.approx(50.0, abs=1.5)
    assert var[0] / mean[0] == pytest.approx(1.0, abs=0.2)
    assert var[1] / mean[1] == pytest.approx(2.25, abs=0.35)


def test_absorbing_state_stops():
    path = System([Reaction(1.0, (1,), (0,))]).simulate(100, rng=0, initial=[3])
    assert path.states[-1, 0] == 0 and len(path.times) == 4


def test_bad_inputs():
    with pytest.raises(ValueError, match="rate"):
        Reaction(-1.0, (1,), (0,))
    with pytest.raises(ValueError, match="species"):
        System([Reaction(1.0, (1,), (0,)), Reaction(1.0, (1, 0), (0, 0))])
    with pytest.raises(ValueError, match="initial"):
        birth_death().simulate(10, rng=0, initial=[-1])
    with pytest.raises(ValueError, match="burn_in"):
        birth_death().ensemble(5, [1.0], rng=0, burn_in=2.0)
    with pytest.raises(TypeError, match="rng"):
        birth_death().simulate(10, rng=0.5)
