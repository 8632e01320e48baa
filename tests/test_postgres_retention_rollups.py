"""PostgreSQL retention: pruned raw events stay counted in every grouping the rollups answer."""

from __future__ import annotations

from pathlib import Path

from openusage.ingest.events import validate_events
from openusage.store.base import Aggregate
from tests.storeconf import fresh_store

T0 = 1_700_000_000
DAY = 86400


def test_a_day_by_user_and_model_outlives_its_raw_events(tmp_path: Path) -> None:
    """A day query by user and another dimension gives the same answer before and after the raw events
    of that day are pruned (the day rollup keeps every dimension), and it agrees with the day by user."""
    with fresh_store("postgresql", tmp_path) as store:
        store.insert([validate_events([
            {"id": f"c{i}", "type": "completions", "timestamp": T0 + i * 30, "model": ("gpt-4o", "o3")[i % 2],
             "user_id": f"u{i % 3}", "api_key_id": "key_a", "input_tokens": 10 + i, "output_tokens": 1}
            for i in range(200)])])
        store.compact()
        day = (T0 // DAY) * DAY
        aggs = [Aggregate("completions", day, day + 2 * DAY, DAY, group_by=gb, metrics=("input_tokens",))
                for gb in (("user_id",), ("user_id", "model"), ("user_id", "api_key_id"))]
        before = [sorted(map(str, store.aggregate(a).to_pylist())) for a in aggs]
        assert all(before)
        store.prune(T0 + 3 * DAY)
        after = [sorted(map(str, store.aggregate(a).to_pylist())) for a in aggs]
        assert after == before
