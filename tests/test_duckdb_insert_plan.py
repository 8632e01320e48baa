"""The embedded store appends new events with DuckDB's single-threaded insert.

With more than one thread DuckDB plans a plain ``INSERT ... SELECT`` as a parallel "batch insert",
which stages every row once more before appending it; ``RETURNING`` keeps the direct append
(docs/performance.md, Ingestion).  This pins the plan, so a DuckDB upgrade that changes it shows here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from openusage.ingest.events import validate_events
from openusage.store.duckdb_store import INSERT_NEW, DuckDBStore


def _operators(store: DuckDBStore, sql: str, tbl: pa.Table) -> list[str]:
    plan = store._con.execute(f"EXPLAIN {sql}").fetchall()[0][1]  # the replacement scan reads ``tbl``
    return re.findall(r"─ ([A-Za-z ]+?) ─", str(plan))


def test_new_events_are_appended_on_one_thread(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "plan.duckdb")
    try:
        store.migrate()
        store._con.execute("SET threads = 2")
        tbl = validate_events([{"id": "a", "type": "completions", "timestamp": 1_700_000_000,
                                "input_tokens": 1}]).to_arrow()
        assert "Batch Insert" in _operators(store, INSERT_NEW.removesuffix(" RETURNING NULL"), tbl)
        ops = _operators(store, INSERT_NEW, tbl)
        assert "Insert" in ops and "Batch Insert" not in ops
    finally:
        store.close()
