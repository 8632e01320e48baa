"""Crash safety: SIGKILL the real server while several clients stream events into it.

Every batch the server acknowledged must be counted exactly once after each restart; batches
whose answer was lost (the connection died mid-request) may or may not be stored, and re-sending
everything must add exactly the missing ones and nothing else.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from openusage.store import open_store
from tests.conftest import tls
from tests.procserver import ServerProcess

pytestmark = pytest.mark.timing

DAY = 86400
BASE = 1_700_000_000
DAY_START = BASE // DAY * DAY
KILLS = 6
CLIENTS = 4
BATCH = 40


@dataclass
class Ledger:
    """What the clients know: acknowledged batches, and batches whose fate is unknown."""

    acked: dict[str, int] = field(default_factory=dict)  # event id -> input_tokens
    unknown: dict[str, int] = field(default_factory=dict)
    batches: list[list[dict]] = field(default_factory=list)
    lost_answers: int = 0
    duplicates_on_retry: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_batch(client: int, n: int, rng: random.Random) -> list[dict]:
    return [{"id": f"c{client}-{n}-{i}", "type": "completions", "timestamp": BASE + rng.randrange(DAY),
             "model": "gpt-4o", "user_id": f"u{client}", "input_tokens": rng.randrange(1, 1000)}
            for i in range(BATCH)]


def stream(url: str, client: int, ledger: Ledger, stop: threading.Event) -> None:
    """Send batches as a careful client does: retry each until acknowledged."""
    rng = random.Random(client)
    n = 0
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk-proc-admin"}, timeout=10, verify=tls()) as c:
        while not stop.is_set():
            batch = make_batch(client, n, rng)
            n += 1
            tokens = {e["id"]: e["input_tokens"] for e in batch}
            with ledger.lock:
                ledger.batches.append(batch)
            while not stop.is_set():
                try:
                    r = c.post("/v1/usage/events", json={"events": batch})
                except httpx.ConnectError:  # the server is down: nothing was sent
                    time.sleep(0.05)
                    continue
                except httpx.HTTPError:  # killed mid-request: the answer is lost, the fate unknown
                    with ledger.lock:
                        ledger.unknown.update(tokens)
                        ledger.lost_answers += 1
                    continue
                if r.status_code == 200:
                    body = r.json()
                    assert body["accepted"] + body["duplicates"] == BATCH
                    with ledger.lock:
                        ledger.acked.update(tokens)
                        ledger.duplicates_on_retry += body["duplicates"]
                    break
                with ledger.lock:
                    ledger.unknown.update(tokens)


def totals(c: httpx.Client) -> tuple[int, int]:
    """(events, input tokens) over the whole range, through the usage endpoint."""
    r = c.get("/v1/organization/usage/completions",
              params={"start_time": DAY_START, "end_time": DAY_START + 2 * DAY, "bucket_width": "1d"})
    assert r.status_code == 200, r.text
    results = [res for b in r.json()["data"] for res in b["results"]]
    return sum(x["num_model_requests"] for x in results), sum(x["input_tokens"] for x in results)


def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    srv = ServerProcess(db, tmp_path)
    ledger = Ledger()
    rng = random.Random(7)
    stop = threading.Event()
    srv.start()
    threads = [threading.Thread(target=stream, args=(srv.url, i, ledger, stop), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    after_kill: list[tuple[int, int]] = []
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            srv.kill()
            with ledger.lock:
                acked_now = dict(ledger.acked)
            srv.start()
            # Whatever was acknowledged before the kill is there after the restart.
            with srv.client() as c:
                events, _ = totals(c)
            assert events >= len(acked_now)
            after_kill.append((len(acked_now), events))
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert len(ledger.acked) > 0
    acked_ids = set(ledger.acked)
    unknown_only = {k: v for k, v in ledger.unknown.items() if k not in acked_ids}
    with srv.client() as c:
        events, _ = totals(c)
        # The counted set lies between the acknowledged set and acknowledged plus unknown.
        assert len(acked_ids) <= events <= len(acked_ids) + len(unknown_only)
        # Re-sending everything adds exactly what is missing, and nothing twice.
        added = 0
        for batch in ledger.batches:
            r = c.post("/v1/usage/events", json={"events": batch})
            assert r.status_code == 200
            added += r.json()["accepted"]
        everything = {**unknown_only, **ledger.acked}
        assert added == len(everything) - events
        assert totals(c) == (len(everything), sum(everything.values()))
    assert srv.terminate() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    # The file opens cleanly in another process, every acknowledged id exactly once.
    store = open_store(db)
    try:
        rows = store.execute("SELECT id, input_tokens FROM events")  # type: ignore[attr-defined]
    finally:
        store.close()
    stored = dict(rows)
    assert len(rows) == len(stored) == len(everything)
    assert all(stored[k] == v for k, v in ledger.acked.items())
    print(f"\n{KILLS} SIGKILLs: acknowledged {len(acked_ids)} events, unknown fate {len(unknown_only)}, "
          f"counted {events} before re-send, {len(everything)} after; {ledger.lost_answers} answers lost, "
          f"{ledger.duplicates_on_retry} events already stored when retried; per kill (acked, counted): {after_kill}")
