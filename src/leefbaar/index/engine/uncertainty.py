"""Uncertainty and sensitivity analysis of any engine spec, vectorised across draws.

The spec's ``uncertainty`` section (or the arguments of ``analyse``) names what varies::

    uncertainty:
      draws: 500                       # model evaluations (Saltelli design: base N = draws // (factors + 2))
      seed: 1
      weights: {perturb: 0.25}         # every weight times U(1 - 0.25, 1 + 0.25), independently
      normalise: [{method: minmax, range: [1, 100]}, {method: zscore, mean: 10, sd: 2}]
      aggregate: [arithmetic, geometric]
      impute: [none, mean]             # optional: imputation alternatives
      drop_indicator: true             # optional: leave one indicator out (or none), equal chances

Each named choice is one factor of a Sobol design (SALib ``sobol.sample`` with groups: the weight
perturbations are one group, each discrete choice one factor whose uniform input picks an alternative with
equal chances). Every row of the design is one draw. The steps up to normalising are computed once per
(imputation, normaliser) alternative; all draws are then aggregated together, level by level, as one array
computation over draws x units x children (``evaluate``). Outputs:

- per unit and code of the top level: nominal score and rank, median, 5 % and 95 % quantiles of the score
  and of the rank over the draws (90 % interval);
- first-order (S1) and total (ST) Sobol indices of each factor for the mean absolute rank shift from the
  nominal ranks over all units (the index-level output, with SALib's bootstrap 95 % confidence intervals),
  and for each unit's rank (the same estimators as SALib, Saltelli 2010 for S1 and Jansen for ST, vectorised
  over units; checked against SALib in the tests).

``naive`` runs the same design by one full ``build`` per draw through the public API (the reference the
vectorised path is checked and timed against).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leefbaar.errors import SpecError
from leefbaar.index.engine import ops
from leefbaar.index.engine.build import Inputs, aggregate_all, final_weights, normalise_all, prepare, run
from leefbaar.index.engine.spec import EngineSpec, Normaliser, parse_normaliser

KEYS = {"draws", "seed", "weights", "normalise", "aggregate", "impute", "drop_indicator", "level"}


@dataclass(frozen=True)
class Plan:
    """What varies: weight perturbation (fraction, 0 = fixed), normaliser, aggregator and imputation
    alternatives (the first of each is drawn like the others), leave-one-indicator-out."""

    draws: int = 500
    seed: int = 1
    perturb: float = 0.0
    normalisers: tuple[Normaliser, ...] = ()
    aggregators: tuple[str, ...] = ()
    imputations: tuple[str, ...] = ()
    drop_indicator: bool = False

    def factors(self) -> list[str]:
        out = []
        if self.perturb > 0:
            out.append("weights")
        if len(self.normalisers) > 1:
            out.append("normaliser")
        if len(self.aggregators) > 1:
            out.append("aggregator")
        if len(self.imputations) > 1:
            out.append("imputation")
        if self.drop_indicator:
            out.append("drop_indicator")
        return out


def parse_uncertainty(body: dict, spec: EngineSpec) -> Plan:
    """A validated ``Plan`` from a spec's ``uncertainty`` mapping (unknown options are refused)."""
    where = f"{spec.source}: uncertainty"
    if not isinstance(body, dict):
        raise SpecError(f"{where}: must be a mapping")
    unknown = set(body) - KEYS
    if unknown:
        raise SpecError(f"{where}: unknown option {sorted(unknown)[0]!r}; options: {', '.join(sorted(KEYS))}")
    draws = int(body.get("draws", 500))
    if draws < 20:
        raise SpecError(f"{where}.draws: at least 20 draws, got {draws}")
    w = body.get("weights") or {}
    if not isinstance(w, dict) or set(w) - {"perturb"}:
        raise SpecError(f"{where}.weights: only {{perturb: FRACTION}} (e.g. 0.25 for +-25 %) is supported")
    perturb = float(w.get("perturb", 0.0))
    if not 0 <= perturb < 1:
        raise SpecError(f"{where}.weights.perturb: a fraction in [0, 1), got {perturb}")
    norms = tuple(parse_normaliser(n, f"{where}.normalise[{i}]") for i, n in enumerate(body.get("normalise") or []))
    aggs = tuple(body.get("aggregate") or [])
    for a in aggs:
        if a not in ops.AGGREGATE:
            raise SpecError(f"{where}.aggregate: {a!r} is not one of {', '.join(ops.AGGREGATE)}")
    imps = tuple(body.get("impute") or [])
    for m in imps:
        if m not in ops.IMPUTE or (m.startswith("group") and not spec.impute_group):
            raise SpecError(f"{where}.impute: {m!r} is not one of {', '.join(ops.IMPUTE)} (group methods need "
                            "impute.group in the spec)")
    if "level" in body:
        raise SpecError(f"{where}.level: the analysis is of the top level; 'level' is not supported")
    plan = Plan(draws, int(body.get("seed", 1)), perturb, norms, aggs, imps, bool(body.get("drop_indicator")))
    if not plan.factors():
        raise SpecError(f"{where}: nothing varies; name weights, normalise, aggregate, impute or drop_indicator")
    if spec.weights not in ("meta", "equal"):
        raise SpecError(f"{where}: only specs with meta or equal weights can be analysed (weights are "
                        f"{spec.weights!r}: re-estimated weights per draw are not vectorised)")
    if spec.aggregator_levels and len(plan.aggregators) > 1:
        raise SpecError(f"{where}: aggregate alternatives replace the aggregator of every level; the spec sets "
                        "per-level aggregators")
    if spec.normaliser_per and len(plan.normalisers) > 1:
        raise SpecError(f"{where}: normaliser alternatives replace every indicator's normaliser; the spec sets "
                        "per-indicator normalisers")
    return plan


@dataclass
class Design:
    """Decoded Sobol design: per draw the weight multipliers (draws x all weights), the index of the
    normaliser, aggregator and imputation alternative, and the dropped indicator (-1 none)."""

    problem: dict
    X: np.ndarray
    multipliers: np.ndarray
    normaliser: np.ndarray
    aggregator: np.ndarray
    imputation: np.ndarray
    dropped: np.ndarray
    base: int


def saltelli(problem: dict, base: int, seed: int) -> np.ndarray:
    """Saltelli's radial design in SALib's row order for ``calc_second_order=False`` (per base row: A,
    AB_1..AB_k, B, where AB_j is A with the columns of group j taken from B), with A and B independent
    uniform random matrices (Monte Carlo; SALib's ``sobol.sample`` builds the same layout from a Sobol'
    sequence, ten times slower here for 60 weights). ``base * (k + 2)`` rows."""
    rng = np.random.default_rng(seed)
    names = problem["names"]
    groups = list(dict.fromkeys(problem["groups"]))
    A = rng.random((base, len(names)))
    B = rng.random((base, len(names)))
    member = np.array(problem["groups"])
    out = np.empty((base, len(groups) + 2, len(names)))
    out[:, 0] = A
    for j, g in enumerate(groups):
        out[:, j + 1] = np.where(member == g, B, A)
    out[:, -1] = B
    return out.reshape(-1, len(names))


def design(plan: Plan, spec: EngineSpec) -> Design:
    """The Saltelli design of ``plan`` (``saltelli``): ``base = draws // (factors + 2)`` rows per matrix."""
    h = spec.hierarchy
    codes = [c for lv in range(1, h.depth) for c in h.codes(lv)]
    names, groups = [], []
    if plan.perturb > 0:
        names += [f"w:{c}" for c in codes]
        groups += ["weights"] * len(codes)
    for f in plan.factors():
        if f != "weights":
            names.append(f)
            groups.append(f)
    problem = {"num_vars": len(names), "names": names, "groups": groups, "bounds": [[0.0, 1.0]] * len(names)}
    k = len(plan.factors())
    base = max(plan.draws // (k + 2), 2)
    X = saltelli(problem, base, plan.seed)
    n = len(X)
    col = {nm: j for j, nm in enumerate(names)}

    def pick(name, k):
        return np.minimum((X[:, col[name]] * k).astype(int), k - 1) if name in col else np.zeros(n, int)

    mult = np.ones((n, len(codes)))
    if plan.perturb > 0:
        mult = 1 + plan.perturb * (2 * X[:, : len(codes)] - 1)
    dropped = pick("drop_indicator", len(h.indicators) + 1) - 1
    return Design(problem, X, mult, pick("normaliser", len(plan.normalisers)),
                  pick("aggregator", len(plan.aggregators)), pick("imputation", len(plan.imputations)),
                  dropped, base)


@dataclass
class Analysis:
    """Results as arrays; tables on demand. ``scores``: per unit of the top code the nominal score and rank
    and the median, 5 % and 95 % quantiles of score and rank; ``sobol``: S1, ST (and SALib's bootstrap 95 %
    confidence) of each factor for the mean absolute rank shift; ``sobol_units``: S1 and ST of each factor
    for each unit's rank; ``draws``/``rank_draws``: top-node scores and ranks (draws x units)."""

    units: np.ndarray
    top: str
    nominal: np.ndarray
    nominal_rank: np.ndarray
    score_q: np.ndarray
    rank_q: np.ndarray
    factors: list[str]
    salib: dict
    s1: np.ndarray
    st: np.ndarray
    draws: np.ndarray
    rank_draws: np.ndarray
    design: Design

    @property
    def scores(self) -> pd.DataFrame:
        qs, qr = self.score_q, self.rank_q
        return pd.DataFrame({"unit": self.units, "code": self.top, "score": self.nominal, "rank": self.nominal_rank,
                             "score_median": qs[0], "score_p05": qs[1], "score_p95": qs[2],
                             "rank_median": qr[0], "rank_p05": qr[1], "rank_p95": qr[2]})

    @property
    def sobol(self) -> pd.DataFrame:
        return pd.DataFrame({"output": "mean_abs_rank_shift", "factor": self.factors,
                             **{k: np.asarray(self.salib[k]) for k in ("S1", "S1_conf", "ST", "ST_conf")}})

    @property
    def sobol_units(self) -> pd.DataFrame:
        return pd.concat([pd.DataFrame({"unit": self.units, "factor": f, "S1": self.s1[j], "ST": self.st[j]})
                          for j, f in enumerate(self.factors)], ignore_index=True)

    def write(self, out) -> list:
        from pathlib import Path

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, frame in (("uncertainty_scores", self.scores), ("sensitivity_index", self.sobol),
                            ("sensitivity_units", self.sobol_units)):
            paths.append(out / f"{name}.csv")
            frame.to_csv(paths[-1], index=False)
        return paths


def _variants(inputs: Inputs, spec: EngineSpec, plan: Plan) -> dict[tuple[int, int], np.ndarray]:
    """Normalised matrices per (imputation, normaliser) alternative (the steps before aggregation, once each)."""
    out = {}
    imps = plan.imputations or (spec.impute,)
    norms = plan.normalisers or (None,)
    for i, m in enumerate(imps):
        st = prepare(inputs, spec.replace(impute=m), record=False)
        for k, nz in enumerate(norms):
            out[(i, k)] = normalise_all(st.treated, spec, nz) if nz is not None else st.normalised
    return out


_KIND = {"arithmetic": 0, "geometric": 1, "harmonic": 2}


def _fold(V: np.ndarray, present: np.ndarray, kind: int) -> np.ndarray:
    """What a weighted mean sums: the value (arithmetic), its log (geometric) or its reciprocal (harmonic);
    0 where missing."""
    safe = np.where(present, V, 1.0)
    if kind == 0:
        return np.where(present, V, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(present, np.log(safe) if kind == 1 else 1 / safe, 0.0)


def _unfold(num: np.ndarray, den: np.ndarray, kind: int) -> np.ndarray:
    """The mean from the weighted sum ``num`` and the available weight ``den`` (NaN where none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == 0:
            return num / np.where(den > 0, den, np.nan)
        if kind == 1:
            return np.exp(num / np.where(den > 0, den, np.nan))
        return den / np.where(num > 0, num, np.nan)


def _positive(V: np.ndarray, kind: int, where: str) -> None:
    if kind and np.any(V <= 0):  # NaN <= 0 is False
        name = "geometric" if kind == 1 else "harmonic"
        raise SpecError(f"{where}: {name} aggregation needs positive values, but a value is "
                        f"{float(np.nanmin(V)):.6g}; normalise to a positive range (e.g. minmax range [1, 100] or "
                        "zscore mean 10)")


def evaluate(inputs: Inputs, spec: EngineSpec, plan: Plan, d: Design) -> np.ndarray:
    """Top-node scores of every draw, shape (draws, units) (the first top node), as one array computation over
    draws x units x children per level (see ``_batched``); the weighted median, which has no sum to batch,
    goes through ``aggregate_all`` per (alternative, aggregator) group of draws."""
    variants = _variants(inputs, spec, plan)
    h = spec.hierarchy
    base_w = np.concatenate(final_weights(next(iter(variants.values())), spec))
    W = base_w * d.multipliers
    if plan.drop_indicator:
        rows = np.flatnonzero(d.dropped >= 0)
        W[rows, d.dropped[rows]] = 0.0
    sizes = [len(h.codes(lv)) for lv in range(1, h.depth)]
    ws = np.split(W, np.cumsum(sizes)[:-1], axis=1)
    aggs = plan.aggregators or (None,)
    kinds = {lv: np.array([_KIND.get(a or spec.aggregator_at(lv), -1) for a in aggs])[d.aggregator]
             for lv in range(2, h.depth + 1)}
    if all((k >= 0).all() for k in kinds.values()):
        return _batched(variants, spec, plan, d, ws, kinds)
    n_units = next(iter(variants.values())).shape[0]
    out = np.full((len(d.X), n_units), np.nan)
    for (i, k), Z in variants.items():
        for a, agg in enumerate(aggs):
            rows = np.flatnonzero((d.imputation == i) & (d.normaliser == k) & (d.aggregator == a))
            if not len(rows):
                continue
            levels = {lv: agg for lv in range(2, h.depth + 1)} if agg else None
            try:
                top = aggregate_all(Z, spec, [w[rows] for w in ws], aggregators=levels)[-1]
            except SpecError as exc:
                raise SpecError(f"{spec.source}: uncertainty: {exc} (normaliser "
                                f"{(plan.normalisers or (spec.normaliser,))[k].as_dict()}, aggregator {agg})") from None
            out[rows] = top[..., 0]
    return out


def _blocks(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a membership matrix ``A`` (children, nodes; one parent each, every node with a child): the order
    of the children by parent and where each node's block starts in that order."""
    parent = A.argmax(axis=1)
    perm = np.argsort(parent, kind="stable")
    return perm, np.searchsorted(parent[perm], np.arange(A.shape[1]))


def _block_sum(M: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums over each node's children of ``M`` (children sorted by parent, ...) along axis 0, by
    ``np.add.reduceat``: every addition is of whole contiguous slabs."""
    return np.add.reduceat(M, starts, axis=0)


def _batched(variants: dict, spec: EngineSpec, plan: Plan, d: Design, ws: list[np.ndarray],
             kinds: dict[int, np.ndarray]) -> np.ndarray:
    """All draws at once, level by level. Level 1, per (alternative, aggregator) and node: one product of the
    draws' weights of its indicators with their folded values and presence side by side, (draws, children) @
    (children, 2 units). Higher levels, per aggregator: element-wise products over (children, draws, units)
    summed over each node's children (``_block_sum``). Missing children are skipped and the weights
    renormalised, as ``ops.aggregate``."""
    h = spec.hierarchy
    A1 = h.membership(1)
    members = [np.flatnonzero(A1[:, g]) for g in range(A1.shape[1])]
    n_draws, G = len(d.X), A1.shape[1]
    n_units = next(iter(variants.values())).shape[0]
    V = np.empty((G, n_draws, n_units))  # children first: the sums run over contiguous slabs
    for (i, k), Z in variants.items():
        present = ~np.isnan(Z)
        for kind in np.unique(kinds[2]):
            rows = np.flatnonzero((d.imputation == i) & (d.normaliser == k) & (kinds[2] == kind))
            if not len(rows):
                continue
            _positive(Z, kind, f"{spec.source}: uncertainty (normaliser "
                               f"{(plan.normalisers or (spec.normaliser,))[k].as_dict()})")
            side = np.concatenate([_fold(Z, present, kind), present.astype(float)]).T  # (indicators, 2 units)
            Wr = ws[0][rows]
            both = np.stack([Wr[:, kids] @ side[kids] for kids in members])  # (nodes, rows, 2 units)
            V[:, rows] = _unfold(both[..., :n_units], both[..., n_units:], kind)
        if spec.min_share > 0:
            share = (present.astype(float) @ A1) / A1.sum(axis=0)
            rows = np.flatnonzero((d.imputation == i) & (d.normaliser == k))
            V[:, rows] = np.where((share >= spec.min_share - 1e-12).T[:, None, :], V[:, rows], np.nan)
    for lv in range(2, h.depth):
        A = h.membership(lv)
        perm, starts = _blocks(A)
        V = V[perm]
        present = ~np.isnan(V)
        out = np.empty((A.shape[1], n_draws, n_units))
        for kind in np.unique(kinds[lv + 1]):
            rows = np.flatnonzero(kinds[lv + 1] == kind)
            Vr, pr = V[:, rows], present[:, rows]
            _positive(Vr, kind, f"{spec.source}: uncertainty (level {lv + 1})")
            wv = ws[lv - 1][rows][:, perm].T[:, :, None]
            out[:, rows] = _unfold(_block_sum(_fold(Vr, pr, kind) * wv, starts),
                                   _block_sum(np.where(pr, wv, 0.0), starts), kind)
        if spec.min_share > 0:
            share = _block_sum(present.astype(float), starts) / A.sum(axis=0)[:, None, None]
            out = np.where(share >= spec.min_share - 1e-12, out, np.nan)
        V = out
    return V[0]


def _rank_rows(S: np.ndarray) -> np.ndarray:
    """Ranks within each row (draw), 1 = highest, ties at the minimum, NaN kept (one sort of all rows)."""
    n = S.shape[1]
    neg = np.where(np.isnan(S), np.inf, -S)
    order = np.argsort(neg, axis=1, kind="stable")
    sv = np.take_along_axis(neg, order, axis=1)
    pos = np.broadcast_to(np.arange(n), sv.shape)
    start = np.where(np.concatenate([np.ones((len(S), 1), bool), sv[:, 1:] != sv[:, :-1]], axis=1), pos, 0)
    R = np.empty(S.shape)
    np.put_along_axis(R, order, np.maximum.accumulate(start, axis=1) + 1.0, axis=1)
    R[np.isnan(S)] = np.nan
    return R


def sobol_indices(Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices of ``k`` factors for outputs ``Y`` (rows in SALib's order for
    ``calc_second_order=False``: per base row A, AB_1..AB_k, B; columns: outputs). SALib's estimators on
    standardised outputs: S1 = mean(fB (fAB - fA)) / var, ST = mean((fA - fAB)^2) / 2 / var, var over A and
    B together. A constant output (a unit whose rank never moves) gives NaN."""
    step = k + 2
    with np.errstate(divide="ignore", invalid="ignore"):
        Y = (Y - Y.mean(axis=0)) / Y.std(axis=0)  # as SALib: the estimators are biased for uncentred outputs
    A, B = Y[0::step], Y[step - 1::step]
    var = np.var(np.concatenate([A, B]), axis=0)
    s1, st = np.empty((k, Y.shape[1])), np.empty((k, Y.shape[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(k):
            AB = Y[j + 1::step]
            s1[j] = np.mean(B * (AB - A), axis=0) / var
            st[j] = 0.5 * np.mean((A - AB) ** 2, axis=0) / var
    return s1, st


def analyse(inputs: Inputs, spec: EngineSpec, plan: Plan | None = None, naive: bool = False) -> Analysis:
    """Run the uncertainty and sensitivity analysis (see the module docstring)."""
    from SALib.analyze import sobol as sobol_analyze

    plan = plan or parse_uncertainty(spec.uncertainty, spec)
    d = design(plan, spec)
    S = naive_scores(inputs, spec, plan, d) if naive else evaluate(inputs, spec, plan, d)
    nominal = run(inputs, spec, record=False)[-1][:, 0]
    nominal_rank = ops.ranks(nominal[:, None])[:, 0]
    R = _rank_rows(S)
    units = inputs.units[prepare(inputs, spec, record=False).keep]
    top = spec.hierarchy.codes(spec.hierarchy.depth)[0]
    q = lambda M: (np.nanquantile if np.isnan(M).any() else np.quantile)(M, [0.5, 0.05, 0.95], axis=0)  # noqa: E731
    shift = np.nanmean(np.abs(R - nominal_rank), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        si = sobol_analyze.analyze(d.problem, shift, calc_second_order=False, num_resamples=100,
                                   seed=plan.seed, print_to_console=False)
    order = list(dict.fromkeys(d.problem["groups"]))  # SALib's order of the groups = plan.factors()
    s1, st = sobol_indices(R, len(order))
    salib = {k: np.asarray(si[k]) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    return Analysis(units, top, nominal, nominal_rank, q(S), q(R), order, salib, s1, st, S, R, d)


def naive_scores(inputs: Inputs, spec: EngineSpec, plan: Plan, d: Design) -> np.ndarray:
    """The same draws by one full build per draw through the public API, as a user without this module would
    run them: the spec document with the draw's weights (in its metadata), normaliser, aggregator and
    imputation is parsed and validated (``parse_engine_spec``), then ``build`` validates the data and runs
    every step with its record."""
    from leefbaar.index.engine.build import build
    from leefbaar.index.engine.spec import parse_engine_spec

    if inputs.frame is None:
        raise SpecError("the naive reference rebuilds from the data table; validate it with build.validate")
    h = spec.hierarchy
    codes = [c for lv in range(1, h.depth) for c in h.codes(lv)]
    base = {c: h.nodes[c].weight if spec.weights == "meta" else 1.0 for c in codes}
    doc = {k: v for k, v in spec.raw.items() if k != "uncertainty"}
    doc["weights"] = {"method": "meta"}
    top = h.codes(h.depth)[0]
    out = []
    for r in range(len(d.X)):
        w = {c: base[c] * m for c, m in zip(codes, d.multipliers[r], strict=True)}
        if plan.drop_indicator and d.dropped[r] >= 0:
            w[h.indicators[d.dropped[r]]] = 0.0
        draw = {**doc, "meta": [{**row, "Weight": w.get(row["iCode"], row.get("Weight"))} for row in doc["meta"]]}
        if plan.normalisers:
            draw["normalise"] = plan.normalisers[d.normaliser[r]].as_dict()
        if plan.aggregators:
            draw["aggregate"] = {**(doc.get("aggregate") if isinstance(doc.get("aggregate"), dict) else {}),
                                 "method": plan.aggregators[d.aggregator[r]]}
        if plan.imputations:
            m = plan.imputations[d.imputation[r]]
            draw["impute"] = {"method": m, **({"group": spec.impute_group} if m.startswith("group") else {})}
        result = build(inputs.frame, parse_engine_spec(draw, spec.source), inputs.source)
        out.append(result.scores[top].to_numpy())
    return np.array(out)
