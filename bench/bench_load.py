"""Load test on loopback: ingest and queries at once against the real ``openusage serve``.

The server runs in its own process; the load comes from another process (an asyncio driver on
httpx), so the two do not share a GIL.  Reported: sustained ingest and query rates with p50/p99
latency, the server's RSS over the run, then a steady phase (the same load, but ingest re-sends known
events, so the data stops growing) in which RSS must stay flat, one large answer (1,440 one-minute
buckets x many groups: its size, time and the RSS it costs), and the raw engine's insert rate
measured in the same run, as the peer ratio.

    python bench/bench_load.py            # 60 s of load
    python bench/bench_load.py --quick    # 10 s, smaller large answer
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
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 s of load and a smaller large answer")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--ingesters", type=int, default=4)
    ap.add_argument("--queriers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100, help="events per ingest request")
    ap.add_argument("--groups", type=int, default=None, help="users in the large answer")
    args = ap.parse_args()
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
