"""The scale benchmark's generator (bench/bench_scale.py) against the store's own insert and compaction.

The benchmark fills its stores by engine SQL, in day-aligned chunks, for speed at 100M events; its
answers mean something only if the file holds exactly what ingestion would have left: the same events
and the same rollup and summary rows (one per group and period, as compaction leaves them).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import duckdb
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import bench_scale  # noqa: E402
from common import completions_sql  # noqa: E402

from openusage.ingest.events import SCHEMA, EventBatch  # noqa: E402
from openusage.store import open_store  # noqa: E402
from openusage.store.duckdb_store import events_ddl  # noqa: E402
from openusage.store.sql import ROLLUPS, SUMMARIES  # noqa: E402

TABLES = ("events", *(t for t, _ in ROLLUPS), *(t for t, _ in SUMMARIES))


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(con.execute(f"SELECT * EXCLUDE (compacted) FROM {table}" if table != "events"
                                  else f"SELECT * FROM {table}").fetchall(), key=repr)
    finally:
        con.close()


def _reference(path: Path, n: int, days: int) -> None:
    """The same events through ``DuckDBStore.insert`` (10k-event batches) and one ``compact()``."""
    store = open_store(f"duckdb://{path}?rollups=on")
    mem = duckdb.connect(":memory:")
    mem.execute(events_ddl("gen", per_project=False).replace(" PRIMARY KEY", ""))
    mem.execute(f"INSERT INTO gen BY NAME SELECT *, 'ingest' AS origin FROM ({completions_sql(0, n, n, days)})")
    for off in range(0, n, 10_000):
        table = mem.sql(f"SELECT * FROM gen ORDER BY ts_us LIMIT 10000 OFFSET {off}").to_arrow_table().cast(SCHEMA)
        store.insert([EventBatch(table, table.num_rows)])
    store.compact()
    store.close()
    mem.close()


@pytest.mark.parametrize(("n", "days", "chunk"), [(12_000, 3, 4_000), (7_001, 7, 1_000), (50, 3, 1)])
def test_generated_file_holds_what_ingestion_leaves(tmp_path: Path, n: int, days: int, chunk: int) -> None:
    """Every events, rollup and summary row equal, chunks of one day or several, days of unequal counts."""
    generated, reference = tmp_path / "gen.duckdb", tmp_path / "ref.duckdb"
    bench_scale.generate_duckdb(generated, n, days, chunk)
    _reference(reference, n, days)
    for table in TABLES:
        got, want = _rows(generated, table), _rows(reference, table)
        assert len(got) == len(want) and got == want, table
    assert len(_rows(generated, "events")) == n


def test_day_chunks_cover_every_event_once_on_day_edges() -> None:
    """Chunks are contiguous, cover 0..n, and each starts at the first event of a day."""
    for n, days, chunk in [(100_000_000, 30, 4_000_000), (1_000_000, 30, 4_000_000), (7, 30, 1), (31, 30, 2)]:
        chunks = bench_scale.day_chunks(n, days, chunk)
        assert chunks[0][0] == 0 and chunks[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
        starts = {-(-k * n // days) for k in range(days)}
        assert all(lo in starts for lo, _ in chunks)
    assert len(bench_scale.day_chunks(100_000_000, 30, 4_000_000)) == 30
    assert len(bench_scale.day_chunks(1_000_000, 30, 4_000_000)) == 1


def test_event_times_match_the_generator() -> None:
    """The chdb load selects each chunk's events by time: the bounds are the generator's own times."""
    con = duckdb.connect(":memory:")
    n, days = 1_000, 7
    times = [t for (t,) in con.execute(f"SELECT ts_us FROM ({completions_sql(0, n, n, days)})").fetchall()]
    assert times == [bench_scale.event_ts_us(i, n, days) for i in range(n)]
    assert bench_scale.event_ts_us(n, n, days) > times[-1]
