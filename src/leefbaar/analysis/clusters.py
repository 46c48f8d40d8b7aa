"""Spatial structure: contiguity weights, global Moran's I, local Moran's I (LISA) hot and cold spots, and how
clusters persist between years.

- Weights: Queen contiguity (shared edge or corner) of the areas' boundaries (libpysal), restricted to the
  areas with a score; an area without neighbours (an island, or an area whose neighbours have no score) is
  joined to its nearest area by centroid distance, and the count is reported. Row-standardised.
- Global Moran's I per year (esda, 999 permutations).
- LISA: the statistic, quadrants and analytical moments come from ``esda.Moran_Local``; the permutation
  inference is conditional randomisation exactly as esda does it (one table of permuted neighbour ids shared
  by all areas, the area itself excluded, folded two-sided pseudo p-value (larger + 1) / (permutations + 1)),
  vectorised in numpy here so that a run needs no numba compilation (esda's numba kernel compiles for tens of
  seconds in every new process; see ``benchmarks/bench_lisa.py``).
- Significance: Benjamini-Hochberg false-discovery rate (``esda.fdr``) at ``alpha`` over all areas of a year.
  HH = hot spot (high score among high neighbours), LL = cold spot, HL/LH = spatial outliers, ns = not
  significant. For an indicator where higher is worse the labels still refer to the values, not to livability.
- Persistence: for every pair of consecutive years, a transition table of cluster labels, and per area the
  number of years it was a hot or cold spot.
"""

from __future__ import annotations

from dataclasses import dataclass

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.weights import KNN, W, attach_islands, w_subset
from libpysal.weights.contiguity import Queen

from leefbaar.errors import StoreError

QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
LABELS = {
    "nl": {"HH": "hotspot (hoog bij hoog)", "LL": "coldspot (laag bij laag)", "HL": "uitschieter hoog bij laag",
           "LH": "uitschieter laag bij hoog", "ns": "niet significant"},
    "en": {"HH": "hot spot (high among high)", "LL": "cold spot (low among low)", "HL": "outlier high among low",
           "LH": "outlier low among high", "ns": "not significant"},
}


@dataclass
class Contiguity:
    """Queen contiguity between all areas with a boundary (binary), and a point inside each area.

    ``weights(codes)`` gives the row-standardised weights over a subset of areas with islands joined.
    ``queen`` is None when no area has a boundary (e.g. a gemeente that no longer exists in the boundaries).
    """

    queen: W | None
    points: pd.DataFrame

    @property
    def codes(self) -> set[str]:
        """The codes of the areas with a boundary."""
        return set(self.points.index)

    def weights(self, codes: pd.Index | list[str]) -> tuple[W, list[str]]:
        """Row-standardised weights over ``codes`` (those with a boundary, sorted), and the islands joined.

        An area with no neighbour among ``codes`` (a real island, or one whose neighbours have no value) is
        joined to its nearest area by distance between interior points, both ways.
        """
        keep = sorted(set(map(str, codes)) & self.codes)
        if len(keep) < 3:
            raise StoreError(f"only {len(keep)} areas have a boundary; contiguity needs at least 3")
        w = self.queen if len(keep) == self.queen.n else w_subset(self.queen, keep, silence_warnings=True)
        islands = [str(i) for i in w.islands]
        if islands:
            pts = self.points.loc[keep]
            knn = KNN.from_array(pts[["x", "y"]].to_numpy(), k=1, ids=keep)
            w = attach_islands(w, knn)
        w = W(dict(w.neighbors), id_order=keep, silence_warnings=True)
        w.transform = "r"
        return w, islands


def contiguity(geoms: gpd.GeoDataFrame) -> Contiguity:
    """Queen contiguity (shared edge or corner) of the areas in ``geoms`` (columns ``code``, ``geometry``)."""
    geo = geoms.drop_duplicates("code").sort_values("code").reset_index(drop=True)
    if geo.empty:
        return Contiguity(None, pd.DataFrame({"x": [], "y": []}, index=pd.Index([], dtype=str)))
    queen = Queen.from_dataframe(geo, ids=geo["code"].astype(str).tolist(), silence_warnings=True)
    pts = geo.geometry.representative_point()
    points = pd.DataFrame({"x": pts.x.to_numpy(), "y": pts.y.to_numpy()}, index=geo["code"].astype(str))
    return Contiguity(queen, points)


def conditional_randomisation(z: np.ndarray, w: W, observed: np.ndarray, permutations: int = 999,
                              seed: int = 12345, chunk: int = 4_000_000) -> np.ndarray:
    """Folded pseudo p-values of local Moran's I under conditional randomisation (esda's scheme, in numpy).

    ``z`` standardised values, ``w`` row-standardised weights (order of ``w.id_order``), ``observed`` the local
    statistics ``(n-1) z_i lag_i / sum z^2``. For area i, each permutation takes its ``k_i`` neighbours'
    values from the other n-1 areas without replacement (rows of one shared permutation table). Returns
    ``(larger + 1) / (permutations + 1)`` with ``larger`` the count of simulated statistics at least as extreme
    on the side of the observed one. A simulated value equal to the observed one up to rounding (1e-9 relative)
    counts as at least as extreme: drawing the observed neighbours themselves is a tie, not a smaller value.
    """
    n = len(z)
    sp = w.sparse.tocsr()
    card = np.diff(sp.indptr)
    kmax = int(card.max())
    rng = np.random.default_rng(seed)
    perm = _first_of_permutations(rng, permutations, n - 1, kmax, chunk)
    scale = (n - 1) / (z * z).sum()
    larger = np.zeros(n, dtype=np.int64)
    for k in np.unique(card[card > 0]):
        rows = np.flatnonzero(card == k)
        wts = sp.data[sp.indptr[rows][:, None] + np.arange(k)]
        p = perm[:, :k]
        for ch in np.array_split(np.arange(len(rows)), max(1, len(rows) * permutations * k // chunk)):
            ids = rows[ch]
            idx = p[None, :, :] + (p[None, :, :] >= ids[:, None, None])
            sims = scale * z[ids, None] * np.einsum("cpk,ck->cp", z[idx], wts[ch])
            tie = 1e-12 + 1e-9 * np.abs(observed[ids, None])
            larger[ids] = (sims >= observed[ids, None] - tie).sum(1)
    low = (permutations - larger) < larger
    larger[low] = permutations - larger[low]
    return (larger + 1.0) / (permutations + 1.0)


def _first_of_permutations(rng: np.random.Generator, permutations: int, n: int, k: int, chunk: int) -> np.ndarray:
    """The first ``k`` entries of ``permutations`` random permutations of ``range(n)``: the positions of the k
    smallest of n uniform draws, in order (``argsort(rng.random((permutations, n)))[:, :k]``, the same stream).

    Linear in n (a partial selection, not a full sort per permutation) and drawn in chunks of about ``chunk``
    values, so that memory does not grow with permutations x n.
    """
    out = np.empty((permutations, k), dtype=np.int64)
    step = max(1, chunk // max(n, 1))
    for start in range(0, permutations, step):
        r = rng.random((min(step, permutations - start), n))
        part = np.argpartition(r, k - 1, axis=1)[:, :k] if k < n else np.argsort(r, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(r, part, 1), axis=1, kind="stable")
        out[start:start + len(r)] = np.take_along_axis(part, order, 1)
    return out


def local_moran(y: np.ndarray, w: W, permutations: int = 999, alpha: float = 0.05, seed: int = 12345,
                fdr: bool = True) -> pd.DataFrame:
    """LISA of ``y`` (order of ``w.id_order``): I_i, quadrant, pseudo p, significance and cluster label.

    Columns: code, value, lag (spatial lag of the standardised value), Is, q (1 HH, 2 LH, 3 LL, 4 HL), p_sim,
    threshold (the FDR cut-off or ``alpha``), significant, cluster (HH/LL/HL/LH/ns).
    """
    y = np.asarray(y, float)
    lm = esda.Moran_Local(y, w, transformation="r", permutations=0)
    p = conditional_randomisation(lm.z, w, lm.Is, permutations, seed)
    cut = float(esda.fdr(p, alpha)) if fdr else alpha
    sig = p <= cut
    lag = w.sparse @ lm.z
    cluster = np.where(sig, pd.Series(lm.q).map(QUADRANTS).to_numpy(), "ns")
    return pd.DataFrame({"code": list(w.id_order), "value": y, "lag": lag, "Is": lm.Is, "q": lm.q, "p_sim": p,
                         "threshold": cut, "significant": sig, "cluster": cluster})


def global_moran(y: np.ndarray, w: W, permutations: int = 999, seed: int = 12345) -> dict[str, float]:
    """Global Moran's I with its expectation, analytical z (randomisation) and permutation pseudo p."""
    np.random.seed(seed)  # esda.Moran permutes with numpy's global generator
    mi = esda.Moran(np.asarray(y, float), w, transformation="r", permutations=permutations)
    return {"I": float(mi.I), "EI": float(mi.EI), "z_rand": float(mi.z_rand), "p_rand": float(mi.p_rand),
            "p_sim": float(mi.p_sim), "n": int(mi.n)}


def persistence(lisa: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transitions of cluster labels between consecutive years, and per-area counts.

    ``lisa`` has columns code, year, cluster. Returns (transitions: from_year, to_year, from_cluster,
    to_cluster, n; per_area: code, years, hot_years, cold_years, first_cluster, last_cluster, pattern).
    """
    wide = lisa.pivot(index="code", columns="year", values="cluster")
    years = list(wide.columns)
    rows = []
    for a, b in zip(years, years[1:], strict=False):
        both = wide[[a, b]].dropna()
        counts = both.groupby([a, b]).size()
        for (fa, fb), n in counts.items():
            rows.append((a, b, fa, fb, int(n)))
    trans = pd.DataFrame(rows, columns=["from_year", "to_year", "from_cluster", "to_cluster", "n"])
    per = pd.DataFrame({
        "years": wide.notna().sum(axis=1), "hot_years": (wide == "HH").sum(axis=1),
        "cold_years": (wide == "LL").sum(axis=1),
        "first_cluster": wide[years[0]], "last_cluster": wide[years[-1]],
    })
    per["pattern"] = np.select(
        [per["hot_years"] == per["years"], per["cold_years"] == per["years"],
         (per["first_cluster"] == "LL") & (per["last_cluster"] != "LL"),
         (per["first_cluster"] != "LL") & (per["last_cluster"] == "LL"),
         (per["first_cluster"] == "HH") & (per["last_cluster"] != "HH"),
         (per["first_cluster"] != "HH") & (per["last_cluster"] == "HH"),
         (per["hot_years"] + per["cold_years"]) > 0],
        ["persistent_hot", "persistent_cold", "left_cold", "became_cold", "left_hot", "became_hot", "intermittent"],
        "never")
    per.index.name = "code"
    return trans, per.reset_index()
