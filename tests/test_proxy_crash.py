"""The proxy's usage survives SIGKILL: every answer a client received in full is recorded, once.

A real ``openusage serve --upstream`` child process is killed under load (plain and streamed chat
completions from several clients), restarted, killed again.  Each request carries its own ``user``,
so the store can be compared, request by request, with what the clients received and what the fake
upstream was asked.  Plus the journal's own guarantees: a torn last record is ignored, replay is
idempotent, a live process's journal is left alone.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from openusage.proxy.journal import Journal, encode, orphans, read_segment, release
from openusage.store import open_store
from tests.conftest import new_store, tls
from tests.fake_upstream import start_fake_upstream
from tests.procserver import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.timing

KILLS = 5
CLIENTS = 4
CHAT = [{"role": "user", "content": "Say hello"}]


@dataclass
class Ledger:
    full: set[str] = field(default_factory=set)
    """Users whose answer arrived complete (a 200 with the whole body, or the stream to [DONE])."""
    partial: set[str] = field(default_factory=set)
    begun: set[str] = field(default_factory=set)
    """Streams cut by a kill after their answer began (the client had the 200): recorded all the same."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(url: str, n: int, ledger: Ledger, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "OpenAI-Project": "proj_crash"}
    i = 0
    with httpx.Client(base_url=url + "/v1", headers=headers, timeout=10, verify=tls()) as c:
        while not stop.is_set():
            user = f"c{n}-{i}"
            i += 1
            stream = i % 3 == 0
            body = {"model": "gpt-4o", "messages": CHAT, "user": user, "stream": stream}
            begun = False
            try:
                if stream:
                    with c.stream("POST", "/chat/completions", json=body,
                                  headers={"x-fake-chunk-delay": "0.005"}) as r:
                        begun = r.status_code == 200
                        text = b"".join(r.iter_bytes())
                    ok = r.status_code == 200 and text.rstrip().endswith(b"data: [DONE]")
                else:
                    r = c.post("/chat/completions", json=body)
                    ok = r.status_code == 200 and orjson.loads(r.content)["usage"]["prompt_tokens"] == 25
            except httpx.ConnectError:
                time.sleep(0.02)  # the server is down: nothing was sent
                continue
            except (httpx.HTTPError, orjson.JSONDecodeError):
                ok = False
            with ledger.lock:
                (ledger.full if ok else ledger.partial).add(user)
                if begun and not ok:
                    ledger.begun.add(user)


def test_every_received_answer_recorded_once_across_sigkills(tmp_path: Path) -> None:
    upstream = start_fake_upstream()
    db = str(tmp_path / "usage.duckdb")
    srv = ServerProcess(db, tmp_path, ("--upstream", upstream.url, "--upstream-key", "sk-up"))
    ledger = Ledger()
    stop = threading.Event()
    rng = random.Random(11)
    srv.start()
    threads = [threading.Thread(target=client_loop, args=(srv.url, n, ledger, stop), daemon=True)
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.4, 1.0))
            srv.kill()
            srv.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert srv.terminate() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
        upstream.stop()
    store = open_store(db)
    try:
        rows = store._reader().execute(  # type: ignore[attr-defined]
            "SELECT user_id, id FROM events WHERE project_id = 'proj_crash'").fetchall()
    finally:
        store.close()
    recorded: dict[str, list[str]] = {}
    for user, event_id in rows:
        recorded.setdefault(user, []).append(event_id)
    asked = {orjson.loads(r.body)["user"] for r in upstream.app.requests}
    print(f"\n{KILLS} kills: {len(asked)} requests answered upstream, {len(ledger.full)} received in full, "
          f"{len(recorded)} recorded ({sum(len(v) for v in recorded.values())} events), "
          f"{len(ledger.partial)} cut off by a kill ({len(ledger.begun)} streams after their answer began)")
    assert len(ledger.full) > 100
    missing = ledger.full - set(recorded)
    assert not missing, f"{len(missing)} answers received in full but not recorded: {sorted(missing)[:10]}"
    twice = {u: ids for u, ids in recorded.items() if len(ids) > 1}
    assert not twice, twice
    assert set(recorded) <= asked
    cut = [u for u in ledger.full if recorded[u][0].startswith("pxy-cut-")]
    assert not cut, cut
    assert ledger.begun, "no stream was cut by a kill"
    unrecorded = ledger.begun - set(recorded)
    assert not unrecorded, f"streams cut by a kill, not recorded: {sorted(unrecorded)}"
    # (marked cut, or complete when the kill came after the stream's own end was journaled)
    assert not list((tmp_path / "usage.duckdb.proxy-journal").glob("*.jnl"))  # trimmed at the clean stop


def _event(i: int) -> dict[str, object]:
    return {"id": f"pxy-test-{i}", "type": "completions", "timestamp": time.time(), "project_id": "proj_j",
            "model": "m", "input_tokens": i, "num_model_requests": 1}


def test_torn_last_record_ignored(tmp_path: Path) -> None:
    seg = tmp_path / "dead-0.jnl"
    data = b"".join(encode(_event(i)) for i in range(5))
    for cut in (1, 7, 20):
        seg.write_bytes(data + encode(_event(5))[:-cut])
        assert [e["id"] for e in read_segment(seg)] == [f"pxy-test-{i}" for i in range(5)]
    seg.write_bytes(data[:-3] + b"\x00" * 50)  # a damaged record ends the segment
    assert len(list(read_segment(seg))) == 4


def test_replay_at_start_is_idempotent_and_spares_live_journals(tmp_path: Path) -> None:
    """Segments of a dead process are replayed once (events already stored count once, an event the
    store refuses costs only itself), a live process's journal is left alone."""
    journal = tmp_path / "usage.duckdb.proxy-journal"
    journal.mkdir()
    bad = {**_event(99), "input_tokens": -5}  # refused by validation: left out, the others still replayed
    (journal / "deadbeef-0.jnl").write_bytes(b"".join(encode(e) for e in [*map(_event, range(7)), bad,
                                                                           *map(_event, range(7, 10))]))
    (journal / "deadbeef-1.jnl").write_bytes(b"".join(encode(_event(i)) for i in range(5, 20)) + b"\x07\x00")
    live = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, pathlib; from openusage.proxy.journal import Journal, encode;"
        f"j = Journal(pathlib.Path({str(journal)!r}), 'alive');"
        "j.path(0).write_bytes(encode({'id': 'alive-1', 'type': 'completions', 'timestamp': 1.0}));"
        "print('ready', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, env={**os.environ})
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == b"ready"
        store = new_store(tmp_path / "usage.duckdb")
        from openusage.ingest.events import validate_events
        store.insert([validate_events([_event(i) for i in range(3)])])  # committed before the crash
        store.close()
        upstream = start_fake_upstream()
        srv = ServerProcess(str(tmp_path / "usage.duckdb"), tmp_path, ("--upstream", upstream.url))
        for _ in range(2):  # a second start replays nothing more
            with srv:
                with srv.client() as c:
                    r = c.get("/v1/organization/usage/completions",
                              params={"start_time": int(time.time()) - 3600, "project_ids": "proj_j",
                                      "end_time": int(time.time()) + 2})  # past this second's events
                    results = [res for b in r.json()["data"] for res in b["results"]]
                    assert sum(x["num_model_requests"] for x in results) == 20
                    assert sum(x["input_tokens"] for x in results) == sum(range(20))
                srv.terminate()
        upstream.stop()
        assert sorted(p.name for p in journal.iterdir()) == ["alive-0.jnl", "alive.lock"]
    finally:
        live.kill()
        live.wait()
    assert [lock.name for lock, _ in orphans(journal)] == ["alive.lock"]  # its lock went with it
    for lock, segments in orphans(journal):
        release(lock, segments)


@pytest.mark.parametrize("groups", [1, 50])
def test_group_commit_shares_fsyncs(tmp_path: Path, groups: int) -> None:
    import asyncio

    async def run() -> int:
        j = Journal(tmp_path / f"j{groups}", "me")
        futs = [j.append(encode(_event(i))) for i in range(200)]
        await asyncio.gather(*futs)
        j.close()
        return j.fsyncs

    assert asyncio.run(run()) < 200


def test_open_records_carried_forward_and_segments_deleted_in_order(tmp_path: Path) -> None:
    """A stream's open record outlives the segments it was written in, until its own end is recorded;
    a segment goes only after every older one, so an end never goes before its open record."""
    import asyncio

    from openusage.proxy.journal import OPEN, resolve

    opened = {**_event(1), "id": "pxy-cut-p-1", OPEN: True}
    final = {**_event(1), "id": "pxy-p-1"}

    def names() -> list[str]:
        return sorted(p.name for p in tmp_path.glob("*.jnl"))

    async def settled(j: Journal) -> None:
        await j.append(encode(_event(0)))  # a record after the others: they are written too
        await asyncio.sleep(0.05)

    async def run() -> None:
        j = Journal(tmp_path, "me")
        await j.append(encode(opened), opens="p-1")
        j.rotate()  # segment 0 holds the open record
        await j.append(encode(_event(2)))
        j.rotate()  # segment 1
        j.trim(1)
        await settled(j)
        assert names() == ["me-0.jnl", "me-1.jnl", "me-2.jnl"]  # 1 waits for 0
        j.trim(0)
        await settled(j)
        assert names() == ["me-2.jnl"]  # the open record went on to segment 2
        assert [r["id"] for r in read_segment(tmp_path / "me-2.jnl") if r.get(OPEN)] == ["pxy-cut-p-1"]
        await j.append(encode(final), closes="p-1")
        j.rotate()
        j.trim(2)
        await settled(j)
        assert names() == ["me-3.jnl"] and not any(r.get(OPEN) for r in read_segment(tmp_path / "me-3.jnl"))
        j.close()

    asyncio.run(run())
    assert resolve([opened, final]) == [final]
    assert resolve([opened, {**opened}]) == [{k: v for k, v in opened.items() if k != OPEN}]
