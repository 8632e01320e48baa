"""The DuckDB store's memory as its file grows: the soak's events and queries in one process, no HTTP.

Memory growth follows the data stored, not the clock, so this inserts the soak's events (20 projects,
50 models, 2,000 users, 200 keys; completions, embeddings, costs; timestamps as if ingested at 7,200
a second until now) in commits of 8 x 200 events, and after every ``--step`` events runs the soak's
usage queries (1m over the last hour, 1h over the last day, 1d over the last week, with its
``group_by`` values, twice each) and prints the process's RSS and what DuckDB says it holds.  Each
``--limits`` value runs in a fresh process, one after the other, on a new file:

    python bench/bench_memory_duckdb.py                                   # default bound vs 80 % (DuckDB's own)
    python bench/bench_memory_duckdb.py --events 2000000 --limits default,512MiB
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_load import DAY, SOAK_SHAPES, rss_mb, soak_events

from openusage.ingest.events import validate_events
from openusage.store import Aggregate, open_store
from openusage.store.duckdb_store import DuckDBStore

RATE = 7200
WIDTH_S = {"1m": 60, "1h": 3600, "1d": 86400}
METRICS = ("input_tokens", "num_model_requests")


def one(limit: str, events: int, step: int) -> None:
    """One run in this process: a new file with ``memory_limit=limit`` (or the default)."""
    tmp = Path(tempfile.mkdtemp(prefix="openusage-mem-"))
    url = f"duckdb://{tmp}/m.duckdb" + ("" if limit == "default" else f"?memory_limit={limit}")
    store = open_store(url)
    assert isinstance(store, DuckDBStore)
    print(f"## memory_limit={limit} ({store.memory_limit / 2**20:.0f} MiB)", flush=True)
    print(f"{'events':>10} {'RSS MB':>7} {'DuckDB MB':>9} {'file MB':>8} {'queries s':>9}", flush=True)
    rng = random.Random(1)
    now = time.time()
    start = now - events / RATE
    done = 0
    while done < events:
        batches = []
        for _ in range(8):
            chunk = soak_events(f"e{done}", 200, rng, start + done / RATE)
            batches.append(validate_events(chunk))
            done += len(chunk)
        store.insert(batches)
        if done % step < 1600:
            t = time.perf_counter()
            for path, width, back, groups in SOAK_SHAPES:
                if path.startswith("usage/"):
                    kind = path.removeprefix("usage/")
                    for _ in range(2):
                        store.aggregate(Aggregate(kind, int(now) - back, int(now) + 60, WIDTH_S[width], groups, {},
                                                  METRICS))
            spent = time.perf_counter() - t
            duck = store.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")[0][0] / 2**20
            size = sum(p.stat().st_size for p in tmp.iterdir()) / 2**20
            print(f"{done:>10,} {rss_mb(__import__('os').getpid()):>7.0f} {duck:>9.0f} {size:>8.0f} {spent:>9.2f}",
                  flush=True)
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=4_000_000, help="events to insert (default 4,000,000)")
    ap.add_argument("--step", type=int, default=500_000, help="events between measurements (default 500,000)")
    ap.add_argument("--limits", default="default,80%", help="memory_limit values, comma-separated")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, args.events, args.step)
        return
    import os

    print(f"load average {os.getloadavg()}; {args.events:,} events, soak-shaped, a measurement every {args.step:,}")
    for limit in args.limits.split(","):
        subprocess.run([sys.executable, __file__, "--one", limit, "--events", str(args.events),
                        "--step", str(args.step)], check=True)
    print(f"load average after {os.getloadavg()}; DAY={DAY}")


if __name__ == "__main__":
    main()
