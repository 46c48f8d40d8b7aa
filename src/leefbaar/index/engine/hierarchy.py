"""The index hierarchy: indicators (level 1) and aggregates (levels 2..n), from a metadata table laid out as
COINr's ``iMeta`` (columns ``Level, iCode, iName, Direction, Weight, Denominator, Parent, Type, Target``; rows
of Type ``Group`` and ``Denominator`` name group and denominator columns of the data) or from the spec.

Validated on load; a problem raises ``InputError`` naming the file, the row (line number in a CSV file, entry
number in a spec) and the column. Every parent must be an aggregate one level up; weights are zero or more;
directions are -1 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from leefbaar.errors import InputError

META_COLUMNS = {"level": "Level", "icode": "iCode", "iname": "iName", "direction": "Direction",
                "weight": "Weight", "denominator": "Denominator", "parent": "Parent", "type": "Type",
                "target": "Target", "goallow": "GoalLow", "goalhigh": "GoalHigh", "unit": "Unit"}
TYPES = ("Indicator", "Aggregate", "Group", "Denominator", "Other")


@dataclass
class Node:
    code: str
    level: int
    parent: str | None
    weight: float
    direction: int = 1
    name: str = ""
    denominator: str | None = None
    target: float | None = None
    goalposts: tuple[float, float] | None = None


@dataclass
class Hierarchy:
    """Levels 1..n: ``levels[k]`` the codes at level k + 1, in order. ``membership(k)`` gives the (children x
    nodes) 0/1 matrix from level k to level k + 1 (1-based levels)."""

    nodes: dict[str, Node]
    level_names: dict[int, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    denominators: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def depth(self) -> int:
        if "depth" not in self._cache:
            self._cache["depth"] = max(n.level for n in self.nodes.values())
        return self._cache["depth"]

    def codes(self, level: int) -> list[str]:
        key = ("codes", level)
        if key not in self._cache:
            self._cache[key] = [c for c, n in self.nodes.items() if n.level == level]
        return self._cache[key]

    @property
    def indicators(self) -> list[str]:
        return self.codes(1)

    def membership(self, level: int) -> np.ndarray:
        """(codes at ``level``) x (codes at ``level + 1``) matrix of 0/1 (computed once)."""
        key = ("membership", level)
        if key in self._cache:
            return self._cache[key]
        kids, parents = self.codes(level), self.codes(level + 1)
        pos = {p: j for j, p in enumerate(parents)}
        A = np.zeros((len(kids), len(parents)))
        for i, k in enumerate(kids):
            A[i, pos[self.nodes[k].parent]] = 1.0
        self._cache[key] = A
        return A

    def weights(self, level: int) -> np.ndarray:
        return np.array([self.nodes[c].weight for c in self.codes(level)], float)

    def level_name(self, level: int) -> str:
        return self.level_names.get(level, f"level{level}")

    def leaves_of(self, code: str) -> list[str]:
        """The indicators under ``code`` (itself when it is an indicator)."""
        node = self.nodes[code]
        if node.level == 1:
            return [code]
        return [i for k in self.codes(node.level - 1) if self.nodes[k].parent == code for i in self.leaves_of(k)]

    def to_frame(self) -> pd.DataFrame:
        """The hierarchy as an iMeta-style table (for the build record and replay)."""
        rows = [{"Level": n.level, "iCode": n.code, "iName": n.name, "Direction": n.direction, "Weight": n.weight,
                 "Denominator": n.denominator, "Parent": n.parent,
                 "Type": "Indicator" if n.level == 1 else "Aggregate", "Target": n.target,
                 "GoalLow": n.goalposts[0] if n.goalposts else None,
                 "GoalHigh": n.goalposts[1] if n.goalposts else None} for n in self.nodes.values()]
        rows += [{"iCode": g, "Type": "Group"} for g in self.groups]
        rows += [{"iCode": d, "Type": "Denominator"} for d in self.denominators]
        return pd.DataFrame(rows)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def _cell(r: dict, col: str, default=None, cast=float, *, code: str, row: int, source: str):
    """A number from metadata row ``r`` (``default`` when blank; none means required)."""
    v = r.get(col)
    if _blank(v):
        if default is None:
            raise InputError(source, f"{code}: a value is needed", row, col)
        return default
    try:
        out = cast(float(v))
    except (TypeError, ValueError):
        raise InputError(source, f"{code}: {v!r} is not a number", row, col) from None
    if cast is float and not np.isfinite(out):
        raise InputError(source, f"{code}: {v!r} is not a finite number", row, col)
    return out


def from_meta(meta: pd.DataFrame, source: str = "<meta>", level_names: dict[int, str] | None = None,
              row_offset: int = 2) -> Hierarchy:
    """A validated ``Hierarchy`` from an iMeta-style table (column names case-insensitive).

    ``row_offset``: added to the 0-based row position to name rows in messages (2 for a CSV with a header).
    """
    cols = {}
    for c in meta.columns:
        key = str(c).strip().lower()
        if key not in META_COLUMNS:
            raise InputError(source, f"unknown metadata column; expected some of {', '.join(META_COLUMNS.values())}",
                             column=str(c))
        cols[c] = META_COLUMNS[key]
    meta = meta.rename(columns=cols)
    for need in ("iCode", "Parent"):
        if need not in meta.columns:
            raise InputError(source, f"the metadata has no '{need}' column")
    meta = meta.astype(object).where(meta.notna(), None)
    nodes: dict[str, Node] = {}
    groups, denoms = [], []
    for i, r in enumerate(meta.to_dict("records")):
        row = i + row_offset
        code = r.get("iCode")
        if _blank(code):
            raise InputError(source, "every row needs a code", row, "iCode")
        code = str(code).strip()
        kind = str(r.get("Type") or ("Indicator" if str(r.get("Level") or "") in ("1", "1.0") else "Aggregate"))
        if kind not in TYPES:
            raise InputError(source, f"type {kind!r} is not one of {', '.join(TYPES)}", row, "Type")
        if kind == "Group":
            groups.append(code)
            continue
        if kind in ("Denominator", "Other"):
            if kind == "Denominator":
                denoms.append(code)
            continue
        if code in nodes:
            raise InputError(source, f"code {code!r} appears twice", row, "iCode")

        num = partial(_cell, r, code=code, row=row, source=source)
        level = num("Level", 1 if kind == "Indicator" else None, int)
        weight = num("Weight", 1.0)
        if weight < 0:
            raise InputError(source, f"{code}: a weight must be zero or more, got {weight}", row, "Weight")
        direction = num("Direction", 1, int)
        if direction not in (-1, 1):
            raise InputError(source, f"{code}: direction must be -1 or 1, got {direction}", row, "Direction")
        if (kind == "Indicator") != (level == 1):
            raise InputError(source, f"{code}: indicators are level 1 and aggregates level 2 or more "
                                     f"(type {kind}, level {level})", row, "Level")
        target = None if _blank(r.get("Target")) else num("Target")
        gp = None
        if not _blank(r.get("GoalLow")) or not _blank(r.get("GoalHigh")):
            gp = (num("GoalLow"), num("GoalHigh"))
            if gp[0] == gp[1]:
                raise InputError(source, f"{code}: the two goalposts are equal", row, "GoalHigh")
        parent = None if _blank(r.get("Parent")) else str(r["Parent"]).strip()
        den = None if _blank(r.get("Denominator")) else str(r["Denominator"]).strip()
        nodes[code] = Node(code, level, parent, weight, direction, str(r.get("iName") or code), den, target, gp)
        nodes[code]._row = row  # type: ignore[attr-defined]
    if not any(n.level == 1 for n in nodes.values()):
        raise InputError(source, "the metadata has no indicator (level 1)")
    depth = max(n.level for n in nodes.values())
    for n in nodes.values():
        row = getattr(n, "_row", None)
        if n.parent is None:
            if n.level != depth:
                raise InputError(source, f"{n.code}: only the top level ({depth}) has no parent", row, "Parent")
            continue
        p = nodes.get(n.parent)
        if p is None:
            raise InputError(source, f"{n.code}: unknown parent {n.parent!r}", row, "Parent")
        if p.level != n.level + 1:
            raise InputError(source, f"{n.code} (level {n.level}) has parent {p.code} at level {p.level}; a parent "
                                     "is one level up", row, "Parent")
        if n.denominator is not None and n.level > 1:
            raise InputError(source, f"{n.code}: only indicators have a denominator", row, "Denominator")
    for level in range(2, depth + 1):
        for c in [c for c, n in nodes.items() if n.level == level]:
            if not any(k.parent == c for k in nodes.values()):
                raise InputError(source, f"aggregate {c!r} has no children", getattr(nodes[c], "_row", None),
                                 "iCode")
    for level in range(1, depth):
        kids = [n for n in nodes.values() if n.level == level]
        for p in {n.parent for n in kids}:
            if sum(n.weight for n in kids if n.parent == p) <= 0:
                raise InputError(source, f"the weights of the children of {p!r} add up to zero", None, "Weight")
    return Hierarchy(nodes, dict(level_names or {}), groups, denoms)


def read_meta(path) -> pd.DataFrame:
    """Read an iMeta-style CSV (or Parquet) file."""
    from pathlib import Path

    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=object, keep_default_na=True)
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"cannot be read: {exc}") from None
