"""The store: one DuckDB file holding areas, geometries, the indicator catalogue, observations and provenance.

Writes happen in one transaction per command (``Store.transaction``): a failure or a kill half-way leaves the
file exactly as it was. Re-ingesting a file with the same SHA-256 adds nothing; a changed file replaces the
rows it contributed before.

The store records whether a build ever completed (``meta`` key ``build``: ``incomplete`` from the moment a new
store file is created until its first build commits, then ``complete``). A store whose first build was killed
half-way is refused by ``Store.open`` for every use but a new build, with a message to rebuild.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from leefbaar import __version__
from leefbaar.errors import StoreError
from leefbaar.sources.batch import AREA_COLUMNS, Batch, sha256
from leefbaar.sources.catalogue import column_maps, indicators
from leefbaar.sources.projection import to_crs
from leefbaar.store.schema import DDL, OBS_DIMENSIONS, OBSERVATIONS_VIEW, SCHEMA_VERSION, SOURCED_TABLES, UPGRADABLE

FLUSH_ROWS = 20_000_000  # observations Store.bulk stages at most before it writes them (27 bytes a row)
STREAM_ROWS = 1 << 20  # rows per Arrow batch handed to DuckDB (several of its 122,880-row groups, written in parallel)
_OBS_KEYS = ["area", "year", "indicator"]  # of ``obs_values`` (the area id stands for level and code)
_OBS_KEY = "o.area = n.area AND o.year = n.year AND o.indicator = n.indicator"
_ID_TYPES = {"area": pa.int32(), "vintage": pa.int32(), "year": pa.int32(), "indicator": pa.int16(),
             "value": pa.float64(), "status": pa.int8()}  # the columns of ``obs_values`` but source_id
_ID_COLUMNS = list(_ID_TYPES)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """A leefbaar store file. Open with ``Store.open(path)``; use as a context manager to close it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool):
        self.con, self.path, self.read_only = con, path, read_only

    # -- opening ----------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, read_only: bool = True, *, build: bool = False,
             memory_limit: str | None = None, threads: int | None = None) -> Store:
        """Open the store at ``path``.

        Every store opened must exist, carry the current schema version and have completed a build; only a
        build (``build=True``, writable) may create a store or open one whose first build was interrupted.
        ``memory_limit`` (DuckDB's, e.g. ``"512MB"``) and ``threads`` bound what DuckDB may use in this process
        (default: DuckDB's, 80 % of the memory and every core; a server process per core sets less). They are
        set on the database instance, which every connection to the file in this process shares.
        """
        path = Path(path)
        if not build and not path.exists():
            raise StoreError(f"{path}: no store here; build one with 'leefbaar build --data DIR --store {path}'")
        if memory_limit is not None and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
            raise ValueError(f"memory_limit {memory_limit!r}: give a size such as '512MB'")
        try:
            con = duckdb.connect(str(path), read_only=read_only and not build)
            if memory_limit is not None:
                con.execute(f"SET memory_limit = '{memory_limit}'")
            if threads is not None:
                con.execute(f"SET threads = {int(threads)}")
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot be opened as a DuckDB store: {exc}") from None
        store = cls(con, path, read_only and not build)
        if build:
            try:
                store._init_schema()
            except duckdb.Error as exc:
                con.close()
                raise StoreError(f"{path}: cannot be written: {exc}") from None
            return store
        version = store._meta("schema_version")
        if version != SCHEMA_VERSION and (read_only or version not in UPGRADABLE):
            con.close()
            hint = " (or open it for writing once, as 'leefbaar build' does, to convert it)" if (
                version in UPGRADABLE) else ""
            raise StoreError(f"{path}: schema version {version!r}, expected {SCHEMA_VERSION!r}; rebuild it{hint}")
        if store._meta("build") == "incomplete":
            con.close()
            raise StoreError(f"{path}: the build that created this store did not complete (it was interrupted); "
                             f"rebuild it with 'leefbaar build --data DIR --store {path}'")
        if not read_only:
            store._init_schema()
        return store

    def mark_built(self) -> None:
        """Record that a build completed (inside the build's transaction, so that it commits with it)."""
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('build', 'complete')")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _meta(self, key: str) -> str | None:
        try:
            rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        except duckdb.CatalogException:
            return None
        return rows[0][0] if rows else None

    def _init_schema(self) -> None:
        new = self._meta("schema_version") is None
        with self.transaction():
            if new:  # a new store is incomplete until its first build commits
                self.con.execute(DDL[0])
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('build', 'incomplete')")
            for ddl in DDL:
                self.con.execute(ddl)
            self._convert_observations()
            self.con.execute(OBSERVATIONS_VIEW)
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            self._load_catalogue()

    def _convert_observations(self) -> None:
        """Convert ``observations`` held as a table of text keys (schema version 1) to ``obs_values`` and its
        dimension tables, rows kept (in the caller's transaction); the values ordered by area and year, so
        that the row groups of an area are few."""
        kind = self.con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' "
                                "AND table_name = 'observations'").fetchall()
        if not kind or kind[0][0] != "BASE TABLE":
            return
        con = self.con
        con.execute("ALTER TABLE observations RENAME TO observations_long")
        con.execute("INSERT INTO obs_areas SELECT (row_number() OVER (ORDER BY level, code) - 1)::INTEGER, level, "
                    "code FROM (SELECT DISTINCT level, code FROM observations_long)")
        con.execute("INSERT INTO obs_indicators SELECT (row_number() OVER (ORDER BY indicator) - 1)::SMALLINT, "
                    "indicator FROM (SELECT DISTINCT indicator FROM observations_long)")
        con.execute("INSERT INTO obs_statuses SELECT (row_number() OVER (ORDER BY status) - 1)::TINYINT, status "
                    "FROM (SELECT DISTINCT status FROM observations_long)")
        con.execute("INSERT INTO obs_values SELECT a.area, o.vintage, o.year, i.indicator, o.value, s.status, "
                    "o.source_id FROM observations_long o JOIN obs_areas a ON o.level = a.level AND o.code = a.code "
                    "JOIN obs_indicators i ON o.indicator = i.name JOIN obs_statuses s ON o.status = s.name "
                    "ORDER BY a.area, o.year, i.indicator")
        con.execute("DROP TABLE observations_long")

    def _load_catalogue(self) -> None:
        cat = indicators().reset_index()
        self.con.execute("DELETE FROM indicators")
        self.con.register("cat", cat)
        self.con.execute("INSERT INTO indicators SELECT id, label_nl, label_en, unit, theme, direction, sensitive, "
                         "description FROM cat")
        self.con.unregister("cat")
        cols = pd.DataFrame([(m.family, m.column, m.indicator, _years_text(m.years), m.rounded)
                             for m in column_maps()], columns=["family", "column_name", "indicator", "years",
                                                               "rounded"])
        self.con.execute("DELETE FROM indicator_columns")
        self.con.register("cols", cols)
        self.con.execute("INSERT INTO indicator_columns SELECT * FROM cols")
        self.con.unregister("cols")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- ingest -----------------------------------------------------------------------------------------
    def known_source(self, path: Path, digest: str) -> bool:
        """Whether this exact file content was ingested before."""
        return self.con.execute("SELECT count(*) FROM sources WHERE sha256 = ? AND file = ?",
                                [digest, _rel(path)]).fetchall()[0][0] > 0

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Stage the areas and observations of many ``ingest`` calls and write them in one statement per table
        (inside a transaction).

        Observations are staged as compact Arrow tables (the rows of ``obs_values``: ids and numbers, 27 bytes a
        row; the source frames can be released) and written at the end, or whenever ``FLUSH_ROWS`` are staged. Later
        sources win over earlier ones and over rows already in the store for the same (code, level, year,
        indicator). Each file's own keys are unique (its reader checks them), so only sources that share a
        (level, year, indicator) are compared, and an overridden row is dropped before it is written: DuckDB
        rewrites every row a transaction inserted when it deletes one of them at commit.
        """
        self._staged: list[tuple[pd.DataFrame | None, pa.Table, set]] = []
        self._written = set(self.con.execute(
            "SELECT c.level, c.year, i.name FROM (SELECT DISTINCT a.level, v.year, v.indicator FROM obs_values v "
            "JOIN obs_areas a ON v.area = a.area) c JOIN obs_indicators i ON c.indicator = i.indicator").fetchall())
        try:
            yield
            self._flush()
        finally:
            del self._staged, self._written

    def ingest(self, batch: Batch, digest: str | None = None) -> dict[str, int]:
        """Write one batch (inside ``transaction``). Returns row counts per table (areas: rows offered)."""
        digest = digest or sha256(batch.path)
        rel = _rel(batch.path)
        old = [r[0] for r in self.con.execute("SELECT source_id FROM sources WHERE file = ? AND family = ?",
                                               [rel, batch.family]).fetchall()]
        for sid in old:
            for table in (*SOURCED_TABLES, *self._extra_tables()):
                self.con.execute(f"DELETE FROM {table} WHERE source_id = ?", [sid])
            self.con.execute("DELETE FROM sources WHERE source_id = ?", [sid])
        sid = self.con.execute("SELECT coalesce(max(source_id), 0) + 1 FROM sources").fetchall()[0][0]
        self.con.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [sid, batch.family, rel, digest, batch.path.stat().st_size, batch.publisher,
                          batch.licence, _now(), batch.rows, len(batch.observations)])
        areas = batch.areas[AREA_COLUMNS].assign(source_id=sid) if batch.areas is not None else None
        encoded = encode(batch).encoded
        obs = _with_source(self._obs_ids(encoded["observations"]), sid)
        if hasattr(self, "_staged"):
            self._staged.append((areas, obs, encoded["combos"]))
            if sum(t.num_rows for _, t, _ in self._staged) >= FLUSH_ROWS:
                self._flush()
        else:
            self._write_areas(areas)
            self._write_observations([obs], replace=self._count("obs_values") > 0)
        counts = {"areas": 0 if areas is None else len(areas), "observations": obs.num_rows}
        counts["geometries"] = (self._add_geometries(_with_source(encoded["geometries"], sid))
                                if batch.geometries is not None else 0)
        for table, frame in batch.tables.items():
            counts[table] = self.append(table, frame.assign(source_id=sid))
        return counts

    def _obs_ids(self, obs: pa.Table) -> pa.Table:
        """Observations (``_obs_arrow``) as rows of ``obs_values`` without ``source_id``: the text keys replaced
        by the ids of the dimension tables (new ones added), through the dictionaries (no string per row)."""
        if obs.num_rows == 0:
            return pa.table({c: pa.array([], t) for c, t in _ID_TYPES.items()})
        level, code, indicator, status = (obs[c].combine_chunks() for c in ("level", "code", "indicator", "status"))
        # the (level, code) pairs used, numbered by their dictionary indices (a dictionary entry no row uses gets
        # no area); a row with a NULL level or code gets a NULL area, which the NOT NULL of obs_values refuses
        n_codes = len(code.dictionary)
        valid = pc.and_(level.indices.is_valid(), code.indices.is_valid()).to_numpy(zero_copy_only=False)
        pair = (level.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64) * n_codes
                + code.indices.fill_null(0).to_numpy(zero_copy_only=False))
        used = np.zeros(len(level.dictionary) * n_codes, dtype=bool)
        used[pair[valid]] = True
        pairs = np.flatnonzero(used)
        lut = np.zeros(len(used), dtype=np.int32)
        lut[pairs] = self._dimension_ids("obs_areas", pa.table({
            "level": level.dictionary.take(pa.array(pairs // n_codes)),
            "code": code.dictionary.take(pa.array(pairs % n_codes))}))
        area = pa.array(lut[pair], mask=~valid)

        def ids(column: pa.DictionaryArray, table: str) -> pa.Array:
            names = self._dimension_ids(table, pa.table({"name": column.dictionary}))
            return pa.array(names).take(column.indices)

        return pa.table({"area": area, "vintage": obs["vintage"], "year": obs["year"],
                         "indicator": ids(indicator, "obs_indicators"), "value": obs["value"],
                         "status": ids(status, "obs_statuses")})

    def _dimension_ids(self, table: str, keys: pa.Table) -> np.ndarray:
        """The ids of distinct ``keys`` (the key columns of dimension ``table``, ``OBS_DIMENSIONS``), adding the
        keys not yet there with the next ids."""
        id_col, id_type, key_cols = OBS_DIMENSIONS[table]
        n = keys.num_rows
        self.con.register("dim_keys", _stream([keys.append_column("pos", pa.array(np.arange(n, dtype=np.int64)))]))
        try:
            on = " AND ".join(f"k.{c} = d.{c}" for c in key_cols)
            found = self.con.execute(f"SELECT k.pos, d.{id_col} AS id FROM dim_keys k JOIN {table} d ON {on}"
                                     ).fetchnumpy()
            out = np.full(n, -1, dtype=np.int64)
            out[found["pos"]] = found["id"]
            new = np.flatnonzero(out < 0)
            if len(new):
                start = self.con.execute(f"SELECT coalesce(max({id_col}) + 1, 0) FROM {table}").fetchall()[0][0]
                if start + len(new) - 1 > np.iinfo(id_type).max:
                    raise StoreError(f"the store cannot number more than {np.iinfo(id_type).max + 1:,} "
                                     f"{table.removeprefix('obs_')}")
                out[new] = np.arange(start, start + len(new))
                self.con.register("dim_new", _stream([keys.take(pa.array(new)).append_column(
                    id_col, pa.array(out[new], getattr(pa, id_type)()))]))
                self.con.execute(f"INSERT INTO {table} ({id_col}, {', '.join(key_cols)}) "
                                 f"SELECT {id_col}, {', '.join(key_cols)} FROM dim_new")
        finally:
            self.con.unregister("dim_keys")
            self.con.unregister("dim_new")
        return out.astype(id_type)

    def _count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    def _flush(self) -> None:
        """Write the areas and observations staged by ``bulk`` (each in one statement) and release them."""
        staged, self._staged = self._staged, []
        areas = [a for a, _, _ in staged if a is not None and len(a)]
        if areas:
            self._write_areas(pd.concat(areas, ignore_index=True))
        combos = set().union(*(c for _, _, c in staged))
        tables = self._drop_overridden([(t, c) for _, t, c in staged])
        del staged, areas  # the tables are handed over: written, then released
        self._write_observations(tables, replace=not combos.isdisjoint(self._written))
        self._written |= combos

    def _drop_overridden(self, staged: list[tuple[pa.Table, set]]) -> list[pa.Table]:
        """The staged observation tables without the rows whose key a later staged table gives again."""
        out = [t for t, _ in staged]
        for i, (mine, combos) in enumerate(staged):
            later = [t for t, c in staged[i + 1:] if not combos.isdisjoint(c)]
            if not later:
                continue
            self.con.register("mine", _stream([mine.select(_OBS_KEYS).append_column(
                "pos", pa.array(np.arange(mine.num_rows)))]))
            self.con.register("later", _stream([t.select(_OBS_KEYS) for t in later]))
            try:
                pos = self.con.execute(f"SELECT o.pos FROM mine o SEMI JOIN later n ON {_OBS_KEY}"
                                       ).fetchnumpy()["pos"]
            finally:
                self.con.unregister("mine")
                self.con.unregister("later")
            if len(pos):
                keep = np.ones(mine.num_rows, dtype=bool)
                keep[np.asarray(pos, dtype=np.int64)] = False
                out[i] = mine.filter(pa.array(keep))
        return out

    def _write_observations(self, tables: list[pa.Table], replace: bool) -> None:
        """Insert observations (``_obs_ids`` tables with ``source_id``, one schema) in one statement; with
        ``replace``, rows already stored with the same (area, year, indicator) are deleted first.

        Takes the list over: each table is released once DuckDB has read it (see ``_stream``)."""
        tables[:] = [t for t in tables if t.num_rows]
        if not tables:
            return
        try:
            if replace:
                self.con.register("new_keys", _stream([t.select(_OBS_KEYS) for t in tables]))
                self.con.execute(f"DELETE FROM obs_values o USING new_keys n WHERE {_OBS_KEY}")
            self.con.register("new_obs", _stream(tables))
            self.con.execute(f"INSERT INTO obs_values SELECT {', '.join(_ID_COLUMNS)}, source_id FROM new_obs")
        finally:
            for name in ("new_keys", "new_obs"):
                self.con.unregister(name)

    def _write_areas(self, areas: pd.DataFrame | None) -> None:
        """Add new areas; for known areas fill fields that are still NULL (first non-NULL value wins)."""
        if areas is None or areas.empty:
            return
        key = ["code", "level", "vintage"]
        new = areas.astype({c: "object" for c in AREA_COLUMNS if c != "vintage"}).astype({"vintage": "int32"})
        new = new.groupby(key, sort=False, as_index=False).first()
        self.con.register("new_areas", new[[*AREA_COLUMNS, "source_id"]])
        sets = ", ".join(f"{c} = coalesce(a.{c}, n.{c})" for c in AREA_COLUMNS[3:])
        self.con.execute(f"UPDATE areas a SET {sets} FROM new_areas n "
                         "WHERE a.code = n.code AND a.level = n.level AND a.vintage = n.vintage")
        self.con.execute("INSERT INTO areas SELECT n.* FROM new_areas n ANTI JOIN areas a "
                         "ON a.code = n.code AND a.level = n.level AND a.vintage = n.vintage")
        self.con.unregister("new_areas")

    def _add_geometries(self, table: pa.Table) -> int:
        """Add boundaries (``_geometry_arrow`` with ``source_id``) not yet stored for their (code, level,
        vintage): the first source read keeps its own."""
        self.con.register("new_geoms", _stream([table]))
        try:
            return int(self.con.execute(
                "INSERT INTO geometries SELECT n.* FROM new_geoms n ANTI JOIN geometries g "
                "ON g.code = n.code AND g.level = n.level AND g.vintage = n.vintage").fetchall()[0][0])
        finally:
            self.con.unregister("new_geoms")

    def _extra_tables(self) -> list[str]:
        value = self._meta("extra_tables")
        return json.loads(value) if value else []

    def append(self, table: str, frame: pd.DataFrame | pa.Table) -> int:
        """Append ``frame`` (pandas or Arrow) to ``table``; a table not in the schema is created from the
        frame's columns.

        Created tables are remembered, so that rows carrying a ``source_id`` are replaced when their source
        file changes.
        """
        if not table.isidentifier():
            raise StoreError(f"{table!r} is not a valid table name")
        names = frame.column_names if isinstance(frame, pa.Table) else [str(c) for c in frame.columns]
        # an Arrow table as a stream (released once read); a pandas frame as it is (DuckDB types its columns)
        self.con.register("new_rows", frame.schema.empty_table() if isinstance(frame, pa.Table) else frame)
        exists = self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                  [table]).fetchall()[0][0]
        if not exists:
            self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM new_rows LIMIT 0")
            if "source_id" in names:
                extra = sorted({*self._extra_tables(), table})
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('extra_tables', ?)", [json.dumps(extra)])
        if isinstance(frame, pa.Table):
            self.con.register("new_rows", _stream([frame]))
        cols = ", ".join(f'"{c}"' for c in names)
        self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM new_rows")
        self.con.unregister("new_rows")
        return len(frame)

    def replace(self, table: str, frame: pd.DataFrame | pa.Table | Iterable[pd.DataFrame | pa.Table],
                where: dict[str, object] | None = None) -> int:
        """Replace the rows of a derived ``table`` matching ``where`` (all rows if None) by ``frame``, or by
        the chunks of an iterable of frames, appended one by one as they come (never all in memory)."""
        if not table.isidentifier() or any(not k.isidentifier() for k in (where or {})):
            raise StoreError(f"{table!r} or its keys are not valid identifiers")
        exists = self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                  [table]).fetchall()[0][0]
        if exists:
            if where:
                cond = " AND ".join(f'"{k}" = ?' for k in where)
                self.con.execute(f"DELETE FROM {table} WHERE {cond}", list(where.values()))
            else:
                self.con.execute(f"DELETE FROM {table}")
        if isinstance(frame, pd.DataFrame | pa.Table):
            return self.append(table, frame)
        return sum(self.append(table, chunk) for chunk in frame)

    # -- runs -------------------------------------------------------------------------------------------
    @contextmanager
    def run(self, command: str, params: dict, data_hashes: dict | None = None) -> Iterator[int]:
        """Record a successful command in ``runs`` (parameters, data hashes, version, times).

        A failed command records nothing, so that the store stays exactly as it was; a read-only store
        records nothing either. Call inside ``transaction`` so that the run row commits with the results.
        """
        started = _now()
        if self.read_only:
            yield 0
            return
        rid = self.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchall()[0][0]
        yield rid
        hashes = data_hashes if data_hashes is not None else dict(
            self.con.execute("SELECT file, sha256 FROM sources ORDER BY file").fetchall())
        self.con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [rid, command, json.dumps(params, default=str), json.dumps(hashes), __version__,
                          started, _now(), "ok", None])

    # -- queries ----------------------------------------------------------------------------------------
    def sql(self, query: str, params: Sequence | None = None) -> pd.DataFrame:
        """Run a parameterised SQL query and return a DataFrame."""
        return self.con.execute(query, params or []).df()

    def ibis(self):
        """An Ibis backend over this store, for expressions that also run on other engines (PySpark)."""
        import ibis

        return ibis.duckdb.from_connection(self.con)

    def table(self, level: str, years: Iterable[int] | None = None, indicators: Iterable[str] | None = None,
              *, ibis: bool = False, with_status: bool = False):
        """Observations of ``level`` as a wide table: one row per (code, year), one column per indicator.

        Values that are suppressed or missing are NULL. With ``ibis=True`` an Ibis expression is returned
        instead of a pandas DataFrame; with ``with_status`` the frame gets a ``<indicator>__status`` column
        per indicator (a categorical of the statuses; NaN where the store holds no row).
        """
        years = list(years) if years is not None else None
        wanted = list(indicators) if indicators is not None else None
        if wanted is not None:
            known = set(self.con.execute("SELECT id FROM indicators").df()["id"])
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise StoreError(f"unknown indicator {unknown[0]!r}; see 'leefbaar indicators --search'")
        if ibis:
            t = self.ibis().table("observations")
            expr = t.filter(t.level == level)
            if years is not None:
                expr = expr.filter(t.year.isin(years))
            if wanted is not None:
                expr = expr.filter(t.indicator.isin(wanted))
            return expr.select("code", "year", "indicator", "value").pivot_wider(
                id_cols=["code", "year"], names_from="indicator", values_from="value")
        return _pivot(self.con, level, years, wanted, with_status)

    def areas(self, level: str | None = None, vintage: int | None = None) -> pd.DataFrame:
        """Rows of ``areas`` for a level and vintage (all when None)."""
        conds, params = ["TRUE"], []
        if level is not None:
            conds.append("level = ?")
            params.append(level)
        if vintage is not None:
            conds.append("vintage = ?")
            params.append(vintage)
        return self.sql(f"SELECT * EXCLUDE (source_id) FROM areas WHERE {' AND '.join(conds)} "
                        "ORDER BY level, vintage, code", params)

    def geometries(self, level: str, vintage: int | None = None, crs: int = 28992) -> gpd.GeoDataFrame:
        """Boundaries of ``level`` (latest vintage when None) as a GeoDataFrame in RD New or WGS84."""
        if vintage is None:
            row = self.con.execute("SELECT max(vintage) FROM geometries WHERE level = ?", [level]).fetchall()[0]
            if row[0] is None:
                raise StoreError(f"the store holds no geometries at level {level!r}")
            vintage = row[0]
        col = "geom_rd" if crs == 28992 else "geom_wgs84"
        frame = self.sql(f"SELECT code, vintage, area_m2, {col} AS wkb FROM geometries "
                         "WHERE level = ? AND vintage = ? ORDER BY code", [level, vintage])
        geom = shapely.from_wkb(np.asarray(frame.pop("wkb").map(bytes), dtype=object))
        return gpd.GeoDataFrame(frame, geometry=geom, crs=crs if crs == 28992 else 4326)

    def indicators(self, search: str | None = None) -> pd.DataFrame:
        """The indicator catalogue, filtered by a case-insensitive search in id, labels, theme and unit."""
        frame = self.sql("SELECT * FROM indicators ORDER BY theme, id")
        if search:
            hay = frame[["id", "label_nl", "label_en", "theme", "unit", "description"]].astype(str).agg(" ".join,
                                                                                                          axis=1)
            frame = frame[hay.str.contains(search, case=False, regex=False)]
        return frame.reset_index(drop=True)

    def area_groups(self, group_id: str | None = None) -> pd.DataFrame:
        """Membership of area groups (policy areas given by code)."""
        if group_id is None:
            return self.sql("SELECT * EXCLUDE (source_id) FROM area_groups ORDER BY group_id, code")
        return self.sql("SELECT * EXCLUDE (source_id) FROM area_groups WHERE group_id = ? ORDER BY code", [group_id])

    def summary(self) -> dict[str, pd.DataFrame]:
        """Areas per level and vintage, observations per level and year, indicators, sources."""
        return {
            "areas": self.sql("SELECT level, vintage, count(*) AS areas FROM areas GROUP BY ALL ORDER BY ALL"),
            "observations": self.sql(
                "SELECT level, year, count(DISTINCT code) AS areas, count(DISTINCT indicator) AS indicators, "
                "count(*) AS observations, sum((status IN ('ok', 'rounded'))::INT) AS with_value "
                "FROM observations GROUP BY ALL ORDER BY ALL"),
            "geometries": self.sql("SELECT level, vintage, count(*) AS geometries FROM geometries "
                                   "GROUP BY ALL ORDER BY ALL"),
            "sources": self.sql("SELECT family, count(*) AS files, sum(rows_read) AS rows, "
                                "sum(observations) AS observations FROM sources GROUP BY ALL ORDER BY ALL"),
        }


def encode(batch: Batch) -> Batch:
    """Fill ``batch.encoded`` (once) with the Arrow tables ``ingest`` writes: ``observations``
    (``_obs_arrow``), their ``combos`` (``_combos``) and ``geometries`` (``_geometry_arrow``), all without
    ``source_id``. Thread-safe to run on different batches at once: a build encodes each batch in the thread
    that read it, so that projection and encoding overlap."""
    if not batch.encoded:
        obs = _obs_arrow(batch.observations)
        batch.encoded.update(observations=obs, combos=_combos(obs),
                             geometries=None if batch.geometries is None else _geometry_arrow(batch.geometries))
    return batch


def _stream(tables: list[pa.Table]) -> pa.RecordBatchReader:
    """The rows of ``tables`` (one schema) as a stream for DuckDB to read once, which releases each table when it
    has been read: DuckDB keeps every object a statement reads alive until the transaction ends, so a registered
    table (or frame) would stay in memory for the rest of a build. Takes the list over."""
    schema = tables[0].schema

    def batches() -> Iterator[pa.RecordBatch]:
        while tables:
            yield from tables.pop(0).to_batches(max_chunksize=STREAM_ROWS)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _with_source(table: pa.Table, sid: int) -> pa.Table:
    return table.append_column("source_id", pa.array(np.full(table.num_rows, sid, dtype=np.int32)))


def _text_array(column: pd.Series) -> pa.DictionaryArray:
    """A column of text as an Arrow dictionary array (int32 indices): a categorical from its codes and categories
    (no string per row), other columns encoded."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        dictionary = pa.array(column.cat.categories.astype(str).to_numpy(dtype=object), type=pa.string())
        codes = column.cat.codes.to_numpy().astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary)
    return pc.dictionary_encode(pa.array(column.astype(str).to_numpy(dtype=object), type=pa.string()))


def _obs_arrow(obs: pd.DataFrame) -> pa.Table:
    """Observations (``OBS_COLUMNS``) as an Arrow table in the store's types, text dictionary-encoded."""
    return pa.table({
        "code": _text_array(obs["code"]), "level": _text_array(obs["level"]),
        "vintage": pa.array(obs["vintage"].to_numpy(dtype=np.int32)),
        "year": pa.array(obs["year"].to_numpy(dtype=np.int32)),
        "indicator": _text_array(obs["indicator"]),
        "value": pa.array(obs["value"].to_numpy(dtype=np.float64), from_pandas=True),
        "status": _text_array(obs["status"]),
    })


def _combos(obs: pa.Table) -> set[tuple[str, int, str]]:
    """The distinct (level, year, indicator) of observations (``_obs_arrow``), from the dictionary indices."""
    if obs.num_rows == 0:
        return set()
    level, indicator = (obs[c].combine_chunks() for c in ("level", "indicator"))
    lv = level.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ind = indicator.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    year = obs["year"].to_numpy().astype(np.int64)
    keys = pd.unique((lv << 40) | (ind << 16) | (year & 0xFFFF))  # years 0-65535, under 2**24 indicators
    names_l, names_i = level.dictionary.to_pylist(), indicator.dictionary.to_pylist()
    return {(names_l[k >> 40], int(k & 0xFFFF), names_i[(k >> 16) & 0xFFFFFF]) for k in keys.tolist()}


def _geometry_arrow(geoms: gpd.GeoDataFrame) -> pa.Table:
    """Boundaries (RD New) as rows of ``geometries``: WKB in RD New and WGS84, area in m2."""
    rd = geoms.geometry.to_numpy()
    return pa.table({
        "code": pa.array(geoms["code"].astype(str).to_numpy(dtype=object), type=pa.string()),
        "level": pa.array(geoms["level"].astype(str).to_numpy(dtype=object), type=pa.string()),
        "vintage": pa.array(geoms["vintage"].to_numpy(dtype=np.int32)),
        "geom_rd": pa.array(shapely.to_wkb(rd), type=pa.binary()),
        "geom_wgs84": pa.array(shapely.to_wkb(to_crs(rd, geoms.crs, 4326)), type=pa.binary()),
        "area_m2": pa.array(shapely.area(rd)),
    })


def _pivot(con: duckdb.DuckDBPyConnection, level: str, years: list[int] | None, wanted: list[str] | None,
           with_status: bool) -> pd.DataFrame:
    """Observations of ``level`` (of ``years`` and ``wanted`` indicators, all when None) as a wide frame (see
    ``Store.table``), in time and memory linear in the rows.

    Reads ``obs_values`` twice, integers only: the (indicator, year, status) present with their counts, then the
    rows themselves, streamed. numpy places each value at its (code, year) row, found from the area id through
    the level's areas in code order; the long rows never become Python objects (a pandas pivot of 165 million rows
    needs tens of GB).
    """
    areas = con.sql("SELECT area, code FROM obs_areas WHERE level = ? ORDER BY code", params=[level]).to_arrow_table()
    ids = areas.column("area").to_numpy()
    if len(ids) == 0:
        return pd.DataFrame(columns=["code", "year", *(wanted or [])])
    # the level's areas as a range of ids when they are one block (as one file brings them): a filter DuckDB checks
    # against the row groups' min and max, three times cheaper than a semi-join; literal ids for the same reason
    lo, hi = int(ids.min()), int(ids.max())
    conds = [f"v.area BETWEEN {lo} AND {hi}"]
    params: list = []
    if hi - lo + 1 != len(ids):
        conds.append("v.area IN (SELECT area FROM obs_areas WHERE level = ?)")
        params.append(level)
    if years is not None:
        conds.append(f"v.year IN ({', '.join('?' * len(years))})" if years else "FALSE")
        params += years
    if wanted is not None:
        known = con.execute("SELECT indicator FROM obs_indicators WHERE list_contains(?::VARCHAR[], name)",
                            [wanted]).fetchnumpy()["indicator"]
        conds.append(f"v.indicator IN ({', '.join(str(int(i)) for i in known)})" if len(known) else "FALSE")
    obs = f"FROM obs_values v WHERE {' AND '.join(conds)}"
    present = con.execute(f"SELECT i.name AS indicator, v.indicator AS ind, v.year, s.name AS status, v.status AS st, "
                          f"v.n FROM (SELECT indicator, year, status, count(*) AS n {obs} GROUP BY ALL) v "
                          "JOIN obs_indicators i ON v.indicator = i.indicator "
                          "JOIN obs_statuses s ON v.status = s.status", params).df()
    if present.empty:
        return pd.DataFrame(columns=["code", "year", *(wanted or [])])
    inds = sorted(set(present["indicator"]))
    stats = sorted(set(present["status"]))
    yrs = np.sort(present["year"].unique()).astype(np.int64)
    # lookup tables from the ids: area -> rank of its code in the level, indicator -> column, status -> category
    rank = np.full(hi + 1, -1, dtype=np.int64)
    rank[ids] = np.arange(len(ids))
    col = _lookup(present["ind"], [inds.index(i) for i in present["indicator"]])
    cat = _lookup(present["st"], [stats.index(x) for x in present["status"]])
    ycol = _lookup(present["year"] - yrs[0], np.arange(len(yrs))[np.searchsorted(yrs, present["year"])])
    # rows: (code rank, year) on the full grid when most of it is present (the last year of a code missing costs
    # little), else the (area, year) pairs present, read first
    grid = len(ids) * len(yrs)
    dense = grid <= 2 * int(present.groupby("ind")["n"].sum().max())
    if dense:
        row = np.arange(grid, dtype=np.int64)
    else:
        pairs = con.execute(f"SELECT DISTINCT v.area, v.year {obs}", params).fetchnumpy()
        keys = np.sort(rank[pairs["area"]] * len(yrs) + ycol[pairs["year"] - yrs[0]])
        row = np.full(grid, -1, dtype=np.int64)
        row[keys] = np.arange(len(keys))
    n = int(row.max()) + 1
    seen = np.zeros(n * len(inds), dtype=bool)
    values = np.full((len(inds), n), np.nan)  # one contiguous row per indicator: the columns without copies
    status = np.full((len(inds), n), -1, dtype=np.int8)
    placed = 0
    cells = con.sql(f"SELECT v.area, v.year, v.indicator, coalesce(v.value, 'NaN'::DOUBLE), v.status {obs}",
                    params=params).to_arrow_reader(1 << 20)
    for batch in cells:  # streamed: the long rows are never held whole (150 million at 400,000 areas)
        area, year, ind, value, st = (batch.column(k).to_numpy(zero_copy_only=False) for k in range(5))
        r = row[rank[area] * len(yrs) + ycol[year - yrs[0]]]
        j = col[ind]
        seen[r * len(inds) + j] = True
        values[j, r] = value
        status[j, r] = cat[st]
        placed += len(r)
    if int(seen.sum()) != placed:
        raise StoreError("observations hold one (code, level, year, indicator) twice; rebuild the store")
    pos = np.flatnonzero(row >= 0)  # the grid position of each row
    if dense:  # drop the (code, year) rows of the grid that hold nothing
        keep = seen.reshape(n, len(inds)).any(axis=1)
        if not keep.all():
            pos, values, status = pos[keep], values[:, keep], status[:, keep]
    out = {"code": areas.column("code").take(pa.array(pos // len(yrs))),
           "year": pa.array(yrs[pos % len(yrs)].astype(np.int32))}
    cols = [c for c in (wanted or inds) if c in inds]
    at = [inds.index(c) for c in cols]
    out.update({c: pa.array(values[k]) for c, k in zip(cols, at, strict=True)})
    if with_status:  # statuses as categoricals of the few distinct ones (a byte a row, never Python objects)
        names = pa.array(stats, pa.string())
        out.update({f"{c}__status": pa.DictionaryArray.from_arrays(pa.array(status[k], mask=status[k] < 0), names)
                    for c, k in zip(cols, at, strict=True)})
    return pa.table(out).to_pandas()


def _lookup(keys, values) -> np.ndarray:
    """An array mapping the small non-negative integers ``keys`` to ``values`` (-1 elsewhere)."""
    keys = np.asarray(keys, dtype=np.int64)
    out = np.full(int(keys.max()) + 1, -1, dtype=np.int64)
    out[keys] = values
    return out


def _rel(path: Path) -> str:
    """A file's identity in ``sources``: its path below the data folder (the last parts of the path)."""
    parts = Path(path).resolve().parts
    return "/".join(parts[-2:])


def _years_text(years: frozenset[int]) -> str:
    ys = sorted(years)
    return f"{ys[0]}-{ys[-1]}" if ys == list(range(ys[0], ys[-1] + 1)) else ";".join(map(str, ys))
