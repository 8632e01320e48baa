"""``openusage serve`` from start to stop, through the real console script in child processes.

* a port in use fails before anything is promised: one line, exit 1, no key spent, no store made;
* while a server runs, every command given only ``--db`` goes through it (the runtime file);
* SIGTERM drains, checkpoints and closes: exit 0, no write-ahead log left, every event there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx

from openusage.runtime import read_runtime, runtime_path
from openusage.store import open_store
from tests.conftest import free_port, tls
from tests.procserver import ServerProcess

DAY = 86400
T0 = (int(time.time()) // DAY - 3) * DAY
OPENUSAGE = shutil.which("openusage") or "openusage"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The console script with no ambient key or URL (a command finds the server by itself)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    return subprocess.run([OPENUSAGE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**base, "COLUMNS": "200", **(env or {})})


def events(tag: str, n: int, model: str = "gpt-4o") -> list[dict[str, object]]:
    return [{"id": f"{tag}-{i}", "type": "completions", "timestamp": T0 + i % DAY, "model": model,
             "input_tokens": 3, "output_tokens": 1} for i in range(n)]


def test_port_in_use_is_one_line_and_spends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "usage.duckdb"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run("serve", "--db", str(db), "--port", str(port), timeout=60)
    assert res.returncode == 1, res
    assert res.stdout == ""  # no address, no key "shown this once", no curl line
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr
    assert f"port {port}" in res.stderr and "--port" in res.stderr
    assert not db.exists()  # listening comes first: the store was never opened, no key created


def test_a_second_server_on_the_same_store_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    with ServerProcess(db, tmp_path) as srv:
        res = run("serve", "--db", db, "--port", str(free_port()), timeout=60)
        assert res.returncode == 1 and res.stdout == ""
        assert f"already serves {db} at {srv.url}" in res.stderr and "Traceback" not in res.stderr


def test_every_command_goes_through_the_running_server(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    data = tmp_path / "events.ndjson"
    data.write_text("".join(json.dumps(e) + "\n" for e in events("f", 300) + events("u", 5, "my-llama")))
    with ServerProcess(db, tmp_path) as srv:
        rt = read_runtime(db)
        path = runtime_path(db)
        assert rt is not None and path is not None and rt.url == srv.url and rt.pid == srv.proc.pid  # type: ignore[union-attr]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        local = {"Authorization": f"Bearer {rt.key}"}
        assert httpx.get(f"{srv.url}/v1/openusage/keys", headers=local, verify=tls()).status_code == 200

        ok = run("ingest", str(data), "--db", db)
        assert ok.returncode == 0 and "305 events stored" in ok.stdout, ok
        usage = run("usage", "completions", "--since", str(T0), "--until", str(T0 + DAY), "--group-by", "model",
                    "--db", db)
        assert usage.returncode == 0 and "gpt-4o" in usage.stdout and "900" in usage.stdout, usage
        costs = run("costs", "--since", str(T0), "--until", str(T0 + DAY), "--db", db)
        assert costs.returncode == 0 and "/v1/organization/costs" in costs.stdout and "my-llama" in costs.stderr

        created = run("keys", "create", "--name", "ci", "--scope", "read", "--db", db)
        assert created.returncode == 0, created
        secret = created.stdout.strip().splitlines()[-1]
        assert httpx.get(f"{srv.url}/v1/organization/usage/completions", params={"start_time": T0},
                         headers={"Authorization": f"Bearer {secret}"}, verify=tls()).status_code == 200
        listed = run("keys", "list", "--db", db)
        key_id = secret.split("_")[1]
        assert listed.returncode == 0 and key_id in listed.stdout
        assert run("keys", "revoke", key_id, "--db", db).returncode == 0

        missing = run("prices", "missing", "--since", str(T0), "--until", str(T0 + DAY), "--db", db)
        assert missing.returncode == 0 and "my-llama" in missing.stdout, missing
        assert run("prices", "set", "my-llama", "--input", "0.5", "--output", "1.5", "--from", "2023-01-01",
                   "--db", db).returncode == 0
        listed = run("prices", "list", "--custom", "--db", db)
        assert listed.returncode == 0 and "my-llama" in listed.stdout
        missing = run("prices", "missing", "--since", str(T0), "--until", str(T0 + DAY), "--db", db)
        assert "Every usage in the range is priced." in missing.stdout, missing
        assert run("prices", "remove", "my-llama", "--from", "2023-01-01", "--db", db).returncode == 0

        moved = run("migrate", "--from", db, "--to", str(tmp_path / "copy.duckdb"))
        assert moved.returncode == 1 and "held by a running server" in moved.stderr and "stop it" in moved.stderr
        assert "Traceback" not in moved.stderr
        assert srv.terminate() == 0
    assert not path.exists()
    assert read_runtime(db) is None
    # Stopped: the same commands open the file themselves, and the per-run key died with the server.
    listed = run("keys", "list", "--db", db)
    assert listed.returncode == 0 and key_id in listed.stdout
    with ServerProcess(db, tmp_path) as again:
        assert httpx.get(f"{again.url}/v1/openusage/keys",
                         headers={"Authorization": f"Bearer {rt.key}"}, verify=tls()).status_code == 401


def test_a_stale_or_foreign_runtime_file_is_ignored(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    path = runtime_path(db)
    assert path is not None
    path.write_text(json.dumps({"url": "http://127.0.0.1:9", "key": "x", "pid": 2**22 + 7, "store": db}))
    path.chmod(0o600)
    res = run("keys", "list", "--db", db)  # a dead pid: the file is read directly
    assert res.returncode == 0, res
    path.write_text(json.dumps({"url": "http://127.0.0.1:9", "key": "x", "pid": os.getpid(), "store": db}))
    path.chmod(0o644)  # readable by others: not trusted
    assert run("keys", "list", "--db", db).returncode == 0
    path.chmod(0o600)  # a live pid (reused after a kill) but nothing listens: the file is stale
    assert run("keys", "list", "--db", db).returncode == 0
    with ServerProcess(db, tmp_path) as srv:  # and a new server replaces it
        rt = read_runtime(db)
        assert rt is not None and rt.url == srv.url


def test_sigterm_checkpoints_closes_and_exits_zero(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    srv = ServerProcess(db, tmp_path)
    srv.start()
    with srv.client(timeout=120) as c:
        for i in range(4):
            r = c.post("/v1/usage/events", json={"events": events(f"t{i}", 25_000)})
            assert r.status_code == 200 and r.json()["accepted"] == 25_000
        for _ in range(4):  # readers on several threads hold cursors on the database
            assert c.get("/v1/organization/usage/completions", params={"start_time": T0}).status_code == 200
    wal = Path(db + ".wal")
    assert wal.exists() and wal.stat().st_size > 0
    print(f"\nwrite-ahead log before SIGTERM: {wal.stat().st_size / 1e6:.1f} MB")
    assert srv.terminate(timeout=120) == 0, srv.log_text()
    assert not wal.exists() or wal.stat().st_size == 0
    assert read_runtime(db) is None and not Path(db + ".server.json").exists()
    store = open_store(db)
    try:
        assert store.count_events() == 100_000
    finally:
        store.close()
