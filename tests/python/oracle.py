"""Naive double-precision formulas of the metrics (LOC Eqs. 1-8, 13-16), written from the spec
with NumPy loops and sharing nothing with memloc: the oracle the bindings are checked against."""

import numpy as np


def transform(a, kind):
    a = np.asarray(a, dtype=np.float64)
    if kind == "relu":
        return np.maximum(a, 0.0)
    if kind == "abs":
        return np.abs(a)
    return a


def per_sample_means(acts_nvus, kind="none"):
    """μ[n, u]: each sample's activation averaged over its views and positions."""
    a = transform(acts_nvus, kind)
    return a.mean(axis=(1, 3))


def selectivity(values, rest="mean"):
    """(score, max, argmax, rest) of one unit over its per-sample (or per-class) means."""
    k = int(np.argmax(values))  # first index on ties
    others = np.delete(values, k)
    top = values[k]
    other = others.mean() if rest == "mean" else np.median(others)
    denominator = top + other
    if denominator == 0.0:
        score = 0.0
    elif denominator < 0.0:
        score = np.nan
    else:
        score = (top - other) / denominator
    return score, top, k, other


def unitmem(acts_nvus, rest="mean", kind="none"):
    mu = per_sample_means(acts_nvus, kind)
    rows = [selectivity(mu[:, u], rest) for u in range(mu.shape[1])]
    return tuple(np.array(column) for column in zip(*rows))


def classmem(acts_nvus, labels, kind="none"):
    mu = per_sample_means(acts_nvus, kind)
    labels = np.asarray(labels)
    present = sorted(set(labels.tolist()))
    class_means = np.array([mu[labels == c].mean(axis=0) for c in present])
    rows = []
    for u in range(mu.shape[1]):
        score, top, k, other = selectivity(class_means[:, u], "mean")
        rows.append((score, top, present[k], other))
    return tuple(np.array(column) for column in zip(*rows))


def alignment_l2(reps_nvf):
    """Mean ℓ2 distance over every pair of a sample's views."""
    reps = np.asarray(reps_nvf, dtype=np.float64)
    n, v, _ = reps.shape
    out = np.zeros(n)
    for i in range(n):
        distances = [np.linalg.norm(reps[i, a] - reps[i, b]) for a in range(v) for b in range(a + 1, v)]
        out[i] = np.mean(distances)
    return out


def sslmem_ratio(ssl_f, ssl_g):
    ssl_f, ssl_g = np.asarray(ssl_f, np.float64), np.asarray(ssl_g, np.float64)
    total = ssl_f + ssl_g
    return np.where(total == 0.0, 0.0, (ssl_g - ssl_f) / np.where(total == 0.0, 1.0, total))
