"""Gillespie's exact stochastic simulation (SSA) of a well-mixed reaction system.

https://kexue.fm/archives/5607 ; D. T. Gillespie, J. Phys. Chem. 81 (1977) 2340. Each reaction fires
with mass-action propensity a_r(n) = c_r * prod_s C(n_s, left_rs); the next event comes after an
Exp(a_0) wait (a_0 = sum_r a_r) and is reaction r with probability a_r / a_0. Statistics of a path
weight every visited state by its holding time: counting events instead favours states that are left
quickly (for 0 -> X at rate k, X -> 0 at rate g*x the event average of X is k/g + 1/2, not k/g).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Seed = int | np.random.Generator


def _generator(rng: Seed) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an int seed or a numpy.random.Generator, got {type(rng).__name__}")


@dataclass(frozen=True)
class Reaction:
    """`reactants` -> `products` at rate constant `rate`; both are stoichiometric counts per species."""

    rate: float
    reactants: tuple[int, ...]
    products: tuple[int, ...]

    def __post_init__(self) -> None:
        if not (np.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f"rate must be finite and >= 0, got {self.rate}")
        if len(self.reactants) != len(self.products) or not self.reactants:
            raise ValueError("reactants and products must be non-empty and list one count per species")
        if min(*self.reactants, *self.products) < 0:
            raise ValueError("stoichiometric counts must be >= 0")


@dataclass(frozen=True)
class Trajectory:
    """Event times (T,) and the state (T, S) entered at each time; the last state's dwell is unknown."""

    times: np.ndarray
    states: np.ndarray

    def time_weighted_moments(self, burn_in: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance per species, each state weighted by its holding time after `burn_in`."""
        start = np.clip(self.times[:-1], burn_in, None)
        dwell = np.clip(self.times[1:], burn_in, None) - start
        if dwell.sum() <= 0:
            raise ValueError(f"burn_in must be below the last event time {self.times[-1]:.4g}, got {burn_in}")
        w = dwell / dwell.sum()
        mean = w @ self.states[:-1]
        return mean, w @ (self.states[:-1] - mean) ** 2


@dataclass(frozen=True)
class Ensemble:
    """Independent runs: states at the observation times (B, J, S) and time-weighted moments (B, S)."""

    observed: np.ndarray
    mean: np.ndarray
    var: np.ndarray

    def pooled_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Time-weighted mean and variance of all runs together (equal windows, so equal weights)."""
        mean = self.mean.mean(0)
        return mean, (self.var + self.mean**2).mean(0) - mean**2


class System:
    """A set of reactions over the same species; simulates one path or many paths in lockstep."""

    def __init__(self, reactions: Sequence[Reaction]):
        if not reactions or len({len(r.reactants) for r in reactions}) != 1:
            raise ValueError("reactions must be a non-empty list over the same number of species")
        self.rates = np.array([r.rate for r in reactions], dtype=float)
        self.left = np.array([r.reactants for r in reactions])
        self.change = np.array([r.products for r in reactions]) - self.left
        self.n_species = self.left.shape[1]

    def propensities(self, counts: np.ndarray) -> np.ndarray:
        """Mass-action propensities (..., R) of counts (..., S)."""
        n = counts[..., None, :].astype(float)
        ways = np.ones(n.shape[:-2] + self.left.shape)
        for j in range(self.left.max(initial=0)):  # C(n, k) = prod_{j<k} (n - j) / (j + 1); 0 when n < k
            ways *= np.where(j < self.left, (n - j) / (j + 1), 1.0)
        return self.rates * ways.prod(-1)

    def _initial(self, initial: Sequence[int] | None) -> np.ndarray:
        n = np.ones(self.n_species, dtype=np.int64) if initial is None else np.asarray(initial, np.int64)
        if n.shape != (self.n_species,) or (n < 0).any():
            raise ValueError(f"initial must hold {self.n_species} non-negative counts, got {initial}")
        return n

    def simulate(self, n_steps: int, rng: Seed, initial: Sequence[int] | None = None) -> Trajectory:
        """One exact path of at most `n_steps` events (stops early once no reaction can fire)."""
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        rng, n, t = _generator(rng), self._initial(initial), 0.0
        times, states = [t], [n]
        for u_wait, u_pick in rng.random((n_steps, 2)):
            a = self.propensities(n)
            a0 = a.sum()
            if a0 <= 0:
                break
            t -= np.log1p(-u_wait) / a0  # 1 - U avoids log(0)
            r = min(int(np.searchsorted(np.cumsum(a), u_pick * a0, side="right")), len(a) - 1)
            n = n + self.change[r]
            times.append(t)
            states.append(n)
        return Trajectory(np.array(times), np.array(states))

    def ensemble(self, n_runs: int, times: Sequence[float], rng: Seed, initial: Sequence[int] | None = None,
                 burn_in: float = 0.0) -> Ensemble:
        """`n_runs` independent paths advanced together up to max(times).

        Records each path's state at `times` and its time-weighted moments over [burn_in, max(times)].
        """
        obs = np.asarray(times, dtype=float)
        if n_runs < 1 or obs.ndim != 1 or obs.size == 0 or (obs < 0).any():
            raise ValueError("n_runs must be >= 1 and times a non-empty 1-D list of values >= 0")
        t_end = obs.max()
        if not 0 <= burn_in < t_end:
            raise ValueError(f"burn_in must be in [0, {t_end}), got {burn_in}")
        rng = _generator(rng)
        n = np.tile(self._initial(initial), (n_runs, 1))
        t = np.zeros(n_runs)
        observed = np.zeros((n_runs, obs.size, self.n_species), dtype=np.int64)
        s1 = np.zeros((n_runs, self.n_species))
        s2 = np.zeros_like(s1)
        live = np.arange(n_runs)
        while live.size:
            nl, tl = n[live], t[live]
            a = self.propensities(nl)
            a0 = a.sum(-1)
            with np.errstate(divide="ignore"):
                t_next = tl + rng.exponential(size=live.size) / a0  # inf once nothing can fire
            hit = (obs >= tl[:, None]) & (obs < t_next[:, None])  # state nl holds over [tl, t_next)
            rows, cols = np.nonzero(hit)
            observed[live[rows], cols] = nl[rows]
            dwell = np.clip(np.minimum(t_next, t_end), burn_in, None) - np.clip(tl, burn_in, None)
            s1[live] += dwell[:, None] * nl
            s2[live] += dwell[:, None] * nl**2
            u = rng.random(live.size) * a0
            r = np.minimum((np.cumsum(a, -1) <= u[:, None]).sum(-1), len(self.rates) - 1)
            n[live] = nl + self.change[r]
            t[live] = t_next
            live = live[t_next < t_end]
        mean = s1 / (t_end - burn_in)
        return Ensemble(observed, mean, s2 / (t_end - burn_in) - mean**2)


def gene_expression(k_m: float = 20.0, k_p: float = 2.5, g_m: float = 1.0, g_p: float = 1.0) -> System:
    """The article's example: 0 -> mRNA, mRNA -> mRNA + protein, mRNA -> 0, protein -> 0."""
    return System([Reaction(k_m, (0, 0), (1, 0)), Reaction(k_p, (1, 0), (1, 1)),
                   Reaction(g_m, (1, 0), (0, 0)), Reaction(g_p, (0, 1), (0, 0))])


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser, integer

    parser = ArgumentParser(prog="python -m genlab.recipes.gillespie", description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=integer(1, 100_000), default=1000, help="simulated paths")
    parser.add_argument("--seed", type=integer(0, 2**32 - 1), default=0)
    args = parser.parse_args(argv)
    k_m, k_p, g_m, g_p = 20.0, 2.5, 1.0, 1.0
    runs = gene_expression(k_m, k_p, g_m, g_p).ensemble(args.paths, [25.0], rng=args.seed, burn_in=5.0)
    mean, var = runs.pooled_moments()
    exact_mean = np.array([k_m / g_m, k_p * k_m / (g_m * g_p)])
    exact_fano = np.array([1.0, 1 + k_p / (g_m + g_p)])  # Poisson mRNA; protein per the spec's B9
    print(f"Gillespie SSA, gene expression: {args.paths} paths, time-weighted over t in [5, 25]")
    print(f"{'species':<9}{'mean':>9}{'exact':>9}{'Fano':>9}{'exact':>9}")
    for i, name in enumerate(("mRNA", "protein")):
        print(f"{name:<9}{mean[i]:9.3f}{exact_mean[i]:9.3f}{var[i] / mean[i]:9.3f}{exact_fano[i]:9.3f}")


if __name__ == "__main__":
    main()
