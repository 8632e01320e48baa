"""PostgreSQL's floor for one query shape of ``bench_scale.py``: the store's statement against the same over
``bigint`` counters and with the sums left out, each best and median of several runs, and DuckDB's answer
to the same query from the same run.

    python bench/bench_pg_ceiling.py                        # 1h model over the 10M-event stores
    python bench/bench_pg_ceiling.py --events 1000000 --query "1m last day"

The stores are ``bench_scale.py``'s (filled by its first run).  The ``bigint`` variant reads a copy of
the summary table the statement reads (indexed by type and time as it is), made for the run and dropped
after it: what storing the counters as ``bigint`` would give.  ``counts`` replaces each counter's sum by
``count(m)``: reading and grouping alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scale as bs
from common import machine

from openusage.query.params import parse_query
from openusage.store import open_store

SUM = re.compile(r"\(CASE WHEN SUM\(\((\w+)\)::bigint::float8\) >= \d+ THEN 'Infinity'::float8 "
                 r"ELSE SUM\(\(\w+\)::bigint::float8\) END\)::bigint")


def timed(run: Any, repeat: int) -> tuple[float, float]:
    """Best and median milliseconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        out.append((time.perf_counter() - t) * 1000)
    return min(out), statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--query", default="1h model", choices=list(bs.QUERIES))
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    items = bs.query_params(args.query)
    agg = dataclasses.replace(bs.aggregate_for(parse_query(bs.EP, items)), start_s=int(items[0][1]),
                              end_s=int(items[1][1]))
    print(f"# {args.query} over {args.events:,} events; {machine()}")
    duck = open_store(bs.store_url("duckdb", args.events))
    try:
        duck_ms = timed(lambda: duck.aggregate(agg), args.repeat)
    finally:
        duck.close()
    store: Any = open_store(bs.ensure_filled("postgresql", args.events))
    try:
        sql, params = store.statement(agg)
        table = re.search(r"FROM (summary_1[mhd]|users_1d|rollup_1d)\b", sql)
        with store._conn() as conn:
            rows: list[tuple[str, tuple[float, float]]] = [
                ("DuckDB, the store's aggregate", duck_ms),
                ("PostgreSQL, the store's aggregate", timed(lambda: store.aggregate(agg), args.repeat)),
                ("PostgreSQL, its statement alone", timed(lambda: conn.execute(sql, params).fetchall(), args.repeat)),
                ("PostgreSQL, counts in place of sums", timed(
                    lambda: conn.execute(SUM.sub(r"count(\1)", sql), params).fetchall(), args.repeat)),
            ]
            if table:
                name = table.group(1)
                counters = [c for (c,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s AND data_type = 'numeric' AND column_name NOT IN ('amount', 'quantity')",
                    [name]).fetchall()]
                conn.execute("DROP TABLE IF EXISTS ceiling_copy")
                conn.execute(f"CREATE TABLE ceiling_copy AS SELECT * FROM {name}")
                conn.execute("ALTER TABLE ceiling_copy " + ", ".join(f"ALTER COLUMN {c} TYPE bigint" for c in counters))
                conn.execute("CREATE INDEX ON ceiling_copy (type, ts_us)")  # as the summary's own index
                conn.execute("VACUUM ANALYZE ceiling_copy")
                big = sql.replace(f"FROM {name}", "FROM ceiling_copy").replace("::bigint::float8", "::float8")
                try:
                    rows.append((f"PostgreSQL, {name} with bigint counters",
                                 timed(lambda: conn.execute(big, params).fetchall(), args.repeat)))
                finally:
                    conn.execute("DROP TABLE ceiling_copy")
    finally:
        store.close()
    print(f"{'':42} {'best ms':>9} {'median ms':>10} {'/ DuckDB':>9}")
    for label, (best, median) in rows:
        print(f"{label:42} {best:9.1f} {median:10.1f} {best / duck_ms[0]:8.2f}x")


if __name__ == "__main__":
    main()
