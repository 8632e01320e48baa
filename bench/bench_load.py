"""Load test on loopback: ingest and queries at once against the real ``openusage serve``.

The server runs in its own process; the load comes from another process (an asyncio driver on
httpx), so the two do not share a GIL.  Reported: sustained ingest and query rates with p50/p99
latency, the server's RSS over the run, then a steady phase (the same load, but ingest re-sends known
events, so the data stops growing) in which RSS must stay flat, one large answer (1,440 one-minute
buckets x many groups: its size, time and the RSS it costs), and the raw engine's insert rate
measured in the same run, as the peer ratio.

    python bench/bench_load.py            # 60 s of load
    python bench/bench_load.py --quick    # 10 s, smaller large answer
    python bench/bench_load.py --minutes 10 --stores duckdb,postgresql   # the soak (below)

The soak (``--minutes N``): on a new store of each engine, 4 clients offer ``--rate`` (7,200) new
events/s between them in 200-event requests, paced (20 projects, 50 models, 2,000 users, 200 keys;
completions, embeddings and costs), while ``--qps`` (10) queries/s run over those three endpoints at
1m (the last hour), 1h (the last day) and 1d (the last week) with various ``group_by``.  Printed per
minute: events/s stored against the offered rate, query p50/p99 against the targets (100 / 500 ms),
the server's RSS, and disk bytes per stored event (DuckDB: the file and its log; PostgreSQL: every
table and index of the schema, and at the end each table's share, its partitions and indexes included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

KEY = "sk-bench-admin"
DAY = 86400
T0 = (int(time.time()) - 2 * DAY) // DAY * DAY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000


def make_events(tag: str, n: int, rng: random.Random, groups: int) -> list[dict[str, Any]]:
    return [{"id": f"{tag}-{i}", "type": "completions", "timestamp": T0 + rng.randrange(DAY),
             "model": f"model-{rng.randrange(8)}", "user_id": f"user-{rng.randrange(groups)}",
             "project_id": f"proj-{rng.randrange(5)}", "input_tokens": rng.randrange(1, 5000),
             "output_tokens": rng.randrange(1, 800)} for i in range(n)]


# -- the driver (a separate process) ---------------------------------------------------------------

async def _ingester(c: httpx.AsyncClient, wid: int, stop: float, batch: int, out: dict[str, list],
                    steady: bool) -> None:
    rng = random.Random(wid)
    n = 0
    while time.monotonic() < stop:
        # steady: the same ten batches again and again (duplicates), so the data stops growing
        tag = f"s{wid}-{n % 10}" if steady else f"w{wid}-{n}"
        body = {"events": make_events(tag, batch, random.Random(tag) if steady else rng, 50)}
        n += 1
        t = time.perf_counter()
        r = await c.post("/v1/usage/events", json=body)
        out["ingest"].append(time.perf_counter() - t)
        if r.status_code != 200:
            out["errors"].append(r.status_code)


async def _querier(c: httpx.AsyncClient, wid: int, stop: float, out: dict[str, list]) -> None:
    rng = random.Random(1000 + wid)
    shapes = [{"bucket_width": "1d", "group_by": ["model"]},
              {"bucket_width": "1h", "group_by": ["project_id", "model"], "limit": 48},
              {"bucket_width": "1m", "limit": 120},
              {"bucket_width": "1d", "group_by": ["user_id"]}]
    while time.monotonic() < stop:
        params = {"start_time": T0, "end_time": T0 + 2 * DAY, **rng.choice(shapes)}
        t = time.perf_counter()
        r = await c.get("/v1/organization/usage/completions", params=params)
        out["query"].append(time.perf_counter() - t)
        if r.status_code != 200:
            out["errors"].append(r.status_code)


def drive(url: str, seconds: float, ingesters: int, queriers: int, batch: int, steady: bool, result: Any) -> None:
    async def main() -> dict[str, list]:
        out: dict[str, list] = {"ingest": [], "query": [], "errors": []}
        stop = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=ingesters + queriers)
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                                     limits=limits) as c:
            await asyncio.gather(*[_ingester(c, i, stop, batch, out, steady) for i in range(ingesters)],
                                 *[_querier(c, i, stop, out) for i in range(queriers)])
        return out

    result.put(asyncio.run(main()))


# -- the run ------------------------------------------------------------------------------------------

def raw_insert_rate(tmp: Path, batch: int, n_batches: int) -> float:
    """Events per second through the store directly (no HTTP, no validation of JSON)."""
    from openusage.ingest.events import validate_events
    from openusage.store import open_store

    store = open_store(str(tmp / "raw.duckdb"))
    rng = random.Random(0)
    batches = [validate_events(make_events(f"r{k}", batch, rng, 50)) for k in range(n_batches)]
    t = time.perf_counter()
    for b in batches:
        store.insert([b])
    elapsed = time.perf_counter() - t
    store.close()
    return batch * n_batches / elapsed


def large_answer(url: str, pid: int, groups: int) -> dict[str, float]:
    """1,440 one-minute buckets x ``groups`` users in one page: size, time, server RSS cost."""
    rng = random.Random(5)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=300) as c:
        day = T0 + DAY
        for k in range(0, 1440, 60):  # every minute of the day has every user
            events = [{"id": f"big-{m}-{u}", "type": "completions", "timestamp": day + m * 60 + 1,
                       "user_id": f"u{u:04d}", "input_tokens": rng.randrange(1, 100)}
                      for m in range(k, k + 60) for u in range(groups)]
            assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
        before = rss_mb(pid)
        params = {"start_time": day, "end_time": day + DAY, "bucket_width": "1m", "limit": 1440,
                  "group_by": "user_id"}
        peak = before
        t = time.perf_counter()
        with c.stream("GET", "/v1/organization/usage/completions", params=params) as r:
            size = 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                peak = max(peak, rss_mb(pid))
        elapsed = time.perf_counter() - t
        peak = max(peak, rss_mb(pid))
    return {"results": 1440 * groups, "bytes": size, "seconds": elapsed, "rss_before": before,
            "rss_peak": peak}


def run_phase(url: str, pid: int, seconds: float, args: argparse.Namespace,
              steady: bool) -> tuple[dict[str, list], list[float]]:
    """Load from a driver process for ``seconds``, sampling the server's RSS every second."""
    result: Any = mp.Queue()
    driver = mp.Process(target=drive, args=(url, seconds, args.ingesters, args.queriers, args.batch, steady,
                                            result))
    driver.start()
    rss = []
    t = time.monotonic()
    while driver.is_alive() and time.monotonic() - t < seconds + 120:
        rss.append(rss_mb(pid))
        time.sleep(1)
        if not result.empty():
            break
    out = result.get(timeout=300)
    driver.join()
    return out, rss


# -- the soak ------------------------------------------------------------------------------------------

SOAK_PROJECTS, SOAK_MODELS, SOAK_USERS, SOAK_KEYS = 20, 50, 2000, 200
SOAK_SHAPES: list[tuple[str, str, int, tuple[str, ...]]] = [
    # (endpoint path, width, seconds back from now, group_by)
    ("usage/completions", "1m", 3600, ()), ("usage/completions", "1m", 3600, ("model",)),
    ("usage/completions", "1h", DAY, ("project_id",)), ("usage/completions", "1h", DAY, ("model",)),
    ("usage/completions", "1d", 7 * DAY, ("project_id", "model")), ("usage/completions", "1d", 7 * DAY, ("user_id",)),
    ("usage/embeddings", "1m", 3600, ()), ("usage/embeddings", "1h", DAY, ("model",)),
    ("usage/embeddings", "1d", 7 * DAY, ("api_key_id",)),
    ("costs", "1d", 7 * DAY, ()), ("costs", "1d", 7 * DAY, ("project_id", "line_item")),
]


def soak_events(tag: str, n: int, rng: random.Random, now: float) -> list[dict[str, Any]]:
    """``n`` new events of the last few seconds: 80 % completions, 10 % embeddings, 10 % costs."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = rng.random()
        ev: dict[str, Any] = {"id": f"{tag}-{i}", "timestamp": now - rng.random() * 5,
                              "project_id": f"proj-{rng.randrange(SOAK_PROJECTS)}",
                              "user_id": f"user-{rng.randrange(SOAK_USERS)}",
                              "api_key_id": f"key-{rng.randrange(SOAK_KEYS)}"}
        model = f"model-{rng.randrange(SOAK_MODELS)}"
        if kind < 0.8:
            ev.update(type="completions", model=model, input_tokens=rng.randrange(1, 5000),
                      output_tokens=rng.randrange(1, 800), num_model_requests=1)
        elif kind < 0.9:
            ev.update(type="embeddings", model=model, input_tokens=rng.randrange(1, 5000), num_model_requests=1)
        else:
            ev.update(type="costs", line_item=f"{model}, input", amount=f"0.{rng.randrange(1, 999999):06d}",
                      quantity=rng.randrange(1, 5000), quantity_unit="tokens")
        out.append(ev)
    return out


def soak_drive(url: str, minutes: int, rate: int, qps: float, clients: int, batch: int, result: Any) -> None:
    """The soak's load (a separate process): paced ingest and queries; one dict per minute into ``result``."""
    async def ingester(c: httpx.AsyncClient, wid: int, stop: float, stats: dict[str, list]) -> None:
        rng, n = random.Random(wid), 0
        interval = batch * clients / rate
        nxt = time.monotonic()
        while nxt < stop:
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            nxt += interval
            body = {"events": soak_events(f"w{wid}-{n}", batch, rng, time.time())}
            n += 1
            try:
                r = await c.post("/v1/usage/events", json=body)
                if r.status_code == 200:
                    stats["stored"].append(r.json()["accepted"])
                else:
                    stats["errors"].append(r.status_code)
            except httpx.HTTPError as exc:
                stats["errors"].append(type(exc).__name__)

    async def query(c: httpx.AsyncClient, rng: random.Random, stats: dict[str, list]) -> None:
        shape = rng.randrange(len(SOAK_SHAPES))
        path, width, back, groups = SOAK_SHAPES[shape]
        now = int(time.time())
        params: dict[str, Any] = {"start_time": now - back, "end_time": now + 60, "bucket_width": width}
        if groups:
            params["group_by"] = list(groups)
        t = time.perf_counter()
        try:
            r = await c.get(f"/v1/organization/{path}", params=params)
            stats["query"].append(time.perf_counter() - t)
            stats["shape"].append(shape)
            if r.status_code != 200:
                stats["errors"].append(r.status_code)
        except httpx.HTTPError as exc:
            stats["errors"].append(type(exc).__name__)

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients + 32)
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120,
                                     limits=limits) as c:
            start = time.monotonic()
            for minute in range(minutes):
                stats: dict[str, list] = {"stored": [], "query": [], "shape": [], "errors": []}
                stop = start + 60 * (minute + 1)
                rng = random.Random(minute)
                tasks = [asyncio.create_task(ingester(c, minute * 100 + w, stop, stats)) for w in range(clients)]
                pending: set[asyncio.Task] = set()
                nxt = time.monotonic()
                while nxt < stop:
                    await asyncio.sleep(max(0.0, nxt - time.monotonic()))
                    nxt += 1 / qps
                    if len(pending) < 64:  # bounded: a slow server gets fewer queries, not a pile-up
                        task = asyncio.create_task(query(c, rng, stats))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                await asyncio.gather(*tasks, *pending)
                result.put({"minute": minute + 1, "seconds": time.monotonic() - (start + 60 * minute),
                            "stored": sum(stats["stored"]), "query": stats["query"], "shape": stats["shape"],
                            "errors": stats["errors"]})

    asyncio.run(main())


def disk_bytes(engine: str, url: str, path: Path | None) -> int:
    if engine == "duckdb" and path is not None:
        return sum(p.stat().st_size for p in (path, Path(f"{path}.wal")) if p.exists())
    import psycopg

    from openusage.store.url import parse_store_url

    parsed = parse_store_url(url)
    conninfo, opts = parsed.base, parsed.options
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                           [opts["schema"]]).fetchone()
    return int(row[0]) if row else 0


def print_pg_tables(url: str, total: int) -> None:
    """PostgreSQL: bytes per stored event of each table (its indexes and TOAST included) and its rows,
    the partitions of ``events`` counted as ``events``: where the disk per event goes."""
    import psycopg

    from openusage.store.url import parse_store_url

    parsed = parse_store_url(url)
    with psycopg.connect(parsed.base) as conn:
        rows = conn.execute(
            "SELECT coalesce(p.relname, c.relname), sum(pg_total_relation_size(c.oid)), sum(c.reltuples) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE n.nspname = %s AND c.relkind = 'r' GROUP BY 1 ORDER BY 2 DESC",
            [parsed.options["schema"]]).fetchall()
    print(f"{'table':<16} {'B/event':>8} {'rows (estimate)':>16}")
    for name, size, tuples in rows:
        print(f"{name:<16} {int(size) / max(total, 1):>8.1f} {max(int(tuples), 0):>16,}")


def soak(engine: str, args: argparse.Namespace) -> None:
    """One soak on a new store of ``engine``; prints a line per minute."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import uuid

    from common import machine, server

    tmp = Path(tempfile.mkdtemp(prefix="openusage-soak-"))
    pg = os.environ.get("OPENUSAGE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
    path = tmp / "usage.duckdb" if engine == "duckdb" else None
    url = (f"duckdb://{path}" + (f"?{args.duckdb_options}" if args.duckdb_options else "") if path
           else f"{pg}?schema=bench_soak_{uuid.uuid4().hex[:8]}")
    print(f"\n## soak on {engine} ({url.split('?')[-1] if '?' in url else 'defaults'}): {args.rate:,} events/s "
          f"offered by {args.clients} clients, {args.qps:g} queries/s, {args.minutes} min; {machine()}")
    print(f"{'min':>3} {'events/s':>9} {'/offered':>8} {'queries':>7} {'p50 ms':>8} {'/100ms':>6} {'p99 ms':>8} "
          f"{'/500ms':>6} {'errors':>6} {'RSS MB':>7} {'B/event':>8} {'load':>5}")
    total = 0
    by_shape: dict[int, list[float]] = {}
    errors: Counter[str] = Counter()
    rss_samples: list[tuple[float, float]] = []  # (seconds since start, MB), every second: memory flat?
    try:
        with server(url) as srv:
            sampling = threading.Event()
            threading.Thread(target=sample_rss, args=(srv.pid, rss_samples, sampling), daemon=True).start()
            result: Any = mp.Queue()
            driver = mp.Process(target=soak_drive, args=(srv.url, args.minutes, args.rate, args.qps, args.clients,
                                                          args.soak_batch, result))
            driver.start()
            for _ in range(args.minutes):
                m = result.get(timeout=600)
                total += m["stored"]
                errors.update(str(e) for e in m["errors"])
                for shape, seconds in zip(m["shape"], m["query"], strict=True):
                    by_shape.setdefault(shape, []).append(seconds)
                rate = m["stored"] / m["seconds"]
                p50, p99 = pct(m["query"], 50), pct(m["query"], 99)
                per_event = disk_bytes(engine, url, path) / max(total, 1)
                print(f"{m['minute']:>3} {rate:>9,.0f} {rate / args.rate:>8.2f} {len(m['query']):>7} {p50:>8.1f} "
                      f"{p50 / 100:>6.2f} {p99:>8.1f} {p99 / 500:>6.2f} {len(m['errors']):>6} {rss_mb(srv.pid):>7.0f} "
                      f"{per_event:>8.0f} {os.getloadavg()[0]:>5.1f}", flush=True)
            driver.join()
            sampling.set()
        if engine == "postgresql":
            print_pg_tables(url, total)
    finally:
        if engine == "postgresql":
            from openusage.store import open_store

            store = open_store(url)
            store.drop_schema()  # type: ignore[attr-defined]
            store.close()
    print(f"# stored {total:,} events; errors {dict(errors) or 'none'}; after: {machine()}")
    print_rss(rss_samples, args.minutes)
    print_shapes(by_shape)


def sample_rss(pid: int, out: list[tuple[float, float]], stop: threading.Event) -> None:
    """The server's RSS every second until ``stop``."""
    start = time.monotonic()
    while not stop.wait(1.0):
        try:
            out.append((time.monotonic() - start, rss_mb(pid)))
        except OSError:  # the server ended
            return


def print_rss(samples: list[tuple[float, float]], minutes: int) -> None:
    """The server's RSS per minute, lowest and highest of the samples: memory flat or growing."""
    spans = [[mb for t, mb in samples if m * 60 <= t < (m + 1) * 60] for m in range(minutes)]
    print("# RSS MB per minute (min-max of 1 s samples): "
          + ", ".join(f"{m + 1}: {min(s):.0f}-{max(s):.0f}" for m, s in enumerate(spans) if s))


def print_shapes(by_shape: dict[int, list[float]]) -> None:
    """Query p50/p99 per shape over the whole soak: which queries make the tail."""
    print(f"{'query':<46} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}")
    for shape, times in sorted(by_shape.items()):
        path, width, _, groups = SOAK_SHAPES[shape]
        name = f"{path} {width} {','.join(groups) or '-'}"
        print(f"{name:<46} {len(times):>5} {pct(times, 50):>8.1f} {pct(times, 99):>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 s of load and a smaller large answer")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--ingesters", type=int, default=4)
    ap.add_argument("--queriers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100, help="events per ingest request")
    ap.add_argument("--groups", type=int, default=None, help="users in the large answer")
    ap.add_argument("--minutes", type=int, default=None, help="run the soak for this many minutes")
    ap.add_argument("--stores", default="duckdb,postgresql", help="soak: engines, comma-separated")
    ap.add_argument("--rate", type=int, default=7200, help="soak: new events offered per second")
    ap.add_argument("--qps", type=float, default=10, help="soak: queries per second")
    ap.add_argument("--clients", type=int, default=4, help="soak: ingesting clients")
    ap.add_argument("--soak-batch", type=int, default=200, help="soak: events per ingest request")
    ap.add_argument("--duckdb-options", default="", help="soak: DuckDB URL options, e.g. rollups=on")
    args = ap.parse_args()
    if args.minutes:
        for engine in args.stores.split(","):
            soak(engine, args)
        return
    seconds = args.seconds or (10 if args.quick else 60)
    groups = args.groups or (50 if args.quick else 200)
    tmp = Path(tempfile.mkdtemp(prefix="openusage-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OPENUSAGE_ADMIN_KEY": KEY}
    server = subprocess.Popen([sys.executable, "-c", "from openusage.cli import main; main()", "serve", "--db",
                               str(tmp / "usage.duckdb"), "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        out, rss = run_phase(url, server.pid, seconds, args, steady=False)
        steady_out, steady_rss = run_phase(url, server.pid, seconds, args, steady=True)
        big = large_answer(url, server.pid, groups)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    raw = raw_insert_rate(tmp, args.batch, 200)
    third = max(1, len(rss) // 3)
    sthird = max(1, len(steady_rss) // 3)
    ingest_rate = len(out["ingest"]) * args.batch / seconds
    report = {
        "seconds": seconds, "ingesters": args.ingesters, "queriers": args.queriers, "batch": args.batch,
        "ingest_requests_per_s": round(len(out["ingest"]) / seconds, 1),
        "ingest_events_per_s": round(ingest_rate),
        "ingest_p50_ms": round(pct(out["ingest"], 50), 1), "ingest_p99_ms": round(pct(out["ingest"], 99), 1),
        "queries_per_s": round(len(out["query"]) / seconds, 1),
        "query_p50_ms": round(pct(out["query"], 50), 1), "query_p99_ms": round(pct(out["query"], 99), 1),
        "errors": len(out["errors"]),
        "rss_mb_first_third": round(sum(rss[:third]) / third, 1),
        "rss_mb_last_third": round(sum(rss[-third:]) / third, 1),
        "steady_phase_requests_per_s": round((len(steady_out["ingest"]) + len(steady_out["query"])) / seconds, 1),
        "steady_rss_mb_first_third": round(sum(steady_rss[:sthird]) / sthird, 1),
        "steady_rss_mb_last_third": round(sum(steady_rss[-sthird:]) / sthird, 1),
        "raw_engine_insert_events_per_s": round(raw),
        "http_ingest_vs_raw_engine": round(ingest_rate / raw, 3),
        "large_answer": {k: round(v, 3) for k, v in big.items()},
        "large_answer_rss_cost_vs_body": round((big["rss_peak"] - big["rss_before"]) / (big["bytes"] / 2**20), 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
