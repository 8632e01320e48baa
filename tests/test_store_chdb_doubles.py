"""ClickHouse: the same new id given to two writers at the same instant is counted once.

Within one process (chdb has only one) the id check and the insert are one step under a lock, so
the rollups never count it twice.  Writers in several processes can still both store it: that is
simulated here by inserting the same rows twice underneath the check, and ``openusage repair``
finds the copies, takes them out of the rollups and merges them away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from openusage.cli import cli
from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate
from openusage.store.clickhouse_store import ClickHouseStore

T0 = 1_700_000_000
DAY0 = T0 - T0 % 86400
AGGS = [
    Aggregate("completions", DAY0, DAY0 + 86400, 86400, group_by=("project_id",),
              metrics=("input_tokens", "num_model_requests")),
    Aggregate("completions", T0 - T0 % 60, T0 - T0 % 60 + 3600, 60, metrics=("input_tokens",)),
    Aggregate("costs", DAY0, DAY0 + 86400, 86400, group_by=("line_item",), decimals=("amount",)),
    Aggregate("vector_stores", DAY0, DAY0 + 86400, 3600, gauges=("usage_bytes",)),
]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"chdb:///{tmp_path / 'ch'}"


@pytest.fixture
def ch(url: str) -> Iterator[ClickHouseStore]:
    store = open_store(url)
    assert isinstance(store, ClickHouseStore)
    yield store
    store.close()


def batch(r: int, n: int = 40) -> list[dict]:
    evs = [{"id": f"r{r}-{i}", "type": "completions", "timestamp": T0 + r * 60 + i, "input_tokens": 1000 + i,
            "project_id": f"p{i % 2}"} for i in range(n)]
    evs += [{"id": f"k{r}", "type": "costs", "timestamp": T0 + r, "amount": "1.000000000001", "line_item": "x"},
            {"id": f"v{r}", "type": "vector_stores", "timestamp": T0 + r, "usage_bytes": 100 + r, "project_id": "p"}]
    return evs


def answers(store: ClickHouseStore) -> list[list[list[dict]]]:
    out = []
    for rollups in (True, False):
        store.rollups = rollups
        try:
            out.append([store.aggregate(a).to_pylist() for a in AGGS])
        finally:
            store.rollups = True
    return out


def test_two_threads_given_the_same_new_ids_count_them_once(ch: ClickHouseStore) -> None:
    for r in range(15):
        events = validate_events(batch(r))
        barrier = threading.Barrier(2)
        counts: list[list[int]] = []

        def send(events=events, barrier=barrier, counts=counts) -> None:  # type: ignore[no-untyped-def]
            barrier.wait(timeout=30)
            counts.append(ch.insert([events]))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(c[0] for c in counts) == [0, 42]
    assert ch.rows("SELECT sum(n) FROM rollup_1m") == [(15 * 42,)]
    with_rollups, raw = answers(ch)
    assert with_rollups == raw
    assert raw[0] == [{"bucket": DAY0, "project_id": p, "input_tokens": 15 * sum(1000 + i for i in range(k, 40, 2)),
                       "num_model_requests": 15 * 20} for k, p in enumerate(("p0", "p1"))]


def test_repair_takes_copies_from_other_processes_out_of_the_rollups(ch: ClickHouseStore, url: str) -> None:
    ch.insert([validate_events(batch(r)) for r in range(3)])
    want = answers(ch)
    assert want[0] == want[1]
    # another process's writer checked the same ids before these were visible, and stored them too
    copies = validate_events(batch(1) + batch(2)[:10]).table
    ch.db.insert("events", copies, {"insert_deduplicate": 0})
    assert ch.duplicates() == (52, 52)
    with_rollups, raw = answers(ch)
    assert raw == want[1]  # FINAL: raw answers stay exact
    assert with_rollups[0] != want[0]  # the rollups counted the copies
    assert with_rollups[2][0]["amount"] == Decimal("4.000000000004")
    ch.close()

    r = CliRunner().invoke(cli, ["repair", "--db", url, "--check"])
    assert r.exit_code == 1 and "52 events are stored more than once (52 extra copies" in text(r.output)
    r = CliRunner().invoke(cli, ["repair", "--db", url])
    assert r.exit_code == 0, r.output
    assert "Repaired 52 events stored more than once: 52 extra copies taken out of the rollups" in text(r.output)
    r = CliRunner().invoke(cli, ["repair", "--db", url])  # again: nothing left, nothing changed
    assert r.exit_code == 0 and "No event is stored twice" in text(r.output)

    store = open_store(url)
    try:
        assert isinstance(store, ClickHouseStore)
        assert answers(store) == want
        assert store.rows("SELECT sum(n) FROM rollup_1d") == [(3 * 42,)]
        assert store.insert([validate_events(batch(5))]) == [42]  # ingestion goes on
        assert answers(store)[0] == answers(store)[1]
    finally:
        store.close()


def test_repair_on_other_engines_has_nothing_to_do(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["repair", "--db", str(tmp_path / "u.duckdb")])
    assert r.exit_code == 0 and "deduplicates every insert in one transaction" in text(r.output)


def text(output: str) -> str:
    """The command's output without the console's line wrapping."""
    return " ".join(output.split())
