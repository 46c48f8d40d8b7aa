"""Scores for every area and year with indicators: official where the Leefbaarometer exists, else modelled.

Store tables written by ``write_scores`` (``leefbaar score``):

``scores`` - one row per (spec, level, code, year):
    spec, level, code, year;
    total (score points, = reference + afw; for the default spec comparable to the official lbm),
    afw (deviation from the national reference, = won + fys + vrz + soc + onv), won, fys, vrz, soc, onv;
    klasse (LBM3 class 1-9 of afw; NULL for specs not on the LBM scale);
    kind: 'official' (the official Leefbaarometer values of that area-year) or 'modelled';
    anchor_year: for modelled rows, the official year whose unexplained part (_residual) is carried over
    (NULL when the area never had official scores);
    total_lo, total_hi (90 % Monte Carlo interval; equal to total for official rows), rank (1 = best within
    level and year), rank_lo, rank_hi, p_class_differs (share of draws whose class differs; 0 if official).
``dimension_scores`` - one row per (spec, level, code, year, dimension): score, whatever the dimensions are
    called; ``spec_dimensions`` - the spec's dimensions in display order: position, dimension, label_nl,
    label_en (``api.scored_dimensions`` reads both).
``contributions`` - a view (``write_contributions``: stored as integers and numbers in ``contribution_units``,
    ``contribution_terms`` and ``contribution_values``), one row per (spec, level, code, year, dimension,
    indicator): contribution in score points. ``indicator`` is a feature key (``won_hcorp/woning``), a spatial lag
    (``<key>@buren``), ``_ligging`` (smooth regional term), ``_baseline`` (national mean of the dimension in
    the calibration data), ``_residual`` (official minus modelled; for modelled rows the residual carried
    from ``anchor_year``) or ``_nowcast`` (nowcasts after the anchor year: damping of the model's change and
    decay of the residual and of the deviation from the mean, ``nowcast.NowcastCorrection``). Per (code,
    year, dimension) the contributions add up exactly to the dimension score.

Nowcast rule: a modelled area-year = model(indicators of that year) + the residual of the nearest official
year of the same area (ties: the earlier year) + for years after that anchor the nowcast correction, fitted
on the latest pair of official years in the store. Validated in ``leefbaar validate`` (out-of-time,
``level_nowcast`` and ``change_nowcast``, with the correction fitted on official years up to the fit year).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from leefbaar.i18n import N_, translator
from leefbaar.index import uncertainty as unc
from leefbaar.index.classes import classify_total
from leefbaar.index.engine.calibrated import XY
from leefbaar.index.features import RowKeys, contiguity_pairs, load_panel
from leefbaar.index.model import BASELINE, RESIDUAL, LivabilityIndex
from leefbaar.index.nowcast import CORRECTION, NowcastCorrection, load_official
from leefbaar.index.spec import IndexSpec

LBM_DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")
SCORE_COLUMNS = ["spec", "level", "code", "year", "total", "afw", *LBM_DIMENSIONS, "klasse",
                 "kind", "anchor_year", "total_lo", "total_hi", "rank", "rank_lo", "rank_hi", "p_class_differs"]


CHUNK_ROWS = 20_000
"""Area-years per chunk when contributions are produced or draws are built (memory per chunk: about 165 long
rows or 1,000 draws per area-year)."""


class TermValues:
    """The model's contributions of a panel's rows as arrays, ``CHUNK_ROWS`` area-years at a time: ``chunk(part)``
    gives per dimension a (terms x rows) array whose first row is the baseline and the others the terms (each one
    contiguous row), in the order of ``names[dimension]``. A calibrated spec is evaluated straight from the
    engine table's column arrays (``DimensionModel.term_rows``: no frames per chunk); other specs through
    ``LivabilityIndex.contributions``."""

    def __init__(self, model: LivabilityIndex, panel: pd.DataFrame, X: pd.DataFrame):
        self.model, self.panel, self.X = model, panel, X
        self.calibrated = model.spec.weighting == "calibrated"
        if self.calibrated:
            nodes = model.engine_.hierarchy.nodes
            self.models = model.fitted_.model.models
            self.names = {d: [BASELINE, *(nodes[c].name if c in nodes else c for c in m.terms)]
                          for d, m in self.models.items()}
            self.columns = {d: [X[f].to_numpy(float) for f in m.features]
                            + ([X[c].to_numpy(float) for c in XY] if m.location is not None else [])
                            for d, m in self.models.items()}
        else:
            parts = model.contributions(panel.iloc[:1], X.iloc[:1])
            self.names = {d: list(frame.columns) for d, frame in parts.items()}

    def chunk(self, part: slice) -> dict[str, np.ndarray]:
        """Per dimension the (terms x rows) contributions of the rows ``part`` (baseline first)."""
        if not self.calibrated:
            parts = self.model.contributions(self.panel.iloc[part], self.X.iloc[part])
            return {d: np.ascontiguousarray(frame.to_numpy(float).T) for d, frame in parts.items()}
        out = {}
        for d, m in self.models.items():
            cols = [c[part] for c in self.columns[d]]
            values = np.empty((len(self.names[d]), len(cols[0]) if cols else 0))
            values[0] = m.intercept
            m.term_rows(cols, out=values[1:])
            out[d] = values
        return out

    @staticmethod
    def total(values: np.ndarray) -> np.ndarray:
        """A dimension score from its (baseline-first) contributions: the terms summed in order, missing ones as
        0, then the baseline (the additions ``DataFrame.sum(axis=1)`` makes over the frames of
        ``LivabilityIndex.contributions``, so the scores are those of the frames to the last bit)."""
        terms = values[1:]
        if np.isnan(terms).any():
            terms = np.where(np.isnan(terms), 0.0, terms)
        base = values[0]
        return terms.sum(axis=0) + np.where(np.isnan(base), 0.0, base)


@dataclass
class Contributions:
    """The long ``contributions`` table of a scoring run, produced ``CHUNK_ROWS`` area-years at a time
    (``chunks``), so that it is never held whole (400,000 areas over 7 years give about 460 million rows)."""

    spec: IndexSpec
    model: LivabilityIndex
    panel: pd.DataFrame
    X: pd.DataFrame
    residual: pd.DataFrame
    correction: pd.DataFrame

    @cached_property
    def _values(self) -> TermValues:
        return TermValues(self.model, self.panel, self.X)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
        """The table in chunks of area-years (Arrow tables with the long columns of the ``contributions`` view)."""
        for part, kept in self._kept(rows):
            panel = self.panel.iloc[part]
            long = []
            for d, names, wide, keep in kept:
                r, c = np.nonzero(keep)
                long.append((d, names, r, c, wide[r, c]))
            yield _long_contributions(self.spec, panel, long)

    def terms(self) -> list[tuple[str, str]]:
        """The (dimension, indicator) pairs a row can hold, in the order of the long table."""
        return [(d, name) for d, names in self._values.names.items() for name in (*names, RESIDUAL, CORRECTION)]

    def values(self, term_ids: np.ndarray, offset: int = 0, rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
        """The same rows as ``chunks`` in the compact form the store keeps (``write_contributions``): ``unit``
        (``offset`` + position of the area-year in the panel), ``term`` (``term_ids[k]`` for the k-th of ``terms()``),
        ``contribution``."""
        term_ids = np.asarray(term_ids, dtype=np.int16)
        for part, kept in self._kept(rows):
            start, units, terms, values = 0, [], [], []
            unit = np.arange(part.start + offset, part.stop + offset, dtype=np.int32)
            for _, names, wide, keep in kept:
                k = len(names)
                flat = keep.ravel()
                every = bool(flat.all())
                units.append(np.repeat(unit, k) if every else np.repeat(unit, k)[flat])
                terms.append(np.tile(term_ids[start:start + k], len(unit)) if every
                             else np.tile(term_ids[start:start + k], len(unit))[flat])
                values.append(wide.ravel() if every else wide.ravel()[flat])
                start += k
            yield pa.table({"unit": np.concatenate(units), "term": np.concatenate(terms),
                            "contribution": np.concatenate(values)})

    def _kept(self, rows: int):
        """Per chunk of area-years: (the rows, per dimension (dimension, term names, the terms as a rows x terms
        array with the residual and the nowcast last, which of them the long table keeps: every non-zero one
        and always the baseline and the residual))."""
        source = self._values
        residual = {d: self.residual[d].to_numpy(float) for d in source.names}
        correction = {d: self.correction[d].to_numpy(float) for d in source.names}
        for lo in range(0, len(self.panel), rows):
            part = slice(lo, min(lo + rows, len(self.panel)))
            yield part, [_kept_terms(d, source.names[d], values, residual[d][part], correction[d][part])
                         for d, values in source.chunk(part).items()]

    def frame(self) -> pd.DataFrame:
        """The whole table as one frame (small data only)."""
        chunks = list(self.chunks())
        return (pa.concat_tables(chunks).to_pandas() if chunks else
                pd.DataFrame(columns=["spec", "level", "code", "year", "dimension", "indicator", "contribution"]))


@dataclass
class ScoreResult:
    """``scores``: the store's score columns (the five Leefbaarometer dimension columns are NaN for a spec
    without them); ``dimensions``: every dimension score of the spec in long form (spec, level, code, year,
    dimension, score), whatever the dimensions are called; ``record``: the index engine's build record of a
    calibrated spec (its fitted model's parameters: ``engine.replay(record, model.matrix_.transform(panel))``
    gives the same modelled dimension scores; ``source`` names the data in it)."""

    scores: pd.DataFrame
    contributions: Contributions
    model: LivabilityIndex
    panel: pd.DataFrame
    nowcast: NowcastCorrection | None = None
    dimensions: pd.DataFrame | None = None
    source: str = "panel"

    @cached_property
    def record(self) -> dict | None:
        """The engine's build record (None unless calibrated), computed when first asked for: it hashes and
        validates the whole engine table as one matrix (3.5 GB at 400,000 areas over 7 years), and ``leefbaar
        score`` does not keep it."""
        if self.model.spec.weighting != "calibrated":
            return None
        return self.model.fitted_.record(self.contributions.X, source=self.source)

    def wide(self) -> pd.DataFrame:
        """The scores with the spec's own dimension columns (for CSV output). ``dimensions`` holds one block of
        rows per dimension, each in the order of ``scores`` (``build_scores``), so a block is a column (a pandas
        pivot of the long rows took 18 s at 400,000 areas over 7 years)."""
        order = list(dict.fromkeys(self.dimensions["dimension"]))
        n = len(self.scores)
        if len(self.dimensions) != n * len(order):
            raise ValueError("dimension scores are not one block per dimension in the order of the scores")
        values = self.dimensions["score"].to_numpy(float).reshape(len(order), n)
        base = self.scores.drop(columns=[d for d in LBM_DIMENSIONS if d not in order])
        base = base.drop(columns=[d for d in order if d in base.columns]).reset_index(drop=True)
        out = pd.concat([base, pd.DataFrame(dict(zip(order, values, strict=True)))], axis=1)
        first = ["spec", "level", "code", "year", "total", "afw", *order]
        return out[first + [c for c in out.columns if c not in first]]


def on_lbm_scale(spec: IndexSpec) -> bool:
    """Whether a spec's scores are in Leefbaarometer points (calibrated on the official LBM dimensions)."""
    return spec.weighting == "calibrated" and all((d.target or "").startswith("lbm_") for d in spec.dimensions)


def nearest_official(codes: np.ndarray, years: np.ndarray, official: pd.DataFrame) -> np.ndarray:
    """For each (code, year) the nearest year with official scores of the same code (ties: earlier), or NaN.

    One sort of the official (code, year) pairs and one binary search per row: O((n + m) log m)."""
    codes, years = np.asarray(codes), np.asarray(years)
    out = np.full(len(codes), np.nan)
    if len(official) == 0 or len(codes) == 0:
        return out
    oc, oy = official["code"].to_numpy(), official["year"].to_numpy()
    ids, _ = pd.factorize(np.concatenate([oc, codes]))
    oid, qid = ids[:len(oc)].astype(np.int64), ids[len(oc):].astype(np.int64)
    oy_i, qy = oy.astype(np.int64), years.astype(np.int64)
    base = min(int(oy_i.min()), int(qy.min()))
    span = max(int(oy_i.max()), int(qy.max())) - base + 1
    okey = np.sort(oid * span + (oy_i - base))
    qkey = qid * span + (qy - base)
    pos = np.searchsorted(okey, qkey)
    before = np.clip(pos - 1, 0, len(okey) - 1)
    after = np.clip(pos, 0, len(okey) - 1)
    has_b = (pos > 0) & (okey[before] // span == qid)
    has_a = (pos < len(okey)) & (okey[after] // span == qid)
    yb, ya = okey[before] % span + base, okey[after] % span + base
    take_b = has_b & (~has_a | (np.abs(qy - yb) <= np.abs(ya - qy)))
    out[take_b] = yb[take_b]
    take_a = has_a & ~take_b
    out[take_a] = ya[take_a]
    return out


def anchored_residual(panel: pd.DataFrame, target: pd.DataFrame, modelled: pd.DataFrame, anchor: np.ndarray,
                      is_official: np.ndarray) -> pd.DataFrame:
    """Official minus modelled dimension scores at each row's anchor year (0 where there is no anchor)."""
    dims = list(modelled.columns)
    res = pd.DataFrame(target[dims].to_numpy(float) - modelled[dims].to_numpy(float), index=panel.index,
                       columns=dims)
    out = _at_anchor(panel, res, anchor, is_official)
    out.loc[np.isnan(anchor), dims] = 0.0
    return out


def _at_anchor(panel: pd.DataFrame, values: pd.DataFrame, anchor: np.ndarray, rows: np.ndarray,
               keys: RowKeys | None = None) -> pd.DataFrame:
    """``values`` (aligned with ``panel``, one row per (code, year); only ``rows`` usable) looked up at each
    row's (code, anchor year)."""
    keys = RowKeys(panel) if keys is None else keys
    out = np.full((len(panel), values.shape[1]), np.nan)
    has = np.flatnonzero(~np.isnan(anchor))
    at = keys.at(keys.code[has], anchor[has].astype(np.int64))
    ok = at >= 0
    ok[ok] = np.asarray(rows, dtype=bool)[at[ok]]
    out[has[ok]] = values.to_numpy(float)[at[ok]]
    return pd.DataFrame(out, index=panel.index, columns=values.columns)


def nowcast_terms(store, spec: IndexSpec, panel: pd.DataFrame, target: pd.DataFrame, modelled: pd.DataFrame,
                  residual: pd.DataFrame, anchor: np.ndarray, is_official: np.ndarray
                  ) -> tuple[pd.DataFrame, unc.Anchoring, NowcastCorrection]:
    """The nowcast correction of each modelled row after its anchor year (0 for official rows and h <= 0),
    the ``Anchoring`` that lets the Monte Carlo redraw every row the same way, and the fitted correction."""
    dims = list(spec.dimension_codes)
    model_rows = panel[["code", "year"]].assign(**{d: modelled[d].to_numpy() for d in dims})[is_official]
    corr = NowcastCorrection().fit(load_official(store, spec), dims, modelled=model_rows)
    target = target[dims].set_axis(panel.index)
    keys = RowKeys(panel)
    at_anchor = _at_anchor(panel, target, anchor, is_official, keys)
    change = modelled[dims].set_axis(panel.index) - _at_anchor(panel, modelled[dims].set_axis(panel.index),
                                                               anchor, is_official, keys)
    row_anchor = np.where(is_official, np.nan, anchor)
    years = panel["year"].to_numpy()
    correction = corr.correction(at_anchor, residual[dims], change, row_anchor, years)[dims]
    has = ~np.isnan(row_anchor)
    anchor_row = np.arange(len(panel))
    anchor_row[has] = keys.at(keys.code[has], row_anchor[has].astype(np.int64))
    c_now, c_anchor, const = corr.linear_terms(at_anchor, row_anchor, years)
    level_sd = float(np.std((target.to_numpy(float) - modelled[dims].to_numpy(float))[is_official].sum(axis=1),
                            ddof=1))
    noise = np.where(has, corr.error_sd(row_anchor, years), np.where(is_official, 0.0, level_sd))
    return correction, unc.Anchoring(anchor_row, c_now, c_anchor, const, noise), corr


def build_scores(store, spec: IndexSpec, years, n_draws: int = 1000, seed: int = 0, progress=None
                 ) -> ScoreResult:
    """Fit ``spec`` on the store and score every area-year in ``years`` (see the module docstring)."""
    years = sorted(set(years))
    step = (lambda msg: progress(msg)) if progress else (lambda msg: None)
    with threadpool_limits(limits=1):
        step("panel")
        panel = load_panel(store, spec, years).reset_index(drop=True)
        pairs = contiguity_pairs(store, spec.level) if spec.spatial_lag else None
        step("fit")
        model = LivabilityIndex(spec, pairs)
        X = model.fit_transform(panel)
        dims = list(spec.dimension_codes)
        modelled = _modelled(model, panel, X, dims)
        scores = panel[["code", "year"]].copy()
        lbm = on_lbm_scale(spec)
        residual = pd.DataFrame(0.0, index=panel.index, columns=dims)
        correction, anchoring, nowcast = residual.copy(), None, None
        kind = np.full(len(panel), "modelled", dtype=object)
        anchor = np.full(len(panel), np.nan)
        if lbm:
            target = model.targets(panel)
            is_official = target.notna().all(axis=1).to_numpy()
            kind[is_official] = "official"
            anchor = nearest_official(panel["code"].to_numpy(), panel["year"].to_numpy(),
                                      panel.loc[is_official, ["code", "year"]])
            residual = anchored_residual(panel, target, modelled, anchor, is_official)
            correction, anchoring, nowcast = nowcast_terms(store, spec, panel, target, modelled, residual, anchor,
                                                           is_official)
        final = modelled + residual.to_numpy() + correction.to_numpy()
        for d in dims:
            scores[d] = final[d].to_numpy()
        scores["afw"] = final.sum(axis=1).to_numpy()
        scores["total"] = spec.reference + scores["afw"]
        scores["klasse"] = (pd.array(classify_total(scores["afw"].to_numpy()), dtype="Int8") if lbm
                            else pd.array([pd.NA] * len(scores), dtype="Int8"))
        scores["kind"] = kind
        anchor_out = np.where(kind == "official", np.nan, anchor)
        scores["anchor_year"] = pd.array(np.where(np.isnan(anchor_out), pd.NA, anchor_out), dtype="Int64")
        if n_draws > 0:
            step("uncertainty")
            alt = LivabilityIndex(unc.rank_variant(spec), pairs)
            prepared = unc.prepare([model, alt], panel, X=[X, alt.fit_transform(panel)], dtype=np.float32)
            classify = classify_total if lbm else (lambda a: np.zeros(np.shape(a), dtype=np.int8))
            summary = unc.summarise_draws(prepared, n_draws, scores["afw"].to_numpy(), scores["year"].to_numpy(),
                                          spec.reference, classify, fixed=kind == "official", seed=seed,
                                          anchoring=anchoring, chunk_rows=CHUNK_ROWS)
            del prepared
            for c in summary.columns:
                scores[c] = summary[c].to_numpy()
            scores.loc[kind == "official", "p_class_differs"] = 0.0
            if not lbm:
                scores["p_class_differs"] = np.nan  # no classes outside the Leefbaarometer scale
        else:
            for c in ("total_lo", "total_hi", "rank_lo", "rank_hi", "p_class_differs"):
                scores[c] = np.nan
            scores["rank"] = scores.groupby("year")["afw"].rank(ascending=False, method="min")
        scores.insert(0, "spec", spec.name)
        scores.insert(1, "level", spec.level)
        for d in LBM_DIMENSIONS:
            if d not in dims:
                scores[d] = np.nan
        n = len(scores)
        dimensions = pd.DataFrame({"spec": spec.name, "level": spec.level,
                                   "code": np.tile(scores["code"].to_numpy(), len(dims)),
                                   "year": np.tile(scores["year"].to_numpy(), len(dims)),
                                   "dimension": np.repeat(np.asarray(dims, dtype=object), n),
                                   "score": final[dims].to_numpy().T.ravel()})
        contributions = Contributions(spec, model, panel, X, residual, correction)
    return ScoreResult(scores[SCORE_COLUMNS], contributions, model, panel, nowcast, dimensions,
                       f"{spec.level} panel {years[0]}-{years[-1]}")


def _modelled(model: LivabilityIndex, panel: pd.DataFrame, X: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """The model's dimension scores (sum of the contributions), ``CHUNK_ROWS`` rows at a time."""
    out = np.empty((len(panel), len(dims)))
    source = TermValues(model, panel, X)
    for lo in range(0, len(panel), CHUNK_ROWS):
        part = slice(lo, min(lo + CHUNK_ROWS, len(panel)))
        values = source.chunk(part)
        for k, d in enumerate(dims):
            out[part, k] = TermValues.total(values[d])
    return pd.DataFrame(out, columns=dims)


def _kept_terms(d: str, names: list[str], values: np.ndarray, residual: np.ndarray,
                correction: np.ndarray) -> tuple:
    """(dimension, term names, rows x terms array, kept) of the terms of dimension ``d`` in the long table, the
    residual and the nowcast added last: kept is every non-zero one and always the baseline and the residual."""
    names = [*names, RESIDUAL, CORRECTION]
    wide = np.empty((values.shape[1], len(names)))
    wide[:, :-2] = values.T
    wide[:, -2] = residual
    wide[:, -1] = correction
    keep = wide != 0
    keep[:, np.isin(np.asarray(names, dtype=object), [BASELINE, RESIDUAL])] = True
    return d, names, wide, keep


def _long_contributions(spec: IndexSpec, panel: pd.DataFrame, kept: list[tuple]) -> pa.Table:
    """Long rows (spec, level, code, year, dimension, indicator, contribution) of these area-years."""
    codes, years = pa.array(panel["code"].to_numpy(object), pa.string()), pa.array(panel["year"].to_numpy())
    tables = []
    for d, names, rows, cols, values in kept:
        n = len(rows)
        tables.append(pa.table({
            "spec": pa.array([spec.name], pa.string()).take(np.zeros(n, np.int32)),
            "level": pa.array([spec.level], pa.string()).take(np.zeros(n, np.int32)),
            "code": codes.take(rows),
            "year": years.take(rows),
            "dimension": pa.array([d], pa.string()).take(np.zeros(n, np.int32)),
            "indicator": pa.array(names, pa.string()).take(cols),
            "contribution": pa.array(values),
        }))
    return pa.concat_tables(tables)


CONTRIBUTIONS_VIEW = (
    "CREATE OR REPLACE VIEW contributions AS SELECT u.spec, u.level, u.code, u.year, t.dimension, t.indicator, "
    "v.contribution FROM contribution_values v JOIN contribution_units u ON v.unit = u.unit "
    "JOIN contribution_terms t ON v.term = t.term")
"""``contributions`` as readers see it (one row per spec, level, code, year, dimension, indicator): a view over
three tables, so that the long rows are stored as two small integers and a number (``write_contributions``)."""


def write_contributions(store, contributions: Contributions, rows: int = CHUNK_ROWS) -> int:
    """Replace the spec/level's rows of ``contributions``; returns the number of rows.

    Stored as ``contribution_units`` (spec, level, unit, code, year: one row per area-year, ``unit`` numbering
    them across specs and levels), ``contribution_terms`` (term, dimension, indicator) and
    ``contribution_values`` (unit, term, contribution: the long rows), joined by the view ``contributions``
    (``CONTRIBUTIONS_VIEW``). Writing the long rows as strings cost DuckDB ~7 CPU s per 10 million rows (400,000
    areas over 7 years give ~460 million); as two integers and a double it costs a quarter of that. A store
    that still holds ``contributions`` as a table is converted (its rows kept)."""
    con = store.con
    spec, level = contributions.spec.name, contributions.spec.level
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                             "WHERE table_schema = 'main'").fetchall())
    if kinds.get("contributions") == "BASE TABLE":  # written before the compact form: convert, rows kept
        con.execute("ALTER TABLE contributions RENAME TO contributions_long")
        con.execute("CREATE TABLE contribution_units AS SELECT spec, level, (row_number() OVER (ORDER BY spec, "
                    "level, code, year) - 1)::INTEGER AS unit, code, year::BIGINT AS year FROM (SELECT DISTINCT "
                    "spec, level, code, year FROM contributions_long)")
        con.execute("CREATE TABLE contribution_terms AS SELECT (row_number() OVER (ORDER BY dimension, indicator) "
                    "- 1)::SMALLINT AS term, dimension, indicator FROM (SELECT DISTINCT dimension, indicator "
                    "FROM contributions_long)")
        con.execute("CREATE TABLE contribution_values AS SELECT u.unit, t.term, c.contribution FROM "
                    "contributions_long c JOIN contribution_units u USING (spec, level, code, year) JOIN "
                    "contribution_terms t USING (dimension, indicator) ORDER BY u.unit, t.term")
        con.execute("DROP TABLE contributions_long")
    elif "contribution_values" not in kinds:
        con.execute("CREATE TABLE contribution_units (spec VARCHAR, level VARCHAR, unit INTEGER, code VARCHAR, "
                    "year BIGINT)")
        con.execute("CREATE TABLE contribution_terms (term SMALLINT, dimension VARCHAR, indicator VARCHAR)")
        con.execute("CREATE TABLE contribution_values (unit INTEGER, term SMALLINT, contribution DOUBLE)")
    con.execute(CONTRIBUTIONS_VIEW)
    lo, hi = con.execute("SELECT min(unit), max(unit) FROM contribution_units WHERE spec = ? AND level = ?",
                         [spec, level]).fetchall()[0]
    if lo is not None:  # a (spec, level) holds one block of units
        con.execute("DELETE FROM contribution_values WHERE unit BETWEEN ? AND ?", [lo, hi])
        con.execute("DELETE FROM contribution_units WHERE spec = ? AND level = ?", [spec, level])
    known = {(d, i): t for t, d, i in con.execute("SELECT term, dimension, indicator FROM contribution_terms")
             .fetchall()}
    terms = contributions.terms()
    new = [t for t in dict.fromkeys(terms) if t not in known]
    start = max(known.values(), default=-1) + 1
    if new:
        store.append("contribution_terms", pa.table({
            "term": pa.array(np.arange(start, start + len(new)), pa.int16()),
            "dimension": [d for d, _ in new], "indicator": [i for _, i in new]}))
        known.update({t: start + k for k, t in enumerate(new)})
    offset = con.execute("SELECT coalesce(max(unit) + 1, 0) FROM contribution_units").fetchall()[0][0]
    panel = contributions.panel
    n = len(panel)
    store.append("contribution_units", pa.table({
        "spec": pa.array([spec]).take(np.zeros(n, np.int32)), "level": pa.array([level]).take(np.zeros(n, np.int32)),
        "unit": pa.array(np.arange(offset, offset + n), pa.int32()),
        "code": pa.array(panel["code"].to_numpy(object), pa.string()),
        "year": pa.array(panel["year"].to_numpy(np.int64))}))
    ids = np.array([known[t] for t in terms], dtype=np.int16)
    written = 0
    for chunk in contributions.values(ids, offset, rows):
        written += store.append("contribution_values", chunk)
    return written


def spec_dimensions(spec: IndexSpec) -> pd.DataFrame:
    """The dimensions of a spec in display order (the spec's order): spec, level, position (0-based),
    dimension, label_nl, label_en; stored beside the scores so that a reader of the store needs no spec file."""
    return pd.DataFrame({"spec": spec.name, "level": spec.level, "position": np.arange(len(spec.dimensions)),
                         "dimension": [d.code for d in spec.dimensions],
                         "label_nl": [d.label_nl for d in spec.dimensions],
                         "label_en": [d.label_en for d in spec.dimensions]})


def write_scores(store, result: ScoreResult, params: dict) -> int:
    """Replace this spec/level's rows of ``scores`` and ``contributions`` in the store; returns the run id.

    Rows of kind ``aggregated`` (written by ``leefbaar levels`` from the official measurements of another level)
    are kept: scoring replaces only what it computes."""
    spec, level = result.scores["spec"].iloc[0], result.scores["level"].iloc[0]
    with store.transaction(), store.run("score", params) as run_id:
        kept = _aggregated_rows(store, spec, level)
        kept = kept.reindex(columns=result.scores.columns)
        scores = result.scores if kept.empty else pd.concat([result.scores, kept], ignore_index=True)
        store.replace("scores", scores, {"spec": spec, "level": level})
        write_contributions(store, result.contributions)
        if result.dimensions is not None:
            store.replace("dimension_scores", result.dimensions, {"spec": spec, "level": level})
        store.replace("spec_dimensions", spec_dimensions(result.model.spec), {"spec": spec, "level": level})
    return run_id


def _aggregated_rows(store, spec: str, level: str) -> pd.DataFrame:
    """The ``aggregated`` rows of ``scores`` for this spec and level (empty when the table does not exist yet)."""
    if "scores" not in store.sql("SELECT table_name FROM information_schema.tables")["table_name"].tolist():
        return pd.DataFrame()
    return store.sql("SELECT * FROM scores WHERE spec = ? AND level = ? AND kind = 'aggregated'", [spec, level])


SUMMARY_COLUMNS = {"year": N_("year"), "kind": N_("kind"), "areas": N_("areas"), "mean_total": N_("mean score"),
                   "share_weak": N_("share weak or worse"), "median_width": N_("median interval width"),
                   "share_uncertain": N_("share class uncertain")}
"""Headers of the table of :func:`summary_markdown`, by column of :func:`score_summary`."""
KIND_LABELS = {"official": N_("official"), "modelled": N_("modelled"), "aggregated": N_("aggregated")}
"""How the kind of a score is shown."""


def score_summary(result: ScoreResult) -> pd.DataFrame:
    """Per year and kind: areas, mean total, share in class 4 (zwak) or lower, median width of the interval,
    share of areas whose class is uncertain (p_class_differs > 0.5)."""
    s = result.scores.assign(weak=lambda f: f["klasse"].astype("Float64") <= 4,
                             width=lambda f: f["total_hi"] - f["total_lo"],
                             uncertain=lambda f: (f["p_class_differs"] > 0.5).astype(float)
                             .where(f["p_class_differs"].notna()))
    out = s.groupby(["year", "kind"]).agg(areas=("code", "size"), mean_total=("total", "mean"),
                                          share_weak=("weak", "mean"), median_width=("width", "median"),
                                          share_uncertain=("uncertain", "mean"))
    return out.reset_index()


def summary_markdown(result: ScoreResult, run: int, lang: str = "nl") -> str:
    """A short readable summary of a scoring run (``score_summary`` plus the nowcast correction used)."""
    _ = translator(lang)
    spec, level = result.scores["spec"].iloc[0], result.scores["level"].iloc[0]
    table = score_summary(result)
    table["kind"] = [_(KIND_LABELS[k]) if k in KIND_LABELS else k for k in table["kind"]]
    table["year"] = table["year"].astype(str)
    for col in ("mean_total", "median_width"):
        table[col] = [_.number(v, 3) for v in table[col]]
    for col in ("share_weak", "share_uncertain"):
        table[col] = ["" if pd.isna(v) else _.percent(v, 1) for v in table[col]]
    table["areas"] = [_.integer(v) for v in table["areas"]]
    if on_lbm_scale(result.model.spec):
        intro = _("Official = Leefbaarometer values; modelled = nowcast: the model on that year's indicators plus "
                  "the unexplained part of the nearest official year, after that year corrected for damping and "
                  "reversion to the mean. Interval: {level} Monte Carlo (calibration, normalisation, weights, "
                  "nowcast error). Class uncertain: probability > {threshold} that the class differs.",
                  level=_.percent(0.9), threshold=_.percent(0.5))
    else:
        intro = _("Modelled = the spec on that year's indicators (no official series, no classes). Interval: {level} "
                  "Monte Carlo (normalisation: as in the spec or ranks; dimension weights; with calibration also "
                  "its coefficients).", level=_.percent(0.9))
    parts = ["# " + _("Livability scores {spec} ({level}), run {run}", spec=spec, level=level, run=run), "", intro, "",
             table.rename(columns={k: _(v) for k, v in SUMMARY_COLUMNS.items()}).to_markdown(index=False,
                                                                                         disable_numparse=True), ""]
    if result.nowcast is not None:
        n = result.nowcast
        coef = pd.DataFrame(n.coef_).T.rename_axis("dimension").reset_index().rename(columns={"alpha": "alpha_used"})
        used = n.pairs_[n.pairs_["to_year"] == n.pair_[1]][["dimension", "alpha", "beta", "kappa"]]
        used = used.merge(coef, on="dimension")
        for col in used.columns[1:]:
            used[col] = [_.number(v, 4) for v in used[col]]
        parts += ["## " + _("Nowcast correction, estimated on the official years {a}-{b} (α damping, β reversion of "
                            "the residual, κ reversion of the deviation; nowcast error sd {sd} points over {span} "
                            "years)", a=n.pair_[0], b=n.pair_[1], sd=_.number(n.error_sd_), span=n.span_), "",
                  used.to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(parts)
