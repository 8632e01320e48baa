"""PostgreSQL disk per event at the soak's cardinality, without HTTP: ``bench_load.soak_events`` (20
projects, 50 models, 2,000 users, 200 keys; timestamps of now) stored through ``PostgresStore.insert``,
10 x 200-event batches per call, compaction every 10 s as in a server.  Every 432,000 events (a minute
of the soak's offered rate) it prints the schema's bytes per event and each table's share (partitions
and indexes included), so the figure is reached at the soak's full 4.32M events even when the machine
cannot serve the soak's rate.  Then it times (best of ``--repeat``) the soak's query shapes through
``PostgresStore.aggregate`` and the day queries by user and another dimension, which read raw events and
the history of pruned days where the day rollup leaves users out.

    OPENUSAGE_BENCH_PG=postgresql://postgres@127.0.0.1:5432/test_pg python bench/bench_pg_disk.py --events 4320000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import soak_events

from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate

EVERY = 432_000
DAY = 86400
SHAPES: list[tuple[str, int, int, tuple[str, ...]]] = [
    # the soak's (bench_load.SOAK_SHAPES, usage), then by user and another dimension: (type, width, back, group_by)
    ("completions", 60, 3600, ()), ("completions", 60, 3600, ("model",)), ("completions", 3600, DAY, ("project_id",)),
    ("completions", 3600, DAY, ("model",)), ("completions", DAY, 7 * DAY, ("project_id", "model")),
    ("completions", DAY, 7 * DAY, ("user_id",)), ("embeddings", 60, 3600, ()), ("embeddings", 3600, DAY, ("model",)),
    ("embeddings", DAY, 7 * DAY, ("api_key_id",)), ("completions", DAY, 7 * DAY, ("user_id", "model")),
    ("completions", DAY, 7 * DAY, ("user_id", "api_key_id")), ("completions", DAY, 7 * DAY, ("api_key_id", "model")),
]


def time_queries(store: object, repeat: int) -> None:
    """Best of ``repeat`` per shape, ending at the next whole period after now."""
    now = int(time.time())
    for kind, width, back, groups in SHAPES:
        end = now - now % width + width
        agg = Aggregate(kind, end - back, end, width, group_by=groups, metrics=("input_tokens",))
        best, rows = float("inf"), 0
        for _ in range(repeat):
            t = time.perf_counter()
            rows = store.aggregate(agg).num_rows  # type: ignore[attr-defined]
            best = min(best, time.perf_counter() - t)
        print(f"query {kind} {width}s by {','.join(groups) or '-'}: {best * 1000:8.1f} ms, {rows} rows "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)


def table_bytes(base: str, schema: str) -> list[tuple[str, int]]:
    """Each table's bytes (its partitions and indexes included), largest first."""
    with psycopg.connect(base) as conn:
        rows = conn.execute(
            "SELECT coalesce(p.relname, c.relname), sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace ns ON ns.oid = c.relnamespace LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "LEFT JOIN pg_class p ON p.oid = i.inhparent WHERE ns.nspname = %s AND c.relkind = 'r' "
            "GROUP BY 1 ORDER BY 2 DESC", [schema]).fetchall()
    return [(name, int(size)) for name, size in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=4_320_000, help="events to store (a multiple of 2,000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each query shape timed at the end (0: none)")
    ap.add_argument("--queries-on", metavar="SCHEMA", help="only time the queries, on a store this script left "
                    "(stopped with SIGTERM, which keeps its schema)")
    args = ap.parse_args()
    base = os.environ.get("OPENUSAGE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
    if args.queries_on:
        kept = open_store(f"{base}?schema={args.queries_on}")
        try:
            kept.compact()  # type: ignore[attr-defined]
            time_queries(kept, args.repeat)
        finally:
            kept.close()
        return
    schema = f"bench_disk_{uuid.uuid4().hex[:8]}"
    store = open_store(f"{base}?schema={schema}")
    rng = random.Random(1)
    t, done = time.perf_counter(), 0
    took: list[float] = []  # each insert call's seconds since the last print (compaction's rounds included)
    try:
        while done < args.events:
            batches = [validate_events(soak_events(f"b{done}-{k}", 200, rng, time.time())) for k in range(10)]
            start = time.perf_counter()
            store.insert(batches)
            took.append(time.perf_counter() - start)
            done += 2000
            if done % EVERY == 0 or done >= args.events:
                rows = table_bytes(base, schema)
                total = sum(size for _, size in rows)
                print(f"{done:>9,} events {time.perf_counter() - t:6.0f} s load {os.getloadavg()[0]:5.1f} "
                      f"B/event {total / done:6.1f}: " + ", ".join(f"{n} {s / done:.1f}" for n, s in rows[:8]),
                      flush=True)
                took.sort()
                print(f"          insert of 2,000 events: p50 {took[len(took) // 2] * 1000:.1f} ms, p99 "
                      f"{took[int(len(took) * 0.99)] * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms", flush=True)
                took.clear()
        if args.repeat:
            store.compact()  # type: ignore[attr-defined]
            time_queries(store, args.repeat)
    finally:
        store.drop_schema()  # type: ignore[attr-defined]
        store.close()


if __name__ == "__main__":
    main()
