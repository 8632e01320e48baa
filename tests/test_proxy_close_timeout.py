"""The recorder's close gives up after its timeout without racing the journal it closes: batches still
under way then submit nothing more and trim nothing, so the journal keeps their events, and the next
start replays them once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from openusage.proxy.journal import Journal, read_segment, replay_orphans
from openusage.proxy.recorder import Recorder
from openusage.store.writer import Writer
from tests.conftest import new_store


def _event(n: int) -> dict[str, object]:
    return {"id": f"pxy-close-{n}", "type": "completions", "timestamp": time.time(), "project_id": "p",
            "input_tokens": n + 1}


def test_close_past_its_timeout_leaves_the_batch_to_the_journal(tmp_path: Path) -> None:
    store = new_store(tmp_path / "u.duckdb")
    writer = Writer(store.insert)
    release = threading.Event()
    in_builder = threading.Event()

    def busy_writer() -> Writer:
        """The batch's build is still under way on its thread when the close's timeout ends."""
        in_builder.set()
        release.wait(30)
        return writer

    recorder = Recorder(busy_writer, flush_after=60)
    recorder.journal = Journal(tmp_path / "journal", "me")
    try:
        async def run() -> float:
            waits = [recorder.record(_event(n)) for n in range(3)]
            await asyncio.gather(*[w for w in waits if w is not None])
            started = time.monotonic()
            await recorder.aclose(timeout=0.3)
            return time.monotonic() - started

        took = asyncio.run(run())
        assert in_builder.is_set()
        assert 0.3 <= took < 5
        release.set()  # the build goes on after the close: it must hand nothing to the store
        deadline = time.monotonic() + 5
        while recorder.failed < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert (recorder.recorded, recorder.failed) == (0, 3)
        assert store.count_events() == 0
        segments = sorted((tmp_path / "journal").glob("me-*.jnl"))
        assert [e["id"] for seg in segments for e in read_segment(seg)] == [f"pxy-close-{n}" for n in range(3)]

        async def next_start() -> int:
            return await replay_orphans(tmp_path / "journal", writer)

        assert asyncio.run(next_start()) == 3
        assert store.count_events() == 3
        assert sorted((tmp_path / "journal").iterdir()) == []
    finally:
        release.set()
        writer.close()
        store.close()


def test_a_closed_journal_trims_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "me")

    async def run() -> None:
        await journal.append(b"\x00" * 8)
        journal.rotate()

    asyncio.run(run())
    journal.close()
    journal.trim(0)
    assert [p.name for p in sorted(tmp_path.glob("*.jnl"))] == ["me-0.jnl"]
