"""Compare two stores table by table: a hash of the rows of every table, in order (times of ingest and of runs, and
the run parameters, which name the store, left out), and the largest crosswalk weight difference.

Usage: python benchmarks/compare_stores.py A.duckdb B.duckdb   (exit 1 when a table differs)
"""

import sys

import duckdb

VOLATILE = {"sources": ["ingested_at"], "runs": ["started_at", "finished_at", "params"]}
CROSSWALK_KEY = "from_level, from_vintage, from_code, to_level, to_vintage, to_code"


def hashes(path: str) -> dict[str, tuple[int, str | None]]:
    """{table: (rows, md5 of the sorted row hashes)}."""
    con = duckdb.connect(path, read_only=True)
    out = {}
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall():
        cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                          "ORDER BY ordinal_position", [table]).fetchall()
                if c not in VOLATILE.get(table, [])]
        row = ", ".join(f'"{c}"' for c in cols)
        out[table] = con.execute(f"SELECT count(*), md5(string_agg(h::VARCHAR, ',' ORDER BY h)) "
                                 f"FROM (SELECT hash(row({row})::VARCHAR) AS h FROM {table})").fetchall()[0]
    con.close()
    return out


def main(a: str, b: str) -> bool:
    ha, hb = hashes(a), hashes(b)
    same = True
    for table in sorted(set(ha) | set(hb)):
        ok = ha.get(table) == hb.get(table)
        same &= ok
        print(f"{'same' if ok else 'DIFF':4s} {table:28s} {ha.get(table)} {'' if ok else hb.get(table)}")
    con = duckdb.connect(a, read_only=True)
    con.execute("ATTACH ? AS other (READ_ONLY)", [b])
    n, diff = con.execute(f"SELECT count(*), max(abs(a.weight - b.weight)) FROM crosswalks a "
                          f"FULL JOIN other.crosswalks b USING ({CROSSWALK_KEY})").fetchall()[0]
    print(f"crosswalks: {n} rows joined, largest weight difference {diff}")
    print("ALL TABLES SAME" if same else "TABLES DIFFER")
    return same


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1], sys.argv[2]) else 1)
