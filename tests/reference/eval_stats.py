#!/usr/bin/env python3
"""Reference values for promptlab-eval's statistics (crates/eval/src/stats.rs).

Computed independently of the Rust code, with the Python 3 standard library
only:

* Wilson 95% score intervals, from the closed form
      centre    = (p + z^2 / 2n) / (1 + z^2 / n)
      half-width = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
  in double precision (n = 0 gives [0, 1]; the bounds are clamped to [0, 1];
  the lower bound of 0/n is exactly 0 and the upper bound of n/n exactly 1).
* Exact two-sided McNemar p-values, min(1, 2 P(X <= min(b, c))) for
  X ~ Binomial(b + c, 1/2), in exact rational arithmetic (math.comb and
  fractions.Fraction), rounded once to the nearest double at the end.

Run:  python3 tests/reference/eval_stats.py
It writes tests/reference/eval_stats.json next to itself, which the Rust
tests in crates/eval/tests/stats.rs read.
"""

import json
import math
import os
from fractions import Fraction

Z = 1.959963984540054  # the 0.975 quantile of the standard normal


def wilson(successes, n):
    """The 95% Wilson score interval of successes / n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = Z * Z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = Z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # At 0/n and n/n the bound is exactly 0 (resp. 1): centre = half-width.
    # Rounding leaves ~1e-17 of noise there, so those ends are set exactly.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def binomial_half_cdf(k, n):
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly, as a Fraction.

    The binomial coefficients are walked down from C(n, k) with exact
    integer steps C(n, j - 1) = C(n, j) * j / (n - j + 1), so large n stays
    fast (one math.comb, then small-integer multiplications)."""
    c = math.comb(n, k)
    total = c
    for j in range(k, 0, -1):
        c = c * j // (n - j + 1)
        total += c
    return Fraction(total, 2**n)


def mcnemar_exact(b, c):
    """Exact two-sided McNemar p-value as a Fraction."""
    n = b + c
    if n == 0:
        return Fraction(1)
    return min(Fraction(1), 2 * binomial_half_cdf(min(b, c), n))


WILSON_CASES = [
    (0, 0),
    (0, 1),
    (1, 1),
    (0, 10),
    (10, 10),
    (1, 10),
    (5, 10),
    (9, 10),
    (0, 100),
    (100, 100),
    (50, 100),
    (81, 263),
    (1, 2),
    (3, 7),
    (150, 200),
    (999, 1000),
    (1, 100000),
    (50000, 100000),
]

MCNEMAR_CASES = [
    (0, 0),
    (0, 1),
    (1, 0),
    (0, 5),
    (5, 0),
    (1, 9),
    (9, 1),
    (3, 3),
    (2, 0),
    (12, 30),
    (30, 12),
    (0, 10),
    (4, 11),
    (10, 1000),
    (480, 520),
    (5000, 5200),
    (49700, 50300),
]


def self_checks():
    # Textbook values, checked against hand arithmetic:
    # Wilson 95% for 81/263 is about [0.2553, 0.3662] (p-hat = 0.3080).
    lo, hi = wilson(81, 263)
    assert round(lo, 4) == 0.2553 and round(hi, 4) == 0.3662, (lo, hi)
    # 0/10 gives [0, z^2 / (n + z^2)] = [0, 0.2775].
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and abs(hi - Z * Z / (10 + Z * Z)) < 1e-15, hi
    # McNemar (0, 5): 2 / 2^5 = 1/16; (1, 9): 2 * 11 / 1024 = 11/512;
    # (2, 0): 2 * 1/4 = 1/2; (3, 3) and any b = c give 1.
    assert mcnemar_exact(0, 5) == Fraction(1, 16)
    assert mcnemar_exact(1, 9) == Fraction(11, 512)
    assert mcnemar_exact(2, 0) == Fraction(1, 2)
    assert mcnemar_exact(3, 3) == 1
    # (12, 30): 2 * sum_{k<=12} C(42, k) / 2^42 = 0.0079159 (the normal
    # approximation with continuity correction, erfc(17 / sqrt(84)), gives
    # 0.0087, a little higher as usual for small tables).
    assert abs(float(mcnemar_exact(12, 30)) - 0.0079159) < 1e-7
    approx = math.erfc((abs(30 - 12) - 1) / math.sqrt(42) / math.sqrt(2))
    assert abs(approx - 0.0087119) < 1e-7
    # Large tables agree with the normal approximation to a few percent:
    # (480, 520) gives about 0.218, (5000, 5200) about 0.0496.
    for b, c in [(480, 520), (5000, 5200)]:
        exact = float(mcnemar_exact(b, c))
        approx = math.erfc((abs(c - b) - 1) / math.sqrt(b + c) / math.sqrt(2))
        assert abs(exact / approx - 1) < 0.01, (b, c, exact, approx)
    # Symmetric in (b, c).
    for b, c in MCNEMAR_CASES:
        assert mcnemar_exact(b, c) == mcnemar_exact(c, b)


def main():
    self_checks()
    out = {
        "z": Z,
        "wilson": [
            {"successes": s, "n": n, "low": lo, "high": hi}
            for (s, n) in WILSON_CASES
            for (lo, hi) in [wilson(s, n)]
        ],
        "mcnemar": [
            {"b": b, "c": c, "p": float(mcnemar_exact(b, c))}
            for (b, c) in MCNEMAR_CASES
        ],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval_stats.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for row in out["wilson"]:
        print(f"wilson {row['successes']}/{row['n']}: [{row['low']!r}, {row['high']!r}]")
    for row in out["mcnemar"]:
        print(f"mcnemar ({row['b']}, {row['c']}): {row['p']!r}")


if __name__ == "__main__":
    main()
