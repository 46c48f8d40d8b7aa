"""Programme membership: one rule, stated once (``rules.yaml``, ``membership``).

An area is IN a programme when at least ``min_share`` of its residents live in the programme's areas matched
with confidence medium or better (``programme_areas.share_confident``, written by ``leefbaar resolve-areas``;
the rule the evaluation uses for its treated areas). Two other facts are kept apart and labelled, never shown
as membership: ``touched`` (some residents inside programme areas, share > 0, but not a member) and
``gemeente`` (the area's gemeente has member areas of the programme).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.facts.rules import Rules

COLUMNS = ["programme", "level", "code", "share", "share_confident", "confidence", "member", "touched",
           "gm_code", "first_post_year", "adoption_year", "partial"]


def membership_table(sql, tables: frozenset[str], rules: Rules) -> pd.DataFrame:
    """One row per (programme, level, code) of ``programme_areas``: the best share over the programme's lists,
    ``member`` by the rule and ``touched`` for the other areas with residents inside."""
    if "programme_areas" not in tables:
        return pd.DataFrame(columns=COLUMNS)
    have = set(sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'programme_areas'")[
        "column_name"])
    conf_share = rules.share_column if rules.share_column in have else "NULL"
    frame = sql(
        f"SELECT programme, level, code, max(share) AS share, max({conf_share}) AS share_confident, "
        "arg_max(confidence, coalesce(share, 0)) AS confidence, any_value(gm_code) AS gm_code, "
        "min(first_post_year) AS first_post_year, min(adoption_year) AS adoption_year, "
        "bool_or(coalesce(partial, false)) AS partial "
        "FROM programme_areas GROUP BY programme, level, code ORDER BY programme, level, code")
    frame["share"] = pd.to_numeric(frame["share"], errors="coerce").astype(float)
    frame["share_confident"] = pd.to_numeric(frame["share_confident"], errors="coerce").astype(float)
    frame["member"] = frame["share_confident"].fillna(0.0) >= rules.min_share
    frame["touched"] = ~frame["member"] & (frame["share"].fillna(0.0) > 0)
    return frame[COLUMNS]


def members(rows: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """The rule applied to ``programme_areas`` rows in memory (e.g. a resolution not stored yet): one row per
    (programme, level, code) with ``member`` and ``touched``, as ``membership_table``."""
    conf = rows[rules.share_column] if rules.share_column in rows else pd.Series(np.nan, index=rows.index)
    frame = rows.assign(_conf=pd.to_numeric(conf, errors="coerce"), _share=pd.to_numeric(rows["share"],
                                                                                          errors="coerce"))
    g = frame.groupby(["programme", "level", "code"], as_index=False).agg(share=("_share", "max"),
                                                                          share_confident=("_conf", "max"))
    g["member"] = g["share_confident"].fillna(0.0) >= rules.min_share
    g["touched"] = ~g["member"] & (g["share"].fillna(0.0) > 0)
    return g
