"""Perception next to facts: where residents judge their area worse, or better, than objective figures say.

Two yardsticks for the objective side:

- the Wijkprofiel's own objective part, per index (SI, FI, VI) and per theme measured on both sides. The
  ``gap`` is subjective minus objective in Wijkprofiel points (both parts have 100 = Rotterdam 2014): negative
  means residents judge their area worse than the registers do. ``gap_residual`` is the subjective score minus
  the score the objective part predicts from a least-squares line over the neighbourhoods of the same edition
  (wijk, deelwijk, wijkcombinatie): it removes the citywide difference in level and spread between the parts.
- the Leefbaarometer 2024 per CBS buurt: the Wijkprofiel safety index (VI and its parts) against the
  dimension ``onv`` (overlast en onveiligheid), and SI/FI against ``soc``/``fys``, for the Wijkprofiel areas
  that are one CBS buurt or a union of buurten (inhabitant-weighted mean of the scored buurten, if they hold
  90 % of the inhabitants; buurten shared by two Wijkprofiel areas are left out).

Stored survey scores (``leefbaar survey import``) whose items carry a Leefbaarometer dimension are set against
that dimension in the same areas in the same way (standardised gap).

``perception_report(store)`` computes all tables; ``write_perception(report, out, lang)`` writes CSV tables,
PNG charts and a summary (Dutch, or English with ``lang='en'``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leefbaar.analysis.survey import survey_scores
from leefbaar.analysis.wijkprofiel import (
    DIMENSIONS,
    NEIGHBOURHOOD_TYPES,
    Reproduction,
    reproduce,
    wijkprofiel_frame,
    wijkprofiel_link,
)
from leefbaar.errors import StoreError
from leefbaar.i18n import N_, check_lang, fmt_number, fmt_scientific, translator
from leefbaar.index.classes import classify_total, load_scheme
from leefbaar.store.store import Store

LBM_PAIRS = (("VI", "onv"), ("VIs", "onv"), ("VIo", "onv"), ("SI", "soc"), ("FI", "fys"))
"""Wijkprofiel score against Leefbaarometer dimension; the first pair is the headline comparison."""
MIN_SCORED_SHARE = 0.9
"""A Wijkprofiel area made of several buurten is compared when the buurten with an LBM score hold at least this
share of its inhabitants (the LBM leaves sparsely populated buurten unscored)."""
LBM_LABELS = {"onv": ("overlast en onveiligheid", "nuisance and insecurity"),
              "soc": ("sociale samenhang", "social cohesion"),
              "fys": ("fysieke omgeving", "physical environment"),
              "won": ("woningvoorraad", "housing stock"), "vrz": ("voorzieningen", "amenities"),
              "afw": ("totaal (afwijking)", "total (deviation)")}


def _years(store: Store, level: str, indicator: str) -> list[int]:
    """Years with observations of ``indicator`` at ``level``, ascending."""
    return store.sql("SELECT DISTINCT year FROM observations WHERE level = ? AND indicator = ? ORDER BY year",
                     [level, indicator])["year"].tolist()


def _fit_line(x: pd.Series, y: pd.Series) -> tuple[float, float]:
    """Least-squares intercept and slope of y on x (NaN when fewer than 3 pairs or no spread in x)."""
    ok = x.notna() & y.notna()
    if ok.sum() < 3 or x[ok].std() == 0:
        return np.nan, np.nan
    slope, intercept = np.polyfit(x[ok].to_numpy(float), y[ok].to_numpy(float), 1)
    return float(intercept), float(slope)


def perception_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Subjective against objective per area, edition, dimension and theme (``wijkprofiel_frame`` input).

    Columns: code, name, area_type, year, dimension, theme (``index`` for the two parts of the index),
    label_nl, label_en, subjective, objective, gap (points), gap_residual (points), rank (1 = residents
    most negative relative to the figures, among the neighbourhoods of that edition; gebieden ranked among
    themselves; the city is not ranked) and rank_residual likewise.
    """
    pairs = []
    for d in DIMENSIONS:
        pairs.append((d.key, "index", d.label_nl, d.label_en, d.subjective, d.objective))
        pairs += [(d.key, t.name, t.label_nl, t.label_en, t.subjective, t.objective) for t in d.themes]
    parts = []
    for dim, theme, nl, en, s, o in pairs:
        parts.append(frame[["code", "name", "area_type", "year"]].assign(
            dimension=dim, theme=theme, label_nl=nl, label_en=en, subjective=frame[s], objective=frame[o]))
    out = pd.concat(parts, ignore_index=True)
    out["gap"] = out["subjective"] - out["objective"]
    out["group"] = np.where(out["area_type"].isin(NEIGHBOURHOOD_TYPES), "buurt",
                            np.where(out["area_type"] == "gebied", "gebied", "stad"))
    out["gap_residual"] = np.nan
    for idx in out.groupby(["year", "dimension", "theme"]).groups.values():
        g = out.loc[idx]
        fit = g[g["group"] == "buurt"]
        a, b = _fit_line(fit["objective"], fit["subjective"])
        out.loc[idx, "gap_residual"] = g["subjective"] - (a + b * g["objective"])
    ranked = out["group"] != "stad"
    keys = [out["group"], out["year"], out["dimension"], out["theme"]]
    out["rank"] = out["gap"].where(ranked).groupby(keys).rank(method="min").astype("Int64")
    out["rank_residual"] = out["gap_residual"].where(ranked).groupby(keys).rank(method="min").astype("Int64")
    return out.drop(columns="group").sort_values(["year", "dimension", "theme", "rank", "code"],
                                                 ignore_index=True)


@dataclass
class LbmComparison:
    """Wijkprofiel scores against Leefbaarometer buurt dimensions.

    ``areas``: one row per Wijkprofiel area with a buurt match (code, name, relation, scored buurten,
    their inhabitants and share of the area's inhabitants,
    the Wijkprofiel scores of ``edition`` and the LBM dimensions of ``lbm_year``), plus for the headline pair
    (VI vs onv) the ranks, the rank difference and ``vi_residual`` / ``vis_residual``: VI (VIs) minus the
    value the line over all matched areas predicts from onv (negative = residents feel less safe than the
    Leefbaarometer's onv suggests). ``stats``: per pair n, Pearson r and Spearman rho.
    """

    areas: pd.DataFrame
    stats: pd.DataFrame
    edition: int
    lbm_year: int
    lines: dict[str, tuple[float, float]] = field(default_factory=dict)


def lbm_comparison(store: Store, edition: int | None = None, lbm_year: int | None = None) -> LbmComparison:
    """Match Wijkprofiel areas to CBS buurten (table ``wijkprofiel_cbs``) and compare with the LBM."""
    link = wijkprofiel_link(store)
    if link is None:
        raise StoreError("the store holds no link from Wijkprofiel areas to CBS codes (wijkprofiel_cbs)")
    link = link[(link["cbs_level"] == "buurt") & link["relation"].isin(["equal", "union"])]
    years = _years(store, "buurt", "lbm_onv")
    if not years:
        raise StoreError("the store holds no Leefbaarometer buurt scores (lbm_onv at level buurt)")
    lbm_year = lbm_year or years[-1]
    dims = sorted({d for _, d in LBM_PAIRS} | {"afw"})
    lbm = store.table("buurt", years=[lbm_year], indicators=[f"lbm_{d}" for d in dims] + ["inwoner"])
    lbm = lbm.rename(columns={f"lbm_{d}": d for d in dims})
    m = link.merge(lbm, left_on="cbs_code", right_on="code", suffixes=("", "_bu"), how="left")
    m["w"] = m["inwoner"].fillna(0.0)
    m["scored"] = m[dims[0]].notna()
    total = m.groupby("code")["w"].transform("sum")
    share = (m["w"] * m["scored"]).groupby(m["code"]).transform("sum") / total.where(total > 0)
    share = share.fillna(m.groupby("code")["scored"].transform("mean"))
    m = m[(share >= MIN_SCORED_SHARE) & m["scored"]].assign(scored_share=share)
    w = m["w"].where(m.groupby("code")["w"].transform("sum") > 0, 1.0)
    agg = m.assign(**{d: m[d] * w for d in dims}, w=w).groupby("code").agg(
        {**{d: "sum" for d in dims}, "w": "sum", "cbs_code": ";".join, "relation": "first", "inwoner": "sum",
         "scored_share": "first"})
    for d in dims:
        agg[d] = agg[d] / agg["w"]
    agg = agg.drop(columns="w").rename(columns={"cbs_code": "buurten", "inwoner": "inwoners"}).reset_index()
    wp = wijkprofiel_frame(store)
    editions = sorted(wp["year"].unique())
    edition = edition or int(editions[-1])
    if edition not in editions:
        raise StoreError(f"no Wijkprofiel edition {edition}; editions: {', '.join(map(str, editions))}")
    codes = sorted({c for c, _ in LBM_PAIRS})
    wp = wp[wp["year"] == edition][["code", "name", "area_type", *codes]]
    areas = wp.merge(agg, on="code", how="inner")
    stats, lines = [], {}
    for c, d in LBM_PAIRS:
        ok = areas[[c, d]].dropna()
        stats.append({"wijkprofiel": c, "lbm": d, "n": len(ok), "pearson_r": ok[c].corr(ok[d]),
                      "spearman_rho": ok[c].rank().corr(ok[d].rank())})
        lines[f"{c}~{d}"] = _fit_line(areas[d], areas[c])
    for c in ("VI", "VIs"):
        a, b = lines[f"{c}~onv"]
        areas[f"{c.lower()}_residual"] = areas[c] - (a + b * areas["onv"])
    areas["rank_vi"] = areas["VI"].rank(ascending=False, method="min").astype("Int64")
    areas["rank_onv"] = areas["onv"].rank(ascending=False, method="min").astype("Int64")
    areas["rank_difference"] = areas["rank_vi"] - areas["rank_onv"]
    areas = areas.sort_values("vis_residual", ignore_index=True)
    return LbmComparison(areas, pd.DataFrame(stats), edition, int(lbm_year), lines)


def survey_vs_lbm(store: Store) -> pd.DataFrame:
    """Stored survey items tagged with a Leefbaarometer dimension against that dimension in the same areas.

    The LBM year is the survey year when the store has it at that level, else the nearest LBM year. Per
    item: z-scores over the matched areas of both sides and ``gap_z`` = z(subjective) - z(objective)
    (negative = residents more negative than the LBM dimension suggests), with the Pearson r per item.
    """
    scores = survey_scores(store)
    scores = scores[scores["lbm_dimension"].notna()]
    out = []
    for (sid, level, item, dim), g in scores.groupby(["survey_id", "level", "item", "lbm_dimension"]):
        have = np.array(_years(store, level, f"lbm_{dim}"))
        if not len(have):
            continue
        for year, gy in g.groupby("year"):
            lbm_year = int(have[np.argmin(np.abs(have - year))])
            obj = store.table(level, years=[lbm_year], indicators=[f"lbm_{dim}"])
            m = gy.merge(obj.rename(columns={f"lbm_{dim}": "objective"}), on="code", suffixes=("", "_lbm"))
            m = m.dropna(subset=["value", "objective"])
            if len(m) < 3:
                continue
            z_s = (m["value"] - m["value"].mean()) / m["value"].std()
            z_o = (m["objective"] - m["objective"].mean()) / m["objective"].std()
            out.append(pd.DataFrame({
                "survey_id": sid, "level": level, "code": m["code"], "year": year, "item": item,
                "lbm_dimension": dim, "lbm_year": lbm_year, "subjective": m["value"], "n": m["n"],
                "objective": m["objective"], "gap_z": z_s - z_o, "pearson_r": m["value"].corr(m["objective"]),
            }))
    cols = ["survey_id", "level", "code", "year", "item", "lbm_dimension", "lbm_year", "subjective", "n",
            "objective", "gap_z", "pearson_r"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


@dataclass
class PerceptionReport:
    """All perception tables: ``gaps`` (every area, edition, dimension, theme), ``lbm`` (LbmComparison or
    None), ``survey`` (survey items against the LBM; may be empty), ``largest`` (the largest index-level
    gaps among neighbourhoods, all editions) and ``reproduction`` (the Wijkprofiel index mode recomputed
    from the published parts)."""

    gaps: pd.DataFrame
    lbm: LbmComparison | None
    survey: pd.DataFrame
    largest: pd.DataFrame
    editions: list[int]
    reproduction: Reproduction
    notes: list[str] = field(default_factory=list)


def perception_report(store: Store, top: int = 10) -> PerceptionReport:
    """Compute the perception tables from the store (Wijkprofiel required; LBM and surveys when present)."""
    frame = wijkprofiel_frame(store)
    gaps = perception_gaps(frame)
    notes = []
    try:
        lbm = lbm_comparison(store)
    except StoreError as exc:
        lbm, notes = None, [str(exc)]
    idx = gaps[(gaps["theme"] == "index") & gaps["area_type"].isin(NEIGHBOURHOOD_TYPES)]
    largest = idx.reindex(idx["gap"].abs().sort_values(ascending=False).index).head(top)
    return PerceptionReport(gaps, lbm, survey_vs_lbm(store), largest.reset_index(drop=True),
                            sorted(int(y) for y in gaps["year"].unique()), reproduce(frame), notes)


def lbm_buurt_layer(store: Store, year: int | None = None, crs: int = 4326, lang: str = "nl"):
    """The national Leefbaarometer buurt layer for a map: GeoDataFrame with code, name, gemeente_code, afw,
    the five dimensions, the official classes (``lbm_klasse`` ...) and ``klasse_label`` of the total class.
    Latest LBM buurt year by default; geometries of the same vintage (scored buurten only)."""
    years = _years(store, "buurt", "lbm_afw")
    if not years:
        raise StoreError("the store holds no Leefbaarometer buurt scores")
    year = year or years[-1]
    dims = ["won", "fys", "vrz", "soc", "onv"]
    ids = ["lbm_afw", *[f"lbm_{d}" for d in dims], "lbm_klasse", "lbm_klasse_afw",
           *[f"lbm_klasse_{d}" for d in dims]]
    scores = store.table("buurt", years=[year], indicators=ids).dropna(subset=["lbm_afw"])
    geo = store.geometries("buurt", vintage=year, crs=crs)
    areas = store.areas("buurt", year)[["code", "name", "gemeente_code"]]
    layer = geo.merge(areas, on="code", how="left").merge(scores, on="code", how="inner")
    labels = load_scheme().labels("total", lang)
    klasse = layer["lbm_klasse"].astype("Int64")
    layer["klasse_label"] = klasse.map(lambda k: labels[int(k) - 1] if pd.notna(k) else None)
    layer["klasse_check"] = classify_total(layer["lbm_afw"])
    return layer.drop(columns=["vintage"])


# -- output -----------------------------------------------------------------------------------------------
TEXT = {
    "title": N_("Perception next to facts: Rotterdam Wijkprofiel"),
    "intro": N_("Gap = subjective minus objective part, in Wijkprofiel points (100 = Rotterdam 2014). Negative: "
                "residents judge worse than the register figures; positive: better."),
    "largest": N_("Largest gaps between perception and facts (neighbourhoods, all editions)"),
    "worse": N_("worse"), "better": N_("better"),
    "edition": N_("Edition {e}: neighbourhoods judging most negatively"),
    "lbm": N_("Safety index (Wijkprofiel {e}) against Leefbaarometer {y}, nuisance and insecurity"),
    "lbm_stats": N_("{n} areas matched to CBS buurten; r = {r}, Spearman rho = {rho}."),
    "lbm_worse": N_("Residents feel less safe than the Leefbaarometer (onv) suggests"),
    "survey": N_("Own survey against Leefbaarometer dimension"),
    "repro": N_("Wijkprofiel index mode"),
    "repro_text": N_("SI, FI and VI = mean of subjective and objective part, parts = mean of their themes: {n} "
                     "checks, largest absolute difference {d}, {v}."),
    "within": N_("all within the published rounding (10 significant digits)"),
    "outside": N_("NOT all within the published rounding"), "judgement": N_("judgement"),
    "files": N_("Files"),
    "area": N_("area"), "dimension": N_("dimension"), "year": N_("edition"), "subj": N_("subjective"),
    "obj": N_("objective"), "gap": N_("gap"),
}
"""The texts of the perception report (msgids; :func:`_texts` translates them)."""


def _texts(lang: str) -> dict[str, str]:
    """:data:`TEXT` in ``lang``."""
    _ = translator(lang)
    return {k: _(v) for k, v in TEXT.items()}


def _md_table(frame: pd.DataFrame, lang: str) -> str:
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else fmt_number(v, lang, 1 if abs(v) >= 10 else 2)
        return str(v)
    head = "| " + " | ".join(map(str, frame.columns)) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = ("| " + " | ".join(cell(v) for v in r) + " |\n" for r in frame.itertuples(index=False))
    return head + "".join(body)


def _plot_parts(gaps: pd.DataFrame, edition: int, lang: str, path: Path) -> None:
    t = _texts(lang)
    fig = Figure(figsize=(15, 5))
    axes = fig.subplots(1, 3)
    for ax, d in zip(axes, DIMENSIONS, strict=True):
        g = gaps[(gaps["year"] == edition) & (gaps["dimension"] == d.key) & (gaps["theme"] == "index")
                 & gaps["area_type"].isin(NEIGHBOURHOOD_TYPES)]
        ax.scatter(g["objective"], g["subjective"], s=18, c=np.where(g["gap"] < 0, "#c0392b", "#2471a3"))
        lo = np.nanmin([g["objective"].min(), g["subjective"].min()]) - 5
        hi = np.nanmax([g["objective"].max(), g["subjective"].max()]) + 5
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
        for r in g.reindex(g["gap"].abs().sort_values(ascending=False).index).head(4).itertuples():
            ax.annotate(r.name, (r.objective, r.subjective), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_title(f"{d.label(lang)} ({d.index}), {edition}")
        ax.set_xlabel(f"{t['obj']} ({d.objective})")
        ax.set_ylabel(f"{t['subj']} ({d.subjective})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_ranking(gaps: pd.DataFrame, edition: int, lang: str, path: Path, top: int) -> None:
    fig = Figure(figsize=(16, 0.35 * 2 * top + 1.5))
    axes = fig.subplots(1, 3)
    for ax, d in zip(axes, DIMENSIONS, strict=True):
        g = gaps[(gaps["year"] == edition) & (gaps["dimension"] == d.key) & (gaps["theme"] == "index")
                 & gaps["area_type"].isin(NEIGHBOURHOOD_TYPES)].sort_values("gap")
        g = pd.concat([g.head(top), g.tail(top)]).drop_duplicates("code")
        ax.barh(g["name"], g["gap"], color=np.where(g["gap"] < 0, "#c0392b", "#2471a3"))
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(f"{d.label(lang)}, {edition}")
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlabel(_texts(lang)["gap"] + " (" + d.subjective + " - " + d.objective + ")")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_city(gaps: pd.DataFrame, lang: str, path: Path) -> None:
    city = gaps[(gaps["area_type"] == "stad") & (gaps["theme"] == "index")]
    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, d in zip(axes, DIMENSIONS, strict=True):
        g = city[city["dimension"] == d.key].sort_values("year")
        ax.plot(g["year"], g["subjective"], marker="o", label=_texts(lang)["subj"])
        ax.plot(g["year"], g["objective"], marker="s", label=_texts(lang)["obj"])
        ax.axhline(100, color="grey", lw=0.6, ls=":")
        ax.set_title(f"Rotterdam: {d.label(lang)}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_lbm(cmp: LbmComparison, lang: str, path: Path) -> None:
    a = cmp.areas
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    for col, marker, label in (("VI", "o", "VI"), ("VIs", "^", "VIs"), ("VIo", "s", "VIo")):
        ax.scatter(a["onv"], a[col], s=16, marker=marker, label=label, alpha=0.7)
        icpt, slope = cmp.lines[f"{col}~onv"]
        xs = np.linspace(a["onv"].min(), a["onv"].max(), 10)
        ax.plot(xs, icpt + slope * xs, lw=0.8)
    for r in a.head(4).itertuples():
        ax.annotate(r.name, (r.onv, r.VIs), fontsize=7, xytext=(3, -8), textcoords="offset points")
    nl, en = LBM_LABELS["onv"]
    ax.set_xlabel(f"Leefbaarometer {cmp.lbm_year}: {en if lang == 'en' else nl} (onv)")
    ax.set_ylabel(f"Wijkprofiel {cmp.edition} (100 = Rotterdam 2014)")
    ax.set_title(_texts(lang)["lbm"].format(e=cmp.edition, y=cmp.lbm_year), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_perception(report: PerceptionReport, out: Path, lang: str = "nl", top: int = 10) -> list[Path]:
    """Write the tables (CSV), charts (PNG) and ``summary.md`` to ``out``; returns the files written."""
    t = _texts(check_lang(lang))
    out.mkdir(parents=True, exist_ok=True)
    files = []

    def csv(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(out / name, index=False)
        files.append(out / name)

    label = "label_en" if lang == "en" else "label_nl"
    csv(report.gaps, "perception_gaps.csv")
    ranked = report.gaps[report.gaps["rank"].notna() & report.gaps["area_type"].isin(NEIGHBOURHOOD_TYPES)]
    csv(ranked.sort_values(["year", "dimension", "theme", "rank"]), "perception_ranked.csv")
    latest = report.editions[-1]
    for name, fn in (("chart_parts.png", lambda p: _plot_parts(report.gaps, latest, lang, p)),
                     ("chart_ranking.png", lambda p: _plot_ranking(report.gaps, latest, lang, p, top)),
                     ("chart_city.png", lambda p: _plot_city(report.gaps, lang, p))):
        fn(out / name)
        files.append(out / name)
    lines = [f"# {t['title']}", "", t["intro"], "", f"## {t['largest']}", ""]
    big = report.largest.assign(judgement=np.where(report.largest["gap"] < 0, t["worse"], t["better"]))
    lines.append(_md_table(big[["name", "year", label, "subjective", "objective", "gap", "judgement"]].rename(
        columns={"name": t["area"], "year": t["year"], label: t["dimension"], "subjective": t["subj"],
                 "objective": t["obj"], "gap": t["gap"], "judgement": t["judgement"]}), lang))
    idx = ranked[(ranked["year"] == latest) & (ranked["theme"] == "index")]
    lines += [f"## {t['edition'].format(e=latest)}", ""]
    worst = idx.sort_values("rank").groupby("dimension", sort=False).head(3)
    lines.append(_md_table(worst[[label, "rank", "name", "subjective", "objective", "gap"]].rename(
        columns={label: t["dimension"], "name": t["area"], "subjective": t["subj"], "objective": t["obj"],
                 "gap": t["gap"]}), lang))
    if report.lbm is not None:
        cmp = report.lbm
        csv(cmp.areas, "safety_vs_lbm.csv")
        csv(cmp.stats, "safety_vs_lbm_stats.csv")
        _plot_lbm(cmp, lang, out / "chart_safety_vs_lbm.png")
        files.append(out / "chart_safety_vs_lbm.png")
        head = cmp.stats.iloc[0]
        lines += [f"## {t['lbm'].format(e=cmp.edition, y=cmp.lbm_year)}", "",
                  t["lbm_stats"].format(n=fmt_number(head["n"], lang, 0), r=fmt_number(head["pearson_r"], lang, 2),
                                        rho=fmt_number(head["spearman_rho"], lang, 2)), "",
                  _md_table(cmp.stats, lang), f"### {t['lbm_worse']}", "",
                  _md_table(cmp.areas.head(5)[["name", "VI", "VIs", "VIo", "onv", "vis_residual"]].assign(
                      onv=lambda f: f["onv"] * 100).rename(columns={"onv": "onv x100"}), lang)]
    if len(report.survey):
        csv(report.survey, "survey_vs_lbm.csv")
        per_item = report.survey.groupby(["survey_id", "item", "lbm_dimension"], as_index=False).agg(
            areas=("code", "size"), pearson_r=("pearson_r", "first"))
        lines += [f"## {t['survey']}", "", _md_table(per_item, lang)]
    rep = report.reproduction
    csv(rep.table, "wijkprofiel_reproduction.csv")
    lines += [f"## {t['repro']}", "", t["repro_text"].format(
        n=rep.n_checked, d=fmt_scientific(max(rep.max_abs_diff.values()), lang),
        v=t["within"] if rep.all_within_rounding else t["outside"]), ""]
    lines += [*(f"- {n}" for n in report.notes), "", f"## {t['files']}", "",
              *(f"- {f.name}" for f in files)]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files.append(out / "summary.md")
    return files
