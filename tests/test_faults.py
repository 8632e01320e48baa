"""Faults of the environment: a full disk under the embedded store, PostgreSQL going away.

Each must give a clear 503 in OpenAI's envelope with ``retry-after`` (never a silent drop, never a
500), acknowledge nothing that is not durable, and recover by itself when the fault goes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openusage.store import open_store
from tests.conftest import free_port
from tests.procserver import ServerProcess

pytestmark = pytest.mark.timing

DAY = 86400
T0 = 1_700_006_400 // DAY * DAY
RANGE = {"start_time": T0, "end_time": T0 + DAY, "bucket_width": "1d"}


def batch(tag: str, n: int = 200) -> list[dict[str, Any]]:
    return [{"id": f"{tag}-{i}-" + "x" * 120, "type": "completions", "timestamp": T0 + i, "model": "m" * 60,
             "user_id": f"user-{i % 7}", "input_tokens": 1} for i in range(n)]


def counted(c: httpx.Client) -> int:
    r = c.get("/v1/organization/usage/completions", params=RANGE)
    assert r.status_code == 200, r.text
    return sum(x["num_model_requests"] for b in r.json()["data"] for x in b["results"])


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers["retry-after"] == "2"
    err = r.json()["error"]
    assert err["type"] == "server_error" and err["code"] == "store_unavailable" and err["param"] is None
    assert "nothing of this request was recorded" in err["message"]


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Take every free byte of the filesystem holding ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512):
            with contextlib.suppress(OSError):
                for _ in range(100_000):
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def test_full_disk_answers_503_and_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "6m") as disk:
        db = str(disk / "usage.duckdb")
        with ServerProcess(db, tmp_path) as srv, srv.client() as c:
            acked: set[str] = set()
            r = c.post("/v1/usage/events", json={"events": batch("before")})
            assert r.status_code == 200
            acked |= {e["id"] for e in batch("before")}
            fill(disk / "filler")
            refused: list[list[dict[str, Any]]] = []
            for k in range(60):
                events = batch(f"full{k}")
                r = c.post("/v1/usage/events", json={"events": events})
                if r.status_code == 200:
                    acked |= {e["id"] for e in events}
                else:
                    assert_unavailable(r)
                    refused.append(events)
                if len(refused) >= 3:
                    break
            assert len(refused) >= 3, "the disk never filled"
            assert counted(c) == len(acked)  # reads still work; nothing refused was stored
            (disk / "filler").unlink()
            for events in refused:  # the client's retry, once space is back
                r = c.post("/v1/usage/events", json={"events": events})
                assert r.status_code == 200 and r.json() == {"accepted": len(events), "duplicates": 0}
                acked |= {e["id"] for e in events}
            assert counted(c) == len(acked)
            assert c.get("/readyz").status_code == 200
            srv.terminate()
        store = open_store(db)
        try:
            assert store.count_events() == len(acked)
        finally:
            store.close()


# -- PostgreSQL going away ---------------------------------------------------------------------


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster owned by the ``postgres`` OS user, on its own port.

    Never the shared server on 5432: this one lives in a temporary directory and is stopped and
    started by the test.
    """

    def __init__(self) -> None:
        bindir = pg_bin()
        if bindir is None or shutil.which("runuser") is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="openusage-pg-"))  # pytest's tmp dirs are root-only
        shutil.chown(self.root, "postgres", "postgres")
        self.dir = self.root / "pgdata"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              check=check, timeout=120)

    def init(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres",
                          "--no-sync")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-o", opts, "-l",
                          str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop",
                          check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def test_postgres_going_away_answers_503_and_recovers(tmp_path: Path) -> None:
    pytest.importorskip("psycopg_pool")
    pg = PrivatePostgres()
    pg.init()
    pg.start()
    try:
        with ServerProcess(pg.url, tmp_path) as srv, srv.client(timeout=90) as c:
            acked: set[str] = set()
            events = batch("pg-up", 50)
            assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
            acked |= {e["id"] for e in events}
            pg.stop()
            down = batch("pg-down", 50)
            waited = []
            for call in (lambda: c.post("/v1/usage/events", json={"events": down}),
                         lambda: c.get("/v1/organization/usage/completions", params=RANGE),
                         lambda: c.get("/readyz")):
                started = time.monotonic()
                r = call()
                waited.append(round(time.monotonic() - started, 1))
                if r.url.path == "/readyz":
                    assert r.status_code == 503 and r.json() == {"status": "unavailable"}
                else:
                    assert_unavailable(r)
            pg.start()
            deadline = time.monotonic() + 60
            while True:  # the client's retries; the server reconnects by itself
                r = c.post("/v1/usage/events", json={"events": down})
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                assert_unavailable(r)
                time.sleep(float(r.headers["retry-after"]) / 4)
            assert r.status_code == 200, r.text
            acked |= {e["id"] for e in down}
            assert counted(c) == len(acked)
            assert c.get("/readyz").status_code == 200
            print(f"\nPostgreSQL down: ingest 503, query 503, readyz 503 answered in {waited} s")
    finally:
        pg.remove()
