"""The gemeente report: one HTML file (self-contained, charts as inline SVG) and one multi-page PDF.

Contents: the map of the gemeente's areas by class, the areas ranked, the areas that need attention with the
reasons, trends against the Netherlands, the programmes that touched the gemeente, and an appendix with
methods, sources and the publishers' credits. Built from a read-only store through ``DashboardData``; every
table also goes to CSV beside the report.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from leefbaar import __version__  # noqa: E402
from leefbaar.errors import InputError  # noqa: E402
from leefbaar.facts import both  # noqa: E402
from leefbaar.index.classes import development_class  # noqa: E402
from leefbaar.report.data import CLASS_COLORS, DIMENSION_LABELS, DIMENSIONS, DashboardData  # noqa: E402
from leefbaar.store.store import Store  # noqa: E402

# Fixed credits (publishers' wording); the store's ``sources`` table adds the files actually used.
CREDITS = [
    ("Leefbaarometer 3 (scores PC4 2002-2022, buurten 2024) en Leefbaarometer 2.0",
     "Ministerie van Binnenlandse Zaken en Koninkrijksrelaties (BZK); uitvoering Atlas Research / RIGO",
     "open data, leefbaarometer.nl"),
    ("Kerncijfers per postcode, Kerncijfers wijken en buurten, SES-WOA, vierkantstatistieken",
     "Centraal Bureau voor de Statistiek (CBS)", "CC BY 4.0 - Bron: CBS"),
    ("Gebiedsindelingen (gemeente, wijk, buurt, PC4-grenzen)", "CBS en Kadaster, via PDOK", "CC BY 4.0"),
    ("Wijkprofiel Rotterdam 2014-2024", "Gemeente Rotterdam, Onderzoek en Business Intelligence (OBI)",
     "dataset voor derden; bron vermelden"),
    ("Programmaregister stedelijke vernieuwing", "leefbaar, op basis van Kamerstukken, Platform31 en "
     "nieuwsbronnen (zie register)", "bronnen per programma"),
]

TEXT = {
    "nl": {
        "title": "Leefbaarheid in {name}", "subtitle": "Rapport voor gemeente {name} ({code})",
        "made": "Gemaakt op {date} met leefbaar {version}; scores: {spec}.",
        "official": "officiële Leefbaarometer-reeks", "summary": "Samenvatting",
        "summary_text": "In {year} ({kind}) heeft {name} {n} {level_label}-gebieden met een score. De "
                        "inwonergewogen gemiddelde afwijking is {mean} (Nederland {nl}). {insuff} van de inwoners "
                        "woont in een gebied met klasse 'zwak' of lager.",
        "map": "Kaart: klasse per gebied, {year}", "ranked": "Gebieden gerangschikt, {year}",
        "attention": "Gebieden die aandacht vragen", "attention_monitor": "Kwetsbare gebieden (analyse leefbaar "
        "monitor) met de redenen.", "attention_descriptive": "De kwetsbaarheidsanalyse (leefbaar monitor) is "
        "niet uitgevoerd voor deze store. Hieronder staan beschrijvend de gebieden met een score 'zwak' of "
        "lager, of met een (sterke) achteruitgang sinds de vorige meting.", "none": "Geen gebieden.",
        "trend": "Ontwikkeling", "trend_text": "Inwonergewogen gemiddelde afwijking van de gebieden in de gemeente "
        "en in Nederland per jaar, met de band P10-P90 van de gemeente.",
        "programmes": "Programma's in deze gemeente", "no_programmes": "Geen programma's of gebiedslijsten voor "
        "deze gemeente in de store.", "appendix": "Bijlage: methode en bronnen", "method": None,
        "sources_used": "Bestanden in de store", "credits": "Bronvermelding",
        "cols": {"rank": "rang", "rank_nl": "rang NL", "code": "code", "label": "gebied", "total": "score",
                 "afw": "afw", "klasse": "klasse", "klasse_label": "klasse (tekst)", "reason": "reden",
                 "kind": "soort", "programme": "programma", "period": "periode", "members": "PC4 in programma",
                 "touched": "PC4 geraakt", "members_nl": "PC4 in programma (heel NL)", "areas": "gebieden"},
        "low": "score {k} ({label})", "decline": "{dev} sinds {y0} ({delta})", "gemeente": "gemeente",
        "nederland": "Nederland", "band": "P10-P90 gemeente",
    },
    "en": {
        "title": "Livability in {name}", "subtitle": "Report for the municipality of {name} ({code})",
        "made": "Made on {date} with leefbaar {version}; scores: {spec}.",
        "official": "official Leefbaarometer series", "summary": "Summary",
        "summary_text": "In {year} ({kind}) {name} has {n} {level_label} areas with a score. The "
                        "population-weighted mean deviation is {mean} (Netherlands {nl}). {insuff} of the "
                        "inhabitants live in an area classed 'weak' or lower.",
        "map": "Map: class per area, {year}", "ranked": "Areas ranked, {year}",
        "attention": "Areas that need attention", "attention_monitor": "Vulnerable areas (leefbaar monitor) "
        "with the reasons.", "attention_descriptive": "The vulnerability analysis (leefbaar monitor) has not "
        "been run for this store. Listed descriptively: areas scoring 'weak' or lower, or with a (strong) "
        "decline since the previous measurement.", "none": "No areas.",
        "trend": "Trend", "trend_text": "Population-weighted mean deviation of the areas in the municipality and "
        "in the Netherlands per year, with the municipality's P10-P90 band.",
        "programmes": "Programmes in this municipality", "no_programmes": "No programmes or area lists for this "
        "municipality in the store.", "appendix": "Appendix: method and sources", "method": None,
        "sources_used": "Files in the store", "credits": "Credits",
        "cols": {"rank": "rank", "rank_nl": "rank NL", "code": "code", "label": "area", "total": "score",
                 "afw": "afw", "klasse": "class", "klasse_label": "class (text)", "reason": "reason",
                 "kind": "kind", "programme": "programme", "period": "period", "members": "PC4 in programme",
                 "touched": "PC4 touched", "members_nl": "PC4 in programme (all NL)", "areas": "areas"},
        "low": "score {k} ({label})", "decline": "{dev} since {y0} ({delta})", "gemeente": "municipality",
        "nederland": "Netherlands", "band": "P10-P90 municipality",
    },
}

METHOD_NL = [
    "Scores staan op de schaal van de Leefbaarometer 3: totaal = 4,102265 + afw, en afw = woningvoorraad + "
    "fysieke omgeving + voorzieningen + sociale samenhang + overlast en onveiligheid (scorepunten; hoger is "
    "beter).",
    "Klassen 1 (zeer onvoldoende) tot 9 (uitstekend) volgen vaste banden op afw (leefbaar.index.classes, "
    "afgeleid uit de officiële buurtklassen 2024). Ontwikkelingsklassen 1-7 vergelijken twee metingen.",
    "Gemeentelijke en landelijke referenties zijn naar inwoners gewogen gemiddelden van de gebieden (CBS "
    "inwoneraantallen van het dichtstbijzijnde jaar). Een PC4-gebied hoort bij de gemeente waarin het grootste "
    "deel van zijn oppervlak ligt (indeling 2022).",
    "Officiële punten komen rechtstreeks uit de Leefbaarometer en hebben geen interval; gemodelleerde punten "
    "(indien aanwezig) komen uit het indexmodel van leefbaar, met een {interval}%-interval. Het standaardjaar is "
    "het laatste jaar met officiële metingen.",
    "{not_classed}: zulke gebieden worden getoond maar niet geklasseerd, gerangschikt of als aandachtsgebied "
    "genoemd.",
    "{membership}",
]
METHOD_EN = [
    "Scores are on the Leefbaarometer 3 scale: total = 4.102265 + afw, and afw = housing stock + physical "
    "environment + amenities + social cohesion + nuisance and insecurity (score points; higher is better).",
    "Classes 1 (very insufficient) to 9 (excellent) are fixed bands on afw (leefbaar.index.classes, derived from "
    "the official 2024 buurt classes). Development classes 1-7 compare two measurements.",
    "Municipal and national references are population-weighted means of the areas (CBS inhabitants of the "
    "nearest year). A PC4 area belongs to the municipality holding the largest part of its surface (2022 "
    "division).",
    "Official points come straight from the Leefbaarometer and have no interval; modelled points (if any) come "
    "from leefbaar's index model, with a {interval}% interval. The default year is the latest year with official "
    "measurements.",
    "{not_classed}: such areas are shown but not classed, ranked or listed as needing attention.",
    "{membership}",
]
TEXT["nl"]["method"] = METHOD_NL
TEXT["en"]["method"] = METHOD_EN


@dataclass
class GemeenteReport:
    """What ``build_report`` wrote."""

    html: Path
    pdf: Path
    tables: list[Path] = field(default_factory=list)
    pages: int = 0


def _fmt(v, d: int = 3, lang: str = "nl", signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    s = f"{v:+.{d}f}" if signed else f"{v:.{d}f}"
    return s.replace(".", ",") if lang == "nl" else s


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


class _Content:
    """The report's numbers, tables and figures, shared by the HTML and PDF writers."""

    def __init__(self, data: DashboardData, gemeente: str, level: str, year: int | None, lang: str):
        self.data, self.lang, self.level, self.tx = data, lang, level, TEXT[lang]
        facts = self.facts = data.facts
        names = {g["code"]: g["name"] for g in facts.gemeenten}
        code = facts.gemeente_code(gemeente)
        self.code, self.name = code, names[code]
        years = data.score_years(level)
        if not years:
            raise InputError("store", f"the store holds no scores at level {level!r}")
        self.year = year if year is not None else facts.default_year(level)
        self.kind = facts.year_kinds(level).get(self.year)
        if self.year not in years:
            raise InputError("year", f"no scores for {level} in {self.year}; years: {', '.join(map(str, years))}")
        self.ranking = data.ranking(level, self.year, code)
        if self.ranking.empty:
            raise InputError("gemeente", f"{self.name} ({code}) has no {level} areas with scores in {self.year}")
        classed = self.ranking["classed"].to_numpy(bool)
        self.ranking.insert(0, "rank", pd.array(np.where(classed, np.cumsum(classed), 0), dtype="Int64"))
        self.ranking.loc[~classed, "rank"] = pd.NA
        not_classed = both("class.not_classed")[lang]
        self.ranking.loc[~classed, "klasse_label"] = not_classed
        self.refs = data.references(level, self.year, code)
        self.dist_gm = data.distribution(level, code)["years"]
        self.dist_nl = data.distribution(level)["years"]
        self.attention, self.attention_from_monitor = self._attention(years)
        self.programmes = self._programmes()

    def _attention(self, years: list[int]) -> tuple[pd.DataFrame, bool]:
        flagged = self.data.vulnerable_areas(self.level, self.code, self.lang)
        if flagged is not None:
            return flagged, True
        sc = self.data.scores(self.level)
        prev = [y for y in years if y < self.year]
        cur = self.ranking.set_index("code")
        rows = []
        before = sc[sc["year"] == prev[-1]].set_index("code")["afw"] if prev else pd.Series(dtype=float)
        labels = self.data.scheme.labels("total", self.lang)
        dev_labels = self.data.scheme.labels("development", self.lang)
        for code, r in cur.iterrows():
            if not r["classed"]:
                continue  # small-area rule: not listed
            reasons = []
            if r["klasse"] == r["klasse"] and r["klasse"] <= 4:
                reasons.append(self.tx["low"].format(k=int(r["klasse"]), label=labels[int(r["klasse"]) - 1]))
            if code in before.index and before[code] == before[code]:
                delta = r["afw"] - before[code]
                dev = int(development_class(delta))
                if dev <= 2:
                    reasons.append(self.tx["decline"].format(dev=dev_labels[dev - 1], y0=prev[-1],
                                                             delta=_fmt(delta, 3, self.lang, True)))
            if reasons:
                rows.append({"code": code, "label": r["label"], "total": r["total"], "klasse": r["klasse"],
                             "reason": "; ".join(reasons)})
        frame = pd.DataFrame(rows, columns=["code", "label", "total", "klasse", "reason"])
        return frame.assign(klasse=frame["klasse"].astype("Int64")), False

    def _programmes(self) -> pd.DataFrame:
        """Programmes with member or touched PC4 areas in this gemeente, by the facts layer's one rule: the
        members here (with names), the touched areas, and the programme's member count in the country."""
        m = self.facts.membership
        m = m[(m["level"] == self.level)]
        gm_of = self.facts.gemeente_of(self.level)
        here = m[m["code"].map(gm_of) == self.code]
        totals = self.facts.programme_counts(self.level)
        labels = self.facts.labels(self.level)
        rows = []
        for prog, g in here.groupby("programme"):
            members = g.loc[g["member"], "code"].sort_values()
            if members.empty and not g["touched"].any():
                continue
            reg = self.facts._registry.get(prog) if prog in self.facts._registry.ids() else None
            rows.append({"programme": self.facts.programme_name(prog, self.lang),
                         "period": reg.period() if reg else "", "members": int(len(members)),
                         "touched": int(g["touched"].sum()),
                         "members_nl": totals.get(prog, {}).get("members", 0),
                         "areas": "; ".join(labels.reindex(members).fillna(pd.Series(members.to_numpy(),
                                                                                      index=members)))})
        frame = pd.DataFrame(rows, columns=["programme", "period", "members", "touched", "members_nl", "areas"])
        return frame.rename(columns=self.tx["cols"])

    # -- figures ---------------------------------------------------------------------------------------
    def map_figure(self, size=(7.5, 7.5)):
        geo = self.data.store.geometries(self.level, crs=28992)
        geo = geo[geo["code"].isin(self.ranking["code"])].merge(self.ranking[["code", "klasse"]], on="code")
        # areas under the small-area rule have no class and are drawn grey (shown, not coloured as a class)
        fig, ax = plt.subplots(figsize=size)
        colors = [CLASS_COLORS[int(k) - 1] if k == k else "#d9d9d9" for k in geo["klasse"]]
        geo.plot(ax=ax, color=colors, edgecolor="white", linewidth=0.4)
        if "gemeente" in self.data.levels:
            gm = self.data.store.geometries("gemeente", crs=28992)
            gm[gm["code"] == self.code].boundary.plot(ax=ax, color="#333333", linewidth=1.0)
        for _, r in geo.iterrows():
            p = r.geometry.representative_point()
            ax.annotate(r["code"], (p.x, p.y), fontsize=5.5, ha="center", va="center", color="#222222")
        labels = self.data.scheme.labels("total", self.lang)
        present = sorted({int(k) for k in geo["klasse"] if k == k}, reverse=True)
        ax.legend(handles=[Patch(facecolor=CLASS_COLORS[k - 1], label=f"{k} {labels[k - 1]}") for k in present],
                  loc="lower left", fontsize=7, frameon=True)
        ax.set_axis_off()
        ax.set_title(self.tx["map"].format(year=self.year) + f" - {self.name}", fontsize=11)
        ax.set_aspect("equal")
        return fig

    def trend_figure(self, size=(7.5, 3.6)):
        fig, ax = plt.subplots(figsize=size)
        gm = pd.DataFrame(self.dist_gm)
        nl = pd.DataFrame(self.dist_nl)
        ax.fill_between(gm["year"], gm["p10"], gm["p90"], color="#1f4e9e", alpha=0.15, label=self.tx["band"])
        ax.plot(gm["year"], gm["mean"], "-", color="#1f4e9e", label=f"{self.tx['gemeente']} {self.name}")
        ax.plot(nl["year"], nl["mean"], "--", color="#7a7a7a", label=self.tx["nederland"])
        # official years filled, modelled (or partly modelled) years open: the kind is never hidden
        kinds = self.facts.year_kinds(self.level)
        for frame, marker, color in ((gm, "o", "#1f4e9e"), (nl, "s", "#7a7a7a")):
            off = frame["year"].map(lambda y: kinds.get(int(y)) == "official").to_numpy(bool)
            ax.plot(frame["year"][off], frame["mean"][off], marker, color=color, linestyle="none")
            ax.plot(frame["year"][~off], frame["mean"][~off], marker, color=color, markerfacecolor="white",
                    linestyle="none")
        ax.plot([], [], "o", color="#555555", markerfacecolor="white",
                label=(self.facts.kind_label("modelled") or {}).get(self.lang, "modelled"))
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.set_ylabel("afw")
        ax.set_xticks(gm["year"], [str(y) for y in gm["year"]], fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        ax.set_title(self.tx["trend"], fontsize=11)
        return fig

    def dims_figure(self):
        fig, ax = plt.subplots(figsize=(7.5, 3.2))
        labels = [DIMENSION_LABELS[d][self.lang] for d in DIMENSIONS]
        gm = [self.refs["gemeente"][d] if self.refs["gemeente"] else None for d in DIMENSIONS]
        nl = [self.refs["nederland"][d] if self.refs["nederland"] else None for d in DIMENSIONS]
        y = np.arange(len(DIMENSIONS))
        ax.barh(y - 0.18, [v if v is not None else 0 for v in gm], 0.36, color="#e08214",
                label=f"{self.tx['gemeente']} {self.name}")
        ax.barh(y + 0.18, [v if v is not None else 0 for v in nl], 0.36, color="#7a7a7a", label=self.tx["nederland"])
        ax.set_yticks(y, labels, fontsize=8)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.invert_yaxis()
        ax.legend(fontsize=7)
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(f"{'Dimensies' if self.lang == 'nl' else 'Dimensions'} (afw) {self.year}", fontsize=11)
        return fig

    # -- text ------------------------------------------------------------------------------------------
    def summary(self) -> str:
        last = next((r for r in self.dist_gm if r["year"] == self.year), None)
        nl = self.refs["nederland"]
        kind = (self.facts.kind_label(self.kind) or {}).get(self.lang, self.kind or "")
        return self.tx["summary_text"].format(
            year=self.year, kind=kind, name=self.name, n=len(self.ranking), level_label=self.level.upper()
            if self.level == "pc4" else self.level, mean=_fmt(self.refs["gemeente"]["afw"], 3, self.lang, True),
            nl=_fmt(nl["afw"], 3, self.lang, True),
            insuff=f"{100 * last['share_insufficient']:.1f}%".replace(".", "," if self.lang == "nl" else ".")
            if last else "–")

    def ranked_table(self) -> pd.DataFrame:
        c = self.tx["cols"]
        t = self.ranking[["rank", "rank_nl", "code", "label", "kind", "total", "afw", *DIMENSIONS, "klasse",
                          "klasse_label"]]
        t = t.assign(klasse=t["klasse"].astype("Int64"), kind=[(self.facts.kind_label(k) or {}).get(
            self.lang, k) for k in t["kind"]])
        if self.lang == "en":
            labels = self.data.scheme.labels("total", "en")
            t = t.assign(klasse_label=[labels[int(k) - 1] if k == k else both("class.not_classed")["en"]
                                       for k in t["klasse"]])
        return t.rename(columns={k: c.get(k, k) for k in t.columns})

    def method(self) -> list[str]:
        """The method paragraphs with the facts layer's settings: interval level, small-area and membership
        rules."""
        r = self.facts.rules
        values = {"interval": self.facts.interval_level, "membership": self.facts.membership_rule()[self.lang],
                  "not_classed": both("class.not_classed.reason", min_residents=int(r.min_residents),
                                      min_dwellings=int(r.min_dwellings))[self.lang].capitalize()}
        return [p.format(**values) for p in self.tx["method"]]

    def spec_text(self) -> str:
        return self.data.spec or self.tx["official"]


def build_report(store_path: str | Path, gemeente: str, out: str | Path, lang: str = "nl", level: str = "pc4",
                 year: int | None = None) -> GemeenteReport:
    """Write ``report_<code>.html``, ``report_<code>.pdf`` and the report's tables (CSV) into ``out``."""
    if lang not in TEXT:
        raise InputError("--lang", f"unknown language {lang!r}; use nl or en")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Store.open(store_path) as store:
        data = DashboardData(store)
        c = _Content(data, gemeente, level, year, lang)
        figs = {"map": c.map_figure(), "dims": c.dims_figure(), "trend": c.trend_figure()}
        svgs = {k: _svg(f) for k, f in figs.items()}
        sources = data.sources()
        ranked = c.ranked_table()
        tables = []
        for name, frame in (("ranking", ranked), ("attention", c.attention), ("programmes", c.programmes),
                            ("trend", pd.DataFrame(c.dist_gm).drop(columns=["classes"], errors="ignore"))):
            path = out / f"report_{c.code}_{name}.csv"
            frame.to_csv(path, index=False)
            tables.append(path)
        ctx = {"tx": c.tx, "lang": lang, "name": c.name, "code": c.code, "year": c.year, "svgs": svgs,
               "made": c.tx["made"].format(date=date.today().isoformat(), version=__version__, spec=c.spec_text()),
               "summary": c.summary(), "ranked": ranked, "method": c.method(), "attention": c.attention,
               "attention_note": c.tx["attention_monitor"] if c.attention_from_monitor
               else c.tx["attention_descriptive"], "programmes": c.programmes, "credits": CREDITS,
               "sources": sources, "fmt": lambda v, d=3: _fmt(v, d, lang) if isinstance(v, float) else ("–" if v is None
                                                                                                        else v)}
        env = Environment(loader=PackageLoader("leefbaar.report", "templates"), autoescape=select_autoescape())
        html_path = out / f"report_{c.code}.html"
        html_path.write_text(env.get_template("gemeente.html").render(**ctx), encoding="utf-8")
        pdf_path = out / f"report_{c.code}.pdf"
        pages = _write_pdf(pdf_path, c, ranked, sources)
        for f in figs.values():
            plt.close(f)
    return GemeenteReport(html_path, pdf_path, tables, pages)


def _text_page(pdf: PdfPages, title: str, paragraphs: list[str], size=(8.27, 11.69)) -> int:
    """Pages of wrapped text (A4 portrait); returns the number written."""
    lines = []
    for p in paragraphs:
        lines += textwrap.wrap(p, 95) or [""]
        lines.append("")
    per_page, n = 62, 0
    for start in range(0, max(len(lines), 1), per_page):
        fig = plt.figure(figsize=size)
        fig.text(0.07, 0.95, title, fontsize=14, weight="bold", va="top")
        fig.text(0.07, 0.91, "\n".join(lines[start:start + per_page]), fontsize=8.5, va="top", family="DejaVu Sans")
        pdf.savefig(fig)
        plt.close(fig)
        n += 1
    return n


def _table_pages(pdf: PdfPages, title: str, frame: pd.DataFrame, lang: str, rows_per_page: int = 32) -> int:
    if frame.empty:
        return _text_page(pdf, title, [TEXT[lang]["none"]])
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = [_fmt(v, 3, lang) for v in shown[col]]
    shown = shown.astype(str).apply(lambda s: s.str.slice(0, 60))
    n = 0
    for start in range(0, len(shown), rows_per_page):
        part = shown.iloc[start:start + rows_per_page]
        fig = plt.figure(figsize=(11.69, 8.27))
        fig.text(0.04, 0.96, f"{title} ({start + 1}-{start + len(part)} / {len(shown)})", fontsize=12, weight="bold",
                 va="top")
        ax = fig.add_axes([0.03, 0.03, 0.94, 0.88])
        ax.set_axis_off()
        height = (len(part) + 1) / (rows_per_page + 1)
        tab = ax.table(cellText=part.to_numpy(), colLabels=list(part.columns), cellLoc="left",
                       bbox=[0, 1 - height, 1, height])
        tab.auto_set_font_size(False)
        tab.set_fontsize(7.5)
        widths = np.array([max(len(str(x)) for x in [col, *part[col]]) for col in part.columns], float) + 2
        for (row, col), cell in tab.get_celld().items():
            cell.set_width(widths[col] / widths.sum())
            if row == 0:
                cell.set_facecolor("#eef2f6")
                cell.set_text_props(weight="bold")
        pdf.savefig(fig)
        plt.close(fig)
        n += 1
    return n


def _write_pdf(path: Path, c: _Content, ranked: pd.DataFrame, sources: pd.DataFrame) -> int:
    """The PDF: summary page, map, trend, ranked areas, areas needing attention, programmes, appendix."""
    tx = c.tx
    meta = {"Title": tx["title"].format(name=c.name), "Creator": f"leefbaar {__version__}"}
    with PdfPages(path, metadata=meta) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.text(0.07, 0.93, tx["title"].format(name=c.name), fontsize=20, weight="bold", va="top")
        fig.text(0.07, 0.89, tx["subtitle"].format(name=c.name, code=c.code), fontsize=12, va="top")
        fig.text(0.07, 0.86, tx["made"].format(date=date.today().isoformat(), version=__version__,
                                                spec=c.spec_text()), fontsize=8, va="top", color="#444444")
        fig.text(0.07, 0.82, tx["summary"], fontsize=13, weight="bold", va="top")
        fig.text(0.07, 0.79, "\n".join(textwrap.wrap(c.summary(), 90)), fontsize=10, va="top")
        ax = fig.add_axes([0.25, 0.38, 0.68, 0.3])
        labels = [DIMENSION_LABELS[d][c.lang] for d in DIMENSIONS]
        gm = [c.refs["gemeente"][d] or 0 for d in DIMENSIONS]
        nl = [c.refs["nederland"][d] or 0 for d in DIMENSIONS]
        y = np.arange(len(DIMENSIONS))
        ax.barh(y - 0.18, gm, 0.36, color="#e08214", label=f"{tx['gemeente']} {c.name}")
        ax.barh(y + 0.18, nl, 0.36, color="#7a7a7a", label=tx["nederland"])
        ax.set_yticks(y, labels, fontsize=8)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.invert_yaxis()
        ax.legend(fontsize=7)
        ax.set_title(f"afw {c.year}", fontsize=10)
        pdf.savefig(fig)
        plt.close(fig)
        pages = 1
        for fig in (c.map_figure((11.69, 8.27)), c.trend_figure((11.69, 8.27))):
            pdf.savefig(fig)
            plt.close(fig)
            pages += 1
        pages += _table_pages(pdf, tx["ranked"].format(year=c.year), ranked, c.lang)
        att = c.attention.rename(columns=tx["cols"]) if not c.attention_from_monitor else c.attention
        pages += _table_pages(pdf, tx["attention"], att, c.lang)
        pages += _table_pages(pdf, tx["programmes"], c.programmes, c.lang)
        paragraphs = [*c.method(), "", tx["credits"] + ":"]
        paragraphs += [f"- {what}: {who} ({lic})" for what, who, lic in CREDITS]
        paragraphs += ["", tx["sources_used"] + ":"]
        paragraphs += [f"- {r.publisher} ({r.licence}): {r.files} files - {r.families}" for r in sources.itertuples()]
        pages += _text_page(pdf, tx["appendix"], paragraphs)
    return pages
