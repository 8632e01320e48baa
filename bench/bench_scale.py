"""Scale: ingestion and queries on DuckDB, PostgreSQL and chdb, with and without rollups.

Ingest: ``POST /v1/usage/events`` (1,000-event JSON bodies, 4 keep-alive connections per server)
into a fresh store behind real ``openusage serve`` processes: one per engine, and four on one
PostgreSQL schema (``pg x4``).  Afterwards the store's count must equal the events sent.

Queries: completions over 30 days, the last day or the last hour (the bench_query data: 5 models x 10
projects x 100 users x 20 keys over 30 days, generated once by DuckDB SQL into bench/data/scale-*.duckdb, a
day at a time, and loaded once into PostgreSQL / chdb in bulk: the same rows as ``openusage migrate``'s
copy gives, rollups compacted).  For each query, in one run:

* ``rollup s``: the store's ``aggregate`` (reads per-day/hour/minute rollups, raw events at edges);
* ``raw s``: the same with rollups off (raw events only; ``--skip-raw`` leaves it out);
* ``sql s``: the exact SQL the store runs with rollups, executed directly on the engine (fetched
  as Arrow from DuckDB and chdb, as rows from PostgreSQL);
* ``http s``: every page of the query through the server (requests until the body is read);
* ``http/sql``: the ratio of the last two.

``rows`` is buckets x groups returned, the same at every size: with rollups the time should follow
it, not the number of raw events (the scale curve divides each query's time at every size by that at
the fewest events); without rollups it follows the events.

Generating 100M events takes tens of minutes on a shared 2-core machine (a progress line shows the
rate and the time left); the files are cached under bench/data/ (8.5 GB at 100M).

    python bench/bench_scale.py --quick                      # 100k events; ingest 20k per store
    python bench/bench_scale.py --events 1000000,10000000    # the query curve (first run fills stores)
    python bench/bench_scale.py --stores duckdb,chdb --events 100000000 --skip-ingest
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import itertools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
import orjson
from common import ADMIN_KEY, DATA, DAY, END, MODELS, PROJECTS, best, completions_sql, machine, remove_store, server

from openusage.cli.migrate_cmd import copy_store
from openusage.ingest.events import EventBatch
from openusage.query.params import parse_query
from openusage.service import aggregate_for
from openusage.spec import ENDPOINTS_BY_NAME
from openusage.store import open_store
from openusage.store.duckdb_store import events_ddl
from openusage.store.postgres_store import PG_LEVELS
from openusage.store.sql import ROLLUPS, SUMMARIES, aggregate_sql

PG = os.environ.get("OPENUSAGE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA = os.environ.get("OPENUSAGE_BENCH_PG_SCHEMA", "bench_q")
"""Prefix of the PostgreSQL query stores' schemas (runs sharing one database keep apart by it)."""
EP = ENDPOINTS_BY_NAME["completions"]
QUERIES: dict[str, tuple[int, list[tuple[str, str]]]] = {
    "1d total": (30 * DAY, [("bucket_width", "1d")]),
    "1d model,project": (30 * DAY, [("bucket_width", "1d"), ("group_by", "model,project_id")]),
    "1d 4 dims": (30 * DAY, [("bucket_width", "1d"), ("group_by", "model,project_id,user_id,api_key_id")]),
    "1h model": (30 * DAY, [("bucket_width", "1h"), ("group_by", "model")]),
    "1h model last day": (DAY, [("bucket_width", "1h"), ("group_by", "model")]),
    "1m last day": (DAY, [("bucket_width", "1m")]),
    "1m last hour": (3600, [("bucket_width", "1m")]),
    "1d unaligned": (30 * DAY, [("bucket_width", "1d"), ("group_by", "model")]),
}
"""Name -> (the range's seconds, ending at END; query parameters).  Every query returns the same rows at
every size from 1M events (``1d 4 dims``: nearly), so its time should not grow with the events stored."""


def query_params(name: str) -> list[tuple[str, str]]:
    span, params = QUERIES[name]
    unaligned = "unaligned" in name
    start, end = END - span + (17 if unaligned else 0), END - (43 if unaligned else 0)
    items = [("start_time", str(start)), ("end_time", str(end)), *params]
    width = dict(items)["bucket_width"]
    return [*items, ("limit", str(EP.limits[width][1]))]


GEN_CHUNK = 4_000_000
"""At most this many events are generated and folded per transaction (whole days, see :func:`day_chunks`)."""


GEN_MEMORY = os.environ.get("OPENUSAGE_BENCH_GEN_MEMORY", "10GB")
"""DuckDB's memory limit while it generates a store (the machine is shared)."""


def day_chunks(n: int, days: int, chunk: int = GEN_CHUNK) -> list[tuple[int, int]]:
    """``(first, stop)`` event indexes of whole days, at most ``chunk`` events each (one day at least).

    Event ``i`` falls ``i * span // n`` after the start (:func:`common.completions_sql`), so day ``k``
    begins at event ``ceil(k * n / days)``: no minute, hour or day is split between two chunks, and
    each chunk's rollup rows are the group's only row for their period (compacted, as compaction
    would leave them).
    """
    per = max(1, days * chunk // max(n, 1))
    edges = [-(-k * n // days) for k in range(0, days, per)] + [n]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def event_ts_us(i: int, n: int, days: int) -> int:
    """The time of event ``i`` of ``n`` (as :func:`common.completions_sql` makes it); ``i = n``: the end."""
    span_us = days * DAY * 1_000_000
    return (END - days * DAY) * 1_000_000 + i * span_us // n


def progress(label: str, done: int, total: int, started: float) -> None:
    """One status line, rewritten in place: events done, rate and the time left at that rate."""
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed else 0.0
    left = (total - done) / rate if rate else float("nan")
    end = "\n" if done >= total else ""
    print(f"\r  {label}: {done:,} / {total:,} events, {rate:,.0f}/s, {elapsed:.0f} s, ~{left:.0f} s left",
          end=end, file=sys.stderr, flush=True)


def generate_duckdb(path: Path, n: int, days: int, chunk: int = GEN_CHUNK) -> None:
    """Fill a new store file with ``n`` events by DuckDB SQL, a day-aligned chunk per transaction.

    Rows are made by :func:`common.completions_sql` (no Python object per event) into a temporary
    table, appended to ``events`` and folded into every rollup and summary by the store's own
    ``rollup_select_sql``, as compacted rows: the same rows the store's insert and compaction give
    (``tests/test_bench_scale.py`` compares them), at the engine's speed.
    """
    from openusage.store.sql import DUCKDB, SUMMARY_DIMS, rollup_select_sql

    store = open_store(f"duckdb://{path}?rollups=on")  # the schema, every rollup kept
    store.close()
    con = duckdb.connect(str(path))
    try:
        con.execute("SET enable_progress_bar = false")
        # One checkpoint at the end: each one rewrites the whole id index, so one per chunk makes the
        # generation quadratic (a 4M-event chunk took 89 s into an empty file, 194 s into 4M events).
        # The memory limit keeps the shared machine's RAM for others (DuckDB spills, or fails cleanly).
        con.execute(f"SET checkpoint_threshold = '1TB'; SET memory_limit = '{GEN_MEMORY}'; "
                    f"SET temp_directory = '{path.parent / 'duckdb_tmp'}'")
        con.execute(events_ddl("gen", per_project=False).replace(" PRIMARY KEY", "")
                    .replace("CREATE TABLE", "CREATE TEMP TABLE"))
        # each level from the events or from a finer level with fewer rows (sums, maxima, minima and counts
        # fold alike): the day rollup from the hour's, the hour and day summaries from the minute's
        chunk_rows = "(SELECT * FROM {} WHERE ts_us >= {}) AS src"
        folds = [("rollup_1m", "gen", 60, None, "count(*)"), ("rollup_1h", "gen", 3600, None, "count(*)"),
                 ("rollup_1d", "rollup_1h", DAY, None, "SUM(n)"), ("summary_1m", "gen", 60, SUMMARY_DIMS, "count(*)"),
                 ("summary_1h", "summary_1m", 3600, SUMMARY_DIMS, "SUM(n)"),
                 ("summary_1d", "summary_1h", DAY, SUMMARY_DIMS, "SUM(n)")]
        t, done = time.perf_counter(), 0
        for lo, hi in day_chunks(n, days, chunk):
            con.execute("BEGIN")
            con.execute("DELETE FROM gen")
            rows = completions_sql(lo, hi, n, days)
            con.execute(f"INSERT INTO gen BY NAME SELECT *, 'ingest' AS origin FROM ({rows})")
            con.execute("INSERT INTO events BY NAME SELECT *, coalesce(project_id, '') AS project_key FROM gen")
            day_us = DAY * 1_000_000  # the chunk's first day: every finer row of the chunk is at or after it
            first_us = con.execute(f"SELECT min(ts_us) // {day_us} * {day_us} FROM gen").fetchall()[0][0]
            for table, source, width, dims, count in folds:
                rows = source if source == "gen" else chunk_rows.format(source, first_us)
                select = rollup_select_sql(DUCKDB, rows, width, dims, count)
                con.execute(f"INSERT INTO {table} BY NAME SELECT *, true AS compacted FROM ({select})")
            con.execute("COMMIT")
            done += hi - lo
            progress(f"generating {path.name}", done, n, t)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def scale_store(n: int, days: int = 30) -> Path:
    """This benchmark's own DuckDB file of ``n`` bench_query events (its own, so the two never share a lock)."""
    path = DATA / f"scale-{n}-{days}d.duckdb"
    marker = f"scale:{n}:{days}:v2"
    if path.exists():
        store = open_store(f"duckdb://{path}?rollups=on")
        try:
            if store.get_meta("bench") == marker:
                return path
        finally:
            store.close()
    remove_store(path)
    DATA.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    generate_duckdb(path, n, days)
    store = open_store(f"duckdb://{path}?rollups=on")
    store.set_meta("bench", marker)
    store.close()
    print(f"  generated {n:,} events into {path} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


def store_url(engine: str, n: int) -> str:
    if engine == "duckdb":
        return f"duckdb://{scale_store(n)}?rollups=on"
    if engine == "postgresql":
        return f"{PG}?schema={PG_SCHEMA}{n}"
    return f"chdb:///{DATA / f'chdb-q{n}'}"


MERGE_WAIT_S = float(os.environ.get("OPENUSAGE_BENCH_MERGE_WAIT_S", "900"))
"""How long a chdb query run waits for the merges after its bulk load, at most."""
CHDB_LOAD_SETTINGS = "optimize_on_insert = 0, min_insert_block_size_rows = 1048576, max_block_size = 262144"
"""chdb's bulk load: 16.6 s of CPU per 1M events with these, 26.4 s without (measured 2026-12-01)."""


def bulk_load_chdb(store: Any, duckdb_file: Path, n: int, days: int = 30) -> None:
    """Fill an empty chdb store with the DuckDB file's events through Parquet, a day-aligned chunk
    per INSERT (see :func:`day_chunks`), with a progress line.

    The same rows as ``copy_store`` gives (the materialized views fill the rollups and summaries), at
    the engine's own speed: a copy through the store's insert checks every id and takes hours at
    100M events.
    """
    parquet = duckdb_file.with_suffix(".chunk.parquet")
    con = duckdb.connect(str(duckdb_file), read_only=True)
    con.execute("SET enable_progress_bar = false")
    t, done = time.perf_counter(), 0
    try:
        for lo, hi in day_chunks(n, days):
            first, stop = (event_ts_us(i, n, days) for i in (lo, hi))
            con.execute(f"COPY (SELECT * EXCLUDE (project_key) FROM events WHERE ts_us >= {first} AND ts_us < {stop}) "
                        f"TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
            # optimize_on_insert = 0: the rollups' rows are not folded per block on the way in (they are
            # re-aggregated by every query, and merged later): about a third less CPU per event here
            store.db.command(f"INSERT INTO events SETTINGS {CHDB_LOAD_SETTINGS} "
                             f"SELECT * FROM file('{parquet}', Parquet)")
            done += hi - lo
            progress(f"loading chdb from {duckdb_file.name}", done, n, t)
    finally:
        con.close()
        parquet.unlink(missing_ok=True)


def settle_merges(store: Any, limit_s: float = MERGE_WAIT_S) -> None:
    """Wait (at most ``limit_s``) until chdb's background merges of the loaded parts are done.

    Right after a bulk load the rollups and summaries are in many unmerged parts, which every query
    re-aggregates: timed then, chdb's answers at 10M were 3-10x slower than a few minutes later (a
    store that has been running a while has merged them)."""
    t = time.perf_counter()
    while time.perf_counter() - t < limit_s:
        merging = store.rows("SELECT count() FROM system.merges")[0][0]
        parts = store.rows("SELECT count() FROM system.parts WHERE active AND database = currentDatabase()")[0][0]
        print(f"\r  chdb merges running: {merging}, active parts: {parts}, {time.perf_counter() - t:.0f} s",
              end="", file=sys.stderr, flush=True)
        if not merging:
            break
        time.sleep(5)
    print(file=sys.stderr)


def bulk_load_postgres(store: Any, duckdb_file: Path) -> None:
    """Fill an empty PostgreSQL store with the DuckDB file's events through CSV and COPY.

    The same rows as ``copy_store`` gives, its rollups and summaries compacted (one row per group and
    period, as compaction leaves them), at the engine's own speed: the store's insert takes about
    half an hour for 10M events on this machine.
    """
    import pyarrow as pa

    from openusage.ingest.events import INT_METRICS
    from openusage.store.postgres_store import _COLUMNS, event_days
    from openusage.store.sql import POSTGRESQL, rollup_select_sql

    csv = duckdb_file.with_suffix(".csv")
    con = duckdb.connect(str(duckdb_file), read_only=True)
    try:
        con.execute(f"COPY (SELECT {_COLUMNS} FROM events) TO '{csv}' (FORMAT csv, HEADER false)")
        days = con.sql(f"SELECT DISTINCT ts_us // {DAY * 1_000_000} * {DAY * 1_000_000} FROM events").fetchall()
    finally:
        con.close()
    store._ensure_partitions(event_days([pa.table({"ts_us": pa.array([d for d, in days], pa.int64())})]))
    tail = ["type", "ts_us"], [*INT_METRICS, "amount", "quantity", "quantity_unit", "n"]
    tables = PG_LEVELS
    try:
        with store._conn() as conn:
            with conn.cursor() as cur, cur.copy(f"COPY events ({_COLUMNS}) FROM STDIN (FORMAT csv)") as copy, \
                    csv.open("rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            conn.execute("INSERT INTO event_ids (project_key, id) SELECT coalesce(project_id, ''), id FROM events")
            for table, width, dims in tables:
                names = [*tail[0], *dims, *tail[1], "compacted"]
                select = rollup_select_sql(POSTGRESQL, "events", width, dims, "count(*)", nonnegative=True)
                conn.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT s.*, true FROM ({select}) AS s")
            for table in ("events", "event_ids", *(t for t, _, _ in tables)):
                conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        csv.unlink(missing_ok=True)


def ensure_filled(engine: str, n: int) -> str:
    """The store of ``n`` events for ``engine``; PostgreSQL and chdb are loaded from the DuckDB file once."""
    url = store_url(engine, n)
    if engine == "duckdb":
        return url
    store = open_store(url)
    try:
        if store.get_meta("bench") != f"bench:{n}":
            t = time.perf_counter()
            if engine == "chdb" and not store.count_events():
                bulk_load_chdb(store, scale_store(n), n)
            elif engine == "postgresql" and not store.count_events():
                bulk_load_postgres(store, scale_store(n))
            else:
                src = open_store(store_url("duckdb", n))
                copy_store(src, store, chunk=200_000)
                src.close()
            store.set_meta("bench", f"bench:{n}")
            print(f"  filled {engine} with {n:,} events in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        if engine == "postgresql":  # the closed days a server's maintenance folds (once: a no-op after)
            t = time.perf_counter()
            if days := store.fold_days(max_s=None):  # type: ignore[attr-defined]
                print(f"  folded {days} days of {engine} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    finally:
        store.close()
    return url


def http_query(port: int, items: list[tuple[str, str]]) -> tuple[float, int]:
    """Every page of one query; (seconds in requests, results returned)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    elapsed, results, page = 0.0, 0, None
    for _ in range(10_000):
        path = f"{EP.full_path}?{urlencode(items + ([('page', page)] if page else []))}"
        for attempt in range(2):
            t = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed the kept-alive connection as this client, starved of CPU on a
                # loaded machine, came back after its keep-alive timeout: the GET again, on a new one
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
                if attempt:
                    raise
        elapsed += time.perf_counter() - t
        if resp.status != 200:
            raise SystemExit(f"HTTP {resp.status}: {body[:300]!r}")
        doc = orjson.loads(body)
        results += sum(len(b["results"]) for b in doc["data"])
        page = doc["next_page"]
        if not doc["has_more"]:
            break
    conn.close()
    return elapsed, results


def engine_sql(store: Any, sql: str, args: list[Any]) -> Any:
    """The SQL on the engine with its own native fetch (Arrow for DuckDB and chdb, rows for psycopg)."""
    if store.dialect.name == "duckdb":
        return store._reader().sql(sql, params=args).to_arrow_table()
    if store.dialect.name == "clickhouse":
        return store.arrow(sql, args)
    return store.execute(sql, args)


def query_worker(engine: str, n: int, repeat: int, with_raw: bool = True) -> dict[str, Any]:
    """Direct and HTTP timings of every query on one store (run in a child process: chdb holds one path);
    ``with_raw=False`` skips the raw-events reads (and their check that rollups answer the same)."""
    url = ensure_filled(engine, n)
    store = open_store(url)
    if engine == "chdb":
        settle_merges(store)
    out: dict[str, Any] = {}
    try:
        for name in QUERIES:
            items = query_params(name)
            q = parse_query(EP, items)
            agg = dataclasses.replace(aggregate_for(q), start_s=int(items[0][1]), end_s=int(items[1][1]))
            store.rollups = True  # type: ignore[attr-defined]
            rollup_s, table = best(repeat, lambda: store.aggregate(agg))  # noqa: B023
            store.rollups = False  # type: ignore[attr-defined]
            raw_s, raw = best(repeat, lambda: store.aggregate(agg)) if with_raw else (float("nan"), table)  # noqa: B023
            if not raw.equals(table):
                raise SystemExit(f"{engine} {name}: rollups and raw events disagree")
            table_name = "events FINAL" if engine == "chdb" else "events"
            if engine == "postgresql":  # the smallest table keeping the dims, the folded days' history
                store.rollups = True  # type: ignore[attr-defined]
                sql, args = store.statement(agg)  # type: ignore[attr-defined]
            else:
                sql, args = aggregate_sql(agg, store.dialect, table=table_name,  # type: ignore[attr-defined]
                                          rollups=ROLLUPS, summaries=SUMMARIES)
            sql_s, _ = best(repeat, lambda: engine_sql(store, sql, args))  # noqa: B023
            out[name] = {"rows": table.num_rows, "rollup_s": rollup_s, "raw_s": raw_s, "sql_s": sql_s}
    finally:
        store.close()
    with server(url) as srv:  # type: ignore[arg-type]
        for name in QUERIES:
            runs = [http_query(srv.port, query_params(name)) for _ in range(repeat)]
            out[name]["http_s"] = min(s for s, _ in runs)
            out[name]["http_results"] = runs[-1][1]
    return out


def bodies(n: int, run: str) -> list[bytes]:
    """``n`` completions events as 1,000-event JSON bodies, spread over the last day."""
    out = []
    for off in range(0, n, 1000):
        evs = [{"id": f"{run}-{i}", "type": "completions", "timestamp": END - DAY + (i * 86400) // n,
                "model": MODELS[i % len(MODELS)], "project_id": f"proj_{i % PROJECTS}", "user_id": f"user_{i % 100}",
                "input_tokens": 100 + i % 1000, "output_tokens": 10 + i % 100} for i in range(off, min(n, off + 1000))]
        out.append(orjson.dumps({"events": evs}))
    return out


def ingest_worker(engine: str, n: int, workers: int) -> dict[str, Any]:
    """Events/s through ``workers`` server processes on a fresh store."""
    tmp = tempfile.mkdtemp(prefix="openusage-bench-")
    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    url = {"duckdb": f"duckdb://{tmp}/ingest.duckdb?rollups=on", "postgresql": f"{PG}?schema={schema}",
           "chdb": f"chdb:///{tmp}/chdb"}[engine]
    open_store(url).close()  # migrate before the workers start
    payloads = bodies(n, uuid.uuid4().hex[:6])
    todo: queue.Queue[bytes] = queue.Queue()
    for b in payloads:
        todo.put(b)
    errors: list[str] = []
    from contextlib import ExitStack

    with ExitStack() as stack:
        servers = [stack.enter_context(server(url)) for _ in range(workers)]  # type: ignore[arg-type]

        def send(port: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
            while True:
                try:
                    body = todo.get_nowait()
                except queue.Empty:
                    break
                conn.request("POST", "/v1/usage/events", body=body, headers=headers)
                resp = conn.getresponse()
                answer = resp.read()
                if resp.status != 200 or orjson.loads(answer)["duplicates"]:
                    errors.append(answer.decode()[:200])
            conn.close()

        threads = [threading.Thread(target=send, args=(s.port,)) for s in servers for _ in range(4)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
    store = open_store(url)
    try:
        stored = store.count_events()
        if engine == "postgresql":
            store.drop_schema()  # type: ignore[attr-defined]
    finally:
        store.close()
    if errors or stored != n:
        raise SystemExit(f"{engine}: {stored:,} stored of {n:,}; errors: {errors[:3]}")
    return {"events": n, "seconds": elapsed, "per_s": n / elapsed}


def engine_ingest(engine: str, n: int, per_commit: int = 10) -> dict[str, Any]:
    """The store's own insert alone (no HTTP): ``per_commit`` 1,000-event batches per call, as the
    writer's group commit gives them, into a fresh store; and for PostgreSQL the floor: COPY alone of
    the same rows into a plain table of the events' columns."""
    from openusage.ingest.events import validate_events

    tmp = tempfile.mkdtemp(prefix="openusage-bench-")
    schema = f"bench_engine_{uuid.uuid4().hex[:8]}"
    url = {"duckdb": f"duckdb://{tmp}/ingest.duckdb?rollups=on", "postgresql": f"{PG}?schema={schema}",
           "chdb": f"chdb:///{tmp}/chdb"}[engine]
    batches = [validate_events(orjson.loads(b)["events"]) for b in bodies(n, uuid.uuid4().hex[:6])]
    store = open_store(url)
    out: dict[str, Any] = {"events": n}
    try:
        t = time.perf_counter()
        for i in range(0, len(batches), per_commit):
            store.insert(batches[i:i + per_commit])
        out["store_per_s"] = n / (time.perf_counter() - t)
        assert store.count_events() == n
        if engine == "postgresql":
            out["copy_per_s"] = copy_floor(store, batches, per_commit)
            store.drop_schema()  # type: ignore[attr-defined]
    finally:
        store.close()
    return out


def copy_floor(store: Any, batches: list[EventBatch], per_commit: int) -> float:
    """Events/s of COPY alone (CSV from Arrow, one transaction per ``per_commit`` batches)."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from openusage.store.postgres_store import _COLUMNS, _CSV

    with store._conn() as conn:
        conn.execute("CREATE TABLE copy_floor (LIKE events)")
        t = time.perf_counter()
        for i in range(0, len(batches), per_commit):
            buf = io.BytesIO()
            pacsv.write_csv(pa.concat_tables([b.to_arrow() for b in batches[i:i + per_commit]]), buf, _CSV)
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"COPY copy_floor ({_COLUMNS}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getbuffer())
        return sum(len(b) for b in batches) / (time.perf_counter() - t)


def child(args: list[str]) -> Any:
    """Run one measurement in a fresh interpreter; its JSON answer is the last line it prints."""
    # stderr passes straight through, so the progress lines of a long generation or load show as they go
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"worker {args} failed ({proc.returncode}): {proc.stdout[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_curve(results: dict[tuple[str, int], dict[str, Any]], engines: list[str]) -> None:
    """Per engine, each query's time at every size divided by that at the fewest events, with rollups
    (``rollup``: should stay near 1x, the rows returned being the same) and from raw events (``raw``:
    grows with the events), and the rows returned at each size."""
    if not any(sum(f == e for f, _ in results) > 1 for e in engines):
        return
    print("\n## Scale curve, the same run: time at N events / time at the fewest (the rows returned are the same; "
          "the events are not)\n")
    print(f"{'store':<11} {'events':>25} {'reads':<7} " + " ".join(f"{q:>17}" for q in QUERIES))
    for e in engines:
        sizes = sorted(n for f, n in results if f == e)
        if len(sizes) < 2:
            continue
        lo = sizes[0]
        for hi in sizes:
            print(f"{e:<11} {f'{hi:,}':>25} {'rows':<7} "
                  + " ".join(f"{results[e, hi][q]['rows']:>17,}" for q in QUERIES))
        for hi in sizes[1:]:
            for kind in ("rollup", "raw"):
                ratios = [results[e, hi][q][f"{kind}_s"] / results[e, lo][q][f"{kind}_s"] for q in QUERIES]
                if any(r == r for r in ratios):  # raw reads skipped: NaN
                    print(f"{e:<11} {f'{hi:,} / {lo:,}':>25} {kind:<7} " + " ".join(f"{x:>16.2f}x" for x in ratios))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", default="1000000,10000000", help="query-set store sizes, comma-separated")
    ap.add_argument("--ingest-events", type=int, default=200_000, help="events sent per ingest run")
    ap.add_argument("--stores", default="duckdb,postgresql,chdb", help="engines to measure")
    ap.add_argument("--repeat", type=int, default=3, help="query repetitions; the best time counts")
    ap.add_argument("--quick", action="store_true", help="100k events for queries, 20k per ingest run, 1 repeat")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-query", action="store_true")
    ap.add_argument("--skip-raw", action="store_true", help="queries: no reads of raw events (minutes at 10M)")
    ap.add_argument("--pg-max-events", type=int, default=10_000_000, help="largest PostgreSQL query store")
    ap.add_argument("--_query", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--_ingest", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_engine", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._query:
        engine, n, repeat, reads = args._query
        print(json.dumps(query_worker(engine, int(n), int(repeat), reads == "raw")))
        return
    if args._engine:
        print(json.dumps(engine_ingest(args._engine[0], int(args._engine[1]))))
        return
    if args._ingest:
        print(json.dumps(ingest_worker(args._ingest[0], int(args._ingest[1]), int(args._ingest[2]))))
        return
    sizes = [100_000] if args.quick and args.events == "1000000,10000000" else [int(x) for x in args.events.split(",")]
    n_ingest = 20_000 if args.quick and args.ingest_events == 200_000 else args.ingest_events
    repeat = 1 if args.quick else args.repeat
    engines = args.stores.split(",")
    print(f"# bench_scale: {machine()}")
    if not args.skip_ingest:
        print(f"\n## Ingest over HTTP: {n_ingest:,} events in 1,000-event bodies, 4 connections per server\n")
        print(f"{'store':<12} {'servers':>7} {'seconds':>8} {'events/s':>10}")
        runs = [(e, 1) for e in engines] + ([("postgresql", 4)] if "postgresql" in engines else [])
        for engine, workers in runs:
            r = child(["--_ingest", engine, str(n_ingest), str(workers)])
            print(f"{engine:<12} {workers:>7} {r['seconds']:>8.2f} {r['per_s']:>10,.0f}", flush=True)
        print(f"\n## The store's insert alone, {n_ingest:,} events, 10 x 1,000 per commit (PostgreSQL floor: COPY "
              "alone)\n")
        print(f"{'store':<12} {'events/s':>10} {'COPY/s':>10} {'store/COPY':>10}")
        for engine in engines:
            r = child(["--_engine", engine, str(n_ingest)])
            floor = r.get("copy_per_s")
            print(f"{engine:<12} {r['store_per_s']:>10,.0f} {floor or 0:>10,.0f} "
                  f"{(r['store_per_s'] / floor if floor else float('nan')):>10.2f}", flush=True)
    if not args.skip_query:
        print("\n## Queries: completions over 30 days, the last day or the last hour (see QUERIES); best of", repeat)
        print(f"\n{'store':<11} {'events':>11} {'query':<17} {'rows':>7} {'rollup s':>9} {'raw s':>8} "
              f"{'raw/rollup':>10} {'sql s':>8} {'http s':>8} {'http/sql':>8}")
        results: dict[tuple[str, int], dict[str, Any]] = {}
        for engine in engines:
            for n in sizes:
                if engine == "postgresql" and n > args.pg_max_events:
                    continue
                r = results[engine, n] = child(["--_query", engine, str(n), str(repeat),
                                                "rollups" if args.skip_raw else "raw"])
                for name, m in r.items():
                    assert m["http_results"] == m["rows"], (engine, n, name, m)
                    print(f"{engine:<11} {n:>11,} {name:<17} {m['rows']:>7,} {m['rollup_s']:>9.4f} {m['raw_s']:>8.4f} "
                          f"{m['raw_s'] / m['rollup_s']:>10.1f} {m['sql_s']:>8.4f} {m['http_s']:>8.4f} "
                          f"{m['http_s'] / m['sql_s']:>8.2f}", flush=True)
        floors = [(e, n) for e, n in results if e != "duckdb" and ("duckdb", n) in results]
        if floors:
            print("\n## Against DuckDB with rollups (the floor), the same run: rollup s / DuckDB rollup s\n")
            print(f"{'store':<11} {'events':>11} " + " ".join(f"{q:>17}" for q in QUERIES))
            for e, n in floors:
                ratios = (results[e, n][q]["rollup_s"] / results["duckdb", n][q]["rollup_s"] for q in QUERIES)
                print(f"{e:<11} {n:>11,} " + " ".join(f"{x:>16.2f}x" for x in ratios))
        print_curve(results, engines)
    print(f"\n# after: {machine()}")


if __name__ == "__main__":
    main()
