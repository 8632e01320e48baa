"""The embedded store's rollups are a choice kept in the file: off for a new file (ingestion first),
on when asked, rebuilt when turned on again, and answers are the same either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from openusage.ingest.events import validate_events
from openusage.store import Aggregate, open_store

T0 = 1767225600


def _events(prefix: str, n: int = 300) -> list[dict]:
    return [{"id": f"{prefix}{i}", "type": "completions", "timestamp": T0 + i * 37 + 0.25,
             "model": f"m{i % 3}", "project_id": f"p{i % 4}", "input_tokens": i, "output_tokens": 2 * i}
            for i in range(n)]


def _answer(store) -> list[dict]:  # type: ignore[no-untyped-def]
    agg = Aggregate("completions", T0 + 5, T0 + 86400, 3600, ("model",), {},
                    ("input_tokens", "output_tokens", "num_model_requests"))
    return store.aggregate(agg).to_pylist()


def _rollup_rows(store) -> int:  # type: ignore[no-untyped-def]
    return store.execute("SELECT count(*) FROM rollup_1m")[0][0]


def test_new_file_has_no_rollups_until_asked(tmp_path: Path) -> None:
    db = str(tmp_path / "u.duckdb")
    s = open_store(db)
    s.insert([validate_events(_events("a"))])
    assert not s.maintain_rollups and _rollup_rows(s) == 0
    raw = _answer(s)
    s.close()

    s = open_store(f"duckdb://{db}?rollups=on")  # turned on: rebuilt from the events
    assert s.maintain_rollups and _rollup_rows(s) > 0
    assert _answer(s) == raw
    s.insert([validate_events(_events("b"))])
    both = _answer(s)
    s.rollups = False
    assert _answer(s) == both  # the rollups agree with the raw events
    s.close()

    s = open_store(db)  # no option: the file's choice (on) is kept
    assert s.maintain_rollups and _answer(s) == both
    s.close()

    s = open_store(f"duckdb://{db}?rollups=off")
    s.insert([validate_events(_events("c"))])  # not folded: the rollups are now stale
    third = _answer(s)
    s.close()
    s = open_store(f"duckdb://{db}?rollups=on")
    assert _answer(s) == third  # rebuilt, so "c" is counted
    s.rollups = False
    assert _answer(s) == third
    s.close()


def test_retention_needs_rollups(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention_days needs rollups=on"):
        open_store(f"duckdb://{tmp_path / 'r.duckdb'}?retention_days=30")
