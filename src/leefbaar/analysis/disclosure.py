"""Statistical disclosure control for survey figures computed from respondent microdata.

Follows the practice of statistical offices for tables from microdata (ESSnet handbook: Hundepool et al. 2012,
*Statistical Disclosure Control*, Wiley, ch. 4 sensitivity rules, ch. 5 frequency tables and disclosure by
differencing; CBS's tau-ARGUS). Thresholds are data: ``catalogue/disclosure.yaml``; docs/disclosure.md gives
the reasons. A set of respondents with contributions ``c`` (survey weights; 1 when unweighted) may be
published, or be the difference of two published figures, only if

1. ``count``: it holds at least ``min_respondents`` respondents (unweighted: the threshold rule);
2. ``effective``: its Kish effective number ``n_eff = (sum c)^2 / sum c^2`` (Kish 1992, *J. Official
   Statistics* 8(2)) is at least ``min_effective_share * min_respondents``;
3. ``dominance``: its ``n`` largest contributions hold at most ``k`` % of the total ((n, k) rule on weights,
   Hundepool et al. 2012 p. 151), so no respondent's answer dominates a mean.

Differencing (rule ``difference``): every published group (area x year x item) leaves a fingerprint in the
store (table ``survey_fingerprints``: keyed hashes of each respondent's id and row, and the respondent's
weight, never an answer). A new group A is compared with every group B published before that shares a respondent (any
survey id, level, year or import, and the groups accepted earlier in the same import). Assuming the attacker
knows every weight and weight total (the worst case; the store holds them), the two means give any linear
combination ``W_A mean_A - rho W_B mean_B``; the one with the fewest respondents uses the most frequent
weight ratio ``rho = w_A / w_B`` among the shared respondents. Its respondents are ``A \\ B``, ``B \\ A`` and the shared
respondents whose weight ratio differs from ``rho`` by more than ``ratio_tolerance`` (``M``; published means
are rounded to ``significant_digits``, so smaller differences drown in the rounding). A is published only if
``(A \\ B) + M`` and ``(B \\ A) + M`` are each empty or pass rules 1-3 (on the coefficients ``w``, ``rho v``
and ``|w - rho v|``); otherwise it is suppressed (secondary suppression). Pairs only: a difference that needs
three or more published groups is not searched for (see docs/disclosure.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from leefbaar.errors import InputError, SpecError

REASONS = ("count", "effective", "dominance", "difference")


@dataclass(frozen=True)
class DisclosureRules:
    """Thresholds of ``catalogue/disclosure.yaml`` (``min_respondents`` may be set per import)."""

    min_respondents: int
    min_effective_share: float
    dominance_n: int
    dominance_k: float
    max_weight: float
    max_weight_ratio: float
    max_abs_answer: float
    ratio_tolerance: float = 0.0
    significant_digits: int = 15

    @property
    def min_effective(self) -> float:
        """Smallest Kish effective number of respondents allowed."""
        return self.min_effective_share * self.min_respondents

    def reason(self, contributions: np.ndarray) -> str | None:
        """The first rule (``count``, ``effective``, ``dominance``) that forbids publishing a figure over
        respondents with these positive contributions, or None."""
        c = np.asarray(contributions, dtype=float)
        if len(c) < self.min_respondents:
            return "count"
        total = c.sum()
        if total * total / np.square(c).sum() < self.min_effective:
            return "effective"
        if np.sort(c)[-self.dominance_n:].sum() > self.dominance_k / 100 * total:
            return "dominance"
        return None

    def reasons(self, n: np.ndarray, total: np.ndarray, squares: np.ndarray, top: np.ndarray) -> np.ndarray:
        """``reason`` per group from its count, weight total, sum of squared weights and the sum of its
        ``dominance_n`` largest weights (vectorised); an empty string where publishable."""
        out = np.full(len(n), "", dtype=object)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[top > self.dominance_k / 100 * total] = "dominance"
            out[total * total / squares < self.min_effective] = "effective"
        out[n < self.min_respondents] = "count"
        return out


@cache
def _catalogue() -> dict:
    text = (resources.files("leefbaar") / "catalogue" / "disclosure.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_rules(min_respondents: int | None = None) -> DisclosureRules:
    """The catalogue's rules; ``min_respondents`` (>= 1) replaces the catalogue's minimum."""
    cat = _catalogue()
    try:
        rules = DisclosureRules(
            int(min_respondents if min_respondents is not None else cat["min_respondents"]),
            float(cat["min_effective_share"]), int(cat["dominance"]["n"]), float(cat["dominance"]["k"]),
            float(cat["max_weight"]), float(cat["max_weight_ratio"]), float(cat["max_abs_answer"]),
            float(cat["weight_ratio_tolerance"]), int(cat["significant_digits"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"catalogue/disclosure.yaml: missing or invalid entry ({exc})") from None
    if rules.min_respondents < 1:
        raise InputError("--min-respondents", f"must be at least 1, got {rules.min_respondents}")
    if not (0 < rules.min_effective_share <= 1 and rules.dominance_n >= 1 and 0 < rules.dominance_k <= 100
            and rules.max_weight > 0 and rules.max_weight_ratio >= 1 and rules.max_abs_answer > 0
            and 0 <= rules.ratio_tolerance < 0.01 and 1 <= rules.significant_digits <= 15):
        raise SpecError("catalogue/disclosure.yaml: thresholds out of range (0 < min_effective_share <= 1, "
                        "dominance n >= 1 and 0 < k <= 100, positive bounds, weight_ratio_tolerance below "
                        "0.01, significant_digits 1-15)")
    return rules


def round_significant(x, digits: int) -> np.ndarray:
    """``x`` rounded to ``digits`` significant digits (published figures; NaN and 0 stay as they are)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.where((x == 0) | ~np.isfinite(x), 0, np.floor(np.log10(np.abs(x))))
    scale = 10.0 ** (digits - 1 - exponent)
    return np.round(x * scale) / scale


def check_bounded(path, values: np.ndarray, rows: np.ndarray, column: str, what: str, low: float, high: float,
                  missing_ok: bool) -> None:
    """Error naming file, row and column (never the value) for the first cell that is not finite or outside
    ``[low, high]`` (empty cells are allowed when ``missing_ok``)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v < low) | (v > high)
    if missing_ok:
        bad &= ~np.isnan(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"{what} must be a finite number from {low:g} to {high:g} ({int(bad.sum())} such "
                         "cells in this column; values of respondents are not shown)", row=int(rows[i]),
                         column=column)


def check_weights(path, w: np.ndarray, rows: np.ndarray, column: str, rules: DisclosureRules) -> None:
    """Weights must be finite, >= 0, at most ``max_weight`` and ``max_weight_ratio`` x the median positive
    weight; the error names the row and column, never the value."""
    check_bounded(path, w, rows, column, "a weight", 0.0, rules.max_weight, missing_ok=False)
    positive = w[w > 0]
    if len(positive):
        bound = rules.max_weight_ratio * float(np.median(positive))
        big = w > bound
        if big.any():
            i = int(np.flatnonzero(big)[0])
            raise InputError(path, f"weight is more than {rules.max_weight_ratio:g} times the median weight "
                             f"({int(big.sum())} such rows; values of respondents are not shown)",
                             row=int(rows[i]), column=column)


def respondent_keys(texts: list[str], salt: bytes) -> np.ndarray:
    """Keyed hashes (HMAC-SHA256, 64 bits in hex) of respondent identifiers; a collision can only merge two
    respondents, which makes the differencing check stricter, never weaker."""
    return np.array([hmac.new(salt, t.encode("utf-8"), hashlib.sha256).hexdigest()[:16] for t in texts],
                    dtype=object)


def _matches(a_id, a_row, b_id, b_row) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in a, in b) of the same respondents: equal id keys, or else equal row keys."""
    by_id = {k: j for j, k in enumerate(b_id) if k is not None}
    by_row = {k: j for j, k in enumerate(b_row)}
    ia, ib, taken = [], [], set()
    for i, (k_id, k_row) in enumerate(zip(a_id, a_row, strict=True)):
        j = by_id.get(k_id) if k_id is not None else None
        j = by_row.get(k_row) if j is None else j
        if j is not None and j not in taken:
            ia.append(i), ib.append(j), taken.add(j)
    return np.array(ia, dtype=int), np.array(ib, dtype=int)


def _pair_reason(a: tuple, b: tuple, rules: DisclosureRules) -> str | None:
    """``difference`` when two groups (id keys, row keys, weights) differ by a set of respondents that fails
    rules 1-3, else None."""
    (a_id, a_row, a_w), (b_id, b_row, b_w) = a, b
    ia, ib = _matches(a_id, a_row, b_id, b_row)
    only_a, only_b = np.ones(len(a_w), bool), np.ones(len(b_w), bool)
    only_a[ia], only_b[ib] = False, False
    ratio = a_w[ia] / b_w[ib]
    tol = rules.ratio_tolerance
    ordered = np.sort(ratio)
    near = np.searchsorted(ordered, ordered * (1 + tol), "right") - np.searchsorted(ordered, ordered * (1 - tol))
    rho = ordered[np.argmax(near)]  # the ratio shared (within the tolerance) by most common respondents
    mismatch = np.abs(ratio - rho) > tol * rho
    m = np.abs(a_w[ia][mismatch] - rho * b_w[ib][mismatch])
    for part in (np.concatenate([a_w[only_a], m]), np.concatenate([rho * b_w[only_b], m])):
        if len(part) and rules.reason(part[part > 0]) is not None:
            return "difference"
    return None


def differencing(new: pd.DataFrame, old: pd.DataFrame, rules: DisclosureRules) -> set[int]:
    """Group ids of ``new`` to suppress because their difference with a group of ``old`` or an earlier
    accepted group of ``new`` could disclose fewer respondents than the rules allow.

    Both frames: ``gid`` (int, unique across both; new groups are decided in ascending order), ``item``,
    ``key_id`` (respondent id hash or None), ``key_row`` (row hash), ``weight`` (> 0). Two respondents are
    the same when their id keys agree, or else their row keys. Groups are compared within the same item.
    """
    everything = pd.concat([new, old], ignore_index=True)
    found = []
    for key in ("key_id", "key_row"):
        left = new.loc[new[key].notna(), ["gid", "item", key]]
        right = everything.loc[everything[key].notna(), ["gid", "item", key]]
        found.append(left.merge(right, on=["item", key], suffixes=("", "_other"))[["gid", "gid_other"]])
    pairs = pd.concat(found, ignore_index=True)
    pairs = pairs[pairs["gid"] != pairs["gid_other"]].drop_duplicates()
    if pairs.empty:
        return set()
    members = {gid: (g["key_id"].to_numpy(object), g["key_row"].to_numpy(object), g["weight"].to_numpy(float))
               for gid, g in everything[everything["gid"].isin(set(pairs["gid"]) | set(pairs["gid_other"]))]
               .groupby("gid")}
    new_ids = set(new["gid"])
    suppressed: set[int] = set()
    for gid, others in pairs.groupby("gid", sort=True)["gid_other"]:
        for other in others:
            if other in suppressed or (other in new_ids and other > gid):
                continue  # not published (or decided later, against this one)
            if _pair_reason(members[gid], members[other], rules) is not None:
                suppressed.add(int(gid))
                break
    return suppressed
