"""Perception facts: what a user may be told about residents' judgement next to the figures (Rotterdam Wijkprofiel).

Built on ``leefbaar.analysis.perception`` (the same tables as ``leefbaar perception``). Scores are Wijkprofiel
points (100 = Rotterdam 2014, higher is better); a gap is subjective minus objective part (negative: residents
judge their area worse than the registers say). ``perception_overview`` answers the city's series per index,
the largest gaps of an edition and the areas; ``perception_area`` one area over every edition, with the CBS
buurten it matches and their Leefbaarometer scores. Texts come in Dutch and English from ``sentences.csv``.
"""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from leefbaar.analysis.perception import LBM_PAIRS, lbm_comparison, perception_gaps
from leefbaar.analysis.wijkprofiel import DIMENSIONS, NEIGHBOURHOOD_TYPES, wijkprofiel_areas, wijkprofiel_frame
from leefbaar.errors import StoreError
from leefbaar.facts.core import json_number
from leefbaar.facts.rules import LANGS, say, told
from leefbaar.i18n import fmt_integer, fmt_number
from leefbaar.index.classes import load_scheme


def _text(v) -> str | None:
    return v if isinstance(v, str) and v else None


LBM_DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")


class Perception:
    """The perception tables of one store, computed once (``gaps``, ``lbm``, ``areas``)."""

    def __init__(self, store):
        self.store = store
        frame = wijkprofiel_frame(store)
        self.gaps = perception_gaps(frame)
        self.editions = sorted(int(y) for y in self.gaps["year"].unique())
        self.areas = wijkprofiel_areas(store)
        try:
            self.lbm = lbm_comparison(store)
            self.lbm_note = None
        except StoreError as exc:
            self.lbm, self.lbm_note = None, str(exc)
        self.scheme = load_scheme()
        _ = self._lbm_buurten  # read now: later answers need no store

    @cached_property
    def _lbm_buurten(self) -> tuple[int | None, dict[str, dict], dict[str, str]]:
        """The latest Leefbaarometer buurt year, the scores of every buurt linked to a Wijkprofiel area in it, and
        their names (read once)."""
        cbs = sorted({c for v in self.areas.get("cbs_codes", pd.Series(dtype=object)).dropna()
                      for c in str(v).split(";") if c.startswith("BU")})
        years = self.store.sql("SELECT DISTINCT year FROM observations WHERE level = 'buurt' AND indicator = "
                               "'lbm_afw' ORDER BY year")["year"].tolist()
        if not cbs or not years:
            return None, {}, {}
        year = int(years[-1])
        scores = self.store.table("buurt", years=[year], indicators=[
            "lbm_afw", "lbm_klasse", "inwoner", *[f"lbm_{d}" for d in LBM_DIMENSIONS]])
        scores = scores[scores["code"].isin(cbs)]
        names = self.store.sql("SELECT code, name FROM areas WHERE level = 'buurt' QUALIFY row_number() OVER "
                               "(PARTITION BY code ORDER BY vintage DESC) = 1")
        names = names[names["code"].isin(cbs)]
        return (year, {r["code"]: r for r in scores.to_dict("records")},
                dict(zip(names["code"], names["name"], strict=True)))

    # -- sentences -----------------------------------------------------------------------------------
    @staticmethod
    def _labels(dimension: str) -> dict[str, str]:
        d = next(x for x in DIMENSIONS if x.key == dimension)
        return {"nl": d.label_nl, "en": d.label_en}

    def _gap_text(self, name: str, dimension: str, year: int, gap: float) -> dict[str, str]:
        key = "perception.gap.equal" if round(gap) == 0 else "perception.gap.worse" if gap < 0 else \
            "perception.gap.better"
        return {lg: say(key, lg, area=name, index=self._labels(dimension)[lg].lower(), year=year,
                        points=fmt_number(abs(gap), lg, 0)) for lg in LANGS}

    def _row(self, r) -> dict:
        return {"code": r.code, "name": r.name, "area_type": r.area_type, "year": int(r.year),
                "dimension": r.dimension, "label": self._labels(r.dimension),
                "subjective": json_number(r.subjective), "objective": json_number(r.objective),
                "gap": json_number(r.gap),
                "gap_residual": json_number(r.gap_residual), "rank": None if pd.isna(r.rank) else int(r.rank),
                "judgement": None if json_number(r.gap) is None else "equal" if round(r.gap) == 0 else
                "worse" if r.gap < 0 else "better",
                "text": None if json_number(r.gap) is None else self._gap_text(r.name, r.dimension, int(r.year), r.gap)}

    # -- answers -------------------------------------------------------------------------------------
    def overview(self, edition: int | None = None, top: int = 10) -> dict:
        """The city per index and edition, the ``top`` largest gaps among neighbourhoods of ``edition`` (default
        the latest), the areas (for a selector) and the LBM comparison's statistics."""
        edition = edition or self.editions[-1]
        if edition not in self.editions:
            editions = ", ".join(map(str, self.editions))
            raise told(StoreError(say("error.no_wijkprofiel_edition", "en", edition=edition, editions=editions)),
                       "error.no_wijkprofiel_edition", edition=edition, editions=editions)
        idx = self.gaps[self.gaps["theme"] == "index"]
        order = {d.key: i for i, d in enumerate(DIMENSIONS)}
        city = idx[idx["area_type"] == "stad"].sort_values(["dimension", "year"], key=lambda c: c.map(order)
                                                            if c.name == "dimension" else c)
        hoods = idx[idx["area_type"].isin(NEIGHBOURHOOD_TYPES) & (idx["year"] == edition) & idx["gap"].notna()]
        largest = hoods.reindex(hoods["gap"].abs().sort_values(ascending=False).index).head(top)
        n_hoods = hoods.groupby("dimension")["code"].nunique().to_dict()
        areas = self.areas[self.areas["area_type"] != "stad"].sort_values("name")
        have = set(idx.loc[idx["gap"].notna(), "code"])
        stats = []
        if self.lbm is not None:
            stats = [{"wijkprofiel": r.wijkprofiel, "lbm": r.lbm, "n": int(r.n), "pearson_r": json_number(r.pearson_r),
                      "spearman_rho": json_number(r.spearman_rho)} for r in self.lbm.stats.itertuples()]
        return {
            "editions": self.editions, "edition": edition,
            "dimensions": [{"id": d.key, "index": d.index, "label": self._labels(d.key)} for d in DIMENSIONS],
            "scale": {lg: say("perception.scale", lg) for lg in LANGS},
            "city": [self._row(r) for r in city.itertuples()],
            "largest": [{**self._row(r), "n_ranked": int(n_hoods.get(r.dimension, 0))} for r in largest.itertuples()],
            "areas": [{"code": r.code, "name": r.name, "area_type": r.area_type,
                       "gebied": _text(getattr(r, "gebied", None))} for r in areas.itertuples() if r.code in have],
            "lbm": None if self.lbm is None else {"edition": self.lbm.edition, "lbm_year": self.lbm.lbm_year,
                                                  "stats": stats},
            "notes": [self.lbm_note] if self.lbm_note else [],
        }

    def area(self, code: str) -> dict | None:
        """One Wijkprofiel area: its index parts per edition (with rank among neighbourhoods), the CBS buurten it
        matches with their Leefbaarometer scores, and its place in the safety comparison. None when unknown."""
        code = code.strip().upper()
        if code.isdigit():
            code = f"WP{int(code):04d}"
        hit = self.areas[self.areas["code"] == code]
        if hit.empty:
            return None
        a = hit.iloc[0]
        order = {d.key: i for i, d in enumerate(DIMENSIONS)}
        idx = self.gaps[(self.gaps["code"] == code) & (self.gaps["theme"] == "index")].sort_values(
            ["dimension", "year"], key=lambda c: c.map(order) if c.name == "dimension" else c)
        themes = self.gaps[(self.gaps["code"] == code) & (self.gaps["theme"] != "index")
                           & (self.gaps["year"] == idx["year"].max())]
        ranked = self.gaps[(self.gaps["theme"] == "index") & self.gaps["rank"].notna()]
        n_ranked = ranked.groupby(["year", "dimension", "area_type"])["code"].nunique()
        rows = []
        for r in idx.itertuples():
            row = self._row(r)
            group = r.area_type if r.area_type == "gebied" else None
            row["n_ranked"] = (int(n_ranked.get((r.year, r.dimension, group), 0)) if group else
                               int(sum(n_ranked.get((r.year, r.dimension, t), 0) for t in NEIGHBOURHOOD_TYPES)))
            rows.append(row)
        area = {"code": code, "name": a["name"], "area_type": a["area_type"], "gebied": _text(a.get("gebied")),
                "relation": _text(a.get("relation")), "wijk_code": _text(a.get("wijk_code"))}
        return {"area": area, "indices": rows,
                "themes": [{"year": int(r.year), "dimension": r.dimension, "theme": r.theme,
                            "label": {"nl": r.label_nl, "en": r.label_en}, "subjective": json_number(r.subjective),
                            "objective": json_number(r.objective), "gap": json_number(r.gap)}
                           for r in themes.itertuples()],
                **self._buurten(code, a)}

    def _buurten(self, code: str, a: pd.Series) -> dict:
        """The CBS buurten of the area (table ``wijkprofiel_cbs``) with their Leefbaarometer scores."""
        cbs = [c for c in (_text(a.get("cbs_codes")) or "").split(";") if c.startswith("BU")]
        out = {"buurten": [], "lbm_year": None, "safety": None,
               "link_text": {lg: say("perception.link.none", lg) for lg in LANGS}}
        if not cbs:
            return out
        year, by_code, names = self._lbm_buurten
        labels = {"nl": self.scheme.total_labels_nl, "en": self.scheme.total_labels_en}
        for c in cbs:
            r = by_code.get(c, {})
            afw = json_number(r.get("lbm_afw"))
            k = json_number(r.get("lbm_klasse"))
            k = int(k) if k is not None else None
            out["buurten"].append({
                "code": c, "name": names.get(c), "year": year, "afw": afw,
                "total": None if afw is None else self.scheme.reference + afw, "klasse": k,
                "klasse_label": None if k is None else {lg: labels[lg][k - 1] for lg in LANGS},
                "residents": None if json_number(r.get("inwoner")) is None else int(r["inwoner"]),
                **{d: json_number(r.get(f"lbm_{d}")) for d in LBM_DIMENSIONS}})
        out["lbm_year"] = year
        scored = sum(b["afw"] is not None for b in out["buurten"])
        out["link_text"] = {lg: say("perception.link", lg, n=fmt_integer(len(cbs), lg),
                                    scored=fmt_integer(scored, lg), year=year or "–") for lg in LANGS}
        if self.lbm is not None:
            hit = self.lbm.areas[self.lbm.areas["code"] == code]
            if len(hit):
                h = hit.iloc[0]
                pair = LBM_PAIRS[0]
                out["safety"] = {"edition": self.lbm.edition, "lbm_year": self.lbm.lbm_year, "index": pair[0],
                                 "dimension": pair[1], "vi": json_number(h["VI"]), "onv": json_number(h["onv"]),
                                 "residual": json_number(h["vi_residual"]), "rank_vi": int(h["rank_vi"]),
                                 "rank_onv": int(h["rank_onv"]), "n": len(self.lbm.areas)}
        return out
