"""Survey input: residents' subjective scores per area, from aggregates or from respondent-level microdata.

Two kinds of input file (delimited text, strict reading as for every source):

- ``aggregate``: one row per area (and year) with item scores already aggregated, plus the number of
  respondents (``n_column``). A row with fewer respondents than ``min_respondents`` is dropped. Figures that
  their owner has already published without counts (such as the Rotterdam Wijkprofiel) can be imported with
  ``published=True``; their disclosure control is the publisher's, and ``n`` stays empty.
- ``microdata``: one row per respondent with the area code, optionally a year and a weight, and one column per
  item (numeric answers; empty = not answered; other columns are ignored). Microdata never leave this module:
  only aggregates per area, year and item are returned or stored.

Aggregation of microdata per area, year and item, over the respondents who answered the item:

- unweighted: mean, ``n`` respondents, ``n_eff = n``, standard error ``s / sqrt(n)``;
- weighted (weights >= 0; a respondent with weight 0 counts as not answering): weighted mean
  ``sum(w x) / sum(w)``, Kish effective sample size ``n_eff = (sum w)^2 / sum(w^2)``, and the linearised
  standard error ``sqrt(sum(w^2 (x - mean)^2)) / sum(w)`` (with-replacement approximation).

Disclosure control: a figure is kept only if its unweighted number of respondents ``n`` is at least
``min_respondents`` (default 50); weighting never lowers that bar. Nothing about a group below the minimum is
kept - not its value, count or area code; only the number of such groups is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.errors import InputError, StoreError
from leefbaar.sources.batch import sha256
from leefbaar.sources.buurt import wijkprofiel_code
from leefbaar.sources.tabular import RawTable, parse_values, read_text_table
from leefbaar.store.store import Store

DEFAULT_MIN_RESPONDENTS = 50
SURVEY_TABLE = "survey_scores"
SURVEY_COLUMNS = ["survey_id", "kind", "level", "code", "year", "item", "value", "n", "n_eff", "se",
                  "weighted", "min_respondents", "lbm_dimension"]
LBM_DIMENSIONS = ("afw", "won", "fys", "vrz", "soc", "onv")
_SURVEY_ID = re.compile(r"^[a-z0-9_]{1,60}$")
_SURVEY_DDL = (f"CREATE TABLE IF NOT EXISTS {SURVEY_TABLE} (survey_id VARCHAR, kind VARCHAR, level VARCHAR, "
               "code VARCHAR, year INTEGER, item VARCHAR, value DOUBLE, n DOUBLE, n_eff DOUBLE, se DOUBLE, "
               "weighted BOOLEAN, min_respondents INTEGER, lbm_dimension VARCHAR, run_id INTEGER)")


@dataclass
class SurveyAggregate:
    """Aggregated survey scores: ``table`` (level, code, year, item, value, n, n_eff, se, weighted) holds
    only groups with at least ``min_respondents`` respondents; ``suppressed_groups`` counts the others."""

    table: pd.DataFrame
    suppressed_groups: int
    min_respondents: int
    respondents: int


def _column(raw: RawTable, name: str | None, role: str) -> None:
    if name is not None and name not in raw.frame.columns:
        raise InputError(raw.path, f"{role} column is missing (see --{role}-column)", row=1, column=name)


def _numbers(raw: RawTable, columns: list[str]) -> np.ndarray:
    """Numeric cells (NaN where empty); a CBS-style suppression code in survey input is an error."""
    values, status = parse_values(raw, raw.frame[columns])
    values, status = np.asarray(values, dtype=float), np.asarray(status)
    bad = status == "suppressed"
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        raise InputError(raw.path, f"{raw.frame[columns[j]].iloc[i]!r} is a suppression code, not an "
                         "answer or score", row=int(raw.row[i]), column=columns[j])
    return values


def _area_codes(raw: RawTable, column: str, level: str) -> pd.Series:
    text = raw.frame[column].str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(raw.path, "area code is empty", row=int(raw.row[i]), column=column)
    if level == "wijkprofiel":
        return text.map(lambda t: wijkprofiel_code(int(t)) if t.isdigit() else t.upper())
    return text if level == "pc4" else text.str.upper()


def _years(raw: RawTable, column: str | None, year: int | None) -> np.ndarray:
    if column is None:
        if year is None:
            raise InputError(raw.path, "no year: pass --year-column or --year")
        return np.full(len(raw.frame), int(year))
    values = _numbers(raw, [column])[:, 0]
    bad = np.isnan(values) | (values != np.round(values)) | (values < 1900) | (values > 2100)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(raw.path, f"{raw.frame[column].iloc[i]!r} is not a year", row=int(raw.row[i]),
                         column=column)
    return values.astype(int)


def _check_items(raw: RawTable, items: list[str]) -> None:
    if not items:
        raise InputError(raw.path, "no items given (pass --items)")
    for item in items:
        _column(raw, item, "item")


def read_microdata(path: str | Path, area_column: str, items: list[str], level: str,
                   year_column: str | None = None, year: int | None = None, weight_column: str | None = None
                   ) -> pd.DataFrame:
    """Respondent rows: ``code``, ``year``, ``weight`` (1 when unweighted) and one float column per item."""
    raw = read_text_table(path, sep=_separator(path))
    _column(raw, area_column, "area")
    _column(raw, year_column, "year")
    _column(raw, weight_column, "weight")
    _check_items(raw, items)
    values = _numbers(raw, items)
    frame = pd.DataFrame(values, columns=items)
    frame.insert(0, "code", _area_codes(raw, area_column, level).to_numpy())
    frame.insert(1, "year", _years(raw, year_column, year))
    if weight_column is not None:
        w = _numbers(raw, [weight_column])[:, 0]
        bad = np.isnan(w) | ~np.isfinite(w) | (w < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(raw.path, f"weight {raw.frame[weight_column].iloc[i]!r} is not a number >= 0",
                             row=int(raw.row[i]), column=weight_column)
        frame.insert(2, "weight", w)
    else:
        frame.insert(2, "weight", 1.0)
    return frame


def aggregate_microdata(frame: pd.DataFrame, items: list[str], level: str, weighted: bool,
                        min_respondents: int = DEFAULT_MIN_RESPONDENTS) -> SurveyAggregate:
    """Aggregate respondent rows (``read_microdata``) per area, year and item with disclosure control;
    ``weighted`` says whether to use the ``weight`` column (else every respondent counts once)."""
    if min_respondents < 1:
        raise ValueError(f"min_respondents must be at least 1, got {min_respondents}")
    keys = ["code", "year"]
    if not weighted:
        frame = frame.assign(weight=1.0)
    parts, suppressed = [], 0
    for item in items:
        sub = frame.loc[frame[item].notna() & (frame["weight"] > 0), [*keys, "weight", item]]
        sub = sub.rename(columns={item: "x"})
        sub["wx"], sub["w2"] = sub["weight"] * sub["x"], sub["weight"] ** 2
        g = sub.groupby(keys, sort=True)
        sums = g.agg(n=("x", "size"), sw=("weight", "sum"), swx=("wx", "sum"), sw2=("w2", "sum"),
                     var=("x", "var"))
        mean = sums["swx"] / sums["sw"]
        row_mean = g["wx"].transform("sum") / g["weight"].transform("sum")
        q = sub["w2"] * (sub["x"] - row_mean) ** 2
        sums["q"] = q.groupby([sub["code"], sub["year"]], sort=True).sum()
        out = pd.DataFrame({"value": mean, "n": sums["n"]})
        if weighted:
            out["n_eff"] = sums["sw"] ** 2 / sums["sw2"]
            out["se"] = np.sqrt(sums["q"]) / sums["sw"]
        else:
            out["n_eff"] = sums["n"].astype(float)
            out["se"] = np.sqrt(sums["var"] / sums["n"])
        keep = out["n"] >= min_respondents
        suppressed += int((~keep).sum())
        parts.append(out[keep].reset_index().assign(item=item))
    table = pd.concat(parts, ignore_index=True).assign(level=level, weighted=weighted)
    return SurveyAggregate(table[["level", "code", "year", "item", "value", "n", "n_eff", "se", "weighted"]],
                           suppressed, min_respondents, len(frame))


def read_aggregate(path: str | Path, area_column: str, items: list[str], level: str,
                   year_column: str | None = None, year: int | None = None, n_column: str | None = None,
                   published: bool = False, min_respondents: int = DEFAULT_MIN_RESPONDENTS
                   ) -> SurveyAggregate:
    """Aggregated scores per area (and year): with respondent counts (``n_column``), or figures already
    published by their owner (``published``). Duplicate area-year rows are an error."""
    if n_column is None and not published:
        raise InputError(path, "aggregated scores need the number of respondents per area (--n-column); only "
                         "figures their owner already published may come without (--published)")
    raw = read_text_table(path, sep=_separator(path))
    _column(raw, area_column, "area")
    _column(raw, year_column, "year")
    _column(raw, n_column, "n")
    _check_items(raw, items)
    codes = _area_codes(raw, area_column, level)
    years = _years(raw, year_column, year)
    dup = pd.Series(list(zip(codes, years, strict=True))).duplicated(keep=False).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[1])
        raise InputError(raw.path, f"area {codes.iloc[i]!r} appears twice for {years[i]}",
                         row=int(raw.row[i]), column=area_column)
    values = _numbers(raw, items)
    if n_column is not None:
        n = _numbers(raw, [n_column])[:, 0]
        bad = np.isnan(n) | (n < 0) | (n != np.round(n))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(raw.path, f"{raw.frame[n_column].iloc[i]!r} is not a number of respondents",
                             row=int(raw.row[i]), column=n_column)
    else:
        n = np.full(len(raw.frame), np.nan)
    k = len(items)
    rows = pd.DataFrame({"code": np.repeat(codes.to_numpy(), k), "year": np.repeat(years, k),
                         "item": np.tile(items, len(codes)), "value": values.reshape(-1),
                         "n": np.repeat(n, len(items))}).dropna(subset=["value"])
    keep = rows["n"].isna() | (rows["n"] >= min_respondents) if published else rows["n"] >= min_respondents
    table = rows[keep].assign(level=level, n_eff=rows["n"].astype(float), se=np.nan, weighted=False)[
        ["level", "code", "year", "item", "value", "n", "n_eff", "se", "weighted"]]
    return SurveyAggregate(table.reset_index(drop=True), int((~keep).sum()), min_respondents,
                           int(np.nansum(n)) if n_column is not None else 0)


def _separator(path: str | Path) -> str:
    """Comma, or semicolon when the header line holds semicolons and no commas (Dutch spreadsheet exports)."""
    p = Path(path)
    try:
        with open(p, encoding="utf-8-sig", errors="replace") as f:
            first = f.readline()
    except OSError as exc:
        raise InputError(p, f"cannot be read: {exc.strerror}") from None
    return ";" if ";" in first and "," not in first else ","


def parse_dimensions(pairs: list[str], items: list[str]) -> dict[str, str]:
    """``["veilig=onv", ...]`` -> {item: Leefbaarometer dimension}; unknown items or dimensions are errors."""
    out = {}
    for pair in pairs:
        item, sep, dim = pair.partition("=")
        if not sep or item not in items or dim not in LBM_DIMENSIONS:
            raise InputError("--dimension", f"{pair!r} must be ITEM=DIMENSION with ITEM one of the items "
                             f"({', '.join(items)}) and DIMENSION one of {', '.join(LBM_DIMENSIONS)}")
        out[item] = dim
    return out


@dataclass
class SurveyImport:
    """What ``import_survey`` stored: the survey id, rows kept, groups suppressed, respondents read."""

    survey_id: str
    rows: int
    areas: int
    suppressed_groups: int
    respondents: int
    kind: str


def import_survey(store: Store, path: str | Path, kind: str, level: str, area_column: str, items: list[str],
                  survey_id: str | None = None, year_column: str | None = None, year: int | None = None,
                  weight_column: str | None = None, n_column: str | None = None, published: bool = False,
                  min_respondents: int = DEFAULT_MIN_RESPONDENTS, dimensions: dict[str, str] | None = None
                  ) -> SurveyImport:
    """Aggregate (if needed) and store survey scores in table ``survey_scores`` (replacing an earlier import
    with the same ``survey_id``), recording the run. Area codes must be areas of ``level`` in the store."""
    path = Path(path)
    survey_id = survey_id or re.sub(r"[^a-z0-9_]", "_", path.stem.lower())[:60]
    if not _SURVEY_ID.match(survey_id):
        raise InputError(path, f"survey id {survey_id!r} must be 1-60 characters a-z, 0-9 or _")
    if kind == "microdata":
        if n_column is not None or published:
            raise InputError(path, "--n-column and --published apply to aggregated input only")
        micro = read_microdata(path, area_column, items, level, year_column, year, weight_column)
        agg = aggregate_microdata(micro, items, level, weight_column is not None, min_respondents)
        del micro
    elif kind == "aggregate":
        if weight_column is not None:
            raise InputError(path, "--weight-column applies to microdata only")
        agg = read_aggregate(path, area_column, items, level, year_column, year, n_column, published,
                             min_respondents)
    else:
        raise InputError(path, f"kind {kind!r} must be 'aggregate' or 'microdata'")
    known = set(store.sql("SELECT DISTINCT code FROM areas WHERE level = ?", [level])["code"])
    if not known:
        raise StoreError(f"the store holds no areas at level {level!r}")
    unknown = sorted(set(agg.table["code"]) - known)
    if unknown:
        raise InputError(path, f"{len(unknown)} area codes are not {level} areas in the store, e.g. "
                         f"{unknown[0]!r}", column=area_column)
    dims = dimensions or {}
    table = agg.table.assign(survey_id=survey_id, kind="published" if published else kind,
                             min_respondents=min_respondents,
                             lbm_dimension=agg.table["item"].map(dims).astype(object))
    table = table.astype({"year": "int32", "n": "float64", "n_eff": "float64", "se": "float64"})
    table = table[SURVEY_COLUMNS]
    params = {"file": str(path), "kind": kind, "level": level, "items": items, "survey_id": survey_id,
              "min_respondents": min_respondents, "weighted": weight_column is not None,
              "published": published, "dimensions": dims}
    hashes = {path.name: sha256(path)}
    with store.transaction(), store.run("survey import", params, data_hashes=hashes) as rid:
        store.sql(_SURVEY_DDL)
        store.replace(SURVEY_TABLE, table.assign(run_id=rid), where={"survey_id": survey_id})
    return SurveyImport(survey_id, len(table), table["code"].nunique(), agg.suppressed_groups,
                        agg.respondents, table["kind"].iloc[0] if len(table) else kind)


def survey_scores(store: Store, survey_id: str | None = None) -> pd.DataFrame:
    """Stored survey aggregates (all surveys, or one); empty frame with the columns when there are none."""
    exists = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?",
                       [SURVEY_TABLE])
    if not exists["n"].iloc[0]:
        return pd.DataFrame(columns=SURVEY_COLUMNS)
    if survey_id is None:
        return store.sql(f"SELECT * EXCLUDE (run_id) FROM {SURVEY_TABLE} "
                         "ORDER BY survey_id, level, code, year, item")
    return store.sql(f"SELECT * EXCLUDE (run_id) FROM {SURVEY_TABLE} WHERE survey_id = ? "
                     "ORDER BY level, code, year, item", [survey_id])
