import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from genlab.recipes.stirling import bernoulli, gamma_coefficients, stirling_lgamma1p


def test_bernoulli_numbers_match_known_values():
    known = {0: Fraction(1), 1: Fraction(-1, 2), 2: Fraction(1, 6), 4: Fraction(-1, 30), 6: Fraction(1, 42),
             8: Fraction(-1, 30), 10: Fraction(5, 66), 12: Fraction(-691, 2730), 3: Fraction(0)}
    assert all(bernoulli(m) == b for m, b in known.items())


def test_gamma_form_coefficients_match_the_classical_series():
    # Gamma(x+1) ~ sqrt(2 pi x)(x/e)^x (1 + 1/(12x) + 1/(288x^2) - 139/(51840x^3) - 571/(2488320x^4))
    expected = [Fraction(1), Fraction(1, 12), Fraction(1, 288),
                Fraction(-139, 51840), Fraction(-571, 2488320)]
    assert gamma_coefficients(4) == expected


@pytest.mark.parametrize("x", [3.0, 7.5, 20.0, 100.0])
def test_matches_lgamma_for_moderate_x(x):
    # why: the error is below the first omitted term B_8/(8*7 x^7) = 1/(1680 x^7), plus float rounding
    bound = 1 / (1680 * x**7) + 1e-13 * abs(math.lgamma(x + 1))
    assert abs(stirling_lgamma1p(x, 3) - math.lgamma(x + 1)) < bound


def test_error_first_falls_then_grows_at_small_x():
    x = 1.0
    err = np.array([abs(stirling_lgamma1p(x, n) - math.lgamma(x + 1)) for n in range(13)])
    best = int(err.argmin())
    assert 1 <= best <= 6  # the smallest term of the series is near n ~ pi x
    assert np.all(np.diff(err[: best + 1]) < 0) and np.all(np.diff(err[best:]) > 0)
    assert err[-1] > err[0]  # with enough terms the series is worse than none: asymptotic, not convergent


def test_arrays_and_tensors_agree_with_floats():
    xs = [0.7, 2.0, 9.0]
    ref = [stirling_lgamma1p(x, 4) for x in xs]
    np.testing.assert_allclose(stirling_lgamma1p(np.array(xs), 4), ref, rtol=1e-14)
    t = stirling_lgamma1p(torch.tensor(xs, dtype=torch.float64), 4)
    assert t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-14)


def test_bad_inputs():
    with pytest.raises(ValueError, match="x must be > 0"):
        stirling_lgamma1p(np.array([1.0, -2.0]), 2)
    with pytest.raises(ValueError, match="n_terms"):
        stirling_lgamma1p(1.0, -1)
