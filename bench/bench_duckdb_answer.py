"""How a DuckDB answer is read: through a relation (``con.sql(...).to_arrow_table()``) or from the
executed statement (``DuckDBStore``'s ``_answer``), on the statements the API runs.

    python bench/bench_duckdb_answer.py              # the 1M-event costs file of bench_costs.py --quick
    python bench/bench_duckdb_answer.py --events 5000 --runs 20

The relation binds the statement once more to learn its columns before running it, a fixed cost that
grows with the statement's text (the costs statement is about 8 KB of SQL).  For a completions page and
the costs pages of ``bench_costs.py``, the statement each sends is captured and run both ways on the same
cursor; printed are the median CPU of each and their ratio, with the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_costs import DAYS, GROUPINGS, generate
from common import DAY, END, machine

from openusage.service import UsageService
from openusage.spec import ENDPOINTS_BY_TYPE
from openusage.store import duckdb_store as ds
from openusage.store import open_store


def cpu_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    cpus = []
    for _ in range(runs):
        c = time.process_time()
        fn()
        cpus.append(time.process_time() - c)
    return statistics.median(cpus) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    store = open_store(f"duckdb://{generate(args.events)}")
    assert isinstance(store, ds.DuckDBStore)
    svc = UsageService(store)
    captured: list[tuple[str, list[Any]]] = []
    plain = ds._answer

    def capture(cur: Any, sql: str, params: list[Any]) -> Any:
        captured.append((sql, params))
        return plain(cur, sql, params)

    base = [("start_time", str(END - DAYS * DAY)), ("end_time", str(END)), ("limit", str(DAYS))]
    pages = [("completions by model", "completions", ("model",))]
    pages += [(f"costs by {','.join(g) or '(none)'}", "costs", g) for g, _ in GROUPINGS]
    print(f"{args.events:,} events; median CPU of {args.runs} runs; {machine()}")
    print(f"{'statement of':40s} {'relation':>9s} {'executed':>9s} {'ratio':>6s}")
    cur = store._reader()
    for label, kind, groups in pages:
        captured.clear()
        ds._answer = capture
        try:
            svc.query(ENDPOINTS_BY_TYPE[kind], [*base, *(("group_by", x) for x in groups)])
        finally:
            ds._answer = plain
        sql, params = captured[-1]
        rel = cpu_ms(lambda s=sql, p=params: cur.sql(s, params=p).to_arrow_table(), args.runs)
        exe = cpu_ms(lambda s=sql, p=params: plain(cur, s, p), args.runs)
        a, b = cur.sql(sql, params=params).to_arrow_table(), plain(cur, sql, params)
        order = [(n, "ascending") for n in a.column_names]  # the statements leave the order to the caller
        assert a.schema == b.schema and a.sort_by(order).equals(b.sort_by(order)), label
        print(f"{label:40s} {rel:6.1f} ms {exe:6.1f} ms {exe / rel:5.2f}x  ({len(sql):,} bytes of SQL)")
    store.close()


if __name__ == "__main__":
    main()
