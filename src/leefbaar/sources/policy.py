"""Readers for policy-area lists in ``policy_areas/``.

Lists given as area codes (the CBS APCG PC4 list) become ``area_groups``. Lists given as names (Vogelaar
wijken, NPRZ focuswijken, NPLV focusgebieden, proeftuinen aardgasvrije wijken, aandachtswijken 2003) are kept
as written in ``policy_lists``; resolving names to codes is the job of ``leefbaar.evaluation``, which records
every match with its confidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.errors import InputError
from leefbaar.sources.batch import Batch, area_frame
from leefbaar.sources.cbs import pc4_codes
from leefbaar.sources.tabular import RawTable, check_columns, read_text_table, year_column

# list id -> (name column, known columns, publisher of the transcription source)
NAME_LISTS = {
    "vogelaarwijken_2007": ("wijk_as_listed", {"gemeente", "gm_code", "wijk_as_listed", "note", "source_url"},
                            "Wikipedia (nl), 'Vogelaarwijk' (CC BY-SA)"),
    "nprz_focuswijken": ("focuswijk", {"gemeente", "gm_code", "focuswijk", "source_url"}, "Stadszaken.nl"),
    "nplv_focusgebieden_2022": ("focusgebied_as_listed", {"gemeente", "gm_code", "focusgebied_as_listed",
                                                          "source_url"}, "Gemeente.nu"),
    "proeftuinen_aardgasvrije_wijken_partial": ("wijk_as_listed", {"ronde", "jaar_selectie", "gemeente",
                                                                   "wijk_as_listed", "confidence", "source_url"},
                                                "news items (see source_url)"),
    "aandachtswijken_2003_partial": ("wijk_as_listed", {"gemeente", "wijk_as_listed", "source_url", "note"},
                                     "NRC, 19 February 2003"),
}
POLICY_LIST_COLUMNS = ["list_id", "gemeente", "gm_code", "name_as_listed", "note", "source_url", "partial", "extra"]


def read_apcg(path: Path) -> Batch:
    """CBS APCG (armoede-probleemcumulatiegebieden) PC4 list; a PC4 not listed is not APCG."""
    raw = read_text_table(path, sep=";")
    check_columns(raw, {"CBS_APCG_PC4", "CBS_APCG_tf", "CBS_APCG_Jaar"})
    flag = raw.frame["CBS_APCG_tf"].str.strip().str.upper()
    if not flag.isin(["TRUE", "FALSE"]).all():
        i = int(np.flatnonzero((~flag.isin(["TRUE", "FALSE"])).to_numpy())[0])
        raise InputError(path, "flag must be TRUE or FALSE", row=int(raw.row[i]), column="CBS_APCG_tf")
    keep = (flag == "TRUE").to_numpy()
    sub = RawTable(raw.path, raw.frame[keep].reset_index(drop=True), raw.row[keep])
    codes = pc4_codes(sub, "CBS_APCG_PC4")
    years = year_column(sub, "CBS_APCG_Jaar").astype(str)
    groups = pd.DataFrame({
        "group_id": "apcg_" + years, "code": codes, "level": "pc4", "vintage": years.astype(int),
        "label": "CBS armoede-probleemcumulatiegebied (APCG) " + years, "confidence": "exact", "partial": False,
    })
    return Batch("policy_apcg", path, "CBS (APCG classification, OCW)", "CC BY 4.0", len(raw.frame),
                 areas=area_frame(codes, "pc4", int(years.iloc[0])), tables={"area_groups": groups})


def read_name_list(path: Path) -> Batch:
    """A transcribed list of policy areas given by gemeente and name."""
    list_id = path.stem
    name_col, known, publisher = NAME_LISTS[list_id]
    raw = read_text_table(path)
    check_columns(raw, known, {"gemeente", name_col, "source_url"})
    f = raw.frame
    empty = f[name_col].str.strip() == ""
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(path, "area name is empty", row=int(raw.row[i]), column=name_col)
    if "gm_code" in f and not f["gm_code"].str.fullmatch(r"GM\d{4}").all():
        i = int(np.flatnonzero((~f["gm_code"].str.fullmatch(r"GM\d{4}")).to_numpy())[0])
        raise InputError(path, f"{f['gm_code'].iloc[i]!r} is not a CBS gemeente code", row=int(raw.row[i]),
                         column="gm_code")
    extra_cols = [c for c in f.columns if c not in {"gemeente", "gm_code", name_col, "note", "source_url"}]
    table = pd.DataFrame({
        "list_id": list_id,
        "gemeente": f["gemeente"].str.strip(),
        "gm_code": f["gm_code"].str.strip() if "gm_code" in f else None,
        "name_as_listed": f[name_col].str.strip(),
        "note": f["note"] if "note" in f else None,
        "source_url": f["source_url"],
        "partial": list_id.endswith("_partial"),
        "extra": [json.dumps({c: r[c] for c in extra_cols}, ensure_ascii=False) for _, r in f.iterrows()],
    })[POLICY_LIST_COLUMNS]
    return Batch(f"policy_{list_id}", path, publisher, "transcribed (see source_url)", len(f),
                 tables={"policy_lists": table})
