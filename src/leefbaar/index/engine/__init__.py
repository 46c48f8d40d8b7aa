"""The open index engine: any table of units and indicators, any hierarchy, COINr's standard operations,
every step recorded; uncertainty and sensitivity for any spec (see docs/index-engine.md)."""

from leefbaar.index.engine.build import IndexResult, build, build_file, read_table, replay, run, validate
from leefbaar.index.engine.hierarchy import Hierarchy, from_meta, read_meta
from leefbaar.index.engine.spec import EngineSpec, load_engine_spec, parse_engine_spec

__all__ = ["EngineSpec", "Hierarchy", "IndexResult", "build", "build_file", "from_meta", "load_engine_spec",
           "parse_engine_spec", "read_meta", "read_table", "replay", "run", "validate"]
