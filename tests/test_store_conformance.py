"""One suite, every engine: DuckDB, PostgreSQL and chdb keep the Store protocol alike.

Idempotent insert counts, canonical result types, rollups agreeing with raw events on unaligned
edges, retention, keys, metadata and migrations, checked on each engine directly.  The
reference-model property test over HTTP is in ``test_store_conformance_props.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from openusage.auth import create_key
from openusage.ingest.events import AMOUNT_TYPE, validate_events
from openusage.store import Store
from openusage.store.base import Aggregate, ApiKeyRecord
from tests.storeconf import ENGINES, fresh_store

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z, not on a minute


def completions(ids: range, model: str = "gpt-4o", spread: float = 7.5, base: float = T0) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "type": "completions", "timestamp": base + i * spread, "model": model,
             "input_tokens": 10 + i, "output_tokens": 1} for i in ids]


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with fresh_store(request.param, tmp_path) as s:
        yield s


def test_insert_counts_new_ids_once(store: Store) -> None:
    first = store.insert([validate_events(completions(range(0, 60))), validate_events(completions(range(40, 100)))])
    assert first == [60, 40]
    assert store.insert([validate_events(completions(range(0, 100)))]) == [0]
    # a resent id with other content (and another timestamp) is still the first one
    assert store.insert([validate_events(completions(range(0, 5), model="o3", base=T0 + 86400 * 40))]) == [0]
    assert store.insert([validate_events([]), validate_events(completions(range(100, 103)))]) == [0, 3]
    assert store.count_events() == 103
    agg = Aggregate("completions", T0 - 20, T0 + 86400 * 60, 86400, group_by=("model",),
                    metrics=("input_tokens", "output_tokens"))
    for rollups in (True, False):
        store.rollups = rollups  # type: ignore[attr-defined]
        t = store.aggregate(agg)
        assert t.column("model").to_pylist() == ["gpt-4o"]
        assert t.column("input_tokens").to_pylist() == [sum(10 + i for i in range(103))]
        assert t.column("output_tokens").to_pylist() == [103]


def test_result_types_are_canonical(store: Store) -> None:
    store.insert([validate_events([
        {"id": "k1", "type": "costs", "timestamp": T0, "amount": "1.250000000001", "line_item": "a", "quantity": 2.5,
         "quantity_unit": "tokens", "project_id": "p"},
        {"id": "k2", "type": "costs", "timestamp": T0 + 1, "amount": {"value": "3", "currency": "usd"},
         "line_item": "a", "quantity": 0.5, "project_id": "p"},
        {"id": "v1", "type": "vector_stores", "timestamp": T0, "usage_bytes": 5, "project_id": "p"},
        {"id": "v2", "type": "vector_stores", "timestamp": T0 + 30, "usage_bytes": 9, "project_id": "p"},
        {"id": "v3", "type": "vector_stores", "timestamp": T0 + 40, "usage_bytes": 4, "project_id": "q"},
    ])])
    costs = Aggregate("costs", T0 - 100, T0 + 86400, 86400, group_by=("project_id", "line_item"),
                      decimals=("amount",), with_quantity=True)
    gauge = Aggregate("vector_stores", T0 - 100, T0 + 3600, 3600, gauges=("usage_bytes",))
    for rollups in (True, False):
        store.rollups = rollups  # type: ignore[attr-defined]
        t = store.aggregate(costs)
        assert t.schema == pa.schema([("bucket", pa.int64()), ("project_id", pa.string()), ("line_item", pa.string()),
                                      ("amount", AMOUNT_TYPE), ("quantity", pa.float64()),
                                      ("quantity_unit", pa.string())])
        assert t.to_pylist() == [{"bucket": (T0 // 86400) * 86400, "project_id": "p", "line_item": "a",
                                  "amount": Decimal("4.250000000001"), "quantity": 3.0, "quantity_unit": "tokens"}]
        g = store.aggregate(gauge)
        assert g.schema == pa.schema([("bucket", pa.int64()), ("usage_bytes", pa.int64())])
        assert g.to_pylist() == [{"bucket": (T0 // 3600) * 3600, "usage_bytes": 9 + 4}]


def test_rollups_and_raw_agree_on_unaligned_edges(store: Store) -> None:
    store.insert([validate_events(completions(range(0, 400), spread=3.3))])  # ~22 minutes, 3 per bucket edge
    for start, end in [(T0, T0 + 1200), (T0 - 20, T0 + 1300), ((T0 // 60) * 60, (T0 // 60) * 60 + 1200),
                       (T0 + 1, T0 + 50), (T0 + 59, T0 + 61)]:
        agg = Aggregate("completions", start, end, 60, group_by=("model",), metrics=("input_tokens",))
        store.rollups = True  # type: ignore[attr-defined]
        with_rollups = store.aggregate(agg)
        store.rollups = False  # type: ignore[attr-defined]
        raw = store.aggregate(agg)
        assert with_rollups.equals(raw), (start, end)
        want = sum(10 + i for i in range(400) if start <= T0 + i * 3.3 < end)
        assert sum(raw.column("input_tokens").to_pylist()) == want


def test_prune_keeps_rollup_answers(store: Store) -> None:
    store.insert([validate_events(completions(range(0, 200), spread=30))])  # 100 minutes
    agg = Aggregate("completions", (T0 // 3600) * 3600, (T0 // 3600) * 3600 + 4 * 3600, 3600,
                    metrics=("input_tokens",))
    before = store.aggregate(agg)
    store.prune(T0 + 3000)  # type: ignore[attr-defined]
    assert store.count_events() == sum(1 for i in range(200) if T0 + i * 30 >= ((T0 + 3000) // 60) * 60)
    assert store.aggregate(agg).equals(before)  # whole minutes come from the rollup


def test_keys_and_meta(store: Store) -> None:
    assert store.get_key("nope") is None
    assert store.list_keys() == []
    new = create_key(store, "ci", "read", ["proj_a"])
    rec = store.get_key(new.record.key_id)
    assert rec is not None and rec.projects == ["proj_a"] and rec.scope == "read" and rec.revoked_at is None
    store.put_key(ApiKeyRecord("zz", "other", "admin", None, "salt", "hash", 5))
    assert [k.key_id for k in store.list_keys()] == ["zz", new.record.key_id]
    assert store.revoke_key("zz", 99) is True
    assert store.revoke_key("zz", 100) is False
    assert store.revoke_key("missing", 100) is False
    assert store.get_key("zz").revoked_at == 99  # type: ignore[union-attr]
    assert store.get_meta("color") is None
    store.set_meta("color", "blue")
    store.set_meta("color", "green")
    assert store.get_meta("color") == "green"


def test_migrate_is_idempotent(store: Store) -> None:
    version = store.migrate()
    assert store.migrate() == version
    assert store.get_meta("schema_version") == str(version)


def test_day_and_hour_rollups_agree_with_raw(store: Store) -> None:
    """Ranges of days read the day and hour rollups in the middle, finer sources at the edges."""
    store.insert([validate_events(completions(range(0, 3000), spread=97.3, base=T0 - 86400))])  # ~3.4 days
    for start, end, width in [(T0 - 86400 + 5, T0 + 2 * 86400 + 7, 86400), (T0 - 3000, T0 + 86400 + 1, 3600),
                              (T0 - T0 % 86400, T0 - T0 % 86400 + 2 * 86400, 86400)]:
        agg = Aggregate("completions", start, end, width, group_by=("model",), metrics=("input_tokens",))
        store.rollups = True  # type: ignore[attr-defined]
        with_rollups = store.aggregate(agg)
        store.rollups = False  # type: ignore[attr-defined]
        raw = store.aggregate(agg)
        assert with_rollups.equals(raw), (start, end, width)
        want = sum(10 + i for i in range(3000) if start <= T0 - 86400 + i * 97.3 < end)
        assert sum(raw.column("input_tokens").to_pylist()) == want
