#!/usr/bin/python3
"""Writes tests/reference/scipy_stats.inc: reference values from SciPy for memloc's
Kendall tau-b and t-tests (tests/test_analysis_scipy.cpp includes the file).

Run with Debian's interpreter, which sees the python3-scipy package:
    /usr/bin/python3 tests/reference/make_scipy_reference.py
The tests never need SciPy: the inputs are regenerated in C++ from the small specs below
by the same integer generator (splitmix64), and every generated value is an integer or an
integer over 1024, so both languages see exactly the same doubles.
"""

import math
import os
import platform
import sys

import numpy as np
import scipy
from scipy import special, stats
from scipy.stats import _stats_py

MASK = (1 << 64) - 1
ALTERNATIVES = ["two-sided", "greater", "less"]  # memloc::alternative order
METHODS = ["auto", "exact", "asymptotic"]  # memloc::kendall_method order


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def __call__(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def pair_values(n, seed, x_levels, coupling, noise, y_div, reverse):
    """x uniform on [0, x_levels); y = (coupling * x' + noise draw) // y_div, x' = x or its mirror."""
    rng = SplitMix64(seed)
    xs, ys = [], []
    for _ in range(n):
        x = rng() % x_levels
        e = rng() % noise
        xr = x_levels - 1 - x if reverse else x
        xs.append(float(x))
        ys.append(float((coupling * xr + e) // y_div))
    return np.array(xs), np.array(ys)


def sample_values(n, seed, base, spread):
    """(base + uniform draw on [0, spread)) / 1024: exact in double."""
    rng = SplitMix64(seed)
    return np.array([(base + rng() % spread) / 1024.0 for _ in range(n)])


def sample_pair(n1, n2, seed, base1, spread1, base2, spread2):
    return sample_values(n1, seed, base1, spread1), sample_values(n2, seed ^ 0x5555, base2, spread2)


def num(v):
    v = float(v)
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return repr(v)


def values_list(values):
    return "{" + ", ".join(num(v) for v in values) + "}"


def has_ties(v):
    return len(np.unique(v)) != len(v)


def kendall(x, y, alt, method):
    r = stats.kendalltau(x, y, method=method, alternative=alt)
    return r.statistic, r.pvalue


def kendall_spec_cases():
    specs = []
    # Tie-free inputs: exact p-values up to n = 33, the normal approximation above.
    for i, n in enumerate([2, 3, 4, 5, 6, 7, 9, 10, 12, 15, 20, 25, 30, 33, 34, 40, 60, 150]):
        coupling = [0, 1, 3][i % 3]
        specs.append((f"no ties n={n}", (n, 100 + i, 1 << 40, coupling, 1 << 41, 1, i % 2 == 1)))
    # Ties in one or both inputs, small to large n.
    for i, (n, xl, coupling, noise, ydiv) in enumerate([
        (8, 3, 1, 4, 1), (20, 4, 1, 3, 1), (33, 5, 2, 7, 3), (50, 10, 1, 20, 4), (120, 7, 0, 9, 1),
        (300, 12, 3, 40, 5), (500, 50, 1, 1 << 30, 1 << 25), (1000, 1 << 40, 1, 1 << 40, 1 << 36),
        (2000, 20, 2, 60, 7), (5000, 100, 1, 150, 9), (20000, 1000, 1, 5000, 64)]):
        specs.append((f"ties n={n}", (n, 200 + i, xl, coupling, noise, ydiv, i % 2 == 0)))
    # Constant inputs: NaN.
    specs.append(("constant x", (40, 300, 1, 1, 10, 1, False)))
    specs.append(("constant y", (40, 301, 10, 0, 1, 1, False)))
    cases = []
    for name, spec in specs:
        x, y = pair_values(*spec)
        methods = ["auto"]
        if not has_ties(x) and not has_ties(y) and spec[0] <= 60:
            methods += ["exact", "asymptotic"]
        elif spec[0] <= 60 and not math.isnan(kendall(x, y, "two-sided", "auto")[0]):
            methods += ["asymptotic"]
        for method in methods:
            for alt in ALTERNATIVES:
                tau, p = kendall(x, y, alt, method)
                cases.append((name, spec, ALTERNATIVES.index(alt), METHODS.index(method), tau, p))
    return cases


def kendall_list_cases():
    lists = [
        ("hand: one swap in five", [1, 2, 3, 4, 5], [2, 1, 3, 4, 5]),
        ("hand: two swaps in five", [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]),
        ("hand: ties in both", [1, 1, 2, 2, 3], [1, 2, 1, 3, 3]),
        ("hand: reversed", [1, 2, 3, 4], [4, 3, 2, 1]),
        ("hand: half concordant", [1, 2, 3, 4], [2, 4, 1, 3]),
        ("hand: pair", [0.5, 1.5], [3.0, 2.0]),
        ("nan in x", [1, 2, float("nan"), 4], [1, 2, 3, 4]),
        ("one discordant pair n=50", list(range(50)), list(range(49)) [:24] + [25, 24] + list(range(26, 50))),
        ("sorted n=200", list(range(200)), list(range(200))),
        ("reversed n=100", list(range(100)), list(range(99, -1, -1))),
        ("one concordant pair n=40", list(range(40)), list(range(39, 21, -1)) + [20, 21] + list(range(19, -1, -1))),
    ]
    cases = []
    for name, x, y in lists:
        x, y = np.array(x, dtype=float), np.array(y, dtype=float)
        assert len(x) == len(y), name
        for alt in ALTERNATIVES:
            tau, p = kendall(x, y, alt, "auto")
            cases.append((name, x, y, ALTERNATIVES.index(alt), 0, tau, p))
    return cases


def ttest(a, b, equal_var, alt):
    r = stats.ttest_ind(a, b, equal_var=equal_var, alternative=alt)
    v1, v2 = np.var(a, ddof=1), np.var(b, ddof=1)
    if equal_var:
        df, _ = _stats_py._equal_var_ttest_denom(v1, len(a), v2, len(b))
    else:
        df, _ = _stats_py._unequal_var_ttest_denom(v1, len(a), v2, len(b))
    return r.statistic, float(df), r.pvalue


def ttest_spec_cases():
    specs = [
        ("n=2,2", (2, 2, 1, 0, 1000, 300, 1000)),
        ("n=2,3", (2, 3, 2, 0, 1000, 0, 3000)),
        ("n=3,9 close means", (3, 9, 3, 500, 1000, 520, 900)),
        ("n=5,7", (5, 7, 4, 0, 1 << 20, 1 << 18, 1 << 20)),
        ("n=30,40 unequal spread", (30, 40, 5, 0, 100, 40, 10000)),
        ("n=100,100", (100, 100, 6, 1000, 5000, 1200, 5000)),
        ("n=1000,3000", (1000, 3000, 7, 0, 1 << 16, 1000, 1 << 16)),
        ("n=5000,5000 small shift", (5000, 5000, 8, 0, 1 << 20, 1 << 12, 1 << 20)),
        ("n=5000,5000 large shift", (5000, 5000, 9, 0, 1 << 10, 1 << 10, 1 << 10)),
        ("n=40,60 huge t", (40, 60, 10, 0, 4, 1 << 20, 4)),
        ("n=20000,30000", (20000, 30000, 11, 5, 1 << 30, 0, 1 << 30)),
        ("n=500000,800000", (500000, 800000, 12, 0, 1 << 20, 1 << 10, 1 << 20)),
        ("n=30,30 t near 50", (30, 30, 16, 0, 1024, 3840, 1024)),
        ("n=200,200 tiny p", (200, 200, 17, 0, 1024, 2048, 1024)),
        ("zero variance, different means", (5, 6, 13, 100, 1, 200, 1)),
        ("zero variance, equal means", (5, 6, 14, 100, 1, 100, 1)),
        ("one group of zero variance", (8, 9, 15, 100, 1, 50, 100)),
    ]
    cases = []
    for name, spec in specs:
        a, b = sample_pair(*spec)
        for equal_var in (True, False):
            for alt in ALTERNATIVES:
                t, df, p = ttest(a, b, equal_var, alt)
                cases.append((name, spec, 0 if equal_var else 1, ALTERNATIVES.index(alt), t, df, p))
    return cases


def ttest_list_cases():
    lists = [
        ("hand: 1 2 3 vs 4 5 6", [1, 2, 3], [4, 5, 6]),
        ("hand: unequal sizes", [1, 2, 3, 4], [2, 4]),
        ("nan in a", [1, 2, float("nan")], [1, 2, 3]),
        ("inf in b", [1, 2, 3], [1, float("inf"), 3]),
    ]
    cases = []
    for name, a, b in lists:
        a, b = np.array(a, dtype=float), np.array(b, dtype=float)
        for equal_var in (True, False):
            for alt in ALTERNATIVES:
                with np.errstate(all="ignore"):
                    t, df, p = ttest(a, b, equal_var, alt)
                cases.append((name, a, b, 0 if equal_var else 1, ALTERNATIVES.index(alt), t, df, p))
    return cases


def stdtr_cases():
    dfs = [1, 1.5, 2, 3, 4.7, 9.9, 10, 17, 33.3, 98, 500, 999, 1000, 1001, 2345.6, 9998, 1e5, 1.3e6, 2.6e6]
    ts = [1e-8, 0.01, 0.3, 0.9, 1.0, 1.1, 1.7, 2, 3, 5, 8, 15, 40, 100, 1e3]
    return [(df, t, special.stdtr(df, -t)) for df in dfs for t in ts]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    out.append("// Generated by tests/reference/make_scipy_reference.py; do not edit.")
    out.append(f"// SciPy {scipy.__version__}, NumPy {np.__version__}, Python {platform.python_version()}"
               " (Debian python3-scipy).")
    out.append("// Field meanings: see the structs in tests/test_analysis_scipy.cpp.")
    out.append("")
    out.append("const kendall_case kendall_cases[] = {")
    for name, spec, alt, method, tau, p in kendall_spec_cases():
        n, seed, xl, coupling, noise, ydiv, reverse = spec
        out.append(f'    {{"{name}", {{{n}, {seed}u, {xl}, {coupling}, {noise}, {ydiv}, {str(reverse).lower()}}}, '
                   f"{alt}, {method}, {num(tau)}, {num(p)}}},")
    out.append("};")
    out.append("")
    out.append("const kendall_list_case kendall_list_cases[] = {")
    for name, x, y, alt, method, tau, p in kendall_list_cases():
        out.append(f'    {{"{name}", {values_list(x)}, {values_list(y)}, {alt}, {method}, {num(tau)}, {num(p)}}},')
    out.append("};")
    out.append("")
    out.append("const ttest_case ttest_cases[] = {")
    for name, spec, kind, alt, t, df, p in ttest_spec_cases():
        n1, n2, seed, b1, s1, b2, s2 = spec
        out.append(f'    {{"{name}", {{{n1}, {n2}, {seed}u, {b1}, {s1}, {b2}, {s2}}}, {kind}, {alt}, '
                   f"{num(t)}, {num(df)}, {num(p)}}},")
    out.append("};")
    out.append("")
    out.append("const ttest_list_case ttest_list_cases[] = {")
    for name, a, b, kind, alt, t, df, p in ttest_list_cases():
        out.append(f'    {{"{name}", {values_list(a)}, {values_list(b)}, {kind}, {alt}, {num(t)}, {num(df)}, {num(p)}}},')
    out.append("};")
    out.append("")
    out.append("// special.stdtr(df, -t): P(T <= -t).")
    out.append("const stdtr_case stdtr_cases[] = {")
    for df, t, p in stdtr_cases():
        out.append(f"    {{{num(df)}, {num(t)}, {num(p)}}},")
    out.append("};")
    with open(os.path.join(here, "scipy_stats.inc"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
