"""Benchmark: the cost curve of the pipeline from PC4 (4k areas) to the national 100 m grid (4M areas).

Usage: python benchmarks/bench_scale.py --areas 4000,40000,400000 [--years 7] [--steps ingest,score,...]
       python benchmarks/bench_scale.py --report            (the table of every size measured so far)

Synthetic but realistic inputs, made from the real data (``--source-store``, a store built from
``$LEEFBAAR_DATA``; ``--data`` for the 100 m cells):

- areas: the 16,383 populated 100 m cells of Rijnmond (``grid/cbs_vk100_2024_rijnmond_populated.csv``; the cell
  id gives the lower-left corner in RD hectometres), replicated as tiles offset side by side until N cells;
  within a tile the cells nearest the tile's centre come first, so 4k areas are a compact urban core;
- values: every cell takes the indicator rows (all years, status included) of the real PC4 that holds its
  centre (tile 0) or of a PC4 drawn by a fixed permutation of the PC4 (other tiles), times lognormal noise
  (10 % per cell and indicator, 3 % per year); the official Leefbaarometer dimensions (the calibration target)
  for a random sample of 4,070 cells only (as many as there are PC4), so the model is fitted on a sample and
  scores all;
- contiguity: queen neighbours on the lattice from the cell ids (as on the real grid: populated cells only), as
  ``index.features.contiguity`` finds them for any level whose geometries are grid cells.

The synthetic areas are stored at level ``pc4`` (the level the default spec and the dashboard speak), with
cell-like codes (``E0974N4514``). Each step runs in its own subprocess with a timeout and a memory ceiling
(RSS sampled every 0.2 s; a step above it is stopped and marked). Steps:

- ``ingest``: ``Store.ingest`` of one batch of areas, squares and a PC4 -> gemeente crosswalk, and one batch of
  observations per year (as the CBS files are), in one transaction and staged by ``Store.bulk`` (as ``leefbaar
  build`` ingests);
- ``queen``: the project's contiguity of the stored cells (``index.features.contiguity``: from the cell ids,
  since the geometries are grid cells) - what ``leefbaar score`` uses;
- ``score``: ``index.pipeline.build_scores`` without draws (fit on the sample, score every area-year) and
  ``write_scores`` (the long ``contributions`` table written chunk by chunk);
- ``score_lite``: the same without the ``contributions`` table, run only when ``score`` did not finish (so that
  the analyses can still be measured);
- ``draws``: ``build_scores`` with 1,000 Monte Carlo draws (includes the fit and the scoring; not written;
  summarised year by year in float32, ``index.uncertainty.summarise_draws``);
- ``run_score``: ``leefbaar score`` as a user runs it (``cli.index.score``: fit, score, 1,000 draws, the store
  written and the CSV/Markdown outputs), one process; with ``ingest``, ``gap`` and ``vulnerable`` it makes the
  issue's target, whose sum the table prints as ``run``;
- ``gap``: ``analysis.gap.GapAnalysis`` over the index scores (999 bootstrap resamples, resident weights,
  gemeente decomposition), as ``leefbaar monitor gap``;
- ``vulnerable``: ``analysis.vulnerable.VulnerableAreas`` with the default definition;
- ``lisa``: ``analysis.clusters.local_moran`` of afw in the last year, 999 permutations (lattice weights);
- ``dashboard``: the FastAPI app (TestClient, no warm-up) answering one score map and one profile.

Steps run in the order given (``--steps``; ``score_lite`` only when ``score`` has not run or did not
finish). Results go to ``--out`` (one JSON per size); the table gives wall seconds and peak RSS per step and size, and
the growth exponent k (time ~ N^k, log-log slope between consecutive sizes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STEPS = ("ingest", "queen", "score", "score_lite", "draws", "run_score", "gap", "vulnerable", "lisa", "dashboard")
RUN = ("ingest", "run_score", "gap", "vulnerable")
"""The steps of the issue's target: 400,000 areas through ingest, score, 1,000 draws, gap and vulnerable."""
YEAR0 = 2017
TARGET_SAMPLE = 4070
SCORE_DUCKDB_MEMORY = "1GB"
"""DuckDB's memory limit in the score steps (its default, 80 % of the machine, keeps about 1 GB per 40,000 areas
of the pivot's pages after the panel is read)."""
REAL_STORE = Path(os.environ.get("LEEFBAAR_BENCH_STORE", "/work/stores/leefbaar.duckdb"))


# -- synthetic inputs ---------------------------------------------------------------------------------------
def _cells(data: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    ids = pd.read_csv(data / "grid" / "cbs_vk100_2024_rijnmond_populated.csv", usecols=[0]).iloc[:, 0]
    ids = ids.astype(str).to_numpy()
    x = np.array([int(s[1:5]) for s in ids])
    y = np.array([int(s[6:10]) for s in ids])
    return x, y


def generate(n: int, years: list[int], data: Path, source: Path, folder: Path, seed: int = 1) -> dict:
    """Write the synthetic inputs of ``n`` areas to ``folder`` (cells.parquet, obs_<year>.parquet)."""
    import geopandas as gpd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    rng = np.random.default_rng(seed)
    spec = load_spec("default")
    inds = list(spec.store_indicators())
    targets = [d.target for d in spec.dimensions]
    with Store.open(source) as st:
        long = st.sql("SELECT code, year, indicator, value, status FROM observations WHERE level = 'pc4' AND "
                      f"indicator IN ({', '.join('?' * len(inds))})", inds)
        pc4 = st.geometries("pc4")
        gm = st.sql("SELECT code, any_value(gemeente_code) AS gm FROM areas WHERE level = 'pc4' GROUP BY code")
    # source years: the real years nearest each synthetic year (CBS 2017-2023, targets in 2018/2020/2022)
    real_years = sorted(long.loc[~long["indicator"].isin(targets), "year"].unique())
    codes = np.array(sorted(long["code"].unique()))
    cpos = {c: i for i, c in enumerate(codes)}
    vals = np.full((len(years), len(codes), len(inds)), np.nan)
    stat = np.full((len(years), len(codes), len(inds)), -1, dtype=np.int8)  # -1: no row
    statuses = ["ok", "rounded", "suppressed", "missing"]
    long["s"] = long["status"].map({s: i for i, s in enumerate(statuses)}).fillna(3).astype(np.int8)
    long["c"] = long["code"].map(cpos)
    long["k"] = long["indicator"].map({k: i for i, k in enumerate(inds)})
    for t, year in enumerate(years):
        src_year = min(real_years, key=lambda r: (abs(r - year), r)) if year not in real_years else year
        part = long[(long["year"] == src_year) & ~long["indicator"].isin(targets)]
        vals[t, part["c"], part["k"]] = part["value"]
        stat[t, part["c"], part["k"]] = part["s"]
        part = long[(long["year"] == year) & long["indicator"].isin(targets)]  # official only where it exists
        vals[t, part["c"], part["k"]] = part["value"]
        stat[t, part["c"], part["k"]] = part["s"]
    # donor PC4 of each real cell: the PC4 holding its centre (else the nearest)
    x, y = _cells(data)
    pts = gpd.GeoDataFrame(geometry=shapely.points(x * 100 + 50, y * 100 + 50), crs=28992)
    poly = pc4[pc4["code"].isin(cpos)].reset_index(drop=True)
    hit = gpd.sjoin_nearest(pts, poly[["code", "geometry"]], how="left").groupby(level=0)["code"].first()
    donor0 = hit.map(cpos).to_numpy(int)
    order = np.argsort((x - np.median(x)) ** 2 + (y - np.median(y)) ** 2, kind="stable")
    x, y, donor0 = x[order], y[order], donor0[order]
    width, height = x.max() - x.min() + 1, y.max() - y.min() + 1
    tiles = math.ceil(n / len(x))
    cols = math.ceil(math.sqrt(tiles))
    parts = []
    for t in range(tiles):
        take = min(len(x), n - t * len(x))
        donor = donor0[:take] if t == 0 else rng.permutation(len(codes))[donor0[:take]]
        parts.append((x[:take] + (t % cols) * width, y[:take] + (t // cols) * height, donor))
    cx = np.concatenate([p[0] for p in parts])
    cy = np.concatenate([p[1] for p in parts])
    donor = np.concatenate([p[2] for p in parts])
    cell = np.char.add(np.char.add("E", np.char.zfill(cx.astype(str), 4)),
                       np.char.add("N", np.char.zfill(cy.astype(str), 4))).astype(object)
    gm_of = gm.set_index("code")["gm"].reindex(codes)
    gm_of = gm_of.astype(object).where(gm_of.notna(), None).to_numpy(object)
    sample = np.zeros(n, dtype=bool)
    sample[rng.choice(n, size=min(TARGET_SAMPLE, n), replace=False)] = True
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"code": cell.astype(str), "x": cx, "y": cy, "donor": codes[donor],
                             "gemeente_code": gm_of[donor], "sample": sample}), folder / "cells.parquet")
    cell_noise_seed = rng.integers(2**31)
    is_target = np.isin(np.asarray(inds), targets)
    code_dict = pa.array(cell.astype(str))
    for t, year in enumerate(years):
        writer = None
        noise_rng = np.random.default_rng([cell_noise_seed, t])
        for lo in range(0, n, 250_000):
            hi = min(n, lo + 250_000)
            d = donor[lo:hi]
            cell_rng = np.random.default_rng([cell_noise_seed, lo])  # the same per-cell factor every year
            factor = np.exp(0.10 * cell_rng.standard_normal((hi - lo, len(inds)))
                            + 0.03 * noise_rng.standard_normal((hi - lo, len(inds))))
            factor[:, is_target] = 1.0
            v = vals[t][d] * factor
            v[:, is_target] += 0.01 * noise_rng.standard_normal((hi - lo, int(is_target.sum())))
            s = stat[t][d].copy()
            s[np.ix_(~sample[lo:hi], is_target)] = -1
            rows, ks = np.nonzero(s >= 0)
            sv = s[rows, ks]
            value = np.where(sv <= 1, v[rows, ks], np.nan)
            table = pa.table({
                "code": pa.DictionaryArray.from_arrays(pa.array((rows + lo).astype(np.int32)), code_dict),
                "level": pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(rows), np.int8)), pa.array(["pc4"])),
                "vintage": pa.array(np.full(len(rows), YEAR0, np.int32)),
                "year": pa.array(np.full(len(rows), year, np.int32)),
                "indicator": pa.DictionaryArray.from_arrays(pa.array(ks.astype(np.int16)), pa.array(inds)),
                "value": pa.array(value, from_pandas=True),
                "status": pa.DictionaryArray.from_arrays(pa.array(sv), pa.array(statuses)),
            })
            if writer is None:
                writer = pq.ParquetWriter(folder / f"obs_{year}.parquet", table.schema)
            writer.write_table(table)
        writer.close()
    return {"areas": n, "years": years, "tiles": tiles}


def lattice(cells) -> tuple[np.ndarray, np.ndarray]:
    """Queen neighbours on the 100 m lattice: (i, j) index pairs, both directions, populated cells only."""
    from leefbaar.index.features import lattice_pairs

    return lattice_pairs(cells["x"].to_numpy(), cells["y"].to_numpy())


# -- steps (each in its own process) ------------------------------------------------------------------------
def _store(folder: Path) -> Path:
    return folder / "scale.duckdb"


def step_ingest(folder: Path, years: list[int]) -> str:
    import geopandas as gpd
    import pandas as pd
    import pyarrow.parquet as pq
    import shapely

    from leefbaar.sources.batch import Batch, area_frame
    from leefbaar.store.store import Store

    for p in (_store(folder), _store(folder).with_name(_store(folder).name + ".wal")):
        p.unlink(missing_ok=True)
    cells = pq.read_table(folder / "cells.parquet").to_pandas()
    with Store.open(_store(folder), read_only=False, build=True) as st, st.transaction(), st.bulk():
        x, y = cells["x"].to_numpy() * 100.0, cells["y"].to_numpy() * 100.0
        geoms = gpd.GeoDataFrame({"code": cells["code"], "level": "pc4", "vintage": YEAR0},
                                 geometry=shapely.box(x, y, x + 100, y + 100), crs=28992)
        areas = area_frame(cells["code"], "pc4", YEAR0, gemeente_code=cells["gemeente_code"].to_numpy())
        st.ingest(Batch("scale_cells", folder / "cells.parquet", "synthetic", "CC BY 4.0", len(cells),
                        areas=areas, geometries=geoms))
        cw = pd.DataFrame({"from_level": "pc4", "from_vintage": YEAR0, "from_code": cells["code"],
                           "to_level": "gemeente", "to_vintage": 2022, "to_code": cells["gemeente_code"],
                           "weight": 1.0, "method": "synthetic"}).dropna(subset=["to_code"])
        st.append("crosswalks", cw)
        rows = 0
        for year in years:
            path = folder / f"obs_{year}.parquet"
            obs = pq.read_table(path).to_pandas()
            rows += len(obs)
            st.ingest(Batch("scale_obs", path, "synthetic", "CC BY 4.0", len(obs), observations=obs))
            del obs
        st.mark_built()
    return f"{rows:,} observations"


def _lattice_pairs(folder: Path):
    import pyarrow.parquet as pq

    cells = pq.read_table(folder / "cells.parquet").to_pandas()
    i, j = lattice(cells)
    deg = np.bincount(i, minlength=len(cells))
    codes = cells["code"].to_numpy(object)
    return cells, i, j, (codes[i], codes[j], 1.0 / deg[i])


def _patched_pipeline(folder: Path):
    """The index pipeline (its contiguity finds the grid cells itself)."""
    from leefbaar.index import pipeline

    return pipeline


def step_queen(folder: Path, years: list[int]) -> str:
    from leefbaar.index.features import contiguity
    from leefbaar.store.store import Store

    with Store.open(_store(folder)) as st:
        w = contiguity(st, "pc4")
    return f"{w.n:,} areas, mean {w.mean_neighbors:.2f} neighbours"


def step_score(folder: Path, years: list[int]) -> str:
    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    pipeline = _patched_pipeline(folder)
    with Store.open(_store(folder), read_only=False, memory_limit=SCORE_DUCKDB_MEMORY) as st:
        res = pipeline.build_scores(st, load_spec("default"), years, n_draws=0)
        pipeline.write_scores(st, res, {"bench": "scale"})
        n = st.sql("SELECT count(*) AS n FROM contributions")["n"].iloc[0]
    return f"{len(res.scores):,} scores, {n:,} contributions, fit on {res.model.n_fit_:,}"


def step_score_lite(folder: Path, years: list[int]) -> str:
    """``score`` without the long contributions table (run only when ``score`` did not finish), so that the
    analyses can still be measured at this size; the difference from ``score`` is that table's cost."""
    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    pipeline = _patched_pipeline(folder)
    pipeline.Contributions.values = lambda self, *args, **kw: iter(())
    with Store.open(_store(folder), read_only=False, memory_limit=SCORE_DUCKDB_MEMORY) as st:
        res = pipeline.build_scores(st, load_spec("default"), years, n_draws=0)
        pipeline.write_scores(st, res, {"bench": "scale"})
    return f"{len(res.scores):,} scores (no contributions)"


def step_draws(folder: Path, years: list[int]) -> str:
    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    pipeline = _patched_pipeline(folder)
    with Store.open(_store(folder), memory_limit=SCORE_DUCKDB_MEMORY) as st:  # the same scoring as ``score``
        res = pipeline.build_scores(st, load_spec("default"), years, n_draws=1000)
    width = float((res.scores["total_hi"] - res.scores["total_lo"]).median())
    return f"{len(res.scores):,} area-years x 1,000 draws, median 90% width {width:.3f}"


def step_run_score(folder: Path, years: list[int]) -> str:
    """``leefbaar score`` as a user runs it: fit, score, 1,000 draws, the store written (scores, dimension scores,
    contributions) and its CSV and Markdown outputs, in one process (DuckDB's limit: ``config.DUCKDB_MEMORY``)."""
    from leefbaar.cli.index import score

    out = folder / "out_score"
    score(store=_store(folder), out=out, years=f"{years[0]}-{years[-1]}", draws=1000, lang="nl")
    rows = sum(1 for _ in open(out / "scores_default_pc4.csv", encoding="utf-8")) - 1
    return f"{rows:,} area-years scored with 1,000 draws, written, CSV out"


def _index_panel(st):
    from leefbaar.analysis.panel import load_panel

    return load_panel(st, "index", "pc4", spec="default")


def step_gap(folder: Path, years: list[int]) -> str:
    from leefbaar.analysis.gap import GapAnalysis
    from leefbaar.analysis.panel import gemeente_of
    from leefbaar.analysis.weights import population_weights
    from leefbaar.store.store import Store

    with Store.open(_store(folder)) as st:
        panel = _index_panel(st)
        pw = population_weights(st, "pc4", panel.years, "inwoner", panel.vintage)
        gm, _ = gemeente_of(st, panel.frame["code"].unique(), "pc4", 2022)
        res = GapAnalysis(panel, pw, gemeente=gm, n_boot=999).fit()
    return f"{len(res.codes):,} areas x {len(res.years)} years, verdict {res.verdict}"


def step_vulnerable(folder: Path, years: list[int]) -> str:
    from leefbaar.analysis.vulnerable import VulnerableAreas, load_definition
    from leefbaar.store.store import Store

    with Store.open(_store(folder)) as st:
        vul = VulnerableAreas(load_definition(), "nl", since=years[0]).fit(_index_panel(st), st)
    return f"{int(vul.areas['flagged'].sum()):,} of {len(vul.areas):,} flagged"


def step_lisa(folder: Path, years: list[int]) -> str:
    from libpysal.weights import WSP
    from scipy import sparse

    from leefbaar.analysis.clusters import local_moran
    from leefbaar.store.store import Store

    cells, i, j, _ = _lattice_pairs(folder)
    with Store.open(_store(folder)) as st:
        sc = st.sql("SELECT code, afw FROM scores WHERE level = 'pc4' AND year = ?", [years[-1]])
    y = sc.set_index("code")["afw"].reindex(cells["code"]).to_numpy()
    keep = np.isfinite(y)
    sub = np.cumsum(keep) - 1
    ok = keep[i] & keep[j]
    adj = sparse.csr_matrix((np.ones(int(ok.sum())), (sub[i[ok]], sub[j[ok]])), shape=(int(keep.sum()),) * 2)
    codes = cells["code"].to_numpy(object)[keep].tolist()
    w = WSP(adj, id_order=codes).to_W(silence_warnings=True)
    w.transform = "r"
    lm = local_moran(y[keep], w, permutations=999)
    return f"{len(lm):,} areas, {int(lm['significant'].sum()):,} significant"


def step_dashboard(folder: Path, years: list[int]) -> str:
    import pyarrow.parquet as pq
    from fastapi.testclient import TestClient

    from leefbaar.web.app import create_app

    code = pq.read_table(folder / "cells.parquet", columns=["code"]).column(0)[0].as_py()
    app = create_app(_store(folder), warm=False)
    out = []
    with TestClient(app) as client:
        for url in (f"/api/map/pc4?year={years[-1]}&measure=total", f"/api/profile/pc4/{code}"):
            t0 = time.perf_counter()
            r = client.get(url)
            out.append(f"{url.split('?')[0]} {r.status_code} {time.perf_counter() - t0:.1f}s {len(r.content):,}B")
    return "; ".join(out)


# -- driver -------------------------------------------------------------------------------------------------
def _hwm_gb() -> float:
    """Peak resident memory of this process (VmHWM; unlike ru_maxrss not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def step_generate(folder: Path, years: list[int]) -> str:
    from leefbaar.config import data_dir

    n = int(os.environ["BENCH_SCALE_N"])
    info = generate(n, years, data_dir(Path(os.environ["BENCH_SCALE_DATA"]) if os.environ.get("BENCH_SCALE_DATA")
                                       else None), Path(os.environ["BENCH_SCALE_SOURCE"]), folder)
    return f"{info['tiles']} tiles"


def child(step: str, folder: Path, years: list[int]) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    note = globals()[f"step_{step}"](folder, years)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _hwm_gb()
    print(json.dumps({"step": step, "seconds": wall, "cpu": cpu, "peak_gb": peak, "note": note}))


def run_step(step: str, folder: Path, years: list[int], timeout: float, mem_gb: float) -> dict:
    import psutil

    cmd = [sys.executable, __file__, "--child", step, "--folder", str(folder),
           "--years", ",".join(map(str, years))]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps, peak, status = psutil.Process(proc.pid), 0.0, None
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)]) / 2**30
        except psutil.Error:
            rss = 0.0
        peak = max(peak, rss)
        if rss > mem_gb:
            status = f"stopped: RSS above {mem_gb:g} GB"
        elif time.perf_counter() - t0 > timeout:
            status = f"stopped: over {timeout:g} s"
        if status:
            proc.kill()
            break
        time.sleep(0.2)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if status is None and proc.returncode == 0:
        res = json.loads(out.strip().splitlines()[-1])
        res["peak_gb"] = max(res["peak_gb"], peak)
        return res
    status = status or f"failed (exit {proc.returncode}): {err.strip().splitlines()[-1] if err.strip() else ''}"
    return {"step": step, "seconds": wall, "peak_gb": peak, "note": status, "failed": True}


def table(results: dict[int, dict], steps) -> str:
    sizes = sorted(results)
    lines = ["wall s / CPU s (all threads) / peak RSS GB per step and number of areas; k from CPU s",
             "step        " + "".join(f"{n:>30,}" for n in sizes) + "   k (CPU ~ N^k) between sizes"]
    for step in steps:
        cells, ks = [], []
        for a, n in enumerate(sizes):
            r = results[n].get(step)
            if r is None:
                cells.append(f"{'-':>30}")
                continue
            mark = "!" if r.get("failed") else ""
            cpu = f"{r['cpu']:.1f}" if "cpu" in r else "?"
            wall = mark + f"{r['seconds']:.1f}"
            cells.append(f"{wall:>11} /{cpu:>8} /{r['peak_gb']:>6.2f} GB")
            prev = results[sizes[a - 1]].get(step) if a else None
            key = "cpu" if "cpu" in r and prev and "cpu" in prev else "seconds"
            if prev and not prev.get("failed") and not r.get("failed") and prev[key] > 0:
                ks.append(f"{math.log(r[key] / prev[key]) / math.log(n / sizes[a - 1]):.2f}")
        lines.append(f"{step:<12}" + "".join(cells) + "   " + " ".join(ks))
    cells = []
    for n in sizes:
        parts = [results[n].get(step) for step in RUN]
        if any(r is None or r.get("failed") for r in parts):
            cells.append(f"{'-':>30}")
            continue
        wall, cpu = sum(r["seconds"] for r in parts), sum(r.get("cpu", float("nan")) for r in parts)
        cells.append(f"{wall:>11.1f} /{cpu:>8.1f} /{max(r['peak_gb'] for r in parts):>6.2f} GB")
    lines.append(f"{'run':<12}" + "".join(cells) + "   (= " + " + ".join(RUN) + ")")
    lines.append("(! = did not complete: see the notes)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--areas", default="4000", help="comma-separated sizes, e.g. 4000,40000,400000,4000000")
    ap.add_argument("--years", default="7", help="number of years from 2017 (or, internally, the years)")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "leefbaar-scale")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--source-store", type=Path, default=REAL_STORE)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per step")
    ap.add_argument("--mem-gb", type=float, default=22.0, help="RSS ceiling per step (GB)")
    ap.add_argument("--report", action="store_true", help="print the table of all sizes in --out")
    ap.add_argument("--keep", action="store_true", help="keep the synthetic store and inputs")
    ap.add_argument("--reuse", action="store_true",
                    help="use the inputs already in --out (from --keep, or a --child generate) instead of generating")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.folder, [int(y) for y in args.years.split(",")])
        return
    years = list(range(YEAR0, YEAR0 + int(args.years)))
    steps = [s for s in args.steps.split(",") if s]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        for n in [int(float(a)) for a in args.areas.split(",")]:
            folder = args.out / f"n{n}"
            load = os.getloadavg()[0]
            os.environ.update(BENCH_SCALE_N=str(n), BENCH_SCALE_SOURCE=str(args.source_store),
                              BENCH_SCALE_DATA=str(args.data or ""))
            res = {}
            for step in ["generate", *steps]:
                if res.get("generate", {}).get("failed") or (step not in ("generate", "ingest")
                                                             and not _store(folder).exists()):
                    res[step] = {"step": step, "seconds": 0.0, "peak_gb": 0.0, "note": "no store", "failed": True}
                    continue
                if step == "score_lite" and not res.get("score", {}).get("failed", "score" not in res):
                    continue  # only when the full scoring did not finish
                if step == "generate" and args.reuse and (folder / "cells.parquet").exists():
                    continue
                res[step] = run_step(step, folder, years, args.timeout, args.mem_gb)
                r = res[step]
                print(f"{n:>9,} {step:<11} {r['seconds']:8.1f} s {r['peak_gb']:6.2f} GB  {r['note']}", flush=True)
            res["_meta"] = {"load_before": load, "load_after": os.getloadavg()[0], "years": years}
            path = args.out / f"result_{n}.json"
            old = json.loads(path.read_text()) if path.exists() else {}
            path.write_text(json.dumps({**old, **res}, indent=1))
            if not args.keep:
                shutil.rmtree(folder)
    results = {int(p.stem.split("_")[1]): json.loads(p.read_text()) for p in args.out.glob("result_*.json")}
    print(table(results, ["generate", *STEPS]))
    for n in sorted(results):
        m = results[n].get("_meta", {})
        print(f"{n:,} areas: load average {m.get('load_before', float('nan')):.1f} before, "
              f"{m.get('load_after', float('nan')):.1f} after")


if __name__ == "__main__":
    main()
