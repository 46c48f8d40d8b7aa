"""Monitoring commands: trends, gap, vulnerable, clusters.

Each reads the store (``--store``), writes CSV tables, PNG/SVG charts or PNG maps, ``summary.md`` (Dutch, or
English with ``--lang en``) and ``run.json`` (parameters, leefbaar version and the SHA-256 of every source file
in the store, so that a run can be traced and replayed) to ``--out``. They do not write to the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar import __version__
from leefbaar.analysis import charts
from leefbaar.analysis import groups as grp
from leefbaar.analysis.clusters import LABELS as LISA_LABELS
from leefbaar.analysis.clusters import contiguity, global_moran, local_moran, persistence
from leefbaar.analysis.gap import GapAnalysis
from leefbaar.analysis.panel import DIMENSION_LABELS, Panel, gemeente_of, load_panel
from leefbaar.analysis.summary import clusters_summary, gap_summary, trends_summary, verdict_text, vulnerable_summary
from leefbaar.analysis.trends import NATIONAL, area_trends, group_trends
from leefbaar.analysis.vulnerable import VulnerableAreas, load_definition
from leefbaar.analysis.weights import MEASURES, population_weights
from leefbaar.cli.common import (
    EngineOpt,
    LangOpt,
    OutOpt,
    StoreOpt,
    console,
    print_frame,
    progress_bar,
    resolve_store,
    write_csv,
)
from leefbaar.errors import LeefbaarError, StoreError
from leefbaar.facts import Facts
from leefbaar.i18n import N_, check_lang, translator
from leefbaar.index.classes import classify_total, load_scheme
from leefbaar.store.store import Store

SourceOpt = Annotated[str, typer.Option("--source", help="official (Leefbaarometer 3 PC4), index (table scores "
                                                          "of 'leefbaar score') or indicator (with --indicator).")]
IndicatorOpt = Annotated[str | None, typer.Option("--indicator", help="Monitor this catalogue indicator instead "
                                                                       "(implies --source indicator).")]
SpecOpt = Annotated[str | None, typer.Option("--spec", help="Index spec for --source index (default: the only "
                                                             "one in the store).")]
LevelOpt = Annotated[str, typer.Option("--level", help="Area level: pc4, gemeente, wijk, buurt, ...")]
YearsOpt = Annotated[str | None, typer.Option("--years", help="Years: '2002,2012,2022' or a range '2002-2022' "
                                                               "(default: every year with a score).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (bootstrap, permutations).")]
GemeenteOpt = Annotated[str | None, typer.Option("--gemeente", help="Only the areas of this gemeente (code GM0599 "
                                                                   "or name Rotterdam).")]

WEIGHT_LABELS = {"inwoner": N_("per resident"), "aantal_hh": N_("per household")}
PATTERN_LABELS = {"persistent_hot": N_("always a hot spot"), "became_hot": N_("became a hot spot"),
                  "left_hot": N_("was a hot spot"), "persistent_cold": N_("always a cold spot"),
                  "became_cold": N_("became a cold spot"), "left_cold": N_("was a cold spot"),
                  "intermittent": N_("intermittent")}


def _years(text: str | None, available: list[int] | None = None) -> list[int] | None:
    """'2002,2022' -> [2002, 2022]; '2002-2022' -> the available years in that range."""
    if text is None:
        return None
    try:
        if "-" in text and "," not in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            if available is None:
                return list(range(lo, hi + 1))
            return [y for y in available if lo <= y <= hi]
        return sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise LeefbaarError(f"--years must look like '2002,2022' or '2002-2022', not {text!r}") from None


def _panel(st: Store, source: str, indicator: str | None, spec: str | None, level: str,
           years: str | None, gemeente: str | None = None) -> Panel:
    panel = load_panel(st, source, level, indicator, spec)
    wanted = _years(years, panel.years)
    if wanted is not None:
        panel = load_panel(st, source, level, indicator, spec, wanted)
    return _in_gemeente(st, panel, gemeente)


def _in_gemeente(st: Store, panel: Panel, gemeente: str | None) -> Panel:
    """The panel restricted to the areas of one gemeente (code or name; the facts layer's areas)."""
    if not gemeente:
        return panel
    facts = Facts(st)
    code = facts.gemeente_code(gemeente)
    gm_of = facts.gemeente_of(panel.level)
    keep = panel.frame["code"].map(gm_of) == code
    if not keep.any():
        raise StoreError(f"{panel.label}: no {panel.level} areas of gemeente {code} in the series")
    panel.frame = panel.frame[keep.to_numpy()].reset_index(drop=True)
    name = next((g["name"] for g in facts.gemeenten if g["code"] == code), code)
    panel.notes.append(f"Alleen gemeente {name} ({code}). | Only gemeente {name} ({code}).")
    panel.label = f"{panel.label}, {name}"
    return panel


def _write_run(out: Path, command: str, params: dict, st: Store) -> Path:
    hashes = Facts(st).source_hashes()
    path = out / "run.json"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"command": command, "params": params, "version": __version__,
                                "store": str(st.path), "created": datetime.now(UTC).isoformat(timespec="seconds"),
                                "data_hashes": hashes}, indent=2, default=str), encoding="utf-8")
    return path


def _finish(out: Path, summary: str, files: list[Path], lang: str) -> None:
    (out / "summary.md").write_text(summary, encoding="utf-8")
    console.print(translator(lang).ngettext("{n} file written to {out} (summary: {summary})",
                                            "{n} files written to {out} (summary: {summary})", len(files) + 1,
                                            out=out, summary=out / "summary.md"), markup=False, highlight=False)


def _rel(out: Path, paths: list[Path]) -> list[str]:
    return [str(p.relative_to(out)) for p in paths]


# -- trends ---------------------------------------------------------------------------------------------------
def trends(
    out: OutOpt,
    store: StoreOpt = None,
    source: SourceOpt = "official",
    indicator: IndicatorOpt = None,
    spec: SpecOpt = None,
    level: LevelOpt = "pc4",
    years: YearsOpt = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", help="Groupings: initial (class in the first year), sted (urbanity), programmes (resolved "
                        "policy areas), or an area-group id such as apcg_2019. Repeatable; default: all available."
    )] = None,
    groups_file: Annotated[list[Path] | None, typer.Option(
        "--groups", help="CSV with column code (and optionally group): a user grouping. Repeatable.")] = None,
    programmes: Annotated[str, typer.Option(
        "--programmes", help="Policy programme areas: 'stored' (table programme_areas of 'leefbaar "
                             "resolve-areas', if present), 'resolve' (resolve the names now) or 'none'.")] = "stored",
    min_share: Annotated[float | None, typer.Option("--min-share", help="A PC4 belongs to a programme area when "
                                                                        "at least this share of its residents "
                                                                        "lives in its confidently matched areas "
                                                                        "(default: the facts layer's membership "
                                                                        "rule, 0.5).")] = None,
    weight: Annotated[str, typer.Option("--weight", help="Weight of the headline means: inwoner or "
                                                         "aantal_hh.")] = "inwoner",
    gemeente: GemeenteOpt = None,
    lang: LangOpt = "nl",
) -> None:
    """Level and change per area and per group of areas (unweighted and per resident/household), with charts."""
    lang = check_lang(lang)
    _ = translator(lang)
    if weight not in MEASURES:
        raise LeefbaarError(_("--weight must be one of {choices}", choices=", ".join(MEASURES)))
    with Store.open(resolve_store(store)) as st, progress_bar() as update:
        update(_("reading scores"), 0, 5)
        panel = _panel(st, source, indicator, spec, level, years, gemeente)
        notes = list(panel.notes)
        weights = {}
        for m in MEASURES:
            try:
                weights[m] = population_weights(st, panel.level, panel.years, m, panel.vintage)
                notes += weights[m].notes()
            except StoreError as exc:
                notes.append(_("No weighting by {measure}: {error}", measure=MEASURES[m][1 if lang == "en" else 0],
                               error=exc))
        update(_("grouping areas"), 1, 5)
        groupings = _groupings(st, panel, group, groups_file or [], programmes, min_share, lang, notes)
        update(_("computing trends"), 2, 5)
        per_area = area_trends(panel)
        gm, gm_note = gemeente_of(st, per_area["code"], panel.level)
        if gm_note:
            per_area.insert(1, "gemeente_code", gm.to_numpy())
        per_group = group_trends(panel, groupings, weights, lang)
        files = [write_csv(per_area, out, "area_trends.csv"), write_csv(per_group, out, "group_trends.csv")]
        update(_("drawing charts"), 3, 5)
        col = f"mean_{weight}" if weight in weights else "mean"
        wlabel = _(WEIGHT_LABELS[weight]) if weight in WEIGHT_LABELS else ""
        titles = {g.name: (g.title(lang), g.order) for g in groupings}
        nat = per_group[(per_group["grouping"] == "national") & (per_group["variable"] == "total")]
        for g in groupings:
            sub = per_group[(per_group["grouping"] == g.name) & (per_group["variable"] == "total")]
            if sub.empty:
                continue
            table = pd.concat([sub, nat], ignore_index=True)
            fig = charts.group_lines(table, col, f"{panel.label}: {g.title(lang)} ({wlabel})",
                                     "score" if panel.unit == "score" else panel.unit, g.order,
                                     national=NATIONAL[lang], change=f"change_{col}",
                                     change_label=_("change since {year}", year=panel.years[0]))
            files += charts.save(fig, out, f"trends_{g.name}")
            if panel.components:
                dims = per_group[(per_group["grouping"] == g.name) & (per_group["variable"] != "total")]
                if not dims.empty:
                    fig = charts.small_multiples(dims, list(panel.components), DIMENSION_LABELS[lang], col, g.order,
                                                 _("{label}: dimensions - {grouping}", label=panel.label,
                                                   grouping=g.title(lang)), "score")
                    files += charts.save(fig, out, f"dimensions_{g.name}")
        notes += [g.note for g in groupings if g.note]
        if gm_note:
            notes.append(gm_note)
        update(_("writing summary"), 4, 5)
        files.append(_write_run(out, "trends", {"source": panel.source, "label": panel.label, "level": panel.level,
                                                "years": panel.years, "groupings": [g.name for g in groupings],
                                                "weight": weight, "min_share": min_share,
                                                "gemeente": gemeente}, st))
    summary = trends_summary(panel.label, per_group, titles, weight, panel.years, notes, _rel(out, files), lang)
    _finish(out, summary, files, lang)


def _groupings(st: Store, panel: Panel, wanted: list[str] | None, files: list[Path], programmes: str,
               min_share: float, lang: str, notes: list[str]) -> list[grp.Grouping]:
    _ = translator(lang)
    if programmes not in ("stored", "resolve", "none"):
        raise LeefbaarError(_("--programmes must be stored, resolve or none"))
    default = wanted is None
    wanted = wanted if wanted is not None else ["initial", "sted", "programmes",
                                                *sorted(st.area_groups()["group_id"].unique())]
    out: list[grp.Grouping] = []
    for name in wanted:
        try:
            if name == "initial":
                out.append(grp.initial_class(panel, lang))
            elif name == "sted":
                out.append(grp.urbanity(st, panel, lang))
            elif name == "programmes":
                out += _programmes(st, panel, programmes, min_share, lang, notes)
            else:
                out.append(grp.area_group(st, name, lang))
        except StoreError as exc:
            if not default:
                raise
            notes.append(_("Grouping {name} skipped: {error}", name=name, error=exc))
    out += [grp.user_groups(f, lang) for f in files]
    return out


def _programmes(st: Store, panel: Panel, how: str, min_share: float, lang: str,
                notes: list[str]) -> list[grp.Grouping]:
    _ = translator(lang)
    if how == "none":
        return []
    if how == "stored":
        facts = Facts(st)
        m = facts.membership
        rule = facts.rules.min_share
        if min_share is None or min_share == rule:  # the one membership rule of the facts layer
            rows = m[m["member"] & (m["level"] == panel.level)].assign(link=lambda f: f["programme"],
                                                                       share=lambda f: f["share_confident"])
        else:
            rows = m[(m["level"] == panel.level) & (m["share_confident"].fillna(0) >= min_share)].assign(
                link=lambda f: f["programme"], share=lambda f: f["share_confident"])
        found = grp.programme_groupings(rows, min_share or rule, lang, skip=set(st.area_groups()["group_id"])) \
            if not m.empty else []
        if not found:
            notes.append(_("Programme areas (Vogelaar, NPRZ, NPLV) not used: the store holds no table "
                           "programme_areas; run 'leefbaar resolve-areas' or pass --programmes resolve."))
        return found
    from leefbaar.evaluation.resolve import resolve_programme_areas
    from leefbaar.facts import load_rules
    from leefbaar.facts.membership import members

    rules = load_rules()
    m = members(resolve_programme_areas(st).areas, rules)
    rows = m[m["member"] & (m["level"] == panel.level)].assign(link=lambda f: f["programme"],
                                                               share=lambda f: f["share_confident"])
    return grp.programme_groupings(rows, min_share or rules.min_share, lang, skip=set(st.area_groups()["group_id"]))


# -- gap ------------------------------------------------------------------------------------------------------
def gap(
    out: OutOpt,
    store: StoreOpt = None,
    source: SourceOpt = "official",
    indicator: IndicatorOpt = None,
    spec: SpecOpt = None,
    level: LevelOpt = "pc4",
    years: YearsOpt = None,
    weight: Annotated[str, typer.Option("--weight", help="Weights of the '_w' measures: inwoner or "
                                                         "aantal_hh.")] = "inwoner",
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="Share below this value (default for Leefbaarometer scores: below class "
                            "'voldoende').")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples of areas.")] = 999,
    ci: Annotated[float, typer.Option("--ci", help="Width of the uncertainty band.")] = 0.95,
    gemeente_vintage: Annotated[int, typer.Option("--gemeente-vintage", help="Gemeente boundaries for the "
                                                                             "between/within split.")] = 2022,
    seed: SeedOpt = 20240101,
    gemeente: GemeenteOpt = None,
    lang: LangOpt = "nl",
    engine: EngineOpt = None,
) -> None:
    """Is the gap between strong and weak areas growing? Inequality per year with a bootstrap band."""
    lang = check_lang(lang)
    _ = translator(lang)
    if bootstrap < 19 or not 0.5 <= ci < 1:
        raise LeefbaarError(_("--bootstrap must be at least 19 and --ci between 0.5 and 1"))
    with Store.open(resolve_store(store)) as st, progress_bar() as update:
        update(_("reading scores"), 0, 4)
        spec_shown = Facts(st).spec
        if source == "index" and spec_shown and years is None and indicator is None and spec in (None, spec_shown):
            # a verdict: official measurements by default (2002 onward), not the modelled years
            panel = _in_gemeente(st, Facts(st).panel(level, official_only=True), gemeente)
        else:
            panel = _panel(st, source, indicator, spec, level, years, gemeente)
        notes = list(panel.notes)
        pw = population_weights(st, panel.level, panel.years, weight, panel.vintage)
        notes += pw.notes()
        below = _below(panel, threshold, notes, lang)
        gm, gm_note = gemeente_of(st, panel.frame["code"].unique(), panel.level, gemeente_vintage)
        if gm_note:
            notes.append(gm_note)
        update(_("bootstrap ({n} resamples)", n=bootstrap), 1, 4)
        result = GapAnalysis(panel, pw, gemeente=gm if panel.level != "gemeente" and not gemeente else None,
                             below=below,
                             n_boot=bootstrap, level=ci, seed=seed, engine=engine).fit()
        notes += result.notes
        files = [write_csv(result.by_year, out, "gap_by_year.csv"), write_csv(result.change, out, "gap_change.csv"),
                 write_csv(result.beta, out, "beta_convergence.csv"), write_csv(result.cohorts, out, "cohorts.csv")]
        if result.decomposition is not None:
            files.append(write_csv(result.decomposition, out, "theil_decomposition.csv"))
        update(_("drawing charts"), 2, 4)
        per_res = _(WEIGHT_LABELS[weight])
        areas_l = _("per area")
        panels = [("P90-P10", _("score points"), [("p90_p10", areas_l), ("p90_p10_w", per_res)]),
                  (_("decile bounds"), "score", [("p10", "P10"), ("p50", "P50"), ("p90", "P90")]),
                  ("sigma", _("standard deviation"), [("sd", areas_l), ("sd_w", per_res)])]
        if panel.positive:
            panels += [("Theil", "T", [("theil", areas_l), ("theil_w", per_res)]),
                       ("Gini", "G", [("gini", areas_l), ("gini_w", per_res)])]
        if below is not None:
            panels.append((_("share below threshold") if threshold is not None else _("share below 'sufficient'"), "",
                           [("share_below", areas_l), ("share_below_w", per_res)]))
        title = _("Gap between strong and weak areas - {label} ({level} band)", label=panel.label,
                  level=_.percent(ci))
        files += charts.save(charts.band_panels(result.by_year, panels[:3], title), out, "gap")
        files += charts.save(charts.band_panels(result.by_year, panels[3:], title), out, "gap_inequality") \
            if len(panels) > 3 else []
        files.append(_write_run(out, "gap", {"source": panel.source, "label": panel.label, "level": panel.level,
                                             "years": result.years, "weight": weight, "threshold": threshold,
                                             "bootstrap": bootstrap, "ci": ci, "seed": seed,
                                             "gemeente_vintage": gemeente_vintage, "gemeente": gemeente}, st))
        update(_("writing summary"), 3, 4)
    from leefbaar.facts import say

    key = {"growing": "gap.growing", "shrinking": "gap.narrowing"}.get(result.verdict, "gap.stable")
    official = panel.source == "official" or ("kind" in panel.frame and (panel.frame["kind"] == "official").all())
    span = say("gap.years" if official else "gap.years.chosen", lang, y0=result.years[0], y1=result.years[-1])
    console.print(f"[bold]{say(key, lang)}[/bold] {span}")
    shown = result.change[result.change["measure"].isin(["p90_p10", "p90_p10_w", "sd", "theil", "gini",
                                                         "share_below_w"])]
    shown = shown.assign(verdict=[verdict_text(v, lang) for v in shown["verdict"]])
    print_frame(shown.astype({"from_year": str, "to_year": str}), title=_("change"), lang=lang)
    _finish(out, gap_summary(panel.label, result, notes, _rel(out, files), lang), files, lang)


def _below(panel: Panel, threshold: float | None, notes: list[str], lang: str) -> pd.DataFrame | None:
    """Codes x years: True where the area is below 'voldoende' (or below ``threshold``)."""
    _ = translator(lang)
    if threshold is not None:
        notes.append(_("Threshold: values below {threshold}.", threshold=_.number(threshold, 3)))
        return panel.wide("total") < threshold
    if not panel.has_afw:
        return None
    labels = load_scheme().labels("total", "nl")
    voldoende = labels.index("voldoende") + 1
    cls = panel.wide("afw").apply(lambda c: classify_total(c))
    notes.append(_("'Below sufficient' = class 1-{last} ({labels}), classes of leefbaar.index.classes.",
                   last=voldoende - 1, labels=", ".join(load_scheme().labels("total", lang)[:voldoende - 1])))
    return (cls < voldoende).where(cls.notna(), False).astype(bool)


# -- vulnerable -----------------------------------------------------------------------------------------------
def vulnerable(
    out: OutOpt,
    store: StoreOpt = None,
    source: Annotated[str, typer.Option("--source", help="official or index.")] = "official",
    spec: SpecOpt = None,
    level: LevelOpt = "pc4",
    definition: Annotated[Path | None, typer.Option(
        "--definition", help="YAML definition (default: catalogue/vulnerability.yaml).")] = None,
    compare: Annotated[str, typer.Option("--compare", help="Area group to compare with (default apcg_2019); "
                                                           "'none' to skip.")] = "apcg_2019",
    year: Annotated[int | None, typer.Option("--year", help="Reference year (overrides the definition).")] = None,
    since: Annotated[int | None, typer.Option("--since", help="Start year of the decline (overrides the "
                                                               "definition).")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of the ranking to print.")] = 20,
    gemeente: GemeenteOpt = None,
    lang: LangOpt = "nl",
) -> None:
    """Rank vulnerable areas (low level, decline, cumulation) with reasons, and compare with APCG 2019.

    Judged on official measurements (the reference year is the latest official year) unless --year names a
    modelled one; areas under the facts layer's small-area rule are never listed."""
    lang = check_lang(lang)
    _ = translator(lang)
    with Store.open(resolve_store(store)) as st, progress_bar() as update:
        update(_("reading scores"), 0, 3)
        facts = Facts(st)
        if source == "index" and facts.spec is not None and spec in (None, facts.spec):
            # the shown series: official measurements before the index years included (2002 onward)
            official = facts.official_years(level)
            panel = facts.panel(level, official_only=year is None or year in official)
        else:
            panel = load_panel(st, source, level, None, spec)
        d = load_definition(definition)
        update(_("applying the definition"), 1, 3)
        ref_year = year or d.year or max(panel.years)
        sc = facts.scores(panel.level) if panel.level in ("pc4", "buurt", "wijk", "gemeente") else None
        small = set() if sc is None else set(sc.loc[(sc["year"] == ref_year) & sc["small"], "code"])
        vul = VulnerableAreas(d, lang, year, since).fit(panel, st, exclude=small)
        gm = vul.areas["code"].map(facts.gemeente_of(panel.level))
        vul.areas.insert(1, "gemeente_code", gm.to_numpy())
        vul.areas.insert(2, "label", vul.areas["code"].map(facts.labels(panel.level)).fillna(vul.areas["code"]))
        if gemeente:
            code = facts.gemeente_code(gemeente)
            vul.areas = vul.areas[vul.areas["gemeente_code"] == code].reset_index(drop=True)
        if small:
            panel.notes.append(f"{len(small)} gebieden vallen onder de regel voor kleine gebieden en worden niet "
                             f"genoemd ({facts.rules_text('nl')}). | {len(small)} areas fall under the small-area "
                             f"rule and are not listed ({facts.rules_text('en')}).")
        files = [write_csv(vul.areas, out, "vulnerable_areas.csv"),
                 write_csv(vul.areas[vul.areas["flagged"]], out, "vulnerable_ranked.csv")]
        if compare != "none":
            ref = st.area_groups(compare)
            if ref.empty:
                raise StoreError(_("no area group {group} in the store to compare with", group=repr(compare)))
            vul.compare(st, set(ref["code"].astype(str)), compare)
            files += [write_csv(vul.comparison.rename("value").rename_axis("measure").reset_index(), out,
                                f"comparison_{compare}.csv"),
                      write_csv(vul.profile, out, f"profile_{compare}.csv")]
        (out / "definition.yaml").write_text(_definition_text(definition), encoding="utf-8")
        files.append(out / "definition.yaml")
        update(_("drawing the map"), 2, 3)
        if panel.level == "pc4":
            files += _vulnerable_map(st, vul, compare, out, lang)
        files.append(_write_run(out, "vulnerable", {"source": panel.source, "label": panel.label,
                                                    "level": panel.level, "definition": d.source, "year": vul.year,
                                                    "since": vul.since, "compare": compare,
                                                    "gemeente": gemeente}, st))
    shown = vul.areas[vul.areas["flagged"]][["rank", "code", "label", "total", "class", "change", "reason"]]
    print_frame(shown.head(top), title=d.name(lang), lang=lang)
    _finish(out, vulnerable_summary(panel.label, vul, panel.notes, _rel(out, files), lang, top), files, lang)


def _definition_text(path: Path | None) -> str:
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    from importlib import resources

    return (resources.files("leefbaar") / "catalogue" / "vulnerability.yaml").read_text(encoding="utf-8")


def _vulnerable_map(st: Store, vul: VulnerableAreas, compare: str, out: Path, lang: str) -> list[Path]:
    geo = st.geometries("pc4", 2017)
    a = vul.areas.set_index("code")
    flagged = set(a.index[a["flagged"]])
    ref = set(st.area_groups(compare)["code"].astype(str)) if compare != "none" else set()
    cat = pd.Series("none", index=geo["code"])
    cat[cat.index.isin(ref)] = "ref"
    cat[cat.index.isin(flagged)] = "ours"
    cat[cat.index.isin(flagged & ref)] = "both"
    geo = geo.assign(cat=cat.to_numpy())
    colours = {"both": "#b2182b", "ours": "#ef8a62", "ref": "#67a9cf"} if ref else {"ours": "#b2182b"}
    ref_label = compare.upper().replace("_", " ")
    _ = translator(lang)
    labels = {"both": _("vulnerable and {ref}", ref=ref_label), "ours": _("vulnerable only (leefbaar)"),
              "ref": _("{ref} only", ref=ref_label)}
    fig = charts.category_map(geo, "cat", colours, labels, f"{vul.definition.name(lang)} ({vul.year})",
                              background=geo)
    return charts.save(fig, out, "vulnerable_map", svg=False)


# -- clusters -------------------------------------------------------------------------------------------------
def clusters(
    out: OutOpt,
    store: StoreOpt = None,
    source: SourceOpt = "official",
    indicator: IndicatorOpt = None,
    spec: SpecOpt = None,
    level: LevelOpt = "pc4",
    years: YearsOpt = None,
    variable: Annotated[str, typer.Option("--variable", help="total or a dimension (won, fys, vrz, soc, "
                                                             "onv).")] = "total",
    permutations: Annotated[int, typer.Option("--permutations", help="Permutations for pseudo p-values.")] = 999,
    alpha: Annotated[float, typer.Option("--alpha", help="False-discovery rate (or significance level with "
                                                         "--no-fdr).")] = 0.05,
    fdr: Annotated[bool, typer.Option("--fdr/--no-fdr", help="Benjamini-Hochberg FDR correction.")] = True,
    vintage: Annotated[int | None, typer.Option("--vintage", help="Boundary vintage for the contiguity "
                                                                  "(default: the panel's, PC4: 2017).")] = None,
    maps: Annotated[bool, typer.Option("--maps/--no-maps", help="Draw a LISA map per year.")] = True,
    seed: SeedOpt = 12345,
    gemeente: GemeenteOpt = None,
    lang: LangOpt = "nl",
) -> None:
    """Global Moran's I per year, LISA hot and cold spots (FDR), their persistence, and maps."""
    lang = check_lang(lang)
    _ = translator(lang)
    if permutations < 99 or not 0 < alpha < 1:
        raise LeefbaarError(_("--permutations must be at least 99 and --alpha between 0 and 1"))
    with Store.open(resolve_store(store)) as st, progress_bar() as update:
        panel = _panel(st, source, indicator, spec, level, years, gemeente)
        if variable != "total" and variable not in panel.components:
            raise LeefbaarError(_("--variable must be total or one of {choices}",
                                  choices=", ".join(panel.components) or "-"))
        yrs = panel.years_with(variable)
        notes = list(panel.notes)
        vint = vintage or panel.vintage or 2017
        geo = st.geometries(panel.level, vint)
        if gemeente:
            geo = geo[geo["code"].isin(set(panel.frame["code"]))].reset_index(drop=True)
        notes.append(_("Boundaries: {level} {vintage}.", level=panel.level, vintage=vint))
        update(_("contiguity weights"), 0, len(yrs) + 2)
        cont = contiguity(geo)
        moran_rows, lisa_parts = [], []
        for i, y in enumerate(yrs):
            update(f"LISA {y}", i + 1, len(yrs) + 2)
            v = panel.frame[panel.frame["year"] == y].set_index("code")[variable].dropna()
            w, islands = cont.weights(v.index)
            values = v.reindex(w.id_order).to_numpy(float)
            g = global_moran(values, w, permutations, seed)
            lisa = local_moran(values, w, permutations, alpha, seed, fdr)
            moran_rows.append({"year": y, **g, "no_boundary": len(v) - w.n, "islands_joined": len(islands),
                               "threshold": float(lisa["threshold"].iloc[0]),
                               "n_significant": int(lisa["significant"].sum()),
                               "n_p_below_alpha": int((lisa["p_sim"] <= alpha).sum())})
            lisa_parts.append(lisa.assign(year=y))
            if islands:
                notes.append(_.ngettext("{year}: {n} area without neighbours with a value joined to its nearest "
                                        "area ({codes}).", "{year}: {n} areas without neighbours with a value "
                                        "joined to their nearest area ({codes}).", len(islands), year=y,
                                        codes=", ".join(islands[:5])))
        moran = pd.DataFrame(moran_rows)
        lisa = pd.concat(lisa_parts, ignore_index=True)
        trans, per_area = persistence(lisa)
        counts = lisa.groupby(["year", "cluster"]).size().unstack(fill_value=0)
        files = [write_csv(moran, out, "moran_global.csv"), write_csv(lisa, out, "lisa.csv"),
                 write_csv(trans, out, "cluster_transitions.csv"), write_csv(per_area, out, "cluster_persistence.csv")]
        missing = int(moran["no_boundary"].max())
        if missing:
            notes.append(_("Up to {n} areas per year have no boundary in {level} {vintage} and are left out of "
                           "the cluster analysis.", n=_.integer(missing), level=panel.level, vintage=vint))
        update(_("maps"), len(yrs) + 1, len(yrs) + 2)
        if maps:
            files += _lisa_maps(geo, lisa, per_area, panel, variable, out, lang)
        settings = {"permutations": permutations, "alpha": alpha, "fdr": fdr, "seed": seed}
        files.append(_write_run(out, "clusters", {"source": panel.source, "label": panel.label, "level": panel.level,
                                                  "years": yrs, "variable": variable, "vintage": vint, **settings}, st))
    shown = moran[["year", "I", "z_rand", "p_sim", "n"]].join(counts.reset_index(drop=True))
    print_frame(shown.astype({"year": str}), title="Moran's I", lang=lang)
    label = panel.label if variable == "total" else f"{panel.label}, {DIMENSION_LABELS[lang].get(variable, variable)}"
    _finish(out, clusters_summary(label, moran, counts, per_area, settings, notes, _rel(out, files), lang), files,
            lang)


def _lisa_maps(geo, lisa: pd.DataFrame, per_area: pd.DataFrame, panel: Panel, variable: str, out: Path,
               lang: str) -> list[Path]:
    _ = translator(lang)
    files = []
    for y, part in lisa.groupby("year"):
        g = geo.merge(part[["code", "cluster"]], on="code", how="inner")
        what = panel.label if variable == "total" else DIMENSION_LABELS[lang].get(variable, variable)
        title = _("LISA clusters {what} {year}", what=what, year=y)
        fig = charts.category_map(g, "cluster", charts.LISA_COLOURS, LISA_LABELS[lang], title, background=geo)
        files += charts.save(fig, out, f"lisa_{y}", svg=False)
    pat = geo.merge(per_area[["code", "pattern"]], on="code", how="inner")
    colours = {"persistent_hot": "#d7191c", "became_hot": "#fdae61", "left_hot": "#fee08b",
               "persistent_cold": "#2c7bb6", "became_cold": "#abd9e9", "left_cold": "#e0f3f8",
               "intermittent": "#bbbbbb"}
    names = {k: _(text) for k, text in PATTERN_LABELS.items()}
    years = sorted(lisa["year"].unique())
    fig = charts.category_map(pat, "pattern", colours, names,
                              _("Persistence of clusters {first}-{last}", first=years[0], last=years[-1]),
                              background=geo)
    files += charts.save(fig, out, "cluster_persistence", svg=False)
    return files


def register(app: typer.Typer) -> None:
    """Add this stage's commands to app."""
    app.command("trends")(trends)
    app.command("gap")(gap)
    app.command("vulnerable")(vulnerable)
    app.command("clusters")(clusters)
