"""A fault schedule: SIGKILLs at random (seeded) times and a store outage, under mixed load.

Three clients ingest (retrying each batch until acknowledged), one calls models through the metering
proxy (a real ``openusage serve --upstream`` child in front of ``tests/fake_upstream.py``), one
queries.  Meanwhile the server is killed with SIGKILL at seeded random moments and its disk fills up
for a while (a small tmpfs).  Afterwards:

* every acknowledged event is stored exactly once (and nothing that was never sent);
* the usage endpoint answers exactly what the reference model computes from the stored events,
  before and after the clients re-send everything;
* every proxied answer delivered to the client is recorded exactly once, and no call twice;
* every answer is a 200 or a 503 with ``retry-after`` (or a cut connection), never another error.

Set ``OPENUSAGE_FAULT_SEED`` to replay a schedule; the seed is printed with the figures.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openusage.spec import ENDPOINTS_BY_TYPE
from openusage.store import open_store
from tests.conftest import tls
from tests.fake_upstream import start_fake_upstream
from tests.procserver import ADMIN_KEY, ServerProcess
from tests.reference import fetch_all, reference_buckets
from tests.test_crash import BATCH, DAY, DAY_START, Ledger, make_batch
from tests.test_faults import fill

pytestmark = pytest.mark.timing

CLIENTS = 3
KILLS = 3
OUTAGE_S = 1.5
PROJECT = "proj_px"
BUDGET_S = 45
"""The whole schedule (faults, load, checks) stays under this; every loop below is bounded by it."""


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[bool]:
    """A small tmpfs at ``where`` when mounting works here (True), else a plain folder (False)."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


class Load:
    """The clients' shared record of what they sent and what they were told."""

    def __init__(self, deadline: float) -> None:
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.deadline = deadline
        self.lock = threading.Lock()
        self.delivered: dict[str, float] = {}  # proxied calls whose full answer reached the client, and when
        self.attempted: set[str] = set()
        self.statuses: Counter[str] = Counter()
        self.unavailable = 0

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def saw(self, kind: str, status: int) -> None:
        with self.lock:
            self.statuses[f"{kind} {status}"] += 1


def ingest(url: str, client: int, load: Load) -> None:
    """Send batches, each retried until acknowledged (or the schedule ends)."""
    rng = random.Random(client)
    ledger = load.ledger
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10, verify=tls()) as c:
        n = 0
        while load.running():
            batch = make_batch(client, n, rng)
            n += 1
            tokens = {e["id"]: e["input_tokens"] for e in batch}
            with ledger.lock:
                ledger.batches.append(batch)
            while load.running():
                try:
                    r = c.post("/v1/usage/events", json={"events": batch})
                except httpx.ConnectError:  # down: nothing sent
                    time.sleep(0.05)
                    continue
                except httpx.HTTPError:  # cut mid-request: fate unknown
                    with ledger.lock:
                        ledger.unknown.update(tokens)
                        ledger.lost_answers += 1
                    continue
                load.saw("ingest", r.status_code)
                if r.status_code == 200:
                    with ledger.lock:
                        ledger.acked.update(tokens)
                    time.sleep(0.03)  # a steady stream, not a flood: the machine is shared
                    break
                with ledger.lock:
                    ledger.unknown.update(tokens)
                if r.status_code == 503:
                    load.unavailable += 1
                    time.sleep(0.1)


def call_models(url: str, key: str, load: Load) -> None:
    """Chat completions through the proxy, each tagged by its own ``user``; no retries."""
    n = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10, verify=tls()) as c:
        while load.running():
            tag = f"px-{n}"
            n += 1
            with load.lock:
                load.attempted.add(tag)
            try:
                r = c.post("/v1/chat/completions", json={"model": "gpt-4o", "user": tag,
                                                         "messages": [{"role": "user", "content": "hi"}]})
                body = r.json() if r.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                time.sleep(0.05)
                continue
            load.saw("proxy", r.status_code)
            if body is not None and body.get("usage"):
                with load.lock:
                    load.delivered[tag] = time.monotonic()
            time.sleep(0.02)


def query(url: str, load: Load) -> None:
    params = {"start_time": DAY_START, "end_time": DAY_START + 2 * DAY, "bucket_width": "1d", "group_by": "user_id"}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10, verify=tls()) as c:
        while load.running():
            try:
                r = c.get("/v1/organization/usage/completions", params=params)
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            load.saw("query", r.status_code)
            if r.status_code == 503:
                assert r.headers.get("retry-after")
            time.sleep(0.05)


def stored_rows(db: str) -> list[tuple[Any, ...]]:
    store = open_store(db)
    try:
        return store.execute("SELECT id, input_tokens, project_id, user_id FROM events")  # type: ignore[attr-defined]
    finally:
        store.close()


def check_answers(c: httpx.Client, events: list[dict[str, Any]]) -> int:
    """The usage endpoint against the reference model over ``events``; returns the queries compared."""
    ep = ENDPOINTS_BY_TYPE["completions"]
    users = [f"u{i}" for i in range(CLIENTS)]
    queries: list[dict[str, Any]] = [{"bucket_width": "1d", "group_by": ["user_id"]},
                                     {"bucket_width": "1h", "group_by": ["model", "user_id"]},
                                     {"bucket_width": "1d", "user_ids": users[:2]}]
    for q in queries:
        items = [("start_time", str(DAY_START)), ("end_time", str(DAY_START + 2 * DAY)),
                 ("bucket_width", q["bucket_width"]), ("limit", "48" if q["bucket_width"] == "1h" else "7")]
        items += [("group_by", g) for g in q.get("group_by", [])] + [("user_ids", u) for u in q.get("user_ids", [])]
        got = [b for page in fetch_all(c, ep.full_path, items) for b in page["data"]]
        want = reference_buckets(ep, events, start_time=DAY_START, end_time=DAY_START + 2 * DAY,
                                 bucket_width=q["bucket_width"], group_by=q.get("group_by", ()),
                                 filters={"user_ids": q["user_ids"]} if "user_ids" in q else None)
        assert got == want, f"query {q}: the API differs from the reference model"
    return len(queries)


def test_fault_schedule(tmp_path: Path) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("OPENUSAGE_FAULT_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"\nfault schedule seed {seed} (OPENUSAGE_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    faults = ["kill"] * KILLS + ["outage"]
    rng.shuffle(faults)
    upstream = start_fake_upstream()
    with small_disk(tmp_path / "disk", "24m") as mounted:
        db = str(tmp_path / "disk" / "usage.duckdb")
        # The proxy's journal sits beside the store (its default), on the disk that fills up.
        srv = ServerProcess(db, tmp_path, args=("--upstream", upstream.url))
        srv.start()
        with srv.client() as c:
            r = c.post("/v1/openusage/keys", json={"name": "fault proxy", "scope": "proxy", "projects": [PROJECT]})
            assert r.status_code == 201, r.text
            proxy_key = r.json()["key"]
        load = Load(deadline=started + BUDGET_S - 20)
        workers = [threading.Thread(target=ingest, args=(srv.url, i, load)) for i in range(CLIENTS)]
        workers += [threading.Thread(target=call_models, args=(srv.url, proxy_key, load)),
                    threading.Thread(target=query, args=(srv.url, load))]
        for t in workers:
            t.start()
        injected: list[str] = []
        try:
            for fault in faults:
                time.sleep(rng.uniform(0.5, 1.5))
                at = time.monotonic() - started
                if fault == "kill":
                    srv.kill()
                    srv.start()
                    injected.append(f"SIGKILL at {at:.1f}s, up at {time.monotonic() - started:.1f}s")
                elif mounted:
                    filler = tmp_path / "disk" / "filler"
                    fill(filler)
                    before = load.unavailable
                    deadline = time.monotonic() + OUTAGE_S * 3
                    while load.unavailable == before and time.monotonic() < deadline:
                        time.sleep(0.05)
                    time.sleep(OUTAGE_S)
                    filler.unlink()
                    injected.append(f"disk full from {at:.1f}s to {time.monotonic() - started:.1f}s "
                                    f"({load.unavailable - before} ingest 503s)")
            time.sleep(rng.uniform(0.3, 1.0))
        finally:
            load.stop.set()
            for t in workers:
                t.join(timeout=30)
        assert not any(t.is_alive() for t in workers)
        # A fault shows as a 503 with retry-after or a cut connection, never as another error.
        bad = {s: n for s, n in load.statuses.items() if s.split()[1] not in ("200", "503")}
        assert not bad, f"unexpected answers: {bad}"
        assert srv.terminate() in (0, -15)

        # Every acknowledged event is stored exactly once; nothing stored was never sent.
        ledger = load.ledger
        sent = {e["id"]: e for batch in ledger.batches for e in batch}
        rows = stored_rows(db)
        ingested = {r[0]: r[1] for r in rows if r[2] is None}
        assert len(ingested) == len([r for r in rows if r[2] is None])
        assert set(ledger.acked) <= set(ingested) <= set(sent)
        assert all(ingested[k] == v for k, v in ledger.acked.items())

        # After recovery the API agrees with the reference model, before and after re-sending.
        srv.start()  # recovery: replays what the killed processes journaled
        with srv.client() as c:
            compared = check_answers(c, [sent[k] for k in sent if k in ingested])
            added = 0
            for batch in ledger.batches:
                r = c.post("/v1/usage/events", json={"events": batch})
                assert r.status_code == 200, r.text
                added += r.json()["accepted"]
            assert added == len(sent) - len(ingested)
            compared += check_answers(c, list(sent.values()))
        assert srv.terminate() in (0, -15)

        # Every proxied answer delivered is recorded once; no call is recorded twice.
        recorded = Counter(r[3] for r in stored_rows(db) if r[2] == PROJECT)
    upstream.stop()
    twice = {u: n for u, n in recorded.items() if n > 1}
    missing = sorted(set(load.delivered) - set(recorded), key=lambda t: load.delivered[t])
    lost_at = sorted({round(load.delivered[t] - started, 1) for t in missing})
    print(f"faults injected: {len(injected)} ({'; '.join(injected)})\n"
          f"ingest events acknowledged {len(ledger.acked)}, stored {len(ingested)} (of {len(sent)} sent); "
          f"{ledger.lost_answers} ingest answers lost\n"
          f"proxied calls {len(load.attempted)}, answers delivered {len(load.delivered)}, recorded "
          f"{sum(recorded.values())}; {len(missing)} delivered but not recorded (delivered at {lost_at} s)\n"
          f"statuses {dict(load.statuses)}; disk {'tmpfs' if mounted else 'not mountable: no outage'}\n"
          f"{compared} queries equal to the reference model; {time.monotonic() - started:.1f}s")
    assert not twice, f"proxied calls recorded more than once: {twice}"
    assert not missing, f"{len(missing)} delivered proxied answers not recorded, e.g. {missing[:3]}"
    assert len(ledger.acked) >= BATCH * CLIENTS and len(load.delivered) > 0
