"""Resolve policy areas given by name (Vogelaar wijken, NPRZ focuswijken, ...) to area codes, then to PC4.

Steps, all recorded in the match table so that nothing is matched silently:

1. The gemeente of each listed name: its ``gm_code`` if given, else its gemeente name matched against the
   gemeente names of every vintage in the store; old codes are carried to the 2022/2024 division through the
   gemeente crosswalks.
2. The listed name is split into components where it lists several areas ("Malburgen / Immerloo",
   "Zuidwest (Bouwlust, Vrederust, Morgenstond en Moerwijk)"); names that give no area ("delen van ...",
   "(wijk not named on page)") stay unresolved with the reason.
3. Each component is matched against the wijk names (2022 and 2024 division, the 2017 names as a fall-back)
   and buurt names (2024) of its gemeente, after normalisation (case, accents, punctuation, "Wijk 03" prefixes,
   articles). Methods, best first: ``exact`` (high), ``family`` (the name plus compass or ordinal qualifiers,
   e.g. Crooswijk -> Oud Crooswijk + Nieuw Crooswijk; medium), ``part_of_name`` (the name is one part of a
   combined area name, e.g. Bouwlust in "Bouwlust en Vrederust"; medium), ``fuzzy`` (difflib ratio >= 0.88
   with a clear margin; low). A name that fits both a wijk and a buurt inside it is taken at buurt level when
   that wijk holds other names of the same list (the list then names buurten), otherwise at wijk level; the
   alternative is recorded and the confidence capped at medium.
4. Reviewed decisions (``catalogue/area_matches.csv`` or a file given by the user) replace the automatic
   result for the components they name, with their own confidence and reason.
5. Matched wijken and buurten become sets of buurten (2024 division); these are overlaid on the PC4 (2017)
   polygons. The ``share`` of a PC4 is the part of its residents (buurt populations 2024, spread by area) that
   lives inside the programme's areas; where no population is known it is the area share.

The result is stored by ``leefbaar resolve-areas`` as table ``programme_areas`` (programme, link, gm_code,
name_as_listed, level, vintage, code, share, share_basis, confidence, method, partial, adoption_year,
first_post_year) and written as the reviewable ``area_matches.csv``.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from io import StringIO
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from leefbaar.errors import InputError, StoreError
from leefbaar.evaluation.registry import AreaLink, Registry, load_programmes

CONFIDENCE_ORDER = {"exact": 5, "high": 4, "medium": 3, "low": 2, "envelope": 1, "unresolved": 0}
CONFIDENT = CONFIDENCE_ORDER["medium"]
FUZZY_MIN, FUZZY_MARGIN, FUZZY_MEDIUM = 0.88, 0.04, 0.94
QUALIFIERS = {
    "noord", "zuid", "oost", "west", "midden", "centrum", "noordoost", "noordwest", "zuidoost", "zuidwest",
    "oud", "oude", "nieuw", "nieuwe", "binnen", "buiten", "groot", "klein", "boven", "beneden", "hoog", "laag",
    "noordelijk", "zuidelijk", "oostelijk", "westelijk", "dorp", "kern", "buitenwijk", "i", "ii", "iii", "iv",
    "v",
}
GENERIC_SUFFIX = re.compile(r"(wijk|buurt|buurten|kwartier)$")
ARTICLES = ("de ", "het ", "t ")
GEMEENTE_ALIASES = {"den bosch": "s hertogenbosch", "den haag": "s gravenhage"}
PARTIAL_PREFIX = re.compile(r"^(delen van|deel van|parts of)\b", re.I)
PC4_VINTAGE, BUURT_VINTAGE = 2017, 2024
MATCH_COLUMNS = ["link", "list_id", "gemeente", "gm_code", "name_as_listed", "component", "method", "confidence",
                 "level", "vintage", "codes", "names", "score", "alternatives", "note", "partial", "residents",
                 "pc4_main", "pc4_touched"]
REVIEW_COLUMNS = ["list_id", "gm_code", "name_as_listed", "component", "decision", "level", "vintage", "codes",
                  "confidence", "reason"]


# -- names ------------------------------------------------------------------------------------------------

@lru_cache(maxsize=65536)
def normalise(name: str) -> str:
    """Lower-case ASCII words: accents, punctuation, 'Wijk 03'/'Stadsdeel' prefixes and '(...)' notes removed."""
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"^\s*wijk\s+\d+\s*", "", s)
    s = re.sub(r"\bstadsdeel\b", " ", s)
    s = s.replace("'s-", "s ").replace("'t ", "t ")
    s = re.sub(r"\be\.\s*o\.?", " eo ", s)
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def core(norm: str) -> str:
    """A normalised name without leading article and trailing 'e.o.' / 'en omgeving'."""
    s = norm
    for art in ARTICLES:
        if s.startswith(art):
            s = s[len(art):]
    s = re.sub(r"\s+(eo|en omgeving)$", "", s)
    return s.strip()


def split_components(name: str) -> tuple[list[str], str | None]:
    """Components of a listed name, and a reason when the name does not identify an area.

    'Zuidwest (Bouwlust, Vrederust, Morgenstond en Moerwijk)' -> the four parts (the head is an umbrella);
    'Malburgen / Immerloo' -> both; a name in parentheses only, or 'delen van X', gives no components.
    """
    text = name.strip()
    if PARTIAL_PREFIX.match(text):
        return [], "listed as parts of a larger area; the delimitation is not given"
    head = re.sub(r"\(.*?\)", "", text).strip()
    inner = re.findall(r"\((.*?)\)", text)
    if not head:
        return [], f"no area name given ({text})"
    parts = []
    for chunk in inner:
        items = [x.strip() for x in re.split(r",|\s+en\s+|/|;", chunk) if x.strip()]
        if len(items) >= 2 and all(len(x) > 2 and not re.search(r"\b(not|niet|deel|page|pagina)\b", x, re.I)
                                   for x in items):
            parts += items
    if parts:
        return parts, None
    return [head], None


def list_parts(component: str) -> list[str]:
    """The parts of a component that joins several area names ('Paddepoel en Selwerd', 'A / B', 'A, B')."""
    return [x.strip() for x in re.split(r"\s*/\s*|,\s*|\s+en\s+|\s+&\s+", component) if x.strip()]


# -- candidates -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """One wijk or buurt name with its normalised forms."""

    code: str
    level: str
    vintage: int
    name: str
    core: str
    parts: tuple[str, ...]
    wijk_code: str | None

    @classmethod
    def of(cls, code: str, level: str, vintage: int, name: str, wijk_code: str | None) -> Candidate:
        return cls(code, level, int(vintage), name, core(normalise(name)), tuple(_name_parts(name)),
                   wijk_code if isinstance(wijk_code, str) else None)


class Candidates:
    """Wijk and buurt names of one gemeente, grouped by (level, vintage)."""

    def __init__(self, items: list[Candidate]):
        self.items = items
        self._by: dict[tuple[str, int], list[Candidate]] = {}
        for c in items:
            self._by.setdefault((c.level, c.vintage), []).append(c)

    def at(self, level: str, vintage: int) -> list[Candidate]:
        return self._by.get((level, vintage), [])


@dataclass
class Match:
    method: str
    confidence: str
    level: str | None = None
    vintage: int | None = None
    codes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    score: float | None = None
    alternatives: str = ""
    note: str = ""


CANDIDATE_SETS = (("wijk", 2022), ("wijk", 2024), ("buurt", 2024), ("wijk", 2017))


def _name_parts(name: str) -> list[str]:
    """The area names joined in one candidate name ('Bennekel-West, Gagelbosch', 'Heechterp & Schieringen',
    'Doornbos-Linie'): split on commas, slashes, '&' and 'en', and hyphenated names also into their halves."""
    parts = [p for p in re.split(r",|/|&|\s+en\s+", name) if normalise(p)]
    halves = [h for p in parts if "-" in p for h in p.split("-") if len(normalise(h)) >= 4]
    return list(dict.fromkeys(core(normalise(p)) for p in parts + halves))


def _family(target: str, cand_core: str) -> bool:
    """Whether a candidate is the target name plus qualifiers only (Oud Crooswijk, Presikhaaf West, Gein 2)."""
    t, c = target.split(), cand_core.split()
    if len(c) <= len(t):
        return False
    for i in range(len(c) - len(t) + 1):
        if c[i:i + len(t)] == t:
            extra = c[:i] + c[i + len(t):]
            return all(x in QUALIFIERS or len(x) == 1 or x.isdigit() for x in extra)
    return False


def _part_of(target: str, parts: tuple[str, ...]) -> bool:
    """Whether the target is one area of a combined name ('bouwlust' in 'Bouwlust en Vrederust'), or its
    qualified form ('bennekel' in 'Bennekel-West, Gagelbosch'); ``parts`` from ``_name_parts``."""
    return len(parts) >= 2 and any(p == target or _family(target, p) for p in parts)


def _stem(target: str, cand_core: str) -> bool:
    """Same name apart from a generic ending: Schilderswijk ~ Schildersbuurt, Transvaal ~ Transvaalkwartier."""
    a, b = GENERIC_SUFFIX.sub("", target.replace(" ", "")), GENERIC_SUFFIX.sub("", cand_core.replace(" ", ""))
    return len(a) >= 5 and a == b


def match_component(component: str, cands: Candidates, sibling_cores: set[str],
                    gemeente_names: tuple[str, ...] = ()) -> Match:
    """Match one component against the candidate names of its gemeente (see the module docstring).

    A component that starts with the gemeente's name ('Utrecht Overvecht') is also tried without it.
    """
    target = core(normalise(component))
    if not target:
        return Match("unresolved", "unresolved", note="empty name after normalisation")
    m = _match_target(target, cands, sibling_cores)
    if m.method == "unresolved":
        for gname in gemeente_names:
            if target.startswith(gname + " ") and len(target) > len(gname) + 2:
                m2 = _match_target(target[len(gname) + 1:], cands, sibling_cores)
                if m2.method != "unresolved":
                    m2.note = _join(m2.note, f"gemeente name {gname!r} removed from the listed name")
                    return m2
    return m


def _match_target(target: str, cands: Candidates, sibling_cores: set[str]) -> Match:
    if all(t in QUALIFIERS for t in target.split()):
        # a bare direction ('Oost', 'Noordoost') names a part of a town: only a wijk of exactly that name (or
        # 'Buitenwijk Noordoost') can be it, never every area whose name ends in that direction
        tests = (("exact", lambda c: c.core == target),
                 ("family", lambda c: c.core.split()[-len(target.split()):] == target.split()
                  and set(c.core.split()[:-len(target.split())]) <= {"buitenwijk"}))
    else:
        tests = (("exact", lambda c: c.core == target), ("family", lambda c: _family(target, c.core)),
                 ("part_of_name", lambda c: _part_of(target, c.parts)), ("stem", lambda c: _stem(target, c.core)))
    results: dict[str, list[tuple[str, int, list[Candidate]]]] = {name: [] for name, _ in tests}
    for level, vintage in CANDIDATE_SETS:
        sub = cands.at(level, vintage)
        for method, test in tests:
            hit = [c for c in sub if test(c)]
            if hit:
                results[method].append((level, vintage, hit))
    for method, confidence in (("exact", "high"), ("family", "medium"), ("part_of_name", "medium"),
                               ("stem", "low")):
        found = results.get(method)
        if not found:
            continue
        return _choose_level(method, confidence, found, cands, sibling_cores)
    # fuzzy: best single candidate over all sets, with a clear margin
    scored = []
    for level, vintage in CANDIDATE_SETS:
        for row in cands.at(level, vintage):
            scored.append((difflib.SequenceMatcher(None, target, row.core).ratio(), level, vintage, row))
    scored.sort(key=lambda x: -x[0])
    if scored and scored[0][0] >= FUZZY_MIN and not all(t in QUALIFIERS for t in target.split()):
        best = scored[0]
        rivals = [s for s in scored[1:] if s[3].core != best[3].core]
        if not rivals or best[0] - rivals[0][0] >= FUZZY_MARGIN:
            row = best[3]
            return Match("fuzzy", "medium" if best[0] >= FUZZY_MEDIUM else "low", best[1], best[2], [row.code],
                         [row.name], round(best[0], 3),
                         note=f"closest name {row.name!r} (similarity {best[0]:.2f})")
        return Match("unresolved", "unresolved",
                     note=f"ambiguous close names: {best[3].name!r} ({best[0]:.2f}), {rivals[0][3].name!r} "
                          f"({rivals[0][0]:.2f})")
    near = f"; closest {scored[0][3].name!r} ({scored[0][0]:.2f})" if scored else ""
    return Match("unresolved", "unresolved", note=f"no wijk or buurt of this name in the gemeente{near}")


def _choose_level(method: str, confidence: str, found: list, cands: Candidates, sibling_cores: set[str]) -> Match:
    """Pick one level/vintage among the candidate sets that matched (wijk 2022 first, buurt when the list names
    buurten); record the others."""
    by_key = {(lv, vt): hit for lv, vt, hit in found}
    wijk_key = next(((lv, vt) for lv, vt in (("wijk", 2022), ("wijk", 2024)) if (lv, vt) in by_key), None)
    buurt_hit = by_key.get(("buurt", BUURT_VINTAGE))
    note = ""
    if wijk_key is not None and buurt_hit is not None:
        wijk_hit = by_key[wijk_key]
        wijk24 = {c.code for c in cands.at("wijk", 2024)} & {c.code for c in wijk_hit}
        inside = {c.core for c in cands.at("buurt", BUURT_VINTAGE) if c.wijk_code in wijk24}
        named = sibling_cores & inside
        fits = (f"name fits wijk {', '.join(c.name for c in wijk_hit)} and buurt "
                f"{', '.join(c.name for c in buurt_hit)}")
        if named:
            chosen = ("buurt", BUURT_VINTAGE)
            note = f"{fits}; buurt chosen because the list also names buurten of that wijk ({', '.join(sorted(named))})"
        else:
            chosen, note = wijk_key, f"{fits}; wijk chosen"
        confidence = min(confidence, "medium", key=CONFIDENCE_ORDER.get)
    elif wijk_key is not None:
        chosen = wijk_key
    elif buurt_hit is not None:
        chosen = ("buurt", BUURT_VINTAGE)
    else:
        chosen = ("wijk", 2017)
    hit = by_key[chosen]
    alternatives = "; ".join(f"{lv} {vt}: {', '.join(c.code for c in h)}" for (lv, vt), h in by_key.items()
                             if (lv, vt) != chosen and not (lv == "wijk" and chosen[0] == "wijk"))
    return Match(method, confidence, chosen[0], chosen[1], [c.code for c in hit], [c.name for c in hit], 1.0,
                 alternatives, note)


# -- the store side ---------------------------------------------------------------------------------------

@dataclass
class NameEntry:
    link: AreaLink
    programme: str
    gemeente: str
    gm_code: str | None
    name_as_listed: str
    partial: bool
    note: str | None


def policy_entries(store, registry: Registry) -> tuple[list[NameEntry], pd.DataFrame]:
    """Rows of ``policy_lists`` attached by the registry (with their filter), and the area-group rows."""
    lists = store.sql("SELECT list_id, gemeente, gm_code, name_as_listed, note, partial, extra FROM policy_lists")
    entries, groups = [], []
    for prog in registry:
        for link in prog.areas:
            if link.source == "area_group":
                g = store.area_groups(link.id)
                if g.empty:
                    raise StoreError(f"area group {link.id!r} (programme {prog.id}) is not in the store")
                groups.append(g.assign(programme=prog.id, link=link.key, adoption_year=link.adoption_year,
                                       first_post_year=link.first_post_year))
                continue
            rows = lists[lists["list_id"] == link.id]
            if rows.empty:
                raise StoreError(f"policy list {link.id!r} (programme {prog.id}) is not in the store; "
                                 "rebuild the store from the data folder")
            for r in rows.itertuples():
                extra = json.loads(r.extra) if isinstance(r.extra, str) and r.extra else {}
                if any(str(extra.get(k, "")).strip() != v for k, v in link.filter):
                    continue
                gm = r.gm_code if isinstance(r.gm_code, str) and r.gm_code else None
                entries.append(NameEntry(link, prog.id, r.gemeente, gm, r.name_as_listed,
                                         bool(r.partial), r.note if isinstance(r.note, str) and r.note else None))
    group_frame = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame()
    return entries, group_frame


class Gazetteer:
    """Area names, buurt populations and boundaries needed to resolve and overlay names (read once)."""

    def __init__(self, store):
        self.store = store
        areas = store.areas()
        self.gemeenten = areas[areas["level"] == "gemeente"].dropna(subset=["name"])
        keys = areas["level"] + areas["vintage"].astype(str)
        sub = areas[keys.isin([f"{lv}{vt}" for lv, vt in CANDIDATE_SETS]) & areas["name"].notna()]
        self.names = sub[["code", "level", "vintage", "name", "gemeente_code", "wijk_code"]].reset_index(drop=True)
        self.crosswalk = store.sql(
            "SELECT from_code, from_vintage, to_code, to_vintage, weight FROM crosswalks "
            "WHERE from_level = 'gemeente' AND to_level = 'gemeente'")
        pop = store.sql("SELECT code, value FROM observations WHERE level = 'buurt' AND indicator = 'inwoner' "
                        "AND year = ? ORDER BY code", [BUURT_VINTAGE])
        self.buurt_pop = pop.set_index("code")["value"]
        self._geo: dict[str, gpd.GeoDataFrame] = {}
        self._trees: dict[str, shapely.STRtree] = {}
        self._cands: dict[frozenset, Candidates] = {}
        self._done: set[int] = set()
        self._piece_frame = pd.DataFrame({"buurt": pd.Series(dtype=str), "pc4": pd.Series(dtype=str),
                                          "area_m2": pd.Series(dtype=float),
                                          "buurt_area_m2": pd.Series(dtype=float),
                                          "pc4_area_m2": pd.Series(dtype=float)})

    # gemeenten
    def gemeente_codes(self, gm_code: str | None, gemeente: str) -> tuple[set[str], str]:
        """Codes of the gemeente in every division used for matching, and how they were found."""
        if not isinstance(gm_code, str) or not gm_code:
            target = normalise(gemeente)
            target = GEMEENTE_ALIASES.get(target, target)
            g = self.gemeenten.assign(norm=self.gemeenten["name"].map(normalise))
            hit = g[g["norm"] == target]
            if hit.empty:
                return set(), f"gemeente {gemeente!r} not found by name"
            gm_code = hit.sort_values("vintage")["code"].iloc[-1]
            how = f"gemeente by name -> {gm_code}"
        else:
            how = f"gemeente {gm_code}"
        codes = {gm_code}
        cw = self.crosswalk[(self.crosswalk["from_code"] == gm_code) & (self.crosswalk["weight"] >= 0.5)]
        codes |= set(cw["to_code"])
        return codes, how

    def gemeente_names(self, gm_codes: set[str], listed: str) -> tuple[str, ...]:
        """Normalised names of the gemeente (all vintages, and as listed), longest first."""
        names = set(self.gemeenten.loc[self.gemeenten["code"].isin(gm_codes), "name"].map(normalise))
        names.add(normalise(listed))
        return tuple(sorted(names, key=len, reverse=True))

    def name_of(self, level: str, vintage: int, codes: list[str]) -> list[str]:
        sub = self.names[(self.names["level"] == level) & (self.names["vintage"] == vintage)].set_index("code")
        return [str(sub.at[c, "name"]) if c in sub.index else c for c in codes]

    def candidates(self, gm_codes: set[str]) -> Candidates:
        key = frozenset(gm_codes)
        if key not in self._cands:
            sub = self.names[self.names["gemeente_code"].isin(gm_codes)]
            self._cands[key] = Candidates([Candidate.of(r.code, r.level, r.vintage, r.name, r.wijk_code)
                                           for r in sub.itertuples()])
        return self._cands[key]

    # geometry
    def geo(self, level: str, vintage: int) -> gpd.GeoDataFrame:
        key = f"{level}{vintage}"
        if key not in self._geo:
            g = self.store.geometries(level, vintage)
            if g.empty:
                raise StoreError(f"the store holds no {level} {vintage} boundaries, needed to overlay names on PC4")
            g = g.assign(geometry=shapely.make_valid(g.geometry.values))
            self._geo[key] = g.set_index("code")
        return self._geo[key]

    def _tree(self, key: str) -> shapely.STRtree:
        if key not in self._trees:
            level, vintage = key[:-4], int(key[-4:])
            self._trees[key] = shapely.STRtree(self.geo(level, vintage).geometry.values)
        return self._trees[key]

    def pieces(self, buurten: list[str]) -> pd.DataFrame:
        """Area of buurten (2024) inside PC4 (2017), for every PC4 that one of ``buurten`` touches: buurt, pc4,
        area_m2, buurt_area_m2, pc4_area_m2. Pieces are computed once per buurt and kept."""
        bu, pc = self.geo("buurt", BUURT_VINTAGE), self.geo("pc4", PC4_VINTAGE)
        known = bu.index.get_indexer([b for b in buurten if b in bu.index])
        pc_tree, bu_tree = self._tree("pc4" + str(PC4_VINTAGE)), self._tree("buurt" + str(BUURT_VINTAGE))
        pcs = np.unique(pc_tree.query(bu.geometry.values[known], predicate="intersects")[1])
        around = np.unique(bu_tree.query(pc.geometry.values[pcs], predicate="intersects")[1])
        todo = np.array([i for i in around if i not in self._done], dtype=int)
        if len(todo):
            bgeo = bu.geometry.values[todo]
            bi, pi = pc_tree.query(bgeo, predicate="intersects")
            inter = shapely.area(shapely.intersection(bgeo[bi], pc.geometry.values[pi]))
            new = pd.DataFrame({"buurt": bu.index.values[todo[bi]], "pc4": pc.index.values[pi], "area_m2": inter,
                                "buurt_area_m2": shapely.area(bgeo[bi]),
                                "pc4_area_m2": shapely.area(pc.geometry.values[pi])})
            self._piece_frame = pd.concat([self._piece_frame, new[new["area_m2"] > 1.0]], ignore_index=True)
            self._done.update(todo.tolist())
        f = self._piece_frame
        return f[f["pc4"].isin(set(pc.index.values[pcs]))]

    def buurten_of(self, level: str, vintage: int, codes: list[str]) -> tuple[list[str], str]:
        """The 2024 buurten that make up matched areas, and a note on how they were found."""
        if level == "buurt":
            return list(codes), ""
        buurten = self.names[(self.names["level"] == "buurt") & (self.names["vintage"] == BUURT_VINTAGE)]
        if level == "wijk" and vintage == 2024:
            return sorted(buurten[buurten["wijk_code"].isin(codes)]["code"]), ""
        if level == "wijk" and vintage == 2017:
            w22 = self.names[(self.names["level"] == "wijk") & (self.names["vintage"] == 2022)].set_index("code")
            w17 = self.names[(self.names["level"] == "wijk") & (self.names["vintage"] == 2017)].set_index("code")
            same = [c for c in codes if c in w22.index
                    and core(normalise(w22.at[c, "name"])) == core(normalise(w17.at[c, "name"]))]
            if not same:
                return [], "wijk 2017 code has no boundary with the same name in 2022"
            codes, vintage = same, 2022
        wijk = self.geo("wijk", vintage)
        missing = [c for c in codes if c not in wijk.index]
        if missing:
            return [], f"no boundary for {', '.join(missing)}"
        bu = self.geo("buurt", BUURT_VINTAGE)
        shape = shapely.union_all(wijk.loc[codes].geometry.values)
        near = bu.iloc[self._tree("buurt" + str(BUURT_VINTAGE)).query(shape, predicate="intersects")]
        share = shapely.area(shapely.intersection(near.geometry.values, shape)) / shapely.area(near.geometry.values)
        return sorted(near.index[share >= 0.5]), "buurten (2024) with >= 50% of their area inside the wijk (2022)"

    def pc4_shares(self, buurten: list[str]) -> pd.DataFrame:
        """Share of each PC4's residents (area where residents are unknown) inside a set of buurten:
        pc4, share, share_basis (residents | area), residents_in."""
        p = self.pieces(buurten)
        inside = p["buurt"].isin(set(buurten)).to_numpy()
        pc4_codes, idx = np.unique(p["pc4"].to_numpy(), return_inverse=True)
        frac = (p["area_m2"] / p["buurt_area_m2"]).to_numpy()
        pop = p["buurt"].map(self.buurt_pop).fillna(0.0).to_numpy() * frac
        n = len(pc4_codes)
        pop_all = np.bincount(idx, weights=pop, minlength=n)
        pop_in = np.bincount(idx, weights=pop * inside, minlength=n)
        area_in = np.bincount(idx, weights=p["area_m2"].to_numpy() * inside, minlength=n)
        pc4_area = np.zeros(n)
        pc4_area[idx] = p["pc4_area_m2"].to_numpy()
        touched = np.bincount(idx, weights=inside.astype(float), minlength=n) > 0
        by_pop = pop_all > 0
        share = np.where(by_pop, pop_in / np.where(by_pop, pop_all, 1.0), area_in / pc4_area)
        out = pd.DataFrame({"pc4": pc4_codes, "share": np.clip(share, 0.0, 1.0),
                            "share_basis": np.where(by_pop, "residents", "area"), "residents_in": pop_in})
        return out[touched].reset_index(drop=True)


# -- reviewed decisions -----------------------------------------------------------------------------------

def load_reviews(path: str | Path | None = None) -> pd.DataFrame:
    """Reviewed decisions: the packaged ``area_matches.csv`` unless a file is given.

    Columns: list_id, gm_code, name_as_listed, component, decision, level, vintage, codes (';'-separated),
    confidence (high | medium | low), reason. Decisions: ``accept`` (keep the automatic match, with the reviewed
    confidence), ``reject`` (drop it), ``replace`` (use the given codes), ``envelope`` (the area is not known
    exactly but lies within the given codes: they are kept out of reference groups, never counted as treated).
    """
    if path is None:
        text = (resources.files("leefbaar.catalogue") / "area_matches.csv").read_text(encoding="utf-8")
        name = "area_matches.csv"
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "review file not found")
        text, name = path.read_text(encoding="utf-8"), str(path)
    try:
        frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(name, f"not a valid CSV file: {exc}") from None
    missing = [c for c in REVIEW_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(name, f"missing column {missing[0]!r}")
    for i, r in enumerate(frame.itertuples(), start=2):
        if r.decision not in ("accept", "reject", "replace", "envelope"):
            raise InputError(name, f"decision {r.decision!r} is not accept, reject, replace or envelope", row=i,
                             column="decision")
        if r.decision in ("accept", "replace") and r.confidence not in ("high", "medium", "low"):
            raise InputError(name, f"confidence {r.confidence!r} is not high, medium or low", row=i,
                             column="confidence")
        if r.decision in ("replace", "envelope"):
            if r.level not in ("wijk", "buurt") or not r.vintage.isdigit() or not r.codes.strip():
                raise InputError(name, f"a {r.decision} needs level (wijk/buurt), vintage and codes", row=i)
        if not r.reason.strip():
            raise InputError(name, "every reviewed decision needs a reason", row=i, column="reason")
    return frame


# -- the whole resolution ---------------------------------------------------------------------------------

@dataclass
class Resolution:
    """The outcome of resolving every attached list: ``matches`` (one row per name component, the reviewable
    file), ``areas`` (the ``programme_areas`` rows) and ``stats()`` (per list: components by confidence, the
    main PC4 and residents (2024) of the confidently matched areas)."""

    matches: pd.DataFrame
    areas: pd.DataFrame
    residents: dict[str, float] = field(default_factory=dict)

    @property
    def unresolved(self) -> pd.DataFrame:
        return self.matches[self.matches["confidence"] == "unresolved"]

    def stats(self) -> pd.DataFrame:
        m = self.matches
        levels = ("high", "medium", "low", "envelope", "unresolved")
        cols = ["link", "names", "components", *levels, "pc4_main", "residents", "partial"]
        if m.empty:
            return pd.DataFrame(columns=cols)
        rows = []
        for link, g in m.groupby("link", sort=False):
            sure = g[g["confidence"].map(CONFIDENCE_ORDER) >= CONFIDENT]
            rows.append({"link": link, "names": g["name_as_listed"].nunique(), "components": len(g),
                         **{c: int((g["confidence"] == c).sum()) for c in levels},
                         "pc4_main": len({c for s in sure["pc4_main"].fillna("") for c in s.split(";") if c}),
                         "residents": self.residents.get(link, 0.0), "partial": bool(g["partial"].any())})
        return pd.DataFrame(rows, columns=cols)


def resolve_programme_areas(store, registry: Registry | None = None, reviews: pd.DataFrame | None = None,
                            main_share: float = 0.5) -> Resolution:
    """Resolve every list attached in the registry (see the module docstring).

    ``main_share`` only sets which PC4 are listed as the main PC4 of each name in the match table; the stored
    shares are continuous.
    """
    registry = registry or load_programmes()
    reviews = load_reviews() if reviews is None else reviews
    gaz = Gazetteer(store)
    entries, groups = policy_entries(store, registry)
    plan = []
    for e in entries:
        comps, reason = split_components(e.name_as_listed)
        gm_codes, how = gaz.gemeente_codes(e.gm_code, e.gemeente)
        plan.append((e, comps, reason, gm_codes, how))
    # the names of each list per gemeente, so that a name's level can follow its siblings
    siblings: dict[tuple[str, frozenset], set[str]] = {}
    for e, comps, _, gm_codes, _ in plan:
        key = (e.link.key, frozenset(gm_codes))
        siblings.setdefault(key, set()).update(core(normalise(p)) for c in comps for p in list_parts(c))
    match_rows = []
    for e, comps, reason, gm_codes, how in plan:
        base = {"link": e.link.key, "list_id": e.link.id, "gemeente": e.gemeente,
                "gm_code": e.gm_code or next(iter(sorted(gm_codes)), None), "name_as_listed": e.name_as_listed,
                "partial": e.partial}
        if not gm_codes or not comps:
            note = how if not gm_codes else reason
            match_rows.append({**base, "component": e.name_as_listed,
                               **_match_fields(Match("unresolved", "unresolved", note=note))})
            continue
        cands = gaz.candidates(gm_codes)
        gnames = gaz.gemeente_names(gm_codes, e.gemeente)
        sib = siblings[(e.link.key, frozenset(gm_codes))]
        for comp in comps:
            m = match_component(comp, cands, sib - {core(normalise(comp))}, gnames)
            parts = list_parts(comp)
            if m.method == "unresolved" and len(parts) > 1:  # 'Paddepoel en Selwerd', 'Wielwijk / Crabbehof'
                for part in parts:
                    pm = match_component(part, cands, sib - {core(normalise(part))}, gnames)
                    pm.note = _join(pm.note, f"part of {comp!r}")
                    match_rows.append({**base, "component": part, **_match_fields(pm)})
                continue
            match_rows.append({**base, "component": comp, **_match_fields(m)})
    matches = pd.DataFrame(match_rows, columns=MATCH_COLUMNS[:-3])
    matches = _apply_reviews(matches, reviews)
    matches, areas, residents = _overlay(gaz, matches, entries, main_share)
    if not groups.empty:
        g = pd.DataFrame({
            "programme": groups["programme"], "link": groups["link"], "gm_code": None,
            "name_as_listed": groups["code"], "level": groups["level"], "vintage": groups["vintage"].astype(int),
            "code": groups["code"], "share": 1.0, "share_confident": 1.0, "share_basis": "listed",
            "confidence": groups["confidence"], "method": "code", "partial": groups["partial"].astype(bool),
            "adoption_year": groups["adoption_year"], "first_post_year": groups["first_post_year"]})
        areas = pd.concat([areas, g], ignore_index=True) if not areas.empty else g
    return Resolution(matches[MATCH_COLUMNS].reset_index(drop=True), areas.reset_index(drop=True), residents)


AREA_COLUMNS = ["programme", "link", "gm_code", "name_as_listed", "level", "vintage", "code", "share",
                "share_confident", "share_basis", "confidence", "method", "partial", "adoption_year",
                "first_post_year"]


def _overlay(gaz: Gazetteer, matches: pd.DataFrame, entries: list[NameEntry],
             main_share: float) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Turn matched names into buurt sets, PC4 shares and ``programme_areas`` rows.

    Per component the match table gets its residents and main/touched PC4. Per programme and list, PC4 shares
    are computed on the union of all matched buurten (``share``) and on the union of those matched with high
    or medium confidence (``share_confident``), so that overlapping names are not counted twice. Also returns
    the residents (2024) of the confidently matched buurten per list.
    """
    matches = matches.copy()
    matches["residents"], matches["pc4_main"], matches["pc4_touched"] = np.nan, "", ""
    info = {(e.link.key, e.name_as_listed, e.gemeente): e for e in entries}
    rows, per_link, residents = [], {}, {}
    for r in matches.itertuples():
        if r.confidence == "unresolved" or not r.codes:
            continue
        buurten, how = gaz.buurten_of(r.level, int(r.vintage), r.codes.split(";"))
        if not buurten:
            matches.loc[r.Index, "note"] = _join(r.note, f"no PC4 overlay: {how}")
            continue
        shares = gaz.pc4_shares(buurten)
        if not isinstance(r.names, str) or not r.names:
            matches.loc[r.Index, "names"] = ";".join(gaz.name_of(r.level, int(r.vintage), r.codes.split(";")))
        matches.loc[r.Index, "residents"] = float(gaz.buurt_pop.reindex(buurten).sum())
        matches.loc[r.Index, "pc4_main"] = ";".join(sorted(shares.loc[shares["share"] >= main_share, "pc4"]))
        matches.loc[r.Index, "pc4_touched"] = ";".join(sorted(shares.loc[shares["share"] < main_share, "pc4"]))
        e = info[(r.link, r.name_as_listed, r.gemeente)]
        common = {"programme": e.programme, "link": r.link, "gm_code": r.gm_code,
                  "name_as_listed": r.name_as_listed, "confidence": r.confidence, "method": r.method,
                  "partial": bool(r.partial), "adoption_year": e.link.adoption_year,
                  "first_post_year": e.link.first_post_year}
        for code in r.codes.split(";"):
            rows.append({**common, "level": r.level, "vintage": int(r.vintage), "code": code, "share": 1.0,
                         "share_basis": "matched"})
        if r.level != "buurt":
            rows += [{**common, "level": "buurt", "vintage": BUURT_VINTAGE, "code": b, "share": 1.0,
                      "share_basis": "contained"} for b in buurten]
        rows.append({**common, "level": "gemeente", "vintage": BUURT_VINTAGE, "code": "GM" + buurten[0][2:6],
                     "share": np.nan, "share_basis": "contains"})
        link = per_link.setdefault((e.programme, r.link), {"buurten": {}, "entry": e})
        for b in buurten:
            best = link["buurten"].get(b)
            if best is None or CONFIDENCE_ORDER[r.confidence] > CONFIDENCE_ORDER[best[0]]:
                link["buurten"][b] = (r.confidence, r.name_as_listed, r.gm_code, r.method, bool(r.partial))
    for (programme, link_key), link in per_link.items():
        e, buurten = link["entry"], link["buurten"]
        shares = gaz.pc4_shares(list(buurten)).set_index("pc4")
        confident = [b for b, v in buurten.items() if CONFIDENCE_ORDER[v[0]] >= CONFIDENT]
        residents[link_key] = float(gaz.buurt_pop.reindex(confident).sum())
        conf_share = (gaz.pc4_shares(confident).set_index("pc4")["share"] if confident
                      else pd.Series(dtype=float))
        pieces = gaz.pieces(list(buurten))
        pieces = pieces[pieces["buurt"].isin(set(buurten))]
        # a PC4 is named after the buurten that make up at least 2% of its area (not slivers along its edge)
        main = pieces[pieces["area_m2"] >= 0.02 * pieces["pc4_area_m2"]]
        for pc4, s in shares.iterrows():
            names = main.loc[main["pc4"] == pc4, "buurt"].unique()
            if not len(names):
                names = pieces.loc[pieces["pc4"] == pc4, "buurt"].unique()
            srcs = [buurten[b] for b in names]
            best = max(srcs, key=lambda v: CONFIDENCE_ORDER[v[0]])
            rows.append({"programme": programme, "link": link_key, "gm_code": best[2],
                         "name_as_listed": "; ".join(dict.fromkeys(v[1] for v in srcs)), "level": "pc4",
                         "vintage": PC4_VINTAGE, "code": pc4, "share": float(s["share"]),
                         "share_confident": float(conf_share.get(pc4, 0.0)), "share_basis": s["share_basis"],
                         "confidence": best[0], "method": best[3], "partial": any(v[4] for v in srcs),
                         "adoption_year": e.link.adoption_year, "first_post_year": e.link.first_post_year})
    areas = pd.DataFrame(rows, columns=AREA_COLUMNS)
    if not areas.empty:
        other = areas["level"] != "pc4"
        confident = areas["confidence"].map(CONFIDENCE_ORDER) >= CONFIDENT
        areas.loc[other, "share_confident"] = np.where(confident[other], areas.loc[other, "share"], 0.0)
        areas = (areas.assign(rank=areas["confidence"].map(CONFIDENCE_ORDER))
                 .sort_values("rank", ascending=False, kind="stable")
                 .drop_duplicates(["programme", "link", "level", "vintage", "code"])
                 .drop(columns="rank"))
    return matches, areas, residents


def _match_fields(m: Match) -> dict:
    return {"method": m.method, "confidence": m.confidence, "level": m.level, "vintage": m.vintage,
            "codes": ";".join(m.codes), "names": ";".join(m.names), "score": m.score,
            "alternatives": m.alternatives, "note": m.note}


def _join(a, b) -> str:
    a = a if isinstance(a, str) else ""
    return f"{a}; {b}" if a else b


def _apply_reviews(matches: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """Replace automatic results by reviewed decisions.

    A review names a component of a listed name; a review whose component is the whole listed name replaces
    every component the name was split into. Reviews of names not in this store's lists are ignored.
    """
    matches = matches.copy()
    for r in reviews.itertuples():
        name = ((matches["list_id"] == r.list_id) & (matches["gm_code"] == r.gm_code)
                & (matches["name_as_listed"] == r.name_as_listed))
        if not name.any():
            continue
        sel = name & (matches["component"] == r.component)
        if not sel.any():
            if r.component != r.name_as_listed:
                continue
            row = matches[name].iloc[0].to_dict() | {"component": r.component, "note": ""}
            matches = pd.concat([matches[~name], pd.DataFrame([row])], ignore_index=True)
            sel = ((matches["list_id"] == r.list_id) & (matches["gm_code"] == r.gm_code)
                   & (matches["name_as_listed"] == r.name_as_listed) & (matches["component"] == r.component))
        idx = matches.index[sel]
        if r.decision == "reject":
            matches.loc[idx, ["method", "confidence", "level", "vintage", "codes", "names", "score"]] = [
                "reviewed_reject", "unresolved", None, None, "", "", None]
        elif r.decision == "accept":
            matches.loc[idx, "confidence"] = r.confidence
            matches.loc[idx, "method"] = matches.loc[idx, "method"].astype(str) + "+reviewed"
        else:
            confidence = "envelope" if r.decision == "envelope" else r.confidence
            matches.loc[idx, ["method", "confidence", "level", "vintage", "codes", "names", "score"]] = [
                f"reviewed_{r.decision}", confidence, r.level, int(r.vintage), r.codes.replace(" ", ""), "",
                None]
        matches.loc[idx, "note"] = [_join(n, f"reviewed: {r.reason}") for n in matches.loc[idx, "note"]]
    return matches
