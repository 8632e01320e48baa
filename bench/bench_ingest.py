"""Ingestion throughput over HTTP: POST /v1/usage/events to a real ``openusage serve`` on loopback.

The load comes from separate processes, each holding pre-encoded 1,000-event JSON bodies and several
keep-alive connections (a minimal asyncio HTTP/1.1 client, so the load generator costs little CPU).
Every answer must be 200 with all events accepted; afterwards the store is opened and its count and
token sum checked.  For comparison the same run measures the parts alone: decoding + validating a
body (msgspec -> Arrow) and the engine's insert of pre-validated batches (with a compaction round, which
folds the summaries).  The engine's insert is
the floor: HTTP ingest is printed as a ratio to it, and server CPU per 1000 events next to the
engine's own, figures a shared machine's load skews far less than events per second.

    python bench/bench_ingest.py            # 1,000,000 events, 2 client processes x 4 connections
    python bench/bench_ingest.py --quick    # 200,000 events
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import orjson
from common import ADMIN_KEY, DATA, END, MODELS, cpu_seconds, generate_query_store, machine, remove_store, server

from openusage.ingest.events import decode_json
from openusage.store import open_store

TARGET = 300_000
"""Events per second required over HTTP."""
TARGET_CPU_MS = 4.0
"""Server CPU (all threads) required per 1000 events, in milliseconds."""


def event(i: int, run: str) -> dict[str, Any]:
    return {"id": f"{run}-{i}", "type": "completions", "timestamp": END - 86_400 + (i % 86_400_000) / 1000,
            "model": MODELS[i % len(MODELS)], "project_id": f"proj_{i % 10}", "user_id": f"user_{i % 100}",
            "api_key_id": f"key_{i % 20}", "input_tokens": 100 + i % 1000, "output_tokens": 10 + i % 100,
            "num_model_requests": 1}


def bodies(first: int, count: int, batch: int, run: str) -> list[bytes]:
    return [orjson.dumps({"events": [event(i, run) for i in range(s, min(first + count, s + batch))]})
            for s in range(first, first + count, batch)]


def expected_input_tokens(n: int) -> int:
    return sum(100 + i % 1000 for i in range(n))


async def _post_all(port: int, mine: list[bytes], conns: int, batch: int) -> tuple[list[float], list[str]]:
    head = (f"POST /v1/usage/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n").encode()
    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(mine))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                t = time.monotonic()
                writer.write(head % len(body) + body)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                latencies.append(time.monotonic() - t)
                n = body.count(b'"id":')
                if b" 200 " not in status or orjson.loads(answer) != {"accepted": n, "duplicates": 0}:
                    errors.append(f"{status.decode().strip()} {answer[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(conns)))
    return latencies, errors


def client(port: int, first: int, count: int, batch: int, conns: int, run: str, barrier: Any, out: Any) -> None:
    """One load-generating process: encode its bodies, wait for the start, send them all."""
    mine = bodies(first, count, batch, run)
    barrier.wait()
    cpu = time.process_time()
    latencies, errors = asyncio.run(_post_all(port, mine, conns, batch))
    out.put((time.monotonic(), latencies, errors, time.process_time() - cpu))


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process so far (Linux /proc), by thread id."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def http_run(n: int, batch: int, procs: int, conns: int, prefill: int, options: str = "") -> dict[str, Any]:
    db = DATA / "ingest.duckdb"
    DATA.mkdir(parents=True, exist_ok=True)
    remove_store(db)
    if prefill:
        shutil.copyfile(generate_query_store(prefill), db)
    run = f"ing{int(time.time())}"
    with server(db, options=options) as srv:
        port = srv.port
        barrier = mp.Barrier(procs + 1)
        out: Any = mp.Queue()
        share = -(-n // procs // batch) * batch
        workers = [mp.Process(target=client, args=(port, k * share, max(0, min(share, n - k * share)), batch,
                                                   conns, run, barrier, out)) for k in range(procs)]
        for w in workers:
            w.start()
        barrier.wait()
        t0 = time.monotonic()
        cpu0, threads0 = cpu_seconds(srv.pid), thread_cpu(srv.pid)
        results = [out.get(timeout=3600) for _ in workers]
        server_cpu, threads1 = cpu_seconds(srv.pid) - cpu0, thread_cpu(srv.pid)
        for w in workers:
            w.join()
    elapsed = max(r[0] for r in results) - t0
    latencies = sorted(x for r in results for x in r[1])
    errors = [e for r in results for e in r[2]]
    store = open_store(str(db))
    try:
        count = store.count_events() - prefill
        tokens = store.execute("SELECT sum(input_tokens) FROM events WHERE id LIKE ?", [f"{run}-%"])[0][0]
    finally:
        store.close()
    remove_store(db)
    return {"elapsed": elapsed, "latencies": latencies, "errors": errors, "count": count, "server_cpu": server_cpu,
            "client_cpu": sum(r[3] for r in results),
            "threads": sorted((c - threads0.get(t, 0.0) for t, c in threads1.items()), reverse=True),
            "tokens_ok": tokens == expected_input_tokens(n)}


def parts_run(n: int, batch: int, group: int) -> tuple[float, float, float, float, float]:
    """Seconds per event for decode+validate alone and for the engine's insert alone: elapsed, and
    CPU of the whole process (every thread); then the insert's CPU per event with one batch per commit
    (what a commit costs when the server's writer finds a single request queued)."""
    sample = bodies(0, min(n, 100 * batch), batch, "parts")
    decode_json(sample[0])  # warm up (first calls of compute kernels)
    t, cpu = time.perf_counter(), time.process_time()
    batches = [decode_json(b) for b in sample]
    events = sum(len(b) for b in batches)
    decode_s, decode_cpu = (time.perf_counter() - t) / events, (time.process_time() - cpu) / events
    db = DATA / "ingest-engine.duckdb"
    remove_store(db)
    store = open_store(str(db))
    try:
        t, cpu = time.perf_counter(), time.process_time()
        for k in range(0, len(batches), group):
            store.insert(batches[k:k + group])
        store.compact()  # what the server does every 10 s: the summaries' share of the work is counted
        insert_s, insert_cpu = (time.perf_counter() - t) / events, (time.process_time() - cpu) / events
    finally:
        store.close()
        remove_store(db)
    alone = batches[:max(1, len(batches) // 4)]
    store = open_store(str(db))
    try:
        cpu = time.process_time()
        for one in alone:
            store.insert([one])
        store.compact()
        single_cpu = (time.process_time() - cpu) / sum(len(b) for b in alone)
    finally:
        store.close()
        remove_store(db)
    return decode_s, decode_cpu, insert_s, insert_cpu, single_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="events to send (default 1,000,000)")
    ap.add_argument("--batch", type=int, default=1000, help="events per request (default 1000)")
    ap.add_argument("--procs", type=int, default=2, help="load-generating processes (default 2)")
    ap.add_argument("--connections", type=int, default=4, help="keep-alive connections per process (default 4)")
    ap.add_argument("--prefill", type=int, default=0,
                    help="events already in the store (copied from the query benchmark's data), e.g. 10000000")
    ap.add_argument("--quick", action="store_true", help="200,000 events")
    ap.add_argument("--rollups", choices=["on", "off"], default=None,
                    help="fold inserts into the rollups (the store's default when not given)")
    args = ap.parse_args()
    n = 200_000 if args.quick and args.events == 1_000_000 else args.events
    print(f"machine: {machine()}")
    print(f"ingest: {n:,} events in batches of {args.batch} over {args.procs} x {args.connections} connections")
    if args.prefill:
        print(f"into a store already holding {args.prefill:,} events")
    options = f"rollups={args.rollups}" if args.rollups else ""
    print(f"store: DuckDB{' ' + options if options else ''}")
    r = http_run(n, args.batch, args.procs, args.connections, args.prefill, options)
    rate = n / r["elapsed"]
    lat = r["latencies"]
    p50 = statistics.median(lat) * 1000 if lat else 0.0
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0
    ok = not r["errors"] and r["count"] == n and r["tokens_ok"]
    print(f"HTTP ingest      {rate:>12,.0f} events/s  ({r['elapsed']:.2f} s; per request p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms)  target {TARGET:,}: {rate / TARGET:.2f}x")
    cpu_ms = r["server_cpu"] / n * 1000 * 1000
    print(f"server CPU       {cpu_ms:>12.2f} ms per 1000 events (all threads; one busy core would take "
          f"{1000 / cpu_ms * 1000:,.0f} events/s); load generator {r['client_cpu'] / n * 1e6:.2f} ms per 1000")
    busy = [f"{c / n * 1e6:.2f}" for c in r["threads"] if c / n * 1e6 >= 0.05]
    print(f"server CPU by thread, busiest first: {', '.join(busy)} ms per 1000 events")
    decode_s, decode_cpu, insert_s, insert_cpu, single_cpu = parts_run(n, args.batch, args.procs * args.connections)
    print(f"decode+validate  {1 / decode_s:>12,.0f} events/s  (msgspec -> Arrow, one thread; CPU "
          f"{decode_cpu * 1e6:.2f} ms per 1000)")
    print(f"engine insert    {1 / insert_s:>12,.0f} events/s  (DuckDBStore.insert, {args.procs * args.connections}"
          f" batches of {args.batch} per commit; CPU {insert_cpu * 1e6:.2f} ms per 1000, all threads)")
    print(f"engine insert    one batch of {args.batch} per commit: CPU {single_cpu * 1e6:.2f} ms per 1000 (the writer "
          f"commits together what is queued when it starts a commit: fewer requests per commit cost more)")
    print(f"ratio HTTP / engine insert (the floor): {rate * insert_s:.2f} in events/s; "
          f"server CPU / engine insert CPU: {cpu_ms / (insert_cpu * 1e6):.2f}")
    floor_ms = (decode_cpu + insert_cpu) * 1e6
    cores = os.cpu_count() or 1
    print(f"ceiling: decode+validate and the engine's insert alone take {floor_ms:.2f} ms of CPU per 1000 events "
          f"(target {TARGET_CPU_MS:g} for the whole server: {floor_ms / TARGET_CPU_MS:.2f}x), so {cores} cores "
          f"carry at most {cores / floor_ms * 1e6:,.0f} events/s with no HTTP at all (target {TARGET:,})")
    met = rate >= TARGET and cpu_ms <= TARGET_CPU_MS
    print(f"required: >= {TARGET:,} events/s and <= {TARGET_CPU_MS:g} ms server CPU per 1000 events: "
          f"{'met' if met else 'not met'} ({rate:,.0f} events/s, {cpu_ms:.2f} ms)")
    print(f"machine after: {machine()}")
    print("check: " + ("OK, every request 200 and all events stored" if ok else
                       f"FAILED: {len(r['errors'])} bad answers {r['errors'][:3]}, stored {r['count']:,} of {n:,}, "
                       f"token sum {'ok' if r['tokens_ok'] else 'wrong'}"))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
