"""Key findings for one gemeente: what its report says first, each finding one sentence with its number.

``GemeenteFindings(facts, "GM0599", lang="nl")`` computes, from the facts layer's score series (verdicts on
OFFICIAL years only, the rule of ``rules.yaml``):

- ``series``: per year the population-weighted mean ``afw`` of the gemeente, of the Netherlands and of similar
  gemeenten (same CBS urbanity class ``sted``: 1 very strongly .. 5 not urban, the mean over those gemeenten),
  the gemeente's weighted P10/P90 (only from at least ``MIN_BAND_AREAS`` areas) and, for modelled years, the
  weighted mean of the areas' interval bounds (an upper bound of the interval of the mean: exact when the
  areas' errors are fully correlated);
- ``trend``: the change of those means between the first and last official year, with the urbanity peers'
  mean change and the gemeente's place among them;
- ``declines``: the classed areas that declined most between the last official year and the official year at
  least ``DECLINE_SPAN`` years before it, each with the top parts of the facts layer's explanation;
- ``vulnerable``: areas flagged by the vulnerability definition (``catalogue/vulnerability.yaml``: level,
  decline, cumulation) with their reasons, small areas never listed;
- ``programmes``: registry programmes with member areas here (the one membership rule) and the stored
  evaluation's verdict (``evaluation_verdict``) or why none can be given;
- ``sentences``: the findings worded from ``sentences.csv`` (keys ``finding.*``), numbers by the locale.

Units: ``afw`` and changes in Leefbaarometer score points (higher is better); weights are CBS inhabitants
(``inwoner``) of the nearest year with counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from leefbaar.errors import LeefbaarError
from leefbaar.facts.rules import say
from leefbaar.i18n import translator

MIN_BAND_AREAS = 10
"""A P10-P90 band is drawn only from at least this many areas (fewer make the band an artefact)."""
DECLINE_SPAN = 4
"""The decline period ends in the last official year and starts in the latest official year at least this many
years before it (2018-2022 at PC4): long enough for a change beyond the yearly noise."""
TOP_DECLINES = 3
TOP_PARTS = 2
URBANITY_INDICATOR = "sted"
PROGRAMME_KINDS = ("programme", "phase")
"""Registry kinds that count as a programme that ran here (classifications and laws are listed, not judged)."""


STABLE_BAND = 0.01
"""A change of a mean of areas smaller than this (score points) reads as 'stayed level': a quarter of the
Leefbaarometer's development step (0.039), which is set for single areas; means of many areas move less."""


def _direction(change: float) -> str:
    """up / stable / down for a change of a mean (``STABLE_BAND``)."""
    return "stable" if abs(change) < STABLE_BAND else "up" if change > 0 else "down"


def _weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(v)
    cw = np.cumsum(w[order]) / w.sum()
    return float(v[order][min(np.searchsorted(cw, q), len(v) - 1)])


def evaluation_verdict(facts, programme: str, lang: str = "nl") -> dict | None:
    """The stored evaluation of ``programme`` (``leefbaar evaluate --record``, outcome ``lbm``) as one verdict:
    ``conclusion`` (withheld / effect / uncertain / no_effect, the rule of ``Evaluation.conclusion`` applied to
    the stored rows), the matched difference-in-differences estimate with its permutation interval (level
    1 - alpha) and p-value, and ``text`` (the facts layer's sentence, with the reasons when withheld). None when
    the store holds no evaluation of the programme."""
    from leefbaar.evaluation.report import MIN_TREATED_CLUSTERS, PRETREND_ALPHA, EvaluationConfig

    res = facts.evaluation_results()
    if res is None or res.empty:
        return None
    rows = res[(res["programme"] == programme) & (res["outcome"].fillna("lbm") == "lbm")]
    if rows.empty:
        return None
    _ = translator(lang)
    alpha = EvaluationConfig.alpha
    did = rows[(rows["method"] == "matched_did") & (rows["inference"] == "permutation")]
    clu = rows[(rows["method"] == "matched_did") & (rows["inference"] != "permutation")]
    d = did.iloc[0] if len(did) else None
    out = {"programme": programme, "years": (int(rows["year_from"].min()), int(rows["year_to"].max())),
           "estimate": None, "lo": None, "hi": None, "p": None, "level": int(round(100 * (1 - alpha)))}
    if d is None or d["status"] == "withheld" or not np.isfinite(d["estimate"]):
        reasons = []
        hold = rows[rows["method"] == "pretrend_holdout"]
        if len(hold) and hold["p_value"].iloc[0] < PRETREND_ALPHA:
            period = re.sub(r"^.*?(\d{4})\D+(\d{4}).*$", r"\1->\2", str(hold["estimand"].iloc[0]))
            reasons.append(_("the pre-trend differs: over the held-out period {period} the programme areas "
                             "changed by {change} relative to the references (permutation p = {p})",
                             period=period, change=_.signed(hold["estimate"].iloc[0], 3),
                             p=_.number(hold["p_value"].iloc[0], 3)))
        es = rows[rows["method"] == "event_study_pretrend"]
        if len(es) and es["p_value"].iloc[0] < PRETREND_ALPHA:
            reasons.append(_("the event study finds differences before the start (Wald test p = {p})",
                             p=_.number(es["p_value"].iloc[0], 3)))
        if not reasons:
            reasons.append(_("the conditions for a reliable estimate are not met (see the evaluation's report)"))
        out.update(conclusion="withheld", text=say("evaluation.withheld", lang, reasons="; ".join(reasons)) + ".")
        return out
    p = float(d["p_value"])
    sig = p < alpha
    conclusion = "effect" if sig else "no_effect"
    if len(clu):
        c = clu.iloc[0]
        if (c["n_treated_clusters"] or 0) >= MIN_TREATED_CLUSTERS and np.isfinite(c["p_value"]) and \
                (c["p_value"] < alpha) != sig:
            conclusion = "uncertain"
    out.update(conclusion=conclusion, estimate=float(d["estimate"]), lo=float(d["ci_low"]),
               hi=float(d["ci_high"]), p=p)
    text = say(f"evaluation.{conclusion}", lang, p=_.number(p, 3))
    est = say("finding.evaluation.estimate", lang, estimate=_.signed(d["estimate"], 3), level=out["level"],
              lo=_.signed(d["ci_low"], 3), hi=_.signed(d["ci_high"], 3), y0=out["years"][0], y1=out["years"][1])
    out["text"] = f"{text} {est}"
    return out


@dataclass
class Finding:
    """One key finding: ``section`` (trend, peers, level, decline, vulnerable, programme) and its sentence."""

    section: str
    text: str
    numbers: dict = field(default_factory=dict)


class GemeenteFindings:
    """The key findings of one gemeente at ``level`` (see the module docstring)."""

    def __init__(self, facts, gemeente_code: str, level: str = "pc4", lang: str = "nl", vulnerable=None):
        self.facts, self.code, self.level, self.lang = facts, gemeente_code, level, lang
        self.name = {g["code"]: g["name"] for g in facts.gemeenten}.get(gemeente_code, gemeente_code)
        self._vulnerable = vulnerable
        self.official = facts.official_years(level)
        if not self.official:
            raise LeefbaarError(f"no official years at level {level!r}: key findings need measurements")

    # -- data ------------------------------------------------------------------------------------------
    def _shared(self, key: str, make):
        """A level-wide table computed once per ``Facts`` (several gemeenten's findings reuse it)."""
        cache = self.facts.__dict__.setdefault("_findings_shared", {})
        if (key, self.level) not in cache:
            cache[(key, self.level)] = make()
        return cache[(key, self.level)]

    @property
    def _frame(self) -> pd.DataFrame:
        """Scores of the level with gemeente and weight (inhabitants of the nearest year; 1 when unknown)."""
        return self._shared("frame", self._make_frame)

    def _make_frame(self) -> pd.DataFrame:
        sc = self.facts.scores(self.level)
        sc = sc[sc["afw"].notna()].copy()
        sc["gm"] = sc["code"].map(self.facts.gemeente_of(self.level)).to_numpy()
        pop = self.facts.population()
        pop = pop[pop["level"] == self.level]
        sc["w"] = 1.0
        if len(pop):
            years = np.array(sorted(pop["year"].unique()))
            for y in sc["year"].unique():
                near = int(years[np.argmin(np.abs(years - y))])
                w = pop[pop["year"] == near].set_index("code")["inwoner"]
                m = sc["year"] == y
                sc.loc[m, "w"] = sc.loc[m, "code"].map(w).fillna(1.0).clip(lower=0).to_numpy(float)
        return sc

    @property
    def urbanity(self) -> dict[str, int]:
        """CBS urbanity class (1-5) per gemeente code: the latest year up to the last official year."""
        return self._shared("urbanity", self._make_urbanity)

    def _make_urbanity(self) -> dict[str, int]:
        try:
            frame = self.facts.indicator_year_table()
        except Exception:  # noqa: BLE001 - a store without observations has no urbanity
            return {}
        years = frame.loc[(frame["level"] == "gemeente") & (frame["indicator"] == URBANITY_INDICATOR), "year"]
        if years.empty:
            return {}
        ok = [int(y) for y in years if y <= self.official[-1]] or [int(years.min())]
        vals = self.facts.indicator_values("gemeente", max(ok), URBANITY_INDICATOR)
        return {c: int(v) for c, v in zip(vals["code"], vals["value"], strict=True) if np.isfinite(v)}

    @property
    def means(self) -> pd.DataFrame:
        """Weighted mean afw per (gemeente, year) over every area of the gemeente."""
        return self._shared("means", self._make_means)

    def _make_means(self) -> pd.DataFrame:
        sc = self._frame[self._frame["gm"].notna()]
        g = sc.assign(wa=sc["afw"] * sc["w"]).groupby(["gm", "year"])[["wa", "w"]].sum()
        return (g["wa"] / g["w"].replace(0, np.nan)).rename("afw").reset_index()

    @cached_property
    def series(self) -> pd.DataFrame:
        """Per year: kind, gemeente/NL/peer means, the gemeente's P10/P90 (None below ``MIN_BAND_AREAS``
        areas) and, for modelled years, the weighted mean interval bounds (upper bound of the mean's interval)."""
        sc, kinds = self._frame, self.facts.year_kinds(self.level)
        peers = self.peer_codes
        ref = self.facts.scheme.reference
        rows = []
        means = self.means.pivot(index="year", columns="gm", values="afw")
        national = self._shared("national", lambda: {
            int(y): float(np.average(p["afw"], weights=p["w"])) if p["w"].sum() > 0 else float(p["afw"].mean())
            for y, p in sc.groupby("year")})
        for year, part in sc[sc["gm"] == self.code].groupby("year"):
            here = part[part["gm"] == self.code]
            if here.empty:
                continue
            v, w = here["afw"].to_numpy(float), here["w"].to_numpy(float)
            w = w if w.sum() > 0 else np.ones(len(w))
            nl = national[int(year)]
            lo = hi = None
            if here["total_lo"].notna().all() and kinds.get(int(year)) != "official":
                lo = float(np.average(here["total_lo"] - ref, weights=w))
                hi = float(np.average(here["total_hi"] - ref, weights=w))
            band = len(here) >= MIN_BAND_AREAS
            pm = means.loc[year, [c for c in peers if c in means.columns]].dropna() if peers else pd.Series(
                dtype=float)
            rows.append({"year": int(year), "kind": kinds.get(int(year)), "n_areas": len(here),
                         "gemeente": float(np.average(v, weights=w)), "nederland": nl,
                         "peers": float(pm.mean()) if len(pm) else None, "n_peers": int(len(pm)),
                         "p10": _weighted_quantile(v, w, 0.10) if band else None,
                         "p90": _weighted_quantile(v, w, 0.90) if band else None, "lo": lo, "hi": hi})
        return pd.DataFrame(rows)

    @cached_property
    def peer_codes(self) -> list[str]:
        """Gemeenten with the same urbanity class (this one included); empty without urbanity."""
        k = self.urbanity.get(self.code)
        return [c for c, v in self.urbanity.items() if v == k] if k is not None else []

    @cached_property
    def trend(self) -> dict | None:
        """Change of the means between the gemeente's first and last official year."""
        return self._trend(None)

    @cached_property
    def recent_trend(self) -> dict | None:
        """Change of the means over ``decline_years`` (the recent official period)."""
        return self._trend(self.decline_years[0]) if self.decline_years else None

    def _trend(self, since: int | None) -> dict | None:
        s = self.series
        off = s[s["year"].isin(self.official)] if len(s) else s
        if since is not None:
            off = off[off["year"] >= since]
        if len(off) < 2:
            return None
        a, b = off.iloc[0], off.iloc[-1]
        out = {"y0": int(a["year"]), "y1": int(b["year"]), "gemeente": b["gemeente"] - a["gemeente"],
               "nederland": b["nederland"] - a["nederland"], "level": b["gemeente"], "level_nl": b["nederland"]}
        if self.peer_codes:
            m = self.means[self.means["gm"].isin(self.peer_codes)].pivot(index="gm", columns="year", values="afw")
            if out["y0"] in m.columns and out["y1"] in m.columns:
                ch = (m[out["y1"]] - m[out["y0"]]).dropna().sort_values(ascending=False)
                lv = m[out["y1"]].dropna().sort_values(ascending=False)
                if self.code in ch.index:
                    out.update(peers=float(ch.mean()), n_peers=len(ch), urbanity=self.urbanity[self.code],
                               rank_change=int(list(ch.index).index(self.code)) + 1,
                               rank_level=int(list(lv.index).index(self.code)) + 1)
        return out

    @cached_property
    def decline_years(self) -> tuple[int, int] | None:
        y1 = self.official[-1]
        earlier = [y for y in self.official if y <= y1 - DECLINE_SPAN]
        return (earlier[-1], y1) if earlier else None

    @cached_property
    def declines(self) -> pd.DataFrame:
        """Classed areas of the gemeente by change of afw over ``decline_years`` (largest fall first), with the
        explanation's top falling parts; empty without two official years."""
        cols = ["code", "label", "change", "development", "parts", "afw"]
        if self.decline_years is None:
            return pd.DataFrame(columns=cols)
        y0, y1 = self.decline_years
        sc = self._frame[(self._frame["gm"] == self.code) & (self._frame["kind"] == "official")]
        a = sc[sc["year"] == y0].set_index("code")["afw"]
        b = sc[(sc["year"] == y1) & ~sc["small"].astype(bool)].set_index("code")["afw"]
        ch = (b - a.reindex(b.index)).dropna().sort_values()
        labels = self.facts.labels(self.level)
        rows = []
        for code, change in ch.items():
            rows.append({"code": code, "label": labels.get(code, code), "change": float(change), "afw": float(b[code]),
                         "development": None, "parts": []})
        frame = pd.DataFrame(rows, columns=cols)
        for i in frame.index[:TOP_DECLINES]:
            e = self.facts.explain(self.level, frame.at[i, "code"], y0, y1) or {}
            frame.at[i, "development"] = (e.get("development_label") or {}).get(self.lang)
            falling = [p for p in e.get("items", []) if p["delta"] < 0][:TOP_PARTS]
            frame.at[i, "parts"] = [(p[f"label_{self.lang}"], p["delta"]) for p in falling]
        return frame

    @cached_property
    def vulnerable(self) -> pd.DataFrame | None:
        """Flagged areas of this gemeente (the vulnerability definition, official years, small areas never
        listed) with reasons; None when the analysis cannot run on the store."""
        vul = self._vulnerable if self._vulnerable is not None else vulnerable_analysis(self.facts, self.level,
                                                                                         self.lang)
        if vul is None:
            return None
        f = vul.areas[vul.areas["flagged"]].copy()
        f = f[f["code"].map(self.facts.gemeente_of(self.level)) == self.code]
        f.insert(1, "label", f["code"].map(self.facts.labels(self.level)).fillna(f["code"]).to_numpy())
        f.attrs.update(year=vul.year, since=vul.since, definition=vul.definition.name(self.lang))
        return f.reset_index(drop=True)

    @cached_property
    def programmes(self) -> pd.DataFrame:
        """Programmes with member areas here (the one membership rule): id, name, kind, period, members here,
        touched here, members in the country, member labels and the evaluation verdict."""
        m = self.facts.membership
        m = m[m["level"] == self.level]
        here = m[m["code"].map(self.facts.gemeente_of(self.level)) == self.code]
        totals = self.facts.programme_counts(self.level)
        labels = self.facts.labels(self.level)
        reg = self.facts._registry
        rows = []
        for prog, g in here.groupby("programme"):
            members = sorted(g.loc[g["member"], "code"])
            if not members and not g["touched"].any():
                continue
            p = reg.get(prog) if prog in reg.ids() else None
            rows.append({"id": prog, "name": self.facts.programme_name(prog, self.lang),
                         "kind": p.kind if p else None, "period": p.period() if p else "",
                         "members": len(members), "touched": int(g["touched"].sum()),
                         "members_nl": totals.get(prog, {}).get("members", 0),
                         "areas": [labels.get(c, c) for c in members],
                         "evaluation": evaluation_verdict(self.facts, prog, self.lang) if members else None})
        return pd.DataFrame(rows, columns=["id", "name", "kind", "period", "members", "touched", "members_nl",
                                           "areas", "evaluation"])

    # -- sentences -------------------------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        """The key findings in reading order, each one sentence with its number."""
        _ = translator(self.lang)
        lang, out = self.lang, []
        name = self.name
        t = self.trend
        if t is not None:
            key = f"finding.trend.{_direction(t['gemeente'])}.{_direction(t['nederland'])}"
            out.append(Finding("trend", say(key, lang, gemeente=name, y0=t["y0"], y1=t["y1"],
                                            change=_.signed(t["gemeente"]), nl_change=_.signed(t["nederland"])),
                               {"change": t["gemeente"], "nederland": t["nederland"]}))
            if "peers" in t:
                out.append(Finding("peers", say("finding.peers", lang, gemeente=name, n=t["n_peers"],
                                                urbanity=say(f"urbanity.{t['urbanity']}", lang),
                                                change=_.signed(t["peers"]), rank=t["rank_change"],
                                                rank_level=t["rank_level"], y0=t["y0"], y1=t["y1"]),
                                   {"peers": t["peers"], "rank": t["rank_change"]}))
        r = self.recent_trend
        if r is not None and t is not None and r["y0"] != t["y0"]:
            key = f"finding.trend.{_direction(r['gemeente'])}.{_direction(r['nederland'])}"
            out.append(Finding("recent", say(key, lang, gemeente=name, y0=r["y0"], y1=r["y1"],
                                             change=_.signed(r["gemeente"]), nl_change=_.signed(r["nederland"])),
                               {"change": r["gemeente"], "nederland": r["nederland"]}))
        lvl = self._level_finding()
        if lvl is not None:
            out.append(lvl)
        out.append(self._decline_finding())
        vul = self._vulnerable_finding()
        if vul is not None:
            out.append(vul)
        out.extend(self._programme_findings())
        return out

    def _level_finding(self) -> Finding | None:
        from leefbaar.index.classes import classify_total

        _ = translator(self.lang)
        y = self.official[-1]
        s = self.series
        row = s[s["year"] == y]
        if row.empty:
            return None
        r = row.iloc[0]
        k = int(classify_total(np.array([r["gemeente"]]))[0])
        here = self._frame[(self._frame["gm"] == self.code) & (self._frame["year"] == y)]
        classed = here[here["klasse"].notna()]
        share = float(classed.loc[classed["klasse"] <= 4, "w"].sum() / classed["w"].sum()) if classed["w"].sum() \
            else 0.0
        ref = self.facts.scheme.reference
        return Finding("level", say("finding.level", self.lang, gemeente=self.name, year=y,
                                    score=_.number(ref + r["gemeente"]), label=self.facts.scheme.labels(
                                        "total", self.lang)[k - 1], nl_score=_.number(ref + r["nederland"]),
                                    share=_.percent(share, 0)), {"share_weak": share})

    def _decline_finding(self) -> Finding:
        _ = translator(self.lang)
        d, yrs = self.declines, self.decline_years
        if yrs is None or d.empty or d["change"].iloc[0] >= 0:
            y0, y1 = yrs or (self.official[0], self.official[-1])
            return Finding("decline", say("finding.decline.none", self.lang, gemeente=self.name, y0=y0, y1=y1))
        top = d.iloc[0]
        parts = "; ".join(f"{lab} ({_.signed(v)})" for lab, v in top["parts"]) or "–"
        text = say("finding.decline", self.lang, area=top["label"], y0=yrs[0], y1=yrs[1],
                   change=_.signed(top["change"]), development=top["development"] or "–", parts=parts)
        more = d.iloc[1:TOP_DECLINES]
        more = more[more["change"] < 0]
        if len(more):
            text += " " + say("finding.decline.more", self.lang, areas=", ".join(
                f"{r.label} ({_.signed(r.change)})" for r in more.itertuples()))
        return Finding("decline", text, {"code": top["code"], "change": top["change"]})

    def _vulnerable_finding(self) -> Finding | None:
        v = self.vulnerable
        if v is None:
            return None
        if v.empty:
            return Finding("vulnerable", say("finding.vulnerable.none", self.lang, gemeente=self.name,
                                             year=v.attrs.get("year", self.official[-1])))
        shown = v.head(3)
        labels = self.facts.scheme.labels("total", self.lang)
        areas = "; ".join(say("finding.vulnerable.area", self.lang, area=label, klasse=int(k),
                              label=labels[int(k) - 1], met=int(met))
                          for label, k, met in zip(shown["label"], shown["class"], shown["criteria_met"], strict=True))
        key = "finding.vulnerable.one" if len(v) == 1 else "finding.vulnerable.many"
        text = say(key, self.lang, n=len(v), year=v.attrs["year"], areas=areas)
        if len(v) > len(shown):
            text += " " + say("finding.vulnerable.rest", self.lang, n=len(v) - len(shown))
        return Finding("vulnerable", text, {"n": len(v)})

    def _programme_findings(self) -> list[Finding]:
        if self.facts.membership.empty:  # programme areas not resolved: membership unknown, not absent
            return [Finding("programme", say("finding.programme.unresolved", self.lang))]
        p = self.programmes
        ran = p[p["kind"].isin(PROGRAMME_KINDS) & (p["members"] > 0)] if len(p) else p
        if ran.empty:
            return [Finding("programme", say("finding.programme.none", self.lang, gemeente=self.name))]
        out = []
        for r in ran.itertuples():
            verdict = r.evaluation["text"] if r.evaluation else say("finding.programme.not_evaluated", self.lang)
            key = "finding.programme.one" if r.members == 1 else "finding.programme"
            out.append(Finding("programme", say(key, self.lang, programme=r.name, period=r.period,
                                                n=r.members, verdict=verdict), {"members": r.members}))
        return out


def vulnerable_analysis(facts, level: str, lang: str = "nl", errors: dict | None = None):
    """The vulnerability analysis (``analysis.vulnerable``, default definition) on the official years of the
    facts layer's series; areas under the small-area rule in the reference year are never flagged. None when
    the store cannot support it (the reason goes to ``errors[level]``)."""
    from leefbaar.analysis.vulnerable import VulnerableAreas, load_definition

    try:
        panel = facts.panel(level, official_only=True)
        sc = facts.scores(level)
        ref_year = max(panel.years)
        small = set(sc.loc[(sc["year"] == ref_year) & sc["small"].astype(bool), "code"])
        return VulnerableAreas(load_definition(), lang).fit(panel, facts.store, exclude=small)
    except LeefbaarError as exc:
        if errors is not None:
            errors[level] = str(exc)
        return None


def sources_used(facts, gemeente_code: str, level: str, codes: list[str]) -> pd.DataFrame:
    """The source families and files behind one gemeente's report: observations of its areas (and of the
    gemeente itself), the boundaries drawn, and the policy lists naming areas in it. Columns family, files."""
    codes = list(codes)
    params = [level, *codes, gemeente_code]
    obs = facts.sql(
        "SELECT DISTINCT source_id FROM observations WHERE (level = ? AND code IN "
        f"({', '.join('?' * len(codes))})) OR (level = 'gemeente' AND code = ?)", params)
    geo = facts.sql("SELECT DISTINCT source_id FROM geometries WHERE (level = ? AND code IN "
                    f"({', '.join('?' * len(codes))})) OR (level = 'gemeente' AND code = ?)", params)
    ids = set(obs["source_id"].dropna().astype(int)) | set(geo["source_id"].dropna().astype(int))
    families = facts.sql("SELECT family, count(*) AS files FROM sources WHERE source_id IN "
                         f"({', '.join('?' * max(len(ids), 1))}) GROUP BY family ORDER BY family",
                         sorted(ids) or [-1])
    if "policy_lists" in facts.tables:
        cols = set(facts.sql("SELECT column_name FROM information_schema.columns WHERE table_name = "
                             "'policy_lists'")["column_name"])
        if "source_id" in cols:
            pol = facts.sql("SELECT s.family, count(DISTINCT s.source_id) AS files FROM policy_lists p JOIN sources "
                            "s USING (source_id) WHERE p.gm_code = ? GROUP BY s.family", [gemeente_code])
            families = pd.concat([families, pol], ignore_index=True).drop_duplicates("family")
    return families.sort_values("family", ignore_index=True)
