"""Survey input: residents' subjective scores per area, from aggregates or from respondent-level microdata.

Two kinds of input file (delimited text, strict reading as for every source):

- ``aggregate``: one row per area (and year) with item scores already aggregated, plus the number of
  respondents (``n_column``). A row with fewer respondents than ``min_respondents`` is dropped. Figures that
  their owner has already published without counts (such as the Rotterdam Wijkprofiel) can be imported with
  ``published=True``; their disclosure control is the publisher's, and ``n`` stays empty.
- ``microdata``: one row per respondent with the area code, optionally a year, a weight and a respondent id,
  and one column per item (numeric answers; empty = not answered; other columns are ignored). Microdata never
  leave this module: only aggregates per area, year and item are returned or stored, with a fingerprint of
  each published group (keyed respondent hashes and weights, no answers) for the differencing check.

Aggregation of microdata per area, year and item, over the respondents who answered the item:

- unweighted: mean, ``n`` respondents, ``n_eff = n``, standard error ``s / sqrt(n)``;
- weighted (finite, bounded weights >= 0; a respondent with weight 0 counts as not answering): weighted mean
  ``sum(w x) / sum(w)``, Kish effective sample size ``n_eff = (sum w)^2 / sum(w^2)``, and the linearised
  standard error ``sqrt(sum(w^2 (x - mean)^2)) / sum(w)`` (with-replacement approximation);
- value, n_eff and se are rounded to the catalogue's ``significant_digits`` (4) before they are stored.

Disclosure control (``leefbaar.analysis.disclosure``, thresholds in ``catalogue/disclosure.yaml``): a figure is
kept only if its group passes the count, Kish n_eff and dominance rules and its difference with every group
published before (any survey, level, year) passes them too. Nothing about a suppressed group is kept - not
its value, count or area code; only the number of such groups per rule is reported. Errors about microdata
name file, row and column, never a respondent's value.

Respondents are recognised across imports by ``respondent_column`` (the survey's own respondent number;
never a direct identifier such as a BSN) and by the whole row's text but the weight (columns in name order):
two respondents match when either agrees. Both are keyed with a per-store secret (docs/disclosure.md gives
the limits).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.analysis.disclosure import (
    REASONS,
    DisclosureRules,
    check_bounded,
    check_weights,
    differencing,
    load_rules,
    respondent_keys,
    round_significant,
)
from leefbaar.errors import InputError, StoreError
from leefbaar.sources.batch import sha256
from leefbaar.sources.buurt import wijkprofiel_code
from leefbaar.sources.tabular import RawTable, parse_values, read_text_table
from leefbaar.store.store import Store

SURVEY_TABLE = "survey_scores"
SURVEY_COLUMNS = ["survey_id", "kind", "level", "code", "year", "item", "value", "n", "n_eff", "se",
                  "weighted", "min_respondents", "lbm_dimension"]
LBM_DIMENSIONS = ("afw", "won", "fys", "vrz", "soc", "onv")
_SURVEY_ID = re.compile(r"^[a-z0-9_]{1,60}$")
_SURVEY_DDL = (f"CREATE TABLE IF NOT EXISTS {SURVEY_TABLE} (survey_id VARCHAR, kind VARCHAR, level VARCHAR, "
               "code VARCHAR, year INTEGER, item VARCHAR, value DOUBLE, n DOUBLE, n_eff DOUBLE, se DOUBLE, "
               "weighted BOOLEAN, min_respondents INTEGER, lbm_dimension VARCHAR, run_id INTEGER)")
FINGERPRINT_TABLE = "survey_fingerprints"
_SALT_KEY = "survey_fingerprint_salt"


@dataclass
class SurveyAggregate:
    """Aggregated survey scores: ``table`` (level, code, year, item, value, n, n_eff, se, weighted) holds only
    groups that pass disclosure control; ``suppressed`` counts the others per rule; ``members`` (microdata
    only: level, code, year, item, key_id, key_row, weight) lists the respondents of the kept groups."""

    table: pd.DataFrame
    suppressed: dict[str, int]
    min_respondents: int
    respondents: int
    members: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def suppressed_groups(self) -> int:
        return sum(self.suppressed.values())


def _column(raw: RawTable, name: str | None, role: str) -> None:
    if name is not None and name not in raw.frame.columns:
        raise InputError(raw.path, f"{role} column is missing (see --{role}-column)", row=1, column=name)


def _numbers(raw: RawTable, columns: list[str]) -> np.ndarray:
    """Numeric cells (NaN where empty); a CBS-style suppression code in survey input is an error. Errors name
    row and column, never the cell (it may be a respondent's answer)."""
    try:
        values, status = parse_values(raw, raw.frame[columns])
    except InputError as err:
        why = "decimal comma in a column that uses a decimal point" if err.message.startswith("decimal comma") \
            else "text where a number is expected"
        raise InputError(raw.path, f"{why} (cell values are not shown)", row=err.row, column=err.column) from None
    values, status = np.asarray(values, dtype=float), np.asarray(status)
    bad = status == "suppressed"
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        raise InputError(raw.path, "a suppression code, not an answer or score (cell values are not shown)",
                         row=int(raw.row[i]), column=columns[j])
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
        raise InputError(raw.path, "not a year from 1900 to 2100 (cell values are not shown)",
                         row=int(raw.row[i]), column=column)
    return values.astype(int)


def _check_items(raw: RawTable, items: list[str]) -> None:
    if not items:
        raise InputError(raw.path, "no items given (pass --items)")
    for item in items:
        _column(raw, item, "item")


def _respondent_ids(raw: RawTable, column: str | None) -> list[str] | None:
    """Identifier text per row from the respondent column (None without one); an empty or repeated id is an
    error naming the row, not the id."""
    if column is None:
        return None
    ids = raw.frame[column].str.strip()
    bad = ((ids == "") | ids.duplicated()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(raw.path, "respondent id is empty or repeats an earlier row (ids are not shown)",
                         row=int(raw.row[i]), column=column)
    return ["id\x1f" + t for t in ids]


def _row_texts(raw: RawTable, weight_column: str | None) -> list[str]:
    """Identifier text per row: the whole row but its weight (columns in name order; a changed weight is
    caught by the weight-ratio part of the differencing check); identical rows are told apart by their
    occurrence number."""
    cols = sorted(c for c in raw.frame.columns if c != weight_column)
    cells = [raw.frame[c].str.strip().to_numpy(dtype=object) for c in cols]
    rows = pd.Series(["\x1f".join(t) for t in zip(*cells, strict=True)], dtype=object)
    occurrence = rows.groupby(rows).cumcount().astype(str)
    return ("row\x1f" + "\x1e".join(cols) + "\x1d" + rows + "\x1d" + occurrence).tolist()


def read_microdata(path: str | Path, area_column: str, items: list[str], level: str,
                   year_column: str | None = None, year: int | None = None, weight_column: str | None = None,
                   respondent_column: str | None = None, rules: DisclosureRules | None = None,
                   salt: bytes = b"") -> pd.DataFrame:
    """Respondent rows: ``row`` (line number), ``code``, ``year``, ``weight`` (1 when unweighted), ``key_id``
    and ``key_row`` (keyed hashes of the respondent id, None without one, and of the row, see ``_row_texts``)
    and one float column per item. Answers and weights
    must be finite and within the catalogue's bounds."""
    rules = rules or load_rules()
    try:
        raw = read_text_table(path, sep=_separator(path))
    except InputError as err:  # the parser's own message may quote a respondent's row
        if not err.message.startswith("cannot be parsed"):
            raise
        raise InputError(path, "cannot be parsed as delimited text (the row is not shown)", row=err.row) from None
    _column(raw, area_column, "area")
    _column(raw, year_column, "year")
    _column(raw, weight_column, "weight")
    _column(raw, respondent_column, "respondent")
    _check_items(raw, items)
    values = _numbers(raw, items)
    for j, item in enumerate(items):
        check_bounded(raw.path, values[:, j], raw.row, item, "an answer", -rules.max_abs_answer,
                      rules.max_abs_answer, missing_ok=True)
    frame = pd.DataFrame(values, columns=items)
    frame.insert(0, "row", raw.row)
    frame.insert(1, "code", _area_codes(raw, area_column, level).to_numpy())
    frame.insert(2, "year", _years(raw, year_column, year))
    if weight_column is not None:
        w = _numbers(raw, [weight_column])[:, 0]
        check_weights(raw.path, w, raw.row, weight_column, rules)
        frame.insert(3, "weight", w)
    else:
        frame.insert(3, "weight", 1.0)
    ids = _respondent_ids(raw, respondent_column)
    frame.insert(4, "key_id", respondent_keys(ids, salt) if ids is not None else None)
    frame.insert(5, "key_row", respondent_keys(_row_texts(raw, weight_column), salt))
    return frame


def aggregate_microdata(frame: pd.DataFrame, items: list[str], level: str, weighted: bool,
                        min_respondents: int | None = None, rules: DisclosureRules | None = None
                        ) -> SurveyAggregate:
    """Aggregate respondent rows (``read_microdata``) per area, year and item with primary disclosure control
    (count, Kish n_eff and dominance rules); ``weighted`` says whether to use the ``weight`` column (else every
    respondent counts once). Differencing with published groups is checked in ``import_survey``."""
    rules = rules or load_rules(min_respondents)
    if "key_row" not in frame.columns:
        frame = frame.assign(key_id=None, key_row=np.arange(len(frame)).astype(str))
    group, areas = pd.MultiIndex.from_arrays([frame["code"], frame["year"]]).factorize(sort=True)
    k = len(areas)
    w_all = frame["weight"].to_numpy(float) if weighted else np.ones(len(frame))
    parts, members, suppressed = [], [], dict.fromkeys(REASONS[:3], 0)
    for item in items:
        x = frame[item].to_numpy(float)
        rows = np.flatnonzero(~np.isnan(x) & (w_all > 0))
        g, w, x = group[rows], w_all[rows], x[rows]
        n = np.bincount(g, minlength=k)
        sw, sw2 = np.bincount(g, w, k), np.bincount(g, w * w, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(g, w * x, k) / sw
            dev = x - mean[g]
            if weighted:
                n_eff, se = sw * sw / sw2, np.sqrt(np.bincount(g, w * w * dev * dev, k)) / sw
            else:
                n_eff, se = n.astype(float), np.sqrt(np.bincount(g, dev * dev, k) / (n - 1) / n)
        order = np.lexsort((-w, g))  # by group, largest weight first
        rank = np.arange(len(order)) - np.searchsorted(g[order], g[order])
        top = np.bincount(g[order][rank < rules.dominance_n], w[order][rank < rules.dominance_n], k)
        reason = rules.reasons(n, sw, sw2, top)
        present = n > 0
        for r in suppressed:
            suppressed[r] += int((present & (reason == r)).sum())
        kept = present & (reason == "")
        parts.append(pd.DataFrame({"code": areas.get_level_values(0)[kept], "year": areas.get_level_values(1)[kept],
                                   "item": item, "value": mean[kept], "n": n[kept], "n_eff": n_eff[kept],
                                   "se": se[kept]}))
        inside = rows[kept[g]]
        members.append(frame.iloc[inside][["code", "year", "key_id", "key_row"]].assign(weight=w_all[inside],
                                                                                         item=item))
    cols = ["level", "code", "year", "item", "value", "n", "n_eff", "se", "weighted"]
    table = pd.concat(parts, ignore_index=True).assign(level=level, weighted=weighted)[cols]
    for c in ("value", "n_eff", "se"):  # published figures are rounded (see disclosure.differencing)
        table[c] = round_significant(table[c], rules.significant_digits)
    member_cols = ["level", "code", "year", "item", "key_id", "key_row", "weight"]
    members = pd.concat(members, ignore_index=True).assign(level=level)[member_cols]
    return SurveyAggregate(table, suppressed, rules.min_respondents, len(frame), members)


def read_aggregate(path: str | Path, area_column: str, items: list[str], level: str,
                   year_column: str | None = None, year: int | None = None, n_column: str | None = None,
                   published: bool = False, min_respondents: int | None = None) -> SurveyAggregate:
    """Aggregated scores per area (and year): with respondent counts (``n_column``), or figures already
    published by their owner (``published``). Duplicate area-year rows are an error."""
    min_respondents = load_rules(min_respondents).min_respondents
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
    return SurveyAggregate(table.reset_index(drop=True), {"count": int((~keep).sum())}, min_respondents,
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
    """What ``import_survey`` stored: the survey id, rows kept, areas, groups suppressed per rule (``count``,
    ``effective``, ``dominance``, ``difference``), respondents read, kind and the minimum applied."""

    survey_id: str
    rows: int
    areas: int
    suppressed: dict[str, int]
    respondents: int
    kind: str
    min_respondents: int

    @property
    def suppressed_groups(self) -> int:
        return sum(self.suppressed.values())


def _names(text: str) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]


def _salt(store: Store) -> tuple[bytes, bool]:
    """The store's secret key for respondent hashes (created on first use); True when it is new."""
    rows = store.con.execute("SELECT value FROM meta WHERE key = ?", [_SALT_KEY]).fetchall()
    return (bytes.fromhex(rows[0][0]), False) if rows else (secrets.token_bytes(32), True)


def _published_members(store: Store, members: pd.DataFrame) -> pd.DataFrame:
    """Respondents (gid, item, key_id, key_row, weight) of every earlier published group sharing a respondent
    (by id or by row) and an item with ``members``; gids are negative (new groups get gids >= 0)."""
    cols = ["gid", "item", "key_id", "key_row", "weight"]
    exists = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?",
                       [FINGERPRINT_TABLE])
    if members.empty or not exists["n"].iloc[0]:
        return pd.DataFrame(columns=cols)
    store.con.register("new_members", members[["item", "key_id", "key_row"]].drop_duplicates())
    try:
        old = store.sql(f"""
            WITH hit AS (SELECT f.run_id, f.level, f.code, f.year, f.item FROM {FINGERPRINT_TABLE} f
                         JOIN new_members m ON f.item = m.item AND f.respondent = m.key_id
                         UNION
                         SELECT f.run_id, f.level, f.code, f.year, f.item FROM {FINGERPRINT_TABLE} f
                         JOIN new_members m ON f.item = m.item AND f.row_key = m.key_row)
            SELECT -dense_rank() OVER (ORDER BY run_id, level, code, year, item) AS gid, item,
                   respondent AS key_id, row_key AS key_row, weight
            FROM {FINGERPRINT_TABLE} JOIN hit USING (run_id, level, code, year, item)""")
    finally:
        store.con.unregister("new_members")
    return old[cols].astype({"key_id": object}).replace({np.nan: None})


def import_survey(store: Store, path: str | Path, kind: str, level: str, area_column: str, items: list[str],
                  survey_id: str | None = None, year_column: str | None = None, year: int | None = None,
                  weight_column: str | None = None, n_column: str | None = None, published: bool = False,
                  min_respondents: int | None = None, dimensions: dict[str, str] | None = None,
                  respondent_column: str | None = None) -> SurveyImport:
    """Aggregate (if needed) and store survey scores in table ``survey_scores`` (replacing an earlier import
    with the same ``survey_id``), recording the run. Area codes must be areas of ``level`` in the store.
    Microdata may be aggregated at several levels at once (``level="pc4,gemeente"``, ``area_column`` in the
    same order); the differencing check then decides the levels in that order.

    Microdata pass disclosure control (``leefbaar.analysis.disclosure``): primary rules per group, then the
    differencing check against every group published before; the respondents of the groups kept are added to
    ``survey_fingerprints`` (kept when the survey is replaced: what was published stays published). All
    writes commit together or not at all."""
    path = Path(path)
    rules = load_rules(min_respondents)
    survey_id = survey_id or re.sub(r"[^a-z0-9_]", "_", path.stem.lower())[:60]
    if not _SURVEY_ID.match(survey_id):
        raise InputError(path, f"survey id {survey_id!r} must be 1-60 characters a-z, 0-9 or _")
    levels, columns = _names(level), _names(area_column)
    if len(levels) != len(columns) or len(set(levels)) != len(levels):
        raise InputError(path, "give each level once, with one area column per level in the same order "
                         "(--level pc4,gemeente --area-column pc4,gemeente)")
    known = {}
    for lvl in levels:
        known[lvl] = set(store.sql("SELECT DISTINCT code FROM areas WHERE level = ?", [lvl])["code"])
        if not known[lvl]:
            raise StoreError(f"the store holds no areas at level {lvl!r}")
    salt, new_salt = _salt(store)
    if kind == "microdata":
        if n_column is not None or published:
            raise InputError(path, "--n-column and --published apply to aggregated input only")
        parts = []
        for lvl, col in zip(levels, columns, strict=True):
            micro = read_microdata(path, col, items, lvl, year_column, year, weight_column, respondent_column,
                                   rules, salt)
            unknown = ~micro["code"].isin(known[lvl]).to_numpy()
            if unknown.any():
                i = int(np.flatnonzero(unknown)[0])
                raise InputError(path, f"area code is not a {lvl} area in the store ({int(unknown.sum())} "
                                 "such rows; codes of respondents are not shown)", row=int(micro["row"].iloc[i]),
                                 column=col)
            parts.append(aggregate_microdata(micro, items, lvl, weight_column is not None, rules=rules))
            del micro
        agg = SurveyAggregate(pd.concat([p.table for p in parts], ignore_index=True),
                              {r: sum(p.suppressed[r] for p in parts) for r in parts[0].suppressed},
                              rules.min_respondents, parts[0].respondents,
                              pd.concat([p.members for p in parts], ignore_index=True))
    elif kind == "aggregate":
        if weight_column is not None or respondent_column is not None:
            raise InputError(path, "--weight-column and --respondent-column apply to microdata only")
        if len(levels) > 1:
            raise InputError(path, "aggregated input holds one level")
        agg = read_aggregate(path, area_column, items, level, year_column, year, n_column, published,
                             rules.min_respondents)
        unknown = sorted(set(agg.table["code"]) - known[level])
        if unknown:
            raise InputError(path, f"{len(unknown)} area codes are not {level} areas in the store, e.g. "
                             f"{unknown[0]!r}", column=area_column)
    else:
        raise InputError(path, f"kind {kind!r} must be 'aggregate' or 'microdata'")
    table, members, suppressed = agg.table, agg.members, dict(agg.suppressed)
    group = ["level", "code", "year", "item"]
    if members is not None:
        ids = table[group].reset_index(drop=True).rename_axis("gid").reset_index()
        members = members.merge(ids, on=group)
        drop = differencing(members[["gid", "item", "key_id", "key_row", "weight"]],
                            _published_members(store, members), rules)
        suppressed["difference"] = len(drop)
        keep = ~ids["gid"].isin(drop)
        table = table.merge(ids.loc[keep, group], on=group)
        members = members[members["gid"].isin(ids.loc[keep, "gid"])]
    dims = dimensions or {}
    table = table.assign(survey_id=survey_id, kind="published" if published else kind,
                         min_respondents=rules.min_respondents,
                         lbm_dimension=table["item"].map(dims).astype(object))
    table = table.astype({"year": "int32", "n": "float64", "n_eff": "float64", "se": "float64"})
    table = table[SURVEY_COLUMNS]
    params = {"file": str(path), "kind": kind, "level": level, "items": items, "survey_id": survey_id,
              "min_respondents": rules.min_respondents, "weighted": weight_column is not None,
              "published": published, "dimensions": dims, "respondent_column": respondent_column,
              "suppressed": suppressed}
    hashes = {path.name: sha256(path)}
    with store.transaction(), store.run("survey import", params, data_hashes=hashes) as rid:
        store.sql(_SURVEY_DDL)
        store.replace(SURVEY_TABLE, table.assign(run_id=rid), where={"survey_id": survey_id})
        if members is not None and len(members):
            if new_salt:
                store.con.execute("INSERT INTO meta VALUES (?, ?)", [_SALT_KEY, salt.hex()])
            prints = members.assign(run_id=rid, survey_id=survey_id).rename(
                columns={"key_id": "respondent", "key_row": "row_key"})
            store.append(FINGERPRINT_TABLE, prints[["run_id", "survey_id", "level", "code", "year", "item",
                                                    "respondent", "row_key", "weight"]].astype(
                {"year": "int32", "respondent": object}))
    return SurveyImport(survey_id, len(table), table["code"].nunique(), suppressed, agg.respondents,
                        table["kind"].iloc[0] if len(table) else kind, rules.min_respondents)


def survey_scores(store: Store, survey_id: str | None = None) -> pd.DataFrame:
    """Stored survey aggregates (all surveys, or one); empty frame with the columns when there are none.

    Rows with a count must hold a finite value and meet their minimum on the count and on Kish n_eff (stores
    written before these rules may hold rows that do not; they are never returned)."""
    exists = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?",
                       [SURVEY_TABLE])
    if not exists["n"].iloc[0]:
        return pd.DataFrame(columns=SURVEY_COLUMNS)
    share = load_rules().min_effective_share
    where = ("isfinite(value) AND (n IS NULL OR (n >= min_respondents AND "
             f"coalesce(n_eff, 0) >= {share!r} * min_respondents))")
    if survey_id is None:
        return store.sql(f"SELECT * EXCLUDE (run_id) FROM {SURVEY_TABLE} WHERE {where} "
                         "ORDER BY survey_id, level, code, year, item")
    return store.sql(f"SELECT * EXCLUDE (run_id) FROM {SURVEY_TABLE} WHERE survey_id = ? AND {where} "
                     "ORDER BY level, code, year, item", [survey_id])
