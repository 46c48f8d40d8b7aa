"""Segregation indices as array kernels: one call computes an index for many draws at once.

Every function takes counts with the areas on the last axis (two-group) or on the second-to-last axis with the
groups last (multigroup), and any number of leading axes (draws of a bootstrap or of a null model). The
formulas are those of PySAL ``segregation`` 2.5 (cited per function); ``tests/test_segregation.py`` checks them
against hand computation and against PySAL on real PC4 data. They are kept here, vectorised over draws, because
inference needs each index thousands of times per gemeente: ``benchmarks/bench_segregation.py`` times them
beside a plain loop of PySAL calls.

Conventions: ``x`` counts of the group of interest, ``y`` counts of the comparison group, per area; the
two-group total of an area is ``t = x + y`` (with ``y`` = everyone else this is PySAL's group-vs-total form).
An area with ``t = 0`` has share 0 and weight 0, as in PySAL. All indices are unitless in [0, 1] except the
spatial dissimilarity (which may be negative) and the location quotient (a ratio around 1).
"""

from __future__ import annotations

import numpy as np

TWO_GROUP = ("dissimilarity", "isolation", "exposure", "gini", "entropy")
MULTI_GROUP = ("multi_dissimilarity", "information_theory")


def _div(a, b):
    """a / b with 0 where b == 0."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    out = np.zeros(a.shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _xlogx_ratio(p, q):
    """p * log(p / q) with 0 where p == 0."""
    out = np.zeros(np.broadcast_shapes(np.shape(p), np.shape(q)))
    p, q = np.broadcast_arrays(p, q)
    m = p > 0
    out[m] = p[m] * np.log(p[m] / q[m])
    return out


def _binary_entropy(p):
    """p log(1/p) + (1-p) log(1/(1-p)), natural logarithm, 0 at p in {0, 1}."""
    return -(_xlogx_ratio(p, 1.0) + _xlogx_ratio(1.0 - p, 1.0))


def dissimilarity(x, y):
    """Duncan's index of dissimilarity D = 1/2 sum_i |x_i/X - y_i/Y| (PySAL ``Dissim``)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return 0.5 * np.abs(_div(x, x.sum(-1, keepdims=True)) - _div(y, y.sum(-1, keepdims=True))).sum(-1)


def isolation(x, y):
    """Isolation xPx = sum_i (x_i/X)(x_i/t_i): the share of their own group in the area of an average member of
    the group (PySAL ``Isolation``)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return (_div(x, x.sum(-1, keepdims=True)) * _div(x, x + y)).sum(-1)


def exposure(x, y):
    """Exposure (interaction) xPy = sum_i (x_i/X)(y_i/t_i) = 1 - xPx (PySAL ``Interaction``)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return (_div(x, x.sum(-1, keepdims=True)) * _div(y, x + y)).sum(-1)


def gini(x, y):
    """Gini segregation index sum_i sum_j t_i t_j |p_i - p_j| / (2 T^2 P (1-P)) (PySAL ``Gini``).

    Computed in O(n log n) per draw: after sorting the shares, sum_{i<j} t_i t_j (p_j - p_i) is a sum of
    cumulative sums.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    t = x + y
    p = _div(x, t)
    order = np.argsort(p, axis=-1, kind="stable")
    ts, ps = np.take_along_axis(t, order, -1), np.take_along_axis(p, order, -1)
    before_t = np.cumsum(ts, -1) - ts
    before_tp = np.cumsum(ts * ps, -1) - ts * ps
    half = (ts * (ps * before_t - before_tp)).sum(-1)
    T = t.sum(-1)
    P = _div(x.sum(-1), T)
    return _div(half, T * T * P * (1 - P))


def entropy(x, y):
    """Theil's entropy index H = sum_i t_i (E - E_i) / (E T), natural logarithm (PySAL ``Entropy``)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    t = x + y
    T = t.sum(-1, keepdims=True)
    E = _binary_entropy(_div(x.sum(-1, keepdims=True), T))
    Ei = _binary_entropy(_div(x, t))
    return _div((t * (E - Ei)).sum(-1, keepdims=True), E * T)[..., 0]


def spatial_dissimilarity(x, y, edges: np.ndarray):
    """Morrill's spatially adjusted dissimilarity D(adj) = D - sum_ij c_ij |p_i - p_j| / sum_ij c_ij with binary
    contiguity c (PySAL ``SpatialDissim`` with its default, unstandardised weights).

    ``edges``: array (m, 2) of area positions (i, j) with c_ij = 1, both directions listed.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    p = _div(x, x + y)
    adj = np.abs(p[..., edges[:, 0]] - p[..., edges[:, 1]]).sum(-1) / len(edges)
    return dissimilarity(x, y) - adj


def two_group(x, y, edges: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All two-group indices of ``x`` against ``y`` (and the spatial dissimilarity when ``edges`` is given)."""
    out = {"dissimilarity": dissimilarity(x, y), "isolation": isolation(x, y), "exposure": exposure(x, y),
           "gini": gini(x, y), "entropy": entropy(x, y)}
    if edges is not None and len(edges):
        out["spatial_dissimilarity"] = spatial_dissimilarity(x, y, edges)
    return out


def multi_dissimilarity(counts):
    """Sakoda's multigroup dissimilarity sum_k sum_i t_i |p_ik - P_k| / (2 T I), I = sum_k P_k (1 - P_k)
    (PySAL ``MultiDissim``). ``counts``: (..., areas, groups)."""
    c = np.asarray(counts, float)
    t = c.sum(-1, keepdims=True)
    T = t.sum(-2, keepdims=True)
    Pk = c.sum(-2, keepdims=True) / T
    interaction = (Pk * (1 - Pk)).sum(-1)[..., 0]
    return (t * np.abs(_div(c, t) - Pk)).sum((-2, -1)) / (2 * T[..., 0, 0] * interaction)


def information_theory(counts):
    """Theil's multigroup information theory index H = sum_i sum_k t_i p_ik log(p_ik / P_k) / (T E),
    E = sum_k P_k log(1/P_k) (Reardon and Firebaugh 2002; PySAL ``MultiInfoTheory``)."""
    c = np.asarray(counts, float)
    t = c.sum(-1, keepdims=True)
    T = t.sum(-2, keepdims=True)
    Pk = c.sum(-2, keepdims=True) / T
    E = -_xlogx_ratio(Pk, 1.0).sum(-1)[..., 0]
    return (t * _xlogx_ratio(_div(c, t), Pk)).sum((-2, -1)) / (T[..., 0, 0] * E)


def multi_group(counts) -> dict[str, np.ndarray]:
    """Both multigroup indices of ``counts`` (..., areas, groups)."""
    return {"multi_dissimilarity": multi_dissimilarity(counts), "information_theory": information_theory(counts)}


def local_entropy(counts):
    """Diversity of each area: -sum_k p_ik log(p_ik) / log(K), 0 (one group) to 1 (all groups equal)
    (Reardon and O'Sullivan 2004; PySAL ``MultiLocalEntropy``). ``counts``: (areas, groups)."""
    c = np.asarray(counts, float)
    p = _div(c, c.sum(-1, keepdims=True))
    return -_xlogx_ratio(p, 1.0).sum(-1) / np.log(c.shape[-1])


def location_quotients(counts):
    """Location quotient of each group in each area: its share in the area divided by its share in the whole
    (1 = as in the whole; 2 = twice as common) (Isard 1967; PySAL ``MultiLocationQuotient``)."""
    c = np.asarray(counts, float)
    return _div(_div(c, c.sum(-1, keepdims=True)), c.sum(-2, keepdims=True) / c.sum())
