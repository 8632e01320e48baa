"""The recorder's bound on gathered events: a commit happens once ``max_pending`` events are gathered,
whatever the interval (the interval is long so that it holds the events for a second under load)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from openusage.proxy.recorder import FLUSH_AFTER_S, MAX_PENDING, Recorder
from openusage.store.writer import Writer
from tests.conftest import new_store


def _event(n: int) -> dict[str, object]:
    return {"id": f"batch-{n}", "type": "completions", "timestamp": time.time(), "project_id": "p",
            "input_tokens": n}


def test_commit_at_the_bound_not_the_interval(tmp_path: Path) -> None:
    store = new_store(tmp_path / "u.duckdb")
    writer = Writer(store.insert)
    try:
        recorder = Recorder(lambda: writer, flush_after=60, max_pending=3)

        async def run() -> tuple[int, int]:
            for n in range(7):
                recorder.record(_event(n))
            deadline = time.monotonic() + 30
            while store.count_events() < 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            before_close = store.count_events()
            await asyncio.sleep(0.2)  # the 7th waits for the interval (60 s), not for the bound
            still = store.count_events()
            await recorder.aclose()
            return before_close, still

        assert asyncio.run(run()) == (6, 6)  # two commits of 3; the 7th is gathered until the close
        assert store.count_events() == 7
        assert (recorder.recorded, recorder.failed) == (7, 0)
    finally:
        writer.close()
        store.close()


def test_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        Recorder(lambda: None, max_pending=0)


def test_defaults_say_what_the_docs_say() -> None:
    assert (FLUSH_AFTER_S, MAX_PENDING) == (1.0, 10_000)
    text = (Path(__file__).resolve().parent.parent / "docs" / "proxy.md").read_text()
    assert "others for 1 s (`ProxySettings.record_interval`" in text
    assert "until 10,000 are gathered (`ProxySettings.record_batch`" in text
