"""Loading price rows into a store: the statement ``add_price_rows`` runs (rows bound as five arrays)
against its peer measured in the same run, the same rows bound as six values a row in ``VALUES``.

    python bench/bench_price_rows.py [--keys 5000] [--repeat 3] [--pg postgresql://...]

Each round loads the rows of ``--keys`` distinct models into an empty price set, peer and statement
alternating; the best round of each is printed with the ratio and the machine's load."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from common import machine

from openusage.pricing import PriceBook
from openusage.pricing import price_table as pt
from openusage.store import open_store
from openusage.store.common import PRICE_COLUMNS, PRICE_ROWS_PER_STATEMENT, SqlStoreBase

Rows = list[tuple[str, int, int, int, int]]


def values_load(store: SqlStoreBase, set_id: str, rows: Rows) -> None:
    """The peer: six bound values a row, ``PRICE_ROWS_PER_STATEMENT`` rows a statement."""
    p = store.dialect.placeholder
    one = f"({', '.join([p] * len(PRICE_COLUMNS))})"
    for off in range(0, len(rows), PRICE_ROWS_PER_STATEMENT):
        chunk = rows[off:off + PRICE_ROWS_PER_STATEMENT]
        store._write(f"INSERT INTO price_rows ({', '.join(PRICE_COLUMNS)}) VALUES {', '.join([one] * len(chunk))} "
                     "ON CONFLICT DO NOTHING", [v for r in chunk for v in (set_id, *r)])


def array_load(store: SqlStoreBase, set_id: str, rows: Rows) -> None:
    store.add_price_rows(set_id, rows)


def best(store: SqlStoreBase, load: Callable[[SqlStoreBase, str, Rows], None], rows: Rows) -> float:
    set_id = uuid.uuid4().hex[:16]
    started = time.perf_counter()
    load(store, set_id, rows)
    took = time.perf_counter() - started
    n = store.execute(f"SELECT count(*) FROM price_rows WHERE set_id = {store.dialect.placeholder}", [set_id])
    assert int(n[0][0]) == len(rows), (n, len(rows))
    store._write(f"DELETE FROM price_rows WHERE set_id = {store.dialect.placeholder}", [set_id])
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    table = pt.PriceTable(PriceBook())
    rows = table.rows_of({pt.key_text("completions", "", {"model": f"ft:gpt-4o:org:{i}"}) for i in range(args.keys)})
    schema = f"bench_price_rows_{uuid.uuid4().hex[:8]}"
    urls = {"duckdb": f"duckdb:///{Path(tempfile.mkdtemp()) / 'p.duckdb'}", "postgresql": f"{args.pg}?schema={schema}"}
    print(machine())
    print(f"{len(rows)} price rows of {args.keys} keys")
    for engine, url in urls.items():
        store = open_store(url)
        assert isinstance(store, SqlStoreBase)
        try:
            peer, new = [], []
            for _ in range(args.repeat):
                peer.append(best(store, values_load, rows))
                new.append(best(store, array_load, rows))
            print(f"{engine:10s} values {min(peer):7.3f} s   arrays {min(new):7.3f} s   "
                  f"{min(peer) / min(new):5.1f}x faster   ({machine()})")
        finally:
            if engine == "postgresql":
                store._write(f"DROP SCHEMA {schema} CASCADE", [])
            store.close()


if __name__ == "__main__":
    main()
