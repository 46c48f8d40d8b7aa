"""Read the index results stored by ``leefbaar score`` (tables ``scores`` and ``contributions``, schema in
``leefbaar.index.pipeline``) and explain them.

- ``load_scores(store, spec='default', level='pc4', years=None)``: the scores table;
- ``load_contributions(store, code, years, spec, level)``: long contributions of one area;
- ``explain_area(store, code, year)``: per dimension and indicator the contribution relative to the national
  reference (the contribution itself: every term is centred on the national calibration mean) and relative to
  the area's gemeente (minus the mean contribution of the gemeente's areas in that year);
- ``explain_change(store, code, from_year, to_year)``: the exact decomposition of the change of every
  dimension and of afw into the indicators that moved (the rows add up to the change).
All values are in score points; higher is better.
"""

from __future__ import annotations

import pandas as pd

from leefbaar.errors import SpecError, StoreError
from leefbaar.i18n import N_, translator
from leefbaar.index.spec import load_spec

DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")


def _require(store, table: str) -> None:
    n = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [table])["n"][0]
    if not n:
        raise StoreError(f"the store has no '{table}' table yet; run 'leefbaar score --store ... --out ...'")


def load_scores(store, spec: str = "default", level: str = "pc4", years=None) -> pd.DataFrame:
    """Rows of ``scores`` for a spec and level (optionally some years), ordered by code and year."""
    _require(store, "scores")
    q, params = "SELECT * FROM scores WHERE spec = ? AND level = ?", [spec, level]
    if years is not None:
        years = list(years)
        q += f" AND year IN ({', '.join('?' * len(years))})"
        params += years
    out = store.sql(q + " ORDER BY code, year", params)
    if out.empty:
        raise StoreError(f"no scores for spec {spec!r} at level {level!r}; run 'leefbaar score --spec {spec}'")
    return out


def load_contributions(store, code: str, years, spec: str = "default", level: str = "pc4") -> pd.DataFrame:
    _require(store, "contributions")
    years = list(years)
    out = store.sql(f"SELECT * FROM contributions WHERE spec = ? AND level = ? AND code = ? AND year IN "
                    f"({', '.join('?' * len(years))})", [spec, level, str(code), *years])
    missing = sorted(set(years) - set(out["year"]))
    if missing:
        raise StoreError(f"no contributions for {level} {code} in {missing}; is the code right and scored?")
    return out


def _labels(store) -> dict[str, dict[str, str]]:
    """Catalogue labels per indicator id, in both languages: ``{id: {"nl": label_nl, "en": label_en}}``."""
    cat = store.sql("SELECT id, label_nl, label_en FROM indicators")
    return {i: {"nl": nl, "en": en or nl} for i, nl, en in zip(cat["id"], cat["label_nl"], cat["label_en"],
                                                                strict=True)}


SPECIAL_LABELS = {"_baseline": N_("national reference level"),
                  "_residual": N_("not explained by indicators (official)"),
                  "_nowcast": N_("nowcast correction (damping, reversion to the mean)"),
                  "_ligging": N_("regional location")}
"""Contribution keys that are not indicators."""
FALLBACK_LABELS = {"area_km2": N_("land area (km²)")}
"""Denominators and other ids that are not in the indicator catalogue. Any other id missing from the catalogue is
shown as the id itself (in both languages)."""


def indicator_label(key: str, labels: dict, lang: str = "nl") -> str:
    """Readable name of a contribution key (feature, ``a/b`` ratio, ``@buren`` lag, baseline, residual) in ``lang``.

    ``labels``: :func:`_labels` (both languages), or ``{id: label}`` already in ``lang``. An id without a catalogue
    label falls back to :data:`FALLBACK_LABELS`, else to the id.
    """
    _ = translator(lang)
    if key in SPECIAL_LABELS:
        return _(SPECIAL_LABELS[key])

    def name(ind: str) -> str:
        v = labels.get(ind)
        if isinstance(v, dict):
            v = v.get(lang) or v.get("nl")
        return v or (_(FALLBACK_LABELS[ind]) if ind in FALLBACK_LABELS else ind)

    lag = key.endswith("@buren")
    ind, _sep, per = key.removesuffix("@buren").partition("/")
    text = name(ind)
    if per:
        text = _("{label} per {denominator}", label=text, denominator=name(per).lower())
    if lag:
        text = _("{label} (neighbours)", label=text)
    return text


def explain_area(store, code: str, year: int, spec: str = "default", level: str = "pc4") -> pd.DataFrame:
    """Contributions of one area-year: dimension, indicator, contribution (vs national), vs_gemeente."""
    rows = load_contributions(store, code, [year], spec, level)
    gm = store.sql("SELECT gemeente_code FROM areas WHERE level = ? AND code = ? AND gemeente_code IS NOT NULL "
                   "ORDER BY vintage DESC LIMIT 1", [level, str(code)])
    out = rows[["dimension", "indicator", "contribution"]].copy()
    if not gm.empty:
        peers = store.sql(
            "SELECT c.dimension, c.indicator, sum(c.contribution) AS s FROM contributions c "
            "WHERE c.spec = ? AND c.level = ? AND c.year = ? AND c.code IN (SELECT DISTINCT code FROM areas "
            "WHERE level = ? AND gemeente_code = ?) GROUP BY ALL", [spec, level, year, level, gm.iloc[0, 0]])
        n = store.sql("SELECT count(DISTINCT code) AS n FROM scores WHERE spec = ? AND level = ? AND year = ? "
                      "AND code IN (SELECT DISTINCT code FROM areas WHERE level = ? AND gemeente_code = ?)",
                      [spec, level, year, level, gm.iloc[0, 0]])["n"][0]
        peers["gemeente_mean"] = peers["s"] / max(int(n), 1)
        out = out.merge(peers[["dimension", "indicator", "gemeente_mean"]], on=["dimension", "indicator"],
                        how="left")
        out["vs_gemeente"] = out["contribution"] - out["gemeente_mean"].fillna(0.0)
        out["gemeente_code"] = gm.iloc[0, 0]
    else:
        out["gemeente_mean"] = out["vs_gemeente"] = float("nan")
        out["gemeente_code"] = None
    labels = _labels(store)
    out["label"] = [indicator_label(k, labels) for k in out["indicator"]]
    order = {d: i for i, d in enumerate(DIMENSIONS)}
    out = out.sort_values(["dimension", "contribution"], key=lambda s: s.map(order) if s.name == "dimension"
                          else -s.abs(), ignore_index=True)
    out.insert(0, "code", str(code))
    out.insert(1, "year", year)
    return out


def explain_change(store, code: str, from_year: int, to_year: int, spec: str = "default", level: str = "pc4"
                   ) -> pd.DataFrame:
    """Exact decomposition of the change from ``from_year`` to ``to_year``: one row per (dimension,
    indicator) with the contribution in each year and the change; the changes add up to the change of
    the dimension score and, over all dimensions, of afw (and total)."""
    rows = load_contributions(store, code, [from_year, to_year], spec, level)
    wide = rows.pivot_table(index=["dimension", "indicator"], columns="year", values="contribution",
                            aggfunc="sum", fill_value=0.0)
    for y in (from_year, to_year):
        if y not in wide.columns:
            wide[y] = 0.0
    out = wide[[from_year, to_year]].rename(columns={from_year: "from", to_year: "to"}).reset_index()
    out["change"] = out["to"] - out["from"]
    labels = _labels(store)
    out["label"] = [indicator_label(k, labels) for k in out["indicator"]]
    out = out.sort_values("change", key=lambda s: -s.abs(), ignore_index=True)
    out.insert(0, "code", str(code))
    out.insert(1, "from_year", from_year)
    out.insert(2, "to_year", to_year)
    return out


def scored_dimensions(store, spec: str = "default", level: str = "pc4") -> list[dict]:
    """The dimensions of a scored spec in display order: ``[{"code": ..., "label": {"nl": ..., "en": ...}}]``.

    From ``spec_dimensions`` (written by ``leefbaar score``); for a store scored before that table existed,
    the codes of ``dimension_scores`` in the order of the built-in spec of that name (codes as labels when
    there is none). Raises ``StoreError`` when the spec has no scores at that level."""
    tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    if "spec_dimensions" in tables:
        rows = store.sql("SELECT dimension, label_nl, label_en FROM spec_dimensions WHERE spec = ? AND level = ? "
                         "ORDER BY position", [spec, level])
        if not rows.empty:
            return [{"code": r.dimension, "label": {"nl": r.label_nl, "en": r.label_en}} for r in rows.itertuples()]
    _require(store, "dimension_scores")
    codes = store.sql("SELECT DISTINCT dimension FROM dimension_scores WHERE spec = ? AND level = ?",
                      [spec, level])["dimension"].tolist()
    if not codes:
        raise StoreError(f"no dimension scores for spec {spec!r} at level {level!r}; run 'leefbaar score --spec "
                         f"{spec}'")
    try:
        dims = [d for d in load_spec(spec).dimensions if d.code in codes]
    except SpecError:
        dims = []
    if {d.code for d in dims} != set(codes):
        return [{"code": c, "label": {"nl": c, "en": c}} for c in sorted(codes)]
    return [{"code": d.code, "label": {"nl": d.label_nl, "en": d.label_en}} for d in dims]
