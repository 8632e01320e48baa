"""How long a costs page takes (usage priced at query time) against a plain usage page of the same range.

    python bench/bench_costs.py            # 90 days of the demo organization
    python bench/bench_costs.py --quick    # 14 days

Prints the median of several runs for each query and the ratio costs / completions-usage: pricing
adds one store aggregation per usage type plus exact-decimal arithmetic over the aggregated rows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from openusage.demo import demo_events
from openusage.ingest.events import validate_events
from openusage.service import UsageService
from openusage.spec import ENDPOINTS_BY_NAME
from openusage.store import open_store

END = 1764028800  # 2025-11-25T00:00Z, after every catalog date the demo models need


def timed(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="14 days instead of 90")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    days = 14 if args.quick else 90
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.duckdb"))
        events = list(demo_events(END, days=days))
        store.insert([validate_events(events)])
        svc = UsageService(store)
        base = [("start_time", str(END - days * 86400)), ("end_time", str(END)), ("limit", str(days))]
        print(f"{len(events):,} events over {days} days; median of {args.runs} runs")
        usage = timed(lambda: svc.query(ENDPOINTS_BY_NAME["completions"], [*base, ("group_by", "model")]), args.runs)
        print(f"{'completions usage, group_by=model':45s} {usage * 1000:8.1f} ms   1.00x")
        for group in ((), ("line_item",), ("project_id",), ("project_id", "line_item", "api_key_id")):
            items = [*base, *(("group_by", g) for g in group)]
            t = timed(lambda items=items: svc.query(ENDPOINTS_BY_NAME["costs"], items), args.runs)
            label = "costs, group_by=" + (",".join(group) or "(none)")
            print(f"{label:45s} {t * 1000:8.1f} ms {t / usage:6.2f}x")
        store.close()


if __name__ == "__main__":
    main()
