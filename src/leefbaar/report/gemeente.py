"""The gemeente report: one self-contained HTML file (charts as inline SVG with real text) printed to a PDF by
Debian's chromium (Playwright), so the HTML and the PDF are the same document and table cells wrap instead of
being cut off.

Contents, for an alderman's ten minutes: the key findings (``leefbaar.facts.findings``: the gemeente against
the Netherlands and similar gemeenten over the official years, the largest declines and why, the vulnerable
areas with reasons, the programmes with their evaluated effect), maps of the class and of the change (class
breaks through ``mapclassify``; legend with scheme and unit), the trend against the Netherlands and similar
gemeenten (official and modelled points distinct, intervals with their level), the areas needing attention,
the programmes, every area ranked, and an appendix with method and the sources used for this gemeente. Empty
sections are left out (their finding says so in one sentence). Every text comes from the gettext catalogues
(``leefbaar.i18n``) or the facts layer's sentence table; numbers are formatted by the report's locale.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import Formatter, MaxNLocator  # noqa: E402

from leefbaar import __version__  # noqa: E402
from leefbaar.errors import InputError, LeefbaarError  # noqa: E402
from leefbaar.facts import say  # noqa: E402
from leefbaar.facts.findings import GemeenteFindings, sources_used  # noqa: E402
from leefbaar.i18n import N_, check_lang, translator  # noqa: E402
from leefbaar.report.data import CLASS_COLORS, DashboardData  # noqa: E402
from leefbaar.store.store import Store  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MIN_CHANGE_AREAS = 5
"""Below this many areas with a change the change map uses the fixed development classes, not Fisher-Jenks."""
LABEL_NAMES_UP_TO = 30
"""Maps of at most this many areas print code and name on each area; larger maps print the code only."""
DIVERGING = ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac"]
NO_CLASS = "#d9d9d9"
WATER = "#d6e6f4"

# Credits in the publishers' wording, each with the source families (prefixes) it covers: an entry is listed
# only when one of its families was used for this gemeente.
CREDITS = [
    (("lbm3_", "lbm2_"), N_("Leefbaarometer 3 (PC4 scores 2002-2022, buurten 2024) and Leefbaarometer 2.0"),
     N_("Ministry of the Interior and Kingdom Relations (BZK); carried out by Atlas Research / RIGO"),
     N_("open data, leefbaarometer.nl")),
    (("cbs_", "kwb", "ses_woa", "grid", "statline"), N_("Key figures per postcode, per wijk and buurt, SES-WOA, "
                                                       "square statistics"),
     N_("Statistics Netherlands (CBS)"), "CC BY 4.0 - Bron: CBS"),
    (("boundaries_",), N_("Area divisions (gemeente, wijk, buurt, PC4 boundaries)"),
     N_("CBS and Kadaster, via PDOK"), "CC BY 4.0"),
    (("wijkprofiel",), N_("Wijkprofiel Rotterdam 2014-2024"),
     N_("Gemeente Rotterdam, Onderzoek en Business Intelligence (OBI)"), N_("dataset for third parties; cite the "
                                                                            "source")),
    (("policy_",), N_("Programme registry and lists of programme areas"),
     N_("leefbaar, from parliamentary papers, Platform31 and news sources (see the registry)"),
     N_("sources per programme")),
]


@dataclass
class GemeenteReport:
    """What ``build_report`` wrote."""

    html: Path
    pdf: Path
    tables: list[Path] = field(default_factory=list)
    pages: int = 0


def _svg(fig) -> str:
    """The figure as inline SVG with its text kept as text (searchable, extractable from the PDF)."""
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


class _LocaleFormatter(Formatter):
    """Tick labels by the report's locale ("-0,10" in Dutch), as many decimals as the tick step needs, never
    "-0,00"."""

    def __init__(self, _):
        self._, self.digits = _, 2

    def format_ticks(self, values):
        v = np.sort(np.asarray(values, float))
        step = float(np.min(np.diff(v))) if len(v) > 1 else 1.0
        self.digits = int(min(4, max(0, -np.floor(np.log10(step))))) if step > 0 else 2
        return [self(x, i) for i, x in enumerate(values)]

    def __call__(self, v, pos=None):
        return self._.number(0.0 if abs(v) < 0.5 * 10 ** -self.digits else v, self.digits)


def _locale_axis(axis, _) -> None:
    """Ticks at 1-2-5 steps with locale labels."""
    axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(_LocaleFormatter(_))


class _Content:
    """The report's numbers, tables and figures (shared by the HTML and the CSV tables)."""

    def __init__(self, data: DashboardData, gemeente: str, level: str, year: int | None, lang: str,
                 vulnerable=None):
        self.data, self.lang, self.level = data, check_lang(lang), level
        self._ = _ = translator(lang)
        facts = self.facts = data.facts
        code = facts.gemeente_code(gemeente)
        self.code, self.name = code, {g["code"]: g["name"] for g in facts.gemeenten}[code]
        years = data.score_years(level)
        if not years:
            raise InputError("store", f"the store holds no scores at level {level!r}")
        self.year = year if year is not None else facts.default_year(level)
        if self.year not in years:
            raise InputError("year", f"no scores for {level} in {self.year}; years: {', '.join(map(str, years))}")
        self.kind = facts.year_kinds(level).get(self.year)
        self.ranking = data.ranking(level, self.year, code)
        if self.ranking.empty:
            raise InputError("gemeente", f"{self.name} ({code}) has no {level} areas with scores in {self.year}")
        classed = self.ranking["classed"].to_numpy(bool)
        self.ranking.insert(0, "rank", pd.array(np.where(classed, np.cumsum(classed), 0), dtype="Int64"))
        self.ranking.loc[~classed, "rank"] = pd.NA
        self.ranking.loc[~classed, "klasse_label"] = say("class.not_classed", lang)
        self.refs = data.references(level, self.year, code)
        if vulnerable is None:
            vulnerable = data._vulnerable(level, lang)
        self.findings = GemeenteFindings(facts, code, level, lang, vulnerable=vulnerable)
        self.key_findings = self.findings.findings()
        self.programmes = self._programmes()

    # -- tables ----------------------------------------------------------------------------------------
    def col(self, key: str) -> str:
        """A column header in the report's language."""
        _ = self._
        return {"rank": _("rank"), "rank_nl": _("rank NL"), "code": _("code"), "label": _("area"),
                "kind": _("kind"), "total": _("score"), "interval": _("interval ({level}%)",
                                                                       level=self.facts.interval_level),
                "afw": "afw", "klasse": _("class"), "klasse_label": _("class (text)"), "reason": _("reason"),
                "programme": _("programme"), "period": _("period"), "members": _("PC4 in programme"),
                "touched": _("PC4 touched"), "members_nl": _("PC4 in programme (all NL)"), "areas": _("areas"),
                "evaluation": _("evaluation"), "change": _("change"), "development": _("development"),
                "parts": _("largest negative parts"), "criteria": _("criteria met"),
                **{d: self.facts.dimension_label(d, self.lang) for d in self.facts.dimension_codes}}[key]

    def ranked_table(self) -> pd.DataFrame:
        """Every area of the gemeente: rank here and in the country, name, kind, score with interval (modelled
        years), afw and dimensions, class (or 'not classed')."""
        _ = self._
        t = self.ranking
        lo, hi = t["total_lo"], t["total_hi"]
        interval = [f"{_.number(a)} – {_.number(b)}" if k != "official" and a == a and b == b else "–"
                    for a, b, k in zip(lo, hi, t["kind"], strict=True)]
        labels = self.data.scheme.labels("total", self.lang)
        frame = pd.DataFrame({
            "rank": t["rank"], "rank_nl": t["rank_nl"], "code": t["code"], "label": t["label"],
            "kind": [say(f"kind.{k}", self.lang) for k in t["kind"]], "total": t["total"], "interval": interval,
            "afw": t["afw"], **{d: t[d] for d in self.facts.dimension_codes}, "klasse": t["klasse"].astype("Int64"),
            "klasse_label": [labels[int(k) - 1] if k == k else say("class.not_classed", self.lang)
                             for k in t["klasse"]]})
        return frame.rename(columns={k: self.col(k) for k in frame.columns})

    def ranked_print(self) -> pd.DataFrame:
        """The ranked table as printed: the code is part of the area's name, class number and text in one
        cell."""
        t = self.ranked_table()
        k, text = self.col("klasse"), self.col("klasse_label")
        t[k] = [f"{int(a)} {b}" if a is not pd.NA and a == a else b for a, b in zip(t[k], t[text], strict=True)]
        return t.drop(columns=[self.col("code"), text])

    def attention_table(self) -> pd.DataFrame | None:
        """Vulnerable areas of the gemeente with reasons (None when there are none or no analysis)."""
        v = self.findings.vulnerable
        if v is None or v.empty:
            return None
        frame = pd.DataFrame({"label": v["label"], "total": v["total"], "klasse": v["class"].astype("Int64"),
                              "criteria": v["criteria_met"].astype(int), "reason": v["reason"]})
        return frame.rename(columns={k: self.col(k) for k in frame.columns})

    def decline_table(self) -> pd.DataFrame | None:
        """The areas that declined most over the recent official period, with the explanation's parts."""
        _ = self._
        d = self.findings.declines
        d = d[(d["change"] < 0) & d["development"].notna()]
        if d.empty:
            return None
        frame = pd.DataFrame({"label": d["label"], "change": [_.signed(v) for v in d["change"]],
                              "development": d["development"],
                              "parts": ["; ".join(f"{lab} ({_.signed(v)})" for lab, v in p) for p in d["parts"]]})
        return frame.rename(columns={k: self.col(k) for k in frame.columns})

    def _programmes(self) -> pd.DataFrame:
        """Programmes with member or touched areas here (the facts layer's one rule), with the evaluation."""
        p = self.findings.programmes
        frame = pd.DataFrame({"programme": p["name"], "period": p["period"], "members": p["members"],
                              "touched": p["touched"], "members_nl": p["members_nl"],
                              "areas": ["; ".join(a) for a in p["areas"]],
                              "evaluation": [e["text"] if isinstance(e, dict) else "–" for e in p["evaluation"]]})
        return frame.rename(columns={k: self.col(k) for k in frame.columns})

    def programmes_print(self) -> pd.DataFrame | None:
        """The programmes table as printed: member areas by code (their names are in the table of all
        areas); None when no programme has areas here."""
        p = self.findings.programmes
        if p.empty:
            return None
        frame = pd.DataFrame({"programme": p["name"], "period": p["period"], "members": p["members"],
                              "touched": p["touched"], "members_nl": p["members_nl"],
                              "areas": [", ".join(a.split(" ", 1)[0] for a in areas) for areas in p["areas"]],
                              "evaluation": [e["text"] if isinstance(e, dict) else say(
                                  "finding.programme.not_evaluated", self.lang) if n else "–"
                                  for e, n in zip(p["evaluation"], p["members"], strict=True)]})
        return frame.rename(columns={k: self.col(k) for k in frame.columns})

    def trend_table(self) -> pd.DataFrame:
        s = self.findings.series.copy()
        s["kind"] = [say(f"kind.{k}", self.lang) if k else "–" for k in s["kind"]]
        return s

    # -- figures ---------------------------------------------------------------------------------------
    def _geo(self):
        cache = self.data.__dict__.setdefault("_report_geometries", {})
        st = self.data.thread_store()
        for lv in (self.level, "gemeente"):
            if lv not in cache and lv in self.data.levels:
                cache[lv] = st.geometries(lv, crs=28992)
        geo = cache[self.level]
        geo = geo[geo["code"].isin(self.ranking["code"])].merge(self.ranking[["code", "klasse", "label", "afw"]],
                                                                on="code")
        gm = cache.get("gemeente")
        land = gm.loc[gm["code"] == self.code, "geometry"] if gm is not None else None
        if land is not None and len(land):
            # the gemeente boundaries are land only, PC4 areas reach into sea and lakes: draw the land part of
            # each area, the rest shows as water (the map's background)
            clipped = geo.geometry.intersection(land.iloc[0].buffer(0))
            geo = geo.set_geometry(clipped.where(~clipped.is_empty & clipped.area.gt(0), geo.geometry))
        return geo, gm

    def _context(self, ax, geo, gm) -> None:
        """Neighbouring gemeenten (grey, named), the gemeente border, area labels and a scale bar."""
        _ = self._
        x0, y0, x1, y1 = geo.total_bounds
        pad = 0.06 * max(x1 - x0, y1 - y0, 2000)
        if gm is not None:  # water: what no gemeente covers (the boundaries are land only)
            ax.add_patch(Rectangle((x0 - pad, y0 - pad), x1 - x0 + 2 * pad, y1 - y0 + 2 * pad, facecolor=WATER,
                                   edgecolor="none", zorder=-1))
            names = {g["code"]: g["name"] for g in self.facts.gemeenten}
            near = gm.cx[x0 - pad:x1 + pad, y0 - pad:y1 + pad]
            others = near[near["code"] != self.code]
            if len(others):
                others.plot(ax=ax, color="#f0f0f0", edgecolor="#bdbdbd", linewidth=0.5, zorder=0)
            for r in others.itertuples():
                p = r.geometry.intersection(_box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)).representative_point()
                if not p.is_empty:
                    ax.annotate(names.get(r.code, ""), (p.x, p.y), fontsize=6, color="#8a8a8a", ha="center",
                                style="italic", zorder=1)
            near[near["code"] == self.code].boundary.plot(ax=ax, color="#222222", linewidth=1.1, zorder=3)
        with_names = len(geo) <= LABEL_NAMES_UP_TO
        small_font = 4.5 if len(geo) > 50 else 5.5
        for r in geo.itertuples():
            p = r.geometry.representative_point()
            short = r.label.split(" – ", 1)[1].split("/")[0] if with_names and " – " in r.label else ""
            ax.annotate(f"{r.code}\n{short}" if short else r.code, (p.x, p.y), fontsize=small_font if not short else 6,
                        ha="center", va="center", color="#111111", zorder=4)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        span = (x1 - x0 + 2 * pad)
        km = max(1, int(round(span / 5000)))  # a bar of about a fifth of the map width
        bx, by = x0 - pad * 0.5, y0 - pad * 0.6
        ax.plot([bx, bx + km * 1000], [by, by], color="#222222", linewidth=2, zorder=5)
        ax.annotate(_("{n} km", n=km), (bx + km * 500, by), xytext=(0, 3), textcoords="offset points",
                    fontsize=7, ha="center", zorder=5)
        ax.set_axis_off()
        ax.set_aspect("equal")

    def _water(self) -> str:
        return self._("water (outside the land boundaries)")

    def map_figure(self):
        """Class per area (the Leefbaarometer's fixed class bounds as a mapclassify UserDefined scheme)."""
        import mapclassify

        _ = self._
        geo, gm = self._geo()
        fig, ax = _map_axes(geo)
        scheme = self.data.scheme
        bounds = list(scheme.total_boundaries) + [np.inf]
        ok = geo["klasse"].notna().to_numpy()
        labels = scheme.labels("total", self.lang)
        colors = np.array([NO_CLASS] * len(geo), dtype=object)
        counts = {}
        if ok.any():
            cls = mapclassify.UserDefined(geo.loc[ok, "afw"].to_numpy(float), bounds)
            for i, b in zip(np.flatnonzero(ok), cls.yb, strict=True):
                colors[i] = CLASS_COLORS[int(b)]
                counts[int(b)] = counts.get(int(b), 0) + 1
        geo.plot(ax=ax, color=list(colors), edgecolor="white", linewidth=0.4, zorder=2)
        self._context(ax, geo, gm)
        handles = [Patch(facecolor=CLASS_COLORS[k], label=f"{k + 1} {labels[k]} ({counts[k]})")
                   for k in sorted(counts, reverse=True)]
        if (~ok).any():
            handles.append(Patch(facecolor=NO_CLASS, label=f"{say('class.not_classed', self.lang)} "
                                                           f"({int((~ok).sum())})"))
        _map_legend(ax, handles, _("Leefbaarometer classes (fixed bounds on afw,\nscore points), {year}",
                                   year=self.year), self._water())
        return fig

    def change_figure(self):
        """Change of afw over the recent official period: Fisher-Jenks classes (mapclassify) from
        ``MIN_CHANGE_AREAS`` areas on, the fixed development classes below; None without a period."""
        from leefbaar.analysis.charts import class_breaks

        _ = self._
        yrs = self.findings.decline_years
        if yrs is None:
            return None
        d = self.findings.declines.set_index("code")["change"]
        geo, gm = self._geo()
        geo["change"] = geo["code"].map(d)
        ok = geo["change"].notna().to_numpy()
        if ok.sum() < 2:  # one area: its change is in the key findings and the trend; a map adds nothing
            return None
        values = geo.loc[ok, "change"].to_numpy(float)
        if ok.sum() >= MIN_CHANGE_AREAS:
            cls = class_breaks(values, "fisher_jenks", 5)
            title = _("Change of afw {y0}–{y1} (score points);\nFisher-Jenks, {k} classes", y0=yrs[0], y1=yrs[1],
                      k=len(cls.bins))
            lows = np.concatenate([[values.min()], cls.bins[:-1]])
            texts = [f"{_.signed(lo)} – {_.signed(hi)} ({int(n)})" for lo, hi, n in
                     zip(lows, cls.bins, cls.counts, strict=True)]
            mids = [(lo + hi) / 2 for lo, hi in zip(lows, cls.bins, strict=True)]
            yb = cls.yb
        else:
            import mapclassify

            bounds = list(self.data.scheme.development_boundaries()) + [np.inf]
            cls = mapclassify.UserDefined(values, bounds)
            title = _("Change of afw {y0}–{y1} (score points);\nLeefbaarometer development classes", y0=yrs[0],
                      y1=yrs[1])
            dev = self.data.scheme.labels("development", self.lang)
            present = sorted(set(int(b) for b in cls.yb))
            texts = [f"{dev[k]} ({int((cls.yb == k).sum())})" for k in present]
            mids = [k - 3 for k in present]
            remap = {k: i for i, k in enumerate(present)}
            yb = np.array([remap[int(b)] for b in cls.yb])
        scale = max(abs(m) for m in mids) or 1.0
        palette = [DIVERGING[int(round(3 + 3 * m / scale))] for m in mids]
        colors = np.array([NO_CLASS] * len(geo), dtype=object)
        for i, b in zip(np.flatnonzero(ok), yb, strict=True):
            colors[i] = palette[int(b)]
        fig, ax = _map_axes(geo)
        geo.plot(ax=ax, color=list(colors), edgecolor="white", linewidth=0.4, zorder=2)
        self._context(ax, geo, gm)
        handles = [Patch(facecolor=palette[i], label=t) for i, t in reversed(list(enumerate(texts)))]
        if (~ok).any():
            handles.append(Patch(facecolor=NO_CLASS, label=f"{say('class.not_classed', self.lang)} "
                                                           f"({int((~ok).sum())})"))
        _map_legend(ax, handles, title, self._water())
        return fig

    def trend_figure(self):
        """Mean afw per year: gemeente, Netherlands, similar gemeenten; official points filled, modelled open
        with their interval, aggregated as diamonds; the gemeente's P10-P90 band where it has enough areas."""
        from leefbaar.facts.findings import MIN_BAND_AREAS

        _ = self._
        s = self.findings.series
        fig, ax = plt.subplots(figsize=(7.6, 4.4))
        band = s[s["p10"].notna()]
        if len(band):
            ax.fill_between(band["year"], band["p10"].astype(float), band["p90"].astype(float), color="#1f4e9e",
                            alpha=0.12, label=_("P10–P90 of the areas of {name}", name=self.name))
        lines = [("gemeente", "#1f4e9e", "-", "o", self.name), ("nederland", "#555555", "--", "s", _("Netherlands"))]
        t = self.findings.trend or {}
        if "urbanity" in t:
            lines.append(("peers", "#c2671b", ":", "^", _("similar gemeenten ({urbanity})",
                                                         urbanity=say(f"urbanity.{t['urbanity']}", self.lang))))
        for col, color, ls, marker, label in lines:
            part = s[s[col].notna()]
            ax.plot(part["year"], part[col].astype(float), ls, color=color, linewidth=1.3, label=label)
            for kind, face, mk in (("official", color, marker), ("modelled", "white", marker),
                                   ("aggregated", "white", "D")):
                k = part[part["kind"] == kind]
                ax.plot(k["year"], k[col].astype(float), mk, color=color, markerfacecolor=face, linestyle="none",
                        markersize=4.5)
        mod = s[s["lo"].notna()]
        if len(mod):
            ax.errorbar(mod["year"], mod["gemeente"], yerr=[mod["gemeente"] - mod["lo"], mod["hi"] - mod["gemeente"]],
                        fmt="none", ecolor="#1f4e9e", elinewidth=0.8, capsize=2,
                        label=_("{level}% interval of modelled years (upper bound)", level=self.facts.interval_level))
        ax.plot([], [], "o", color="#555555", label=say("kind.official", self.lang))
        ax.plot([], [], "o", color="#555555", markerfacecolor="white", label=say("kind.modelled", self.lang))
        if (s["kind"] == "aggregated").any():
            ax.plot([], [], "D", color="#555555", markerfacecolor="white", label=say("kind.aggregated", self.lang))
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.set_ylabel(_("afw (score points)"), fontsize=8)
        _locale_axis(ax.yaxis, _)
        ax.set_xticks(s["year"], [str(y) for y in s["year"]], fontsize=7, rotation=45)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        self.band_note = None if len(band) else _("No P10–P90 band: {name} has fewer than {n} areas.",
                                                  name=self.name, n=MIN_BAND_AREAS)
        return fig

    def dims_figure(self):
        """Dimensions of the gemeente against the Netherlands in the shown year."""
        _ = self._
        fig, ax = plt.subplots(figsize=(7.4, 2.6))
        dims = self.facts.dimension_codes
        labels = [self.facts.dimension_label(d, self.lang) for d in dims]
        gm = [(self.refs["gemeente"] or {}).get(d) or 0 for d in dims]
        nl = [(self.refs["nederland"] or {}).get(d) or 0 for d in dims]
        y = np.arange(len(dims))
        ax.barh(y - 0.18, gm, 0.36, color="#e08214", label=self.name)
        ax.barh(y + 0.18, nl, 0.36, color="#7a7a7a", label=_("Netherlands"))
        ax.set_yticks(y, labels, fontsize=8)
        ax.axvline(0, color="#555555", linewidth=0.8)
        _locale_axis(ax.xaxis, _)
        ax.tick_params(axis="x", labelsize=7)
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(_("afw (score points), {year}", year=self.year), fontsize=8)
        return fig

    # -- text ------------------------------------------------------------------------------------------
    def method(self) -> list[str]:
        """The method paragraphs with the facts layer's settings: interval level, small-area and membership
        rules, decline period and band minimum."""
        from leefbaar.facts.findings import DECLINE_SPAN, MIN_BAND_AREAS

        _ = self._
        r = self.facts.rules
        not_classed = say("class.not_classed.reason", self.lang, min_residents=int(r.min_residents),
                          min_dwellings=int(r.min_dwellings))
        return [
            _("Scores are on the Leefbaarometer 3 scale: total = {ref} + afw, and afw = housing stock + physical "
              "environment + amenities + social cohesion + nuisance and insecurity (score points; higher is "
              "better).", ref=_.number(self.data.scheme.reference, 6)),
            _("Classes 1 (very insufficient) to 9 (excellent) are fixed bands on afw (derived from the official "
              "2024 buurt classes). Development classes 1-7 compare two measurements."),
            _("Means of the gemeente, of the Netherlands and of similar gemeenten (same CBS urbanity class) are "
              "weighted by residents (CBS counts of the nearest year); similar gemeenten count one each. A PC4 "
              "area belongs to the gemeente holding the largest part of its surface."),
            _("Verdicts and key findings use official measurements only. Official points have no interval; "
              "modelled points come from leefbaar's index model with a {level}% interval; the interval of a "
              "modelled mean is the weighted mean of the areas' bounds (an upper bound). Aggregated points "
              "are carried from another level.", level=self.facts.interval_level),
            _("The largest declines compare the last official year with the official year at least {n} years "
              "before it; the parts come from the explanation of the change (indicators, the part the "
              "indicators do not explain, and a rest) and add up to the change.", n=DECLINE_SPAN),
            _("A P10–P90 band is drawn only from at least {n} areas.", n=MIN_BAND_AREAS),
            f"{not_classed[:1].upper()}{not_classed[1:]}. " + _("Such areas are shown but not classed, ranked or "
                                                                  "listed as needing attention."),
            self.facts.membership_rule()[self.lang],
        ]

    def credits(self) -> list[dict]:
        """Credits and file counts of the sources used for this gemeente."""
        _ = self._
        used = sources_used(self.facts, self.code, self.level, self.ranking["code"].tolist())
        out = []
        for prefixes, what, who, lic in CREDITS:
            part = used[used["family"].str.startswith(prefixes)]
            if part.empty:
                continue
            n = int(part["files"].sum())
            out.append({"what": _(what), "who": _(who), "licence": _(lic) if lic.isascii() else lic,
                        "files": _.ngettext("{n} file", "{n} files", n)})
        return out


def _map_axes(geo):
    """A figure sized to the gemeente's shape: 9.5 in wide, 2.8-4.8 in high (two maps fit one A4 page)."""
    x0, y0, x1, y1 = geo.total_bounds
    aspect = (y1 - y0 + 1) / (x1 - x0 + 1)
    return plt.subplots(figsize=(9.5, float(np.clip(9.5 * aspect, 2.8, 4.8))))


def _map_legend(ax, handles, title: str, water: str) -> None:
    """The class legend below the map: scheme and unit in the title, counts per class; water last."""
    handles = [*handles, Patch(facecolor=WATER, label=water)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.01), fontsize=7, frameon=False,
              title=title.replace("\n", " "), title_fontsize=7.5, alignment="left", ncol=min(3, len(handles)))


def _box(x0, y0, x1, y1):
    from shapely.geometry import box

    return box(x0, y0, x1, y1)


def _fmt_cell(_, v) -> str:
    """A table cell by the locale: floats with three decimals, counts grouped, text as is."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return _.integer(v)
    if isinstance(v, float | np.floating):
        return _.number(v, 3)
    return str(v)


def build_report(store_path: str | Path, gemeente: str, out: str | Path, lang: str = "nl", level: str = "pc4",
                 year: int | None = None, data: DashboardData | None = None) -> GemeenteReport:
    """Write ``report_<code>.html``, ``report_<code>.pdf`` and the report's tables (CSV) into ``out``. ``data``
    reuses an open ``DashboardData`` (several reports from one store)."""
    check_lang(lang)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if data is None:
        with Store.open(store_path) as store:
            return _build(DashboardData(store), gemeente, out, lang, level, year)
    return _build(data, gemeente, out, lang, level, year)


def _build(data: DashboardData, gemeente: str, out: Path, lang: str, level: str, year: int | None) -> GemeenteReport:
    _ = translator(lang)
    c = _Content(data, gemeente, level, year, lang, vulnerable=data._vulnerable(level, lang))
    ranked = c.ranked_table()
    attention, declines = c.attention_table(), c.decline_table()
    tables = []
    for name, frame in (("ranking", ranked), ("attention", attention), ("declines", declines),
                        ("programmes", c.programmes), ("trend", c.trend_table())):
        if frame is None:
            continue
        path = out / f"report_{c.code}_{name}.csv"
        frame.to_csv(path, index=False)
        tables.append(path)
    change = c.change_figure()
    svgs = {"map": _svg(c.map_figure()), "trend": _svg(c.trend_figure()), "dims": _svg(c.dims_figure()),
            "change": _svg(change) if change is not None else None}
    kind_label = say(f"kind.{c.kind}", lang) if c.kind else ""
    tx = {
        "title": _("Livability in {name}", name=c.name),
        "subtitle": _("Report for the gemeente {name} ({code}), {level} areas", name=c.name, code=c.code,
                      level=c.level.upper() if c.level == "pc4" else c.level),
        "made": _("Made on {date} with leefbaar; scores: {spec}.", date=_.date(date.today()),
                  spec=_("index specification '{spec}'", spec=c.data.spec) if c.data.spec
                  else _("official Leefbaarometer series")),
        "findings": _("Key findings"),
        "findings_note": _("Verdicts use official measurements ({years}); modelled years are marked as "
                           "modelled wherever they are shown.", years=", ".join(map(str, c.findings.official))),
        "maps": _("Maps"), "map": _("Class per area, {year} ({kind})", year=c.year, kind=kind_label),
        "change": _("Change per area, official measurements"),
        "trend": _("Trend against the Netherlands and similar gemeenten"),
        "dims": _("Dimensions against the Netherlands, {year}", year=c.year),
        "attention": _("Areas that need attention"),
        "attention_note": _("Vulnerable areas by the definition '{definition}' (level, decline since {since}, "
                            "cumulation of weak dimensions), with the reasons; areas under the small-area rule are "
                            "never listed.", definition=(c.findings.vulnerable.attrs.get("definition", "")
                                                         if c.findings.vulnerable is not None else ""),
                            since=(c.findings.vulnerable.attrs.get("since", "")
                                   if c.findings.vulnerable is not None else "")),
        "declines": _("Largest declines and their causes"),
        "programmes": _("Programmes in this gemeente"),
        "ranked": _("All areas, {year}", year=c.year),
        "ranked_note": _("Intervals ({level}%) only for modelled values; official measurements have none.",
                         level=c.facts.interval_level),
        "appendix": _("Appendix: method and sources"), "method": _("Method"),
        "credits": _("Sources used for this gemeente"),
    }
    ctx = {"tx": tx, "lang": lang, "svgs": svgs, "findings": [f.text for f in c.key_findings],
           "band_note": c.band_note, "ranked": c.ranked_print(), "attention": attention, "declines": declines,
           "programmes": c.programmes_print(), "method": c.method(), "credits": c.credits(),
           "cell": lambda v: _fmt_cell(_, v), "is_number": lambda v: isinstance(v, int | float | np.number)
           and not isinstance(v, bool)}
    env = Environment(loader=PackageLoader("leefbaar.report", "templates"), autoescape=select_autoescape())
    html_path = out / f"report_{c.code}.html"
    html_path.write_text(env.get_template("gemeente.html").render(**ctx), encoding="utf-8")
    pdf_path = out / f"report_{c.code}.pdf"
    pages = print_pdf(html_path, pdf_path, footer=f"{tx['title']} · leefbaar {__version__}")
    return GemeenteReport(html_path, pdf_path, tables, pages)


def print_pdf(html: Path, pdf: Path, footer: str = "") -> int:
    """Print ``html`` to an A4 ``pdf`` with Debian's chromium: through Playwright (running footer with page
    numbers) when it is installed, else chromium's own ``--print-to-pdf`` (no footer). Returns the page count."""
    if not Path(CHROMIUM).exists():
        raise LeefbaarError(f"the PDF needs Debian's chromium ({CHROMIUM} not found; apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        subprocess.run([CHROMIUM, *CHROMIUM_ARGS, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=300)
        return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    foot = ('<div style="font-size:7px;width:100%;padding:0 12mm;color:#555;display:flex;'
            'justify-content:space-between"><span>' + _escape(footer) + '</span><span><span class="pageNumber">'
            '</span>/<span class="totalPages"></span></span></div>')

    def render() -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(html.resolve().as_uri(), wait_until="load")
                page.pdf(path=str(pdf), format="A4", print_background=True, display_header_footer=True,
                         header_template="<span></span>", footer_template=foot,
                         margin={"top": "14mm", "bottom": "16mm", "left": "13mm", "right": "13mm"})
            finally:
                browser.close()

    # in a thread of its own: Playwright's sync API refuses a thread that runs an event loop (a notebook, a web
    # server, another Playwright session)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(render).result()
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
