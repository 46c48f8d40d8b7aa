"""The engine that runs the heavy per-area computations: DuckDB in this process (default) or Apache Spark.

The computations (``analysis.distributed``, ``index.ibis_score``) are Ibis expressions, written once; this
module gives them a backend. The engine is ``--engine`` of the commands that use them, else the environment
variable ``LEEFBAAR_ENGINE``, else ``duckdb``. Spark is configured by environment variables (docs/scale.md):

- ``LEEFBAAR_SPARK_MASTER``: the master URL (``local[2]`` by default; ``spark://host:7077``, ``yarn``,
  ``k8s://...`` for a cluster); ignored when a SparkSession is already active (e.g. under ``spark-submit``);
- ``LEEFBAAR_SPARK_CONF``: extra settings, ``key=value`` pairs separated by ``;`` (e.g.
  ``spark.executor.memory=8g;spark.sql.shuffle.partitions=400``).

One connection per engine and process (a Spark session takes seconds to start). Inputs are pandas frames or
Arrow tables registered as in-memory tables, or Parquet files (``read_parquet``: the store's tables exported
with ``export_parquet`` for a cluster that cannot open the DuckDB file).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from leefbaar.errors import LeefbaarError

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"
SPARK_DEFAULTS = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                  "spark.sql.shuffle.partitions": "8", "spark.sql.session.timeZone": "UTC",
                  "spark.sql.execution.arrow.pyspark.enabled": "true"}
_connections: dict[str, ibis.BaseBackend] = {}


def engine_name(engine: str | None = None) -> str:
    """``engine``, else ``$LEEFBAAR_ENGINE``, else ``duckdb``; an unknown name is refused."""
    name = (engine or os.environ.get("LEEFBAAR_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise LeefbaarError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    return name


def requested_engine(engine: str | None = None) -> str | None:
    """``engine`` or ``$LEEFBAAR_ENGINE`` (validated), None when neither is set: for computations whose
    in-process NumPy path is the default."""
    return engine_name(engine) if engine or os.environ.get("LEEFBAAR_ENGINE") else None


def spark_conf() -> dict[str, str]:
    """Spark settings: the defaults above, then ``$LEEFBAAR_SPARK_CONF`` (``key=value;key=value``)."""
    conf = dict(SPARK_DEFAULTS)
    for item in filter(None, (p.strip() for p in os.environ.get("LEEFBAAR_SPARK_CONF", "").split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LeefbaarError(f"LEEFBAAR_SPARK_CONF: {item!r} is not key=value")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(master: str | None = None):
    """The active SparkSession, or a new one on ``master`` (``$LEEFBAAR_SPARK_MASTER``, ``local[2]``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a pinned dependency
        raise LeefbaarError("the spark engine needs pyspark (pip install pyspark) and a Java runtime") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("leefbaar").master(
        master or os.environ.get("LEEFBAAR_SPARK_MASTER") or DEFAULT_MASTER)
    for key, value in spark_conf().items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Java missing or the master unreachable: py4j/pyspark raise many types
        raise LeefbaarError(f"cannot start Spark: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                            ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(engine: str | None = None) -> ibis.BaseBackend:
    """The Ibis backend of ``engine`` (see ``engine_name``), created once per process."""
    name = engine_name(engine)
    if name not in _connections:
        if name == "duckdb":
            _connections[name] = ibis.duckdb.connect(threads=os.cpu_count() or 1)
        else:
            _connections[name] = ibis.pyspark.connect(spark_session())
    return _connections[name]


def disconnect(engine: str | None = None) -> None:
    """Close the connection of ``engine`` (stops the Spark session this process started)."""
    con = _connections.pop(engine_name(engine), None)
    if con is not None and engine_name(engine) == "spark":
        con._session.stop()
    elif con is not None:
        con.disconnect()


def table(frame: pd.DataFrame | pa.Table) -> ibis.Table:
    """An in-memory table for any backend. NaN in float columns becomes NULL (Spark keeps a NaN from pandas
    as NaN, which its aggregates do not skip), so missing values mean the same on every engine."""
    if isinstance(frame, pd.DataFrame):
        frame = frame.reset_index(drop=True)
        arrow = pa.Table.from_pandas(frame, preserve_index=False)  # from_pandas: NaN -> null
        return ibis.memtable(arrow)
    return ibis.memtable(frame)


def execute(expr: ibis.Expr, engine: str | None = None) -> pd.DataFrame:
    """Run ``expr`` on ``engine``; a pandas frame with NULL as NaN in float columns."""
    return connect(engine).to_pyarrow(expr).to_pandas()


def export_parquet(store_file: str | Path, folder: str | Path, tables: list[str] | None = None) -> list[Path]:
    """Write tables of the store (all by default) to ``folder/<table>.parquet`` (zstd), reading the store
    read-only; returns the files. The way to hand the store's data to a Spark cluster."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(store_file), read_only=True) as con:
        have = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        unknown = sorted(set(tables or []) - set(have))
        if unknown:
            raise LeefbaarError(f"{store_file}: the store has no table {unknown[0]!r}")
        out = []
        for name in tables or have:
            out.append(folder / f"{name}.parquet")
            target = out[-1].as_posix().replace("'", "''")
            con.execute(f"COPY \"{name}\" TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return out


def read_parquet(path: str, engine: str | None = None) -> ibis.Table:
    """A Parquet file or folder (local, HDFS, S3: any path the engine can read) as a table of ``engine``."""
    return connect(engine).read_parquet(path)
