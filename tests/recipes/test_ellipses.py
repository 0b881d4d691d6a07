import numpy as np
import pytest
from scipy.integrate import quad

from genlab.recipes.ellipses import glued_ellipses, quarter_perimeter, rim_radicand

SHAPES = [(1.05, 1.0), (2.0, 1.0), (3.0, 0.5), (7.0, 1.0), (0.3, 0.2)]


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), *SHAPES, (10.0, 1.0), (1.5, 1.4)])
def test_radicand_never_negative_when_bent_along_major_axis(a, b):
    _, f = rim_radicand(a, b, n=1000)
    assert f.min() > -1e-12  # why: exact value is >= 0 (the article's lemma); only rounding may dip below
    assert f.max() <= 1.0


def test_radicand_negative_when_bent_along_minor_axis():
    _, f = rim_radicand(1.0, 2.0, n=500)  # a < b: the swapped roles give minus the a > b radicand
    _, g = rim_radicand(2.0, 1.0, n=500)
    assert f.min() < -0.1
    np.testing.assert_allclose(f, -g[::-1], atol=1e-10)


def test_quarter_perimeter_against_quadrature():
    for a, b in SHAPES:
        speed = lambda t, a=a, b=b: np.hypot(a * np.sin(t), b * np.cos(t))  # noqa: E731
        assert quarter_perimeter(a, b) == pytest.approx(quad(speed, 0, np.pi / 2)[0], rel=1e-12)


@pytest.mark.parametrize(("a", "b"), SHAPES)
def test_glued_rim_closes_and_keeps_lengths(a, b):
    n = 1000
    solid = glued_ellipses(a, b, n=n)
    err = solid.closure_errors()
    assert err["gap"] < 1e-9 and err["mirror_1"] < 1e-9 and err["mirror_2"] < 1e-9
    # why: polyline lengths carry an O(h^2 * curvature^2) deficit, h = l/n ~ 1e-3 a here
    assert err["rim_length"] < 1e-4 * a and err["profile_1"] < 1e-4 * a and err["profile_2"] < 1e-4 * a
    steps = np.linalg.norm(np.diff(solid.rim, axis=0), axis=1)
    np.testing.assert_allclose(steps, np.diff(solid.s), rtol=1e-3)  # the rim has unit speed in s
    l = quarter_perimeter(a, b)
    # glue points: sheet 1's major-axis end meets sheet 2's minor-axis end, and so on around the rim
    np.testing.assert_allclose(solid.rim[0], [0, 0, b], atol=1e-12)
    np.testing.assert_allclose(solid.rim[n, 1:], [b, 0], atol=1e-12)
    np.testing.assert_allclose(solid.rim[2 * n], [0, 0, -b], atol=1e-9)
    assert solid.s[-1] == pytest.approx(4 * l)
    assert solid.rim[n, 0] > 0.01 * a  # the sheets really bend (a > b in SHAPES)


def test_length_residuals_are_discretisation_error():
    coarse = glued_ellipses(3.0, 1.0, n=250).closure_errors()
    fine = glued_ellipses(3.0, 1.0, n=500).closure_errors()
    for key in ("rim_length", "profile_1", "profile_2"):
        assert 3.5 < coarse[key] / fine[key] < 4.5  # second order in the grid step -> exact in the limit


@pytest.mark.parametrize(("a", "b"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (np.nan, 1.0), (np.inf, 1.0)])
def test_bad_axes_are_refused(a, b):
    with pytest.raises(ValueError, match="a and b"):
        glued_ellipses(a, b)
    with pytest.raises(ValueError, match="a and b"):
        rim_radicand(a, b)


def test_minor_axis_first_and_tiny_grid_are_refused():
    with pytest.raises(ValueError, match="semi-major"):
        glued_ellipses(1.0, 2.0)
    with pytest.raises(ValueError, match="n"):
        glued_ellipses(2.0, 1.0, n=3)
