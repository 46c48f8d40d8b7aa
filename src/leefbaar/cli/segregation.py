"""``leefbaar segregation``: how groups are spread over the areas of a gemeente, and whether that is changing.

Writes to ``--out``: levels.csv (every index per place, set and year, with interval and random-allocation test),
changes.csv (change since the first year, interval, significance), decomposition.csv (spatial and compositional
parts), ranking.csv (national runs: ranks with intervals), local_<set>.csv (shares, location quotients and local
entropy per area), counts_<set>.csv (the counts used), charts (PNG/SVG), maps (PNG, classes by mapclassify),
summary.md (Dutch, or English with ``--lang en``) and run.json. It does not write to the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar.analysis import charts
from leefbaar.analysis.segregation import Segregation, resolve_gemeente
from leefbaar.analysis.segregation.definition import load_counts
from leefbaar.analysis.segregation.monitor import HEADLINE_INDEX, INDEX_LABELS, NATIONAL
from leefbaar.analysis.segregation.summary import summary
from leefbaar.cli.common import LangOpt, OutOpt, StoreOpt, print_frame, progress_bar, resolve_store, write_csv
from leefbaar.cli.monitor import _finish, _rel, _write_run, _years
from leefbaar.errors import LeefbaarError
from leefbaar.i18n import check_lang, translator
from leefbaar.store.store import Store

FOCUS = ("GM0363", "GM0599", "GM0518", "GM0344")  # Amsterdam, Rotterdam, Den Haag, Utrecht


def segregation(
    out: OutOpt,
    by: Annotated[str, typer.Option("--by", help="income, tenure, age or ses (modelled groups); migration only "
                                                 "with --migration.")],
    store: StoreOpt = None,
    gemeente: Annotated[list[str] | None, typer.Option(
        "--gemeente", help="Gemeente code (GM0599) or name; repeatable. Default: every gemeente (a national "
                           "run with ranking).")] = None,
    level: Annotated[str, typer.Option("--level", help="Areas: pc4 or buurt (buurt: Rijnmond 2024).")] = "pc4",
    years: Annotated[str | None, typer.Option("--years", help="Years: '2017,2022' or '2017-2022' (default: "
                                                              "every year with data).")] = None,
    national: Annotated[bool, typer.Option("--national/--no-national", help="Add the whole country as one "
                                                                            "place.")] = True,
    migration: Annotated[bool, typer.Option("--migration", help="Allow --by migration (a sensitive attribute; "
                                                                "the output carries a note).")] = False,
    permutations: Annotated[int | None, typer.Option("--permutations", help="Random-allocation draws "
                                                                           "(default: catalogue).")] = None,
    bootstrap: Annotated[int | None, typer.Option("--bootstrap", help="Bootstrap draws (default: "
                                                                     "catalogue).")] = None,
    min_areas: Annotated[int | None, typer.Option("--min-areas", help="Fewest areas for a gemeente (default: "
                                                                     "catalogue).")] = None,
    scheme: Annotated[str, typer.Option("--scheme", help="Map classes: quantiles, fisher_jenks or "
                                                         "natural_breaks.")] = "fisher_jenks",
    classes: Annotated[int, typer.Option("--classes", help="Number of map classes.")] = 5,
    maps: Annotated[bool, typer.Option("--maps/--no-maps", help="Draw maps.")] = True,
    lang: LangOpt = "nl",
) -> None:
    """Segregation per gemeente and nationally: indices, random-allocation tests, change and its decomposition."""
    lang = check_lang(lang)
    if by == "migration" and not migration:
        raise LeefbaarError("--by migration uses a sensitive attribute; add --migration to run it")
    if level not in ("pc4", "buurt"):
        raise LeefbaarError(f"--level must be pc4 or buurt, not {level!r}")
    if scheme not in charts.SCHEMES:
        raise LeefbaarError(f"--scheme must be one of {', '.join(charts.SCHEMES)}")
    with Store.open(resolve_store(store)) as st, progress_bar() as update:
        codes = [resolve_gemeente(st, g) for g in gemeente] if gemeente else None
        seg = Segregation(by, level, _years(years), codes, national, permutations, bootstrap, None, None, min_areas,
                          None, migration, lang).fit(st, update)
        files = [write_csv(seg.levels, out, "levels.csv")]
        for frame, name in ((seg.changes, "changes.csv"), (seg.decomposition, "decomposition.csv"),
                            (seg.ranking, "ranking.csv")):
            if not frame.empty:
                files.append(write_csv(frame, out, name))
        for gs in seg.sets:
            part = seg.local[seg.local["set"] == gs.id].dropna(axis=1, how="all") if not seg.local.empty else None
            if part is not None and not part.empty:
                files.append(write_csv(part, out, f"local_{gs.id}.csv"))
            counts, _ = load_counts(st, gs, sorted(seg.levels.loc[seg.levels["set"] == gs.id, "year"].unique()),
                                    seg.settings_used["min_total"])
            files.append(write_csv(counts, out, f"counts_{gs.id}.csv"))
        update("charts", 0, 1)
        places = codes if codes else [p for p in FOCUS if p in set(seg.levels["place"])]
        files += _charts(seg, places, out, lang)
        if maps:
            update("maps", 0, 1)
            files += _maps(st, seg, codes, out, lang, scheme, classes)
        files.append(_write_run(out, "segregation", {
            "by": by, "level": level, "gemeenten": codes, "years": sorted(int(y) for y in seg.levels["year"].unique()),
            "national": national, "migration": migration, "scheme": scheme, "classes": classes,
            "sets": [gs.id for gs in seg.sets], **seg.settings_used}, st))
    shown_places = [*(codes or [p for p in FOCUS if p in set(seg.levels["place"])]),
                    *([NATIONAL] if national else [])]
    head = seg.levels[(seg.levels["index"] == HEADLINE_INDEX) & seg.levels["place"].isin(shown_places)]
    print_frame(head[["name", "set", "year", "value", "lo", "hi", "null_mean", "n_areas"]],
                title=INDEX_LABELS[lang][HEADLINE_INDEX])
    _finish(out, summary(seg, shown_places, _rel(out, files), lang), files, lang)


def _charts(seg: Segregation, places: list[str], out: Path, lang: str) -> list[Path]:
    _ = translator(lang)
    files = []
    shown = [*places, NATIONAL]
    for gs in seg.sets:
        lv = seg.levels[(seg.levels["set"] == gs.id) & seg.levels["place"].isin(shown)]
        if lv["year"].nunique() < 2:
            continue
        frame = lv.assign(measure=lv["index"] + "|" + lv["name"], estimate=lv["value"])
        names = list(dict.fromkeys(lv["name"]))
        panels = [(INDEX_LABELS[lang][k], "", [(f"{k}|{n}", n) for n in names])
                  for k in ("dissimilarity", "spatial_dissimilarity", "information_theory") if (lv["index"] == k).any()]
        fig = charts.band_panels(frame, panels, f"{gs.label(lang)}: {gs.pair_label(lang)}")
        files += charts.save(fig, out, f"trend_{gs.id}")
    if not seg.ranking.empty:
        for gs in seg.sets:
            r = seg.ranking[seg.ranking["set"] == gs.id]
            if r.empty:
                continue
            y1 = int(r["year"].max())
            last = r[r["year"] == y1].sort_values("rank")
            lv = seg.levels[(seg.levels["set"] == gs.id) & (seg.levels["year"] == y1)
                            & (seg.levels["index"] == HEADLINE_INDEX)].set_index("place")
            show = pd.concat([last.head(25), last[last["place"].isin(FOCUS) & (last["rank"] > 25)]])
            show = show.assign(lo=show["place"].map(lv["lo"]), hi=show["place"].map(lv["hi"]),
                               label=[f"{n} ({k})" for n, k in zip(show["name"], show["rank"], strict=True)])
            fig = charts.interval_dots(show, "label", "value", "lo", "hi",
                                       _("Most segregated gemeenten {year}: {pair}", year=y1,
                                         pair=gs.pair_label(lang)),
                                       INDEX_LABELS[lang][HEADLINE_INDEX],
                                       highlight={f"{n} ({k})" for n, k, p in zip(show["name"], show["rank"],
                                                                                  show["place"], strict=True)
                                                  if p in FOCUS})
            files += charts.save(fig, out, f"ranking_{gs.id}")
    return files


def _maps(st: Store, seg: Segregation, codes: list[str] | None, out: Path, lang: str, scheme: str,
          k: int) -> list[Path]:
    if seg.local.empty:
        return []
    files = []
    geo = st.geometries(seg.level, 2017 if seg.level == "pc4" else None)[["code", "geometry"]]
    for gs in seg.sets:
        loc = seg.local[seg.local["set"] == gs.id]
        if loc.empty:
            continue
        y1 = int(loc["year"].max())
        every_year = loc
        loc = loc[loc["year"] == y1]
        g0 = gs.pair[0]
        label0 = next(g.label(lang) for g in gs.groups if g.id == g0)
        _ = translator(lang)
        layers = [(f"share_{g0}", 100.0, _("Share {group}", group=label0), "%"),
                  (f"lq_{g0}", 1.0, _("Location quotient {group} (1 = average)", group=label0), "LQ"),
                  ("local_entropy", 1.0, _("Local diversity (entropy; 0 = one group, 1 = all groups equal)"), "")]
        groups = [(p, loc[loc["place"] == p]) for p in (codes or [NATIONAL])]
        for place, part in groups:
            if part.empty:
                continue
            g = geo.merge(part, on="code", how="inner")
            # Areas of the place without data in this year are drawn in light grey behind.
            back = geo if place == NATIONAL else geo[geo["code"].isin(set(every_year.loc[
                every_year["place"] == place, "code"]))]
            name = seg.names.get(place, place)
            for col, scale, title, unit in layers:
                g[col] = g[col] * scale
                fig = charts.choropleth(g, col, f"{name} {y1}: {title}", unit, lang, scheme, k,
                                        cmap="PuBu" if col == "local_entropy" else "YlOrRd", background=back)
                files += charts.save(fig, out, f"map_{gs.id}_{place}_{col}", svg=False)
    return files


def register(app: typer.Typer) -> None:
    """Add this stage's commands to app."""
    app.command("segregation")(segregation)
