"""Segregation per gemeente and nationally, per year: levels, random-allocation tests, changes, decomposition,
ranking and local measures (the estimator behind ``leefbaar segregation`` and ``segregation_view``).

Units are the areas of the set's level (PC4 or buurt). A PC4 belongs, in every year, to the 2022 gemeente holding
the largest share of its area (``analysis.panel.gemeente_of``); a buurt to its own gemeente. The national
figures use every area of the country as one city. Spatial dissimilarity uses binary Queen contiguity of the
areas' boundaries (``analysis.clusters.contiguity``; PC4 2017 or buurt 2024 boundaries), restricted to the
areas of the place, with areas without a neighbour joined to the nearest one.

Tables (attributes after ``fit``):
- ``levels``: place, name, set, year, index, value, value_bc, lo, hi, se, null_mean, p_random, n_areas, total.
- ``changes``: place, name, set, index, year_from, year_to, value_from, value_to, change, change_lo, change_hi,
  p_change, significant, n_common (values on the areas present in both years).
- ``decomposition``: place, name, set, year_from, year_to, dissimilarity_first, dissimilarity_last, spatial,
  compositional (pair dissimilarity, first to last year).
- ``ranking``: set, year, place, name, value, rank, rank_lo, rank_hi, change, change_rank, change_rank_lo,
  change_rank_hi (1 = most segregated / largest rise; intervals from the bootstrap draws).
- ``local``: place, set, year, code, total, share_<group>..., local_entropy, lq_<group>... (location quotients
  relative to the place: the gemeente, or the country for place NL).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leefbaar.analysis.clusters import contiguity
from leefbaar.analysis.panel import gemeente_of
from leefbaar.analysis.segregation import indices as ix
from leefbaar.analysis.segregation.definition import Catalogue, GroupSet, load_catalogue, load_counts
from leefbaar.analysis.segregation.inference import Units, bootstrap_draws, change_row, decompose, evaluate, level_table
from leefbaar.errors import LeefbaarError, StoreError
from leefbaar.i18n import N_, ByLanguage, fmt_integer, fmt_number, note_in_languages, translator
from leefbaar.store.store import Store

NATIONAL = "NL"
HEADLINE_INDEX = "dissimilarity"
INDEX_LABELS = ByLanguage({
    "dissimilarity": N_("dissimilarity index D"), "isolation": N_("isolation index"), "exposure": N_("exposure index"),
    "gini": N_("Gini segregation index"), "entropy": N_("entropy index H (Theil)"),
    "spatial_dissimilarity": N_("spatial dissimilarity D(adj)"), "multi_dissimilarity": N_("multigroup dissimilarity"),
    "information_theory": N_("information theory index H")})
"""The segregation indices by language: ``INDEX_LABELS[lang][index]``."""


def _place_number(place: str) -> int:
    digits = "".join(ch for ch in place if ch.isdigit())
    return int(digits) if digits else 0


@dataclass
class Segregation:
    """Segregation of one dimension (income, tenure, age, migration) at one level.

    ``gemeenten``: codes to analyse (None = every gemeente with enough areas); ``national``: add the country as
    one place. ``permutations``/``bootstrap``/``interval``/``seed``/``min_areas``/``min_total`` default to the
    catalogue's settings. ``allow_sensitive`` must be True for sets marked sensitive (migration background).
    """

    dimension: str
    level: str = "pc4"
    years: list[int] | None = None
    gemeenten: list[str] | None = None
    national: bool = True
    permutations: int | None = None
    bootstrap: int | None = None
    interval: float | None = None
    seed: int | None = None
    min_areas: int | None = None
    min_total: float | None = None
    allow_sensitive: bool = False
    lang: str = "nl"
    catalogue: Catalogue | None = None
    notes: list[str] = field(default_factory=list)

    def settings(self) -> dict:
        s = dict(self.catalogue.settings)
        for k in ("permutations", "bootstrap", "interval", "seed", "min_areas", "min_total"):
            if getattr(self, k) is not None:
                s[k] = getattr(self, k)
        return s

    def fit(self, store: Store, progress=None) -> Segregation:
        known = set(store.indicators()["id"])
        self.catalogue = self.catalogue or load_catalogue(known=known)
        cat = self.catalogue
        if self.dimension not in cat.dimensions():
            raise LeefbaarError(f"--by must be one of {', '.join(cat.dimensions())}, not {self.dimension!r}")
        sets = cat.sets_for(self.dimension, self.level)
        if not sets:
            raise LeefbaarError(f"the catalogue has no {self.dimension} groups at level {self.level}")
        if any(s.sensitive for s in sets) and not self.allow_sensitive:
            raise LeefbaarError(f"segregation by {self.dimension} uses a sensitive attribute; pass --migration to "
                                "run it (the output then carries a note on its sensitivity)")
        self.settings_used = self.settings()
        self.sets: list[GroupSet] = []
        levels, changes, decomp, local, ranks = [], [], [], [], []
        self.draws: dict[tuple[str, str, int], np.ndarray] = {}
        names = self._names(store)
        self.names = names
        geo_cache = {}
        for si, gs in enumerate(sets):
            try:
                counts, dropped = load_counts(store, gs, self.years, self.settings_used["min_total"])
            except StoreError as exc:
                self.notes.append(note_in_languages(N_("{label}: skipped ({error})."), error=str(exc),
                                                    label=lambda lang, g=gs: g.label(lang)))
                continue
            self.sets.append(gs)
            self._note_dropped(gs, dropped, counts)
            codes = counts["code"].astype(str).unique()
            gm, gm_note = gemeente_of(store, codes, gs.level)
            if gm_note:
                self.notes.append(gm_note)
            counts["place"] = counts["code"].astype(str).map(gm)
            places = self._places(counts)
            # Contiguity among all areas for a national run, else only among the areas of the places asked for.
            wanted = None if self.national else frozenset(
                counts.loc[counts["place"].isin(places), "code"].astype(str))
            if (gs.level, wanted) not in geo_cache:
                geo = store.geometries(gs.level, 2017 if gs.level == "pc4" else None)
                geo_cache[(gs.level, wanted)] = contiguity(geo if wanted is None else geo[geo["code"].isin(wanted)])
            cont = geo_cache[(gs.level, wanted)]
            for pi, place in enumerate(places):
                if progress:
                    progress(f"{gs.id}: {place}", pi, len(places))
                sub = counts if place == NATIONAL else counts[counts["place"] == place]
                lv, ch, de, lo = self._place(gs, si, place, sub, cont)
                levels += lv
                changes += ch
                decomp += de
                local += lo
            if levels:
                ranks.append(self._ranking(gs, pd.DataFrame(levels)))
        if not self.sets:
            raise StoreError(f"the store holds none of the {self.dimension} groups at level {self.level}")
        if not levels:
            asked = ", ".join(self.gemeenten or [])
            raise StoreError(f"no {self.level} area of {asked} has {self.dimension} group counts in the store")
        self.levels = pd.DataFrame(levels)
        self.changes = pd.DataFrame(changes)
        self.decomposition = pd.DataFrame(decomp)
        self.local = pd.concat(local, ignore_index=True) if local else pd.DataFrame()
        self.ranking = pd.concat([r for r in ranks if r is not None], ignore_index=True) if any(
            r is not None for r in ranks) else pd.DataFrame()
        for frame in (self.levels, self.changes, self.decomposition):
            if not frame.empty:
                frame.insert(1, "name", frame["place"].map(names).fillna(frame["place"]))
        return self

    # -- places ---------------------------------------------------------------------------------------------
    def _names(self, store: Store) -> dict[str, str]:
        gm = store.areas("gemeente")
        gm = gm.sort_values("vintage").drop_duplicates("code", keep="last")
        names = dict(zip(gm["code"], gm["name"], strict=True))
        _ = translator(self.lang)
        names[NATIONAL] = _("Netherlands")
        return names

    def _places(self, counts: pd.DataFrame) -> list[str]:
        found = sorted(counts["place"].dropna().unique())
        wanted = found if self.gemeenten is None else [g for g in self.gemeenten if g in set(found)]
        if self.gemeenten is not None:
            for g in self.gemeenten:
                if g not in set(found):
                    self.notes.append(note_in_languages(N_("{gemeente}: no areas with data at this level."),
                                                        gemeente=g))
        return [*wanted, *([NATIONAL] if self.national else [])]

    def _note_dropped(self, gs: GroupSet, dropped: pd.DataFrame, counts: pd.DataFrame) -> None:
        if dropped.empty:
            return
        per = dropped.groupby("reason").size()
        kept = counts.groupby("year").size()
        self.notes.append(note_in_languages(
            N_("{label}: {missing} area-years without a (published) value and {small} with fewer than {min_total} "
               "{unit} are left out; {low}-{high} areas remain per year."),
            label=gs.label, missing=lambda lang: fmt_integer(per.get("missing", 0), lang),
            small=lambda lang: fmt_integer(per.get("small", 0), lang),
            min_total=lambda lang: fmt_number(self.settings_used["min_total"], lang, 2, trailing_zeros=False),
            unit=gs.unit_label, low=lambda lang: fmt_integer(kept.min(), lang),
            high=lambda lang: fmt_integer(kept.max(), lang)))

    def _units(self, gs: GroupSet, frame: pd.DataFrame, cont) -> Units:
        ids = gs.group_ids
        pair = (ids.index(gs.pair[0]), None if gs.pair[1] == "rest" else ids.index(gs.pair[1]))
        frame = frame.sort_values("code")
        codes = frame["code"].astype(str).to_numpy()
        edges = None
        inside = [c for c in codes if c in cont.codes]
        if len(inside) >= 3:
            with warnings.catch_warnings():  # libpysal's KNN warns that joined islands leave components apart
                warnings.simplefilter("ignore", UserWarning)
                w, _ = cont.weights(inside)
            pos = {c: i for i, c in enumerate(codes)}
            edges = np.array([(pos[a], pos[b]) for a, nb in w.neighbors.items() for b in nb], dtype=int).reshape(-1, 2)
        return Units(codes, frame[ids].to_numpy(float), pair, edges)

    def _rng(self, si: int, place: str, year: int, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self.settings_used["seed"], si, _place_number(place), year, purpose])

    def _place(self, gs: GroupSet, si: int, place: str, sub: pd.DataFrame, cont):
        s = self.settings_used
        lv, ch, de, lo = [], [], [], []
        units: dict[int, Units] = {}
        draws: dict[int, dict[str, np.ndarray]] = {}
        values: dict[int, dict[str, float]] = {}
        for year, part in sub.groupby("year"):
            year = int(year)
            if len(part) < s["min_areas"] and place != NATIONAL:
                continue
            u = self._units(gs, part, cont)
            tab, boot = level_table(u, self._rng(si, place, year, 1), self._rng(si, place, year, 2),
                                    s["permutations"], s["bootstrap"], s["interval"])
            units[year], draws[year] = u, boot
            values[year] = dict(zip(tab["index"], tab["value"], strict=True))
            self.draws[(gs.id, place, year)] = boot[HEADLINE_INDEX]
            for r in tab.to_dict("records"):
                lv.append({"place": place, "set": gs.id, "year": year, **r, "n_areas": len(u.codes),
                           "total": float(u.counts.sum())})
            lo.append(self._local(gs, place, year, u))
        years = sorted(units)
        for y in years[1:]:
            a, b = units[years[0]], units[y]
            common = np.intersect1d(a.codes, b.codes)
            if len(common) < s["min_areas"]:
                continue
            ua, ub = a.subset(common), b.subset(common)
            if len(common) == len(a.codes) and len(common) == len(b.codes):
                va, vb, da, db = values[years[0]], values[y], draws[years[0]], draws[y]
            else:
                va = {k: float(v) for k, v in evaluate(ua.counts, ua.pair, ua.edges).items()}
                vb = {k: float(v) for k, v in evaluate(ub.counts, ub.pair, ub.edges).items()}
                da = bootstrap_draws(ua, self._rng(si, place, years[0] * 10_000 + y, 3), s["bootstrap"])
                db = bootstrap_draws(ub, self._rng(si, place, y * 10_000 + years[0], 4), s["bootstrap"])
            for k in va:
                ch.append({"place": place, "set": gs.id, "index": k, "year_from": years[0], "year_to": y,
                           "value_from": va[k], "value_to": vb[k],
                           **change_row(va[k], vb[k], da[k], db[k], s["interval"]), "n_common": len(common)})
            if y == years[-1]:  # PySAL's decomposition is slow (a pandas quantile per area); first to last year
                de.append({"place": place, "set": gs.id, "year_from": years[0], "year_to": y, **decompose(ua, ub)})
        return lv, ch, de, lo

    def _local(self, gs: GroupSet, place: str, year: int, u: Units) -> pd.DataFrame:
        t = u.counts.sum(1)
        shares = u.counts / np.where(t > 0, t, 1)[:, None]
        lq = ix.location_quotients(u.counts)
        out = pd.DataFrame({"place": place, "set": gs.id, "year": year, "code": u.codes, "total": t})
        for k, g in enumerate(gs.group_ids):
            out[f"share_{g}"] = shares[:, k]
        out["local_entropy"] = ix.local_entropy(u.counts)
        for k, g in enumerate(gs.group_ids):
            out[f"lq_{g}"] = lq[:, k]
        return out

    # -- ranking --------------------------------------------------------------------------------------------
    def _ranking(self, gs: GroupSet, levels: pd.DataFrame) -> pd.DataFrame | None:
        """Ranks of gemeenten by the pair dissimilarity per year and by its change since the first year."""
        lvl = levels[(levels["set"] == gs.id) & (levels["index"] == HEADLINE_INDEX) & (levels["place"] != NATIONAL)]
        if lvl["place"].nunique() < 2:
            return None
        a = (1 - self.settings_used["interval"]) / 2
        rows = []
        first = int(lvl["year"].min())
        for year, part in lvl.groupby("year"):
            places = part["place"].tolist()
            v = part["value"].to_numpy()
            refl = np.stack([2 * vi - self.draws[(gs.id, p, int(year))] for p, vi in zip(places, v, strict=True)])
            rank = (-v).argsort().argsort() + 1
            rdraw = (-refl).argsort(0).argsort(0) + 1
            lo_r, hi_r = np.quantile(rdraw, [a, 1 - a], axis=1)
            frame = pd.DataFrame({"set": gs.id, "year": int(year), "place": places, "value": v, "rank": rank,
                                  "rank_lo": lo_r, "rank_hi": hi_r, "n_ranked": len(places)})
            if int(year) != first:
                base = lvl[lvl["year"] == first].set_index("place")["value"]
                both = [p for p in places if p in base.index]
                if len(both) >= 2:
                    d = np.array([part.set_index("place").loc[p, "value"] - base[p] for p in both])
                    dd = np.stack([(2 * part.set_index("place").loc[p, "value"] - self.draws[(gs.id, p, int(year))])
                                   - (2 * base[p] - self.draws[(gs.id, p, first)]) for p in both])
                    cr = pd.DataFrame({"place": both, "change": d, "change_rank": (-d).argsort().argsort() + 1})
                    crd = (-dd).argsort(0).argsort(0) + 1
                    cr["change_rank_lo"], cr["change_rank_hi"] = np.quantile(crd, [a, 1 - a], axis=1)
                    frame = frame.merge(cr, on="place", how="left")
            rows.append(frame)
        out = pd.concat(rows, ignore_index=True)
        out.insert(3, "name", out["place"].map(self.names).fillna(out["place"]))
        return out

    # -- headline -------------------------------------------------------------------------------------------
    def headline(self, place: str) -> dict | None:
        """The answer for ``place``: the headline set's pair dissimilarity in the first and last year, the change
        with its interval and significance, and the decomposition. None when there is no change to report."""
        for gs in self.sets:
            ch = self.changes
            if ch.empty:
                continue
            c = ch[(ch["place"] == place) & (ch["set"] == gs.id) & (ch["index"] == HEADLINE_INDEX)]
            if c.empty:
                continue
            c = c.sort_values("year_to").iloc[-1]
            lv = self.levels[(self.levels["place"] == place) & (self.levels["set"] == gs.id)
                             & (self.levels["index"] == HEADLINE_INDEX)].set_index("year")
            de = self.decomposition[(self.decomposition["place"] == place) & (self.decomposition["set"] == gs.id)
                                    & (self.decomposition["year_to"] == c["year_to"])]
            return {"set": gs, "first": lv.loc[int(c["year_from"])].to_dict() | {"year": int(c["year_from"])},
                    "last": lv.loc[int(c["year_to"])].to_dict() | {"year": int(c["year_to"])},
                    "change": c.to_dict(), "decomposition": de.iloc[0].to_dict() if len(de) else None}
        return None
