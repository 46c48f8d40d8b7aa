"""LISA permutations at scale: the first k entries of each permutation by partial selection in chunks are
exactly those of a full argsort of the same random stream."""

from __future__ import annotations

import numpy as np

from leefbaar.analysis.clusters import _first_of_permutations


def test_partial_selection_equals_full_sort():
    for n, k, chunk in ((4069, 8, 50_000), (4069, 8, 10**9), (9, 9, 20), (30, 1, 7)):
        full = np.argsort(np.random.default_rng(12345).random((99, n)), axis=1)[:, :k]
        part = _first_of_permutations(np.random.default_rng(12345), 99, n, k, chunk)
        assert np.array_equal(full, part), (n, k, chunk)
