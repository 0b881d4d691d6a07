"""Two congruent elliptic sheets, bent and glued rim to rim, close into a solid (https://kexue.fm/archives/6818).

Sheet 1 (x^2/a^2 + y^2/b^2 <= 1, a >= b) is bent along its major axis: its y survives as the 3-D
coordinate Y while its x-axis curls in the (X, Z) plane. Sheet 2 is bent the same way with its y as Z,
and the end of sheet 1's major axis is glued to the end of sheet 2's minor axis (like a tennis ball).
With h(s) the y of the rim point at arc length s from (a, 0) and l a quarter perimeter, the common rim
is (X(s), h(s), h(l - s)); bending keeps lengths, so X'(s)^2 = 1 - h'(s)^2 - h'(l - s)^2, which the
article proves is never negative when a >= b. X' flips sign every quarter [added: derived here; the
spec writes only the first quarter's integral]: that lands the rim points (x, y) and (x, -y) of each sheet
on one generator, and the rim closes.
Points are found by arc length through the parameter t of (a cos t, b sin t), not through y(x), whose
slope blows up at the ends of the major axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ellipe, ellipeinc


def _check(a: float, b: float, n: int) -> None:
    if not (np.isfinite(a) and np.isfinite(b) and a > 0 and b > 0):
        raise ValueError(f"semi-axes a and b must be finite and > 0, got a={a}, b={b}")
    if n < 8:
        raise ValueError(f"n (grid points per quarter) must be >= 8, got {n}")


def quarter_perimeter(a: float, b: float) -> float:
    return float(a * ellipe(1 - (b / a) ** 2))


def _param_at(s: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Parameter t of the rim point at arc length s from (a, 0) (any real s), and the speed ds/dt there."""
    m, l = 1 - (b / a) ** 2, quarter_perimeter(a, b)

    def arc(t: np.ndarray) -> np.ndarray:  # ds = a sqrt(1 - m cos^2 t) dt, measured from t = 0
        return l - a * ellipeinc(np.pi / 2 - t, m)

    grid = np.linspace(s.min(), s.max(), 64 * 4) * (np.pi / 2) / l  # start from an interpolated guess
    t = np.interp(s, arc(grid), grid)
    for _ in range(6):  # Newton; the speed lies in [min(a, b), max(a, b)] so steps stay tame
        t = t - (arc(t) - s) / np.hypot(a * np.sin(t), b * np.cos(t))
    return t, np.hypot(a * np.sin(t), b * np.cos(t))


def rim_radicand(a: float, b: float, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Arc lengths s on [0, l] and 1 - h'(s)^2 - h'(l - s)^2; negative means the sheets cannot meet."""
    _check(a, b, n)
    s = np.linspace(0.0, quarter_perimeter(a, b), n + 1)
    (t1, v1), (t2, v2) = _param_at(s, a, b), _param_at(s[-1] - s, a, b)
    return s, 1 - (b * np.cos(t1) / v1) ** 2 - (b * np.cos(t2) / v2) ** 2


@dataclass(frozen=True)
class GluedEllipses:
    """The common rim sampled at arc lengths s in [0, 4l]: points (4n + 1, 3) and the smallest radicand."""

    a: float
    b: float
    s: np.ndarray
    rim: np.ndarray
    min_radicand: float

    def closure_errors(self) -> dict[str, float]:
        """Deviations that vanish for an exact closed solid (all up to the O(1/n^2) grid error)."""
        n = (len(self.s) - 1) // 4
        length = lambda p: float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())  # noqa: E731  polyline
        mirror2 = (2 * n - np.arange(4 * n + 1)) % (4 * n)  # grid index of 2l - s on the closed loop
        return {
            "gap": float(np.linalg.norm(self.rim[-1] - self.rim[0])),  # the rim is a closed curve
            "rim_length": abs(length(self.rim) - self.s[-1]),  # the glued rim keeps the perimeter
            # each sheet's profile (its curled major axis, traced by half the rim) keeps the length 2a
            "profile_1": abs(length(self.rim[: 2 * n + 1, [0, 2]]) - 2 * self.a),
            "profile_2": abs(length(self.rim[n: 3 * n + 1, [0, 1]]) - 2 * self.a),
            # rim points (x, y), (x, -y) of a sheet share a generator: s <-> -s (sheet 1), s <-> 2l - s (2)
            "mirror_1": float(np.abs(self.rim[:, [0, 2]] - self.rim[::-1, [0, 2]]).max()),
            "mirror_2": float(np.abs(self.rim[:, [0, 1]] - self.rim[mirror2][:, [0, 1]]).max()),
        }


def glued_ellipses(a: float, b: float, n: int = 2000) -> GluedEllipses:
    """Rim of the solid glued from two x^2/a^2 + y^2/b^2 = 1 sheets (a >= b > 0), n points per quarter."""
    _check(a, b, n)
    if a < b:
        raise ValueError(f"a is the semi-major axis and must be >= b, got a={a}, b={b}")
    l = quarter_perimeter(a, b)
    s = np.linspace(0.0, 4 * l, 4 * n + 1)
    (t1, v1), (t2, v2) = _param_at(s, a, b), _param_at(l - s, a, b)
    radicand = 1 - (b * np.cos(t1) / v1) ** 2 - (b * np.cos(t2) / v2) ** 2
    sign = np.where(np.floor(s / l + 1e-12) % 2 == 0, 1.0, -1.0)
    dx = sign * np.sqrt(np.clip(radicand, 0.0, None))
    X = np.concatenate([[0.0], np.cumsum((dx[1:] + dx[:-1]) / 2 * np.diff(s))])
    rim = np.stack([X, b * np.sin(t1), b * np.sin(t2)], axis=1)
    return GluedEllipses(a, b, s, rim, float(radicand.min()))


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser

    parser = ArgumentParser(prog="python -m genlab.recipes.ellipses", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print("Two bent ellipses glued rim to rim: closure errors (n = 2000 points per quarter)")
    names = ("gap", "rim_length", "profile_1", "profile_2", "mirror_1", "mirror_2")
    print(f"{'a':>5}{'b':>5}{'min rad':>10}{'max X':>8}" + "".join(f"{k:>11}" for k in names))
    for a, b in [(1.0, 1.0), (1.2, 1.0), (2.0, 1.0), (3.0, 1.0), (6.0, 1.0)]:
        solid = glued_ellipses(a, b)
        err = solid.closure_errors()
        print(f"{a:5.1f}{b:5.1f}{solid.min_radicand:10.1e}{solid.rim[:, 0].max():8.3f}"
              + "".join(f"{err[k]:11.1e}" for k in names))
    print(f"a < b (bent along the minor axis) fails: min radicand {rim_radicand(1.0, 2.0)[1].min():.3f}")


if __name__ == "__main__":
    main()
