"""Stirling's series for log Gamma(x + 1): asymptotic, not convergent.

https://kexue.fm/archives/3731 derives Gamma(x + 1) ~ sqrt(2 pi x) (x / e)^x (1 + 1/(12x) + 1/(288x^2) + ...)
by Laplace's method. In log form the corrections are B_2k / (2k (2k - 1) x^(2k - 1)) with Bernoulli numbers
B_2k, which grow like (2k)!: at fixed x the error first falls, bottoms out near n ~ pi x terms, then grows.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

Real = Any  # a float, a numpy array or a torch tensor (any device); torch is not imported here


@lru_cache
def bernoulli(m: int) -> Fraction:
    """Exact Bernoulli number B_m (B_1 = -1/2) from sum_{j<=m} C(m + 1, j) B_j = 0."""
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    if m == 0:
        return Fraction(1)
    return -sum((math.comb(m + 1, j) * bernoulli(j) for j in range(m)), Fraction(0)) / (m + 1)


def log_coefficients(n_terms: int) -> list[Fraction]:
    """c_k = B_2k / (2k (2k - 1)) for k = 1..n_terms: log Gamma(x+1) ~ leading + sum_k c_k x^(1 - 2k)."""
    if n_terms < 0:
        raise ValueError(f"n_terms must be >= 0, got {n_terms}")
    return [bernoulli(2 * k) / (2 * k * (2 * k - 1)) for k in range(1, n_terms + 1)]


def gamma_coefficients(n_terms: int) -> list[Fraction]:
    """g_0..g_n in Gamma(x+1) ~ sqrt(2 pi x)(x/e)^x sum_j g_j x^-j: the exponential of the log series."""
    log_series = [Fraction(0)] * (n_terms + 1)  # coefficient of y^j, y = 1/x
    for k, c in enumerate(log_coefficients((n_terms + 1) // 2), start=1):
        log_series[2 * k - 1] = c
    g = [Fraction(1)]
    for j in range(1, n_terms + 1):  # E = exp(L) solves E' = L' E, term by term
        g.append(sum((i * log_series[i] * g[j - i] for i in range(1, j + 1)), Fraction(0)) / j)
    return g


def stirling_lgamma1p(x: Real, n_terms: int) -> Real:
    """log Gamma(x + 1) by Stirling's series with `n_terms` corrections; x > 0 (float, array or tensor)."""
    log = (lambda v: v.log()) if hasattr(x, "log") else np.log  # tensors keep their device and dtype
    positive = x > 0
    if not bool(positive.all() if hasattr(positive, "all") else positive):
        raise ValueError("x must be > 0 (the series is expanded around x = infinity)")
    out = x * log(x) - x + 0.5 * log(2 * math.pi * x)
    for k, c in enumerate(log_coefficients(n_terms), start=1):
        out = out + float(c) / x ** (2 * k - 1)
    return out


def error_table(xs: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0), max_terms: int = 14) -> np.ndarray:
    """|series - math.lgamma| for n_terms = 0..max_terms (rows) at each x (columns)."""
    return np.array([[abs(stirling_lgamma1p(x, n) - math.lgamma(x + 1)) for x in xs]
                     for n in range(max_terms + 1)])


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser, integer

    parser = ArgumentParser(prog="python -m genlab.recipes.stirling", description=__doc__.splitlines()[0])
    parser.add_argument("--max-terms", type=integer(0, 30), default=14, help="correction terms to tabulate")
    args = parser.parse_args(argv)
    xs = (0.5, 1.0, 2.0, 3.0)
    err = error_table(xs, args.max_terms)
    print("Stirling series for log Gamma(x+1): |error| vs number of correction terms n")
    print(f"{'n':>3}" + "".join(f"{'x=' + str(x):>11}" for x in xs))
    for n, row in enumerate(err):
        print(f"{n:3d}" + "".join(f"{e:11.2e}" for e in row))
    print("best n" + "".join(f"{int(i):>11d}" for i in err.argmin(0))[3:])
    print("Gamma-form coefficients:", ", ".join(str(g) for g in gamma_coefficients(4)))


if __name__ == "__main__":
    main()
