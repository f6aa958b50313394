#!/usr/bin/env python3
"""Proves that the SQL `audience::sql` writes gives the engine's answers.

`examples/sql_export` writes the WORKLOAD.md data (plus awkward profiles) in the
documented layout as JSON lines, and the cases: Q1-Q10, inputs meant to break the
escaping, and random expressions, each with its in-process count (and, but for the
random ones, its member ids) and its SQL per dialect. This script loads the tables
into DuckDB, writes them as Parquet, loads the Parquet into chDB (in-process
ClickHouse) and, with --spark, into Spark in local mode, runs every query, and fails
on the first answer that differs. A dialect refusing a case (a typed error) is
reported, and must be one of the refusals listed in REFUSALS.

    python3 tests/sql/cross_check.py DIR [--spark]
"""

import json
import os
import sys
import time

REFUSALS = (": a time-of-day habit", "cannot express a sample keyed by an identifier kind")

try:
    import duckdb
    import chdb
    import pyroaring
    from chdb import session as chs
except ImportError as e:  # pragma: no cover - the CI installs them
    sys.exit(f"cross_check: {e}: pip install -r tests/sql/requirements.txt first")

DUCK_TYPES = {"u_int64": "UBIGINT", "int64": "BIGINT", "text": "VARCHAR", "boolean": "BOOLEAN", "text_array": "VARCHAR[]"}


def load(dir_):
    with open(os.path.join(dir_, "columns.json")) as f:
        tables = json.load(f)
    with open(os.path.join(dir_, "cases.json")) as f:
        cases = json.load(f)
    return tables, cases


def to_parquet(dir_, tables):
    """Loads each JSON-lines table into DuckDB with its declared column types and
    writes it as Parquet; returns the DuckDB connection holding the tables."""
    con = duckdb.connect()
    for name, t in tables.items():
        cols = ", ".join(f"'{c['name']}': '{DUCK_TYPES[c['type']]}'" for c in t["columns"])
        path = os.path.join(dir_, f"{name}.jsonl")
        con.execute(
            f"CREATE TABLE \"{name}\" AS SELECT * FROM read_json('{path}', format = 'newline_delimited', "
            f"columns = {{{cols}}})"
        )
        n = con.execute(f"SELECT count(*) FROM \"{name}\"").fetchone()[0]
        assert n == t["rows"], f"{name}: {n} rows loaded, {t['rows']} written"
        con.execute(f"COPY \"{name}\" TO '{os.path.join(dir_, name)}.parquet' (FORMAT parquet)")
    return con


class Duck:
    name = "duck_db"

    def __init__(self, dir_, tables):
        self.con = duckdb.connect()
        for name in tables:
            self.con.execute(f"CREATE TABLE \"{name}\" AS SELECT * FROM read_parquet('{os.path.join(dir_, name)}.parquet')")

    def count(self, sql):
        return self.con.execute(sql).fetchone()[0]

    def ids(self, sql):
        return [r[0] for r in self.con.execute(sql).fetchall()]


class ClickHouse:
    name = "click_house"

    def __init__(self, dir_, tables):
        self.s = chs.Session()
        for name in tables:
            path = os.path.join(dir_, name) + ".parquet"
            self.s.query(f"CREATE TABLE `{name}` ENGINE = Memory AS SELECT * FROM file('{path}', Parquet)")

    def count(self, sql):
        return int(str(self.s.query(sql, "CSV")).strip())

    def ids(self, sql):
        out = str(self.s.query(sql, "CSV")).split()
        return [int(x) for x in out]


class Spark:
    name = "spark_sql"

    def __init__(self, dir_, tables):
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        for name in tables:
            self.spark.read.parquet(os.path.join(dir_, name) + ".parquet").createOrReplaceTempView(name)

    def count(self, sql):
        return self.spark.sql(sql).collect()[0][0]

    def ids(self, sql):
        return [r[0] for r in self.spark.sql(sql).collect()]


def check(engine, cases):
    ran = refused = 0
    start = time.monotonic()
    for case in cases:
        q = case["sql"][engine.name]
        if "error" in q:
            assert any(r in q["error"] for r in REFUSALS), f"{engine.name} {case['name']}: unexpected refusal {q['error']}"
            refused += 1
            continue
        try:
            got = engine.count(q["count"])
        except Exception as e:
            sys.exit(f"FAIL {engine.name} {case['name']}: {e}\n{q['count']}")
        if got != case["count"]:
            sys.exit(f"FAIL {engine.name} {case['name']}: count {got}, engine {case['count']}\n"
                     f"expr: {json.dumps(case['expr'])}\n{q['count']}")
        if case["ids"] is not None:
            ids = engine.ids(q["ids"])
            if ids != case["ids"]:
                sys.exit(f"FAIL {engine.name} {case['name']}: ids differ from the engine's")
        ran += 1
    print(f"{engine.name}: {ran} cases equal the engine's counts, {refused} refused as expected, "
          f"{time.monotonic() - start:.1f} s")


def roaring(dir_, cases):
    """Our portable bitmaps read by pyroaring hold the engine's members, and pyroaring's
    own bytes of the same sets are written for the example to import back (--import)."""
    out = os.path.join(dir_, "pyroaring")
    os.makedirs(out, exist_ok=True)
    same_bytes = 0
    for case in cases:
        path = os.path.join(dir_, "roaring", f"{case['name']}.roaring")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            ours = f.read()
        bm = pyroaring.BitMap.deserialize(ours)
        if list(bm) != case["ids"]:
            sys.exit(f"FAIL pyroaring {case['name']}: the bitmap holds other ids than the engine's members")
        theirs = pyroaring.BitMap(case["ids"]).serialize()
        same_bytes += theirs == ours
        with open(os.path.join(out, f"{case['name']}.roaring"), "wb") as f:
            f.write(theirs)
    print(f"pyroaring {pyroaring.__version__}: read {len(os.listdir(out))} of our bitmaps "
          f"({same_bytes} byte for byte as its own); wrote its own to {out}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dir_ = args[0] if args else "target/sql-check"
    tables, cases = load(dir_)
    print(f"cross_check: duckdb {duckdb.__version__}, chdb {chdb.__version__}; {len(cases)} cases")
    roaring(dir_, cases)
    to_parquet(dir_, tables)
    engines = [Duck(dir_, tables), ClickHouse(dir_, tables)]
    if "--spark" in sys.argv:
        engines.append(Spark(dir_, tables))
    for e in engines:
        check(e, cases)


if __name__ == "__main__":
    main()
