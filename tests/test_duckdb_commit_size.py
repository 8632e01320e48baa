"""One commit larger than an embedded store's memory bound: DuckDB holds a commit's rows and id index in
memory while it makes them durable, and when that fails at the commit itself it invalidates the
database (700,000 small events under 64 MiB did).  Such a commit is refused before it starts, in one
clear message, through every way in: the store, the HTTP API (413, the other requests of the same
group commit stored), and ``openusage ingest``; the store keeps working."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from openusage.ingest.events import validate_events
from openusage.server.app import ServerSettings
from openusage.store.base import CommitTooLargeError
from openusage.store.duckdb_store import COMMIT_MEMORY_SHARE, DuckDBStore
from openusage.store.writer import Writer
from tests.conftest import ADMIN_KEY, start_server
from tests.test_duckdb_slices import duck

T0 = 1_767_225_600
BIG = 450_000
"""Small events past twice 64 MiB as Arrow columns (about 325 bytes each)."""


def small(n: int, prefix: str = "") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "type": "completions", "timestamp": T0 + i * 7 % 2_592_000, "input_tokens": 1}
            for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = duck(f"duckdb://{tmp_path}/s.duckdb?memory_limit=64MiB")
    yield s
    s.close()


def test_the_store_refuses_a_commit_past_its_memory_share(store: DuckDBStore) -> None:
    batch = validate_events(small(BIG))
    assert batch.to_arrow().nbytes > COMMIT_MEMORY_SHARE * store.memory_limit
    with pytest.raises(CommitTooLargeError, match=r"450,000 events in one commit need more memory than this "
                                                  r"store may use \(memory_limit 64 MiB\); nothing of them"):
        store.insert([batch])
    assert store.count_events() == 0
    assert store.insert([validate_events(small(10, "after-"))]) == [10]  # the database is unharmed
    assert store.count_events() == 10


def test_a_group_commit_stores_the_others(store: DuckDBStore) -> None:
    """Requests queued together are committed together; the one too large fails alone."""
    writer = Writer(store.insert)
    try:
        with store._write_lock:  # the writer's first commit waits here, so the next ones queue up as one group
            first = writer.submit(validate_events(small(3, "a-")))
            threading.Event().wait(0.2)
            others = [writer.submit(validate_events(small(5, "b-"))), writer.submit(validate_events(small(BIG, "c-"))),
                      writer.submit(validate_events(small(7, "d-")))]
        assert first.result(60) == 3
        assert others[0].result(60) == 5 and others[2].result(60) == 7
        with pytest.raises(CommitTooLargeError):
            others[1].result(60)
    finally:
        writer.close()
    assert store.count_events() == 15


def test_the_api_answers_413_and_stores_the_next_request(store: DuckDBStore) -> None:
    srv = start_server(store, ServerSettings(admin_key=ADMIN_KEY, max_body_bytes=64 * 2**20))
    try:
        with srv.client() as c:
            body = b"\n".join(orjson.dumps(e) for e in small(BIG))
            r = c.post("/v1/usage/events", content=body, headers={"content-type": "application/x-ndjson"})
            assert r.status_code == 413, r.text
            err = r.json()["error"]
            assert err["code"] == "commit_too_large" and "memory_limit" in err["message"]
            r = c.post("/v1/usage/events", json={"events": small(4, "next-")})
            assert r.status_code == 200 and r.json()["accepted"] == 4
            r = c.get("/v1/organization/usage/completions", params={"start_time": T0, "limit": 31})
            assert r.status_code == 200
            assert sum(x["num_model_requests"] for b in r.json()["data"] for x in b["results"]) == 4
    finally:
        srv.stop()


def test_openusage_ingest_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in small(BIG)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    db = f"duckdb://{tmp_path}/c.duckdb?memory_limit=64MiB"
    proc = subprocess.run(["openusage", "ingest", str(path), "--chunk-size", "1000000", "--db", db],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and "need more memory than this store may use" in lines[0] and "--chunk-size" in lines[0]
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(["openusage", "ingest", str(path), "--chunk-size", "100000", "--db", db],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
