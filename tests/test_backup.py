"""Backup and restore: never against a live store, never running what a backup says, online while ingesting."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from openusage.auth import create_key
from openusage.cli import cli
from openusage.ingest.events import SCHEMA, validate_events
from openusage.pricing.book import META_KEY
from openusage.runtime import new_local_key, read_runtime, write_runtime
from openusage.store import open_store
from openusage.store.sql import ROLLUPS
from tests.conftest import tls
from tests.procserver import ADMIN_KEY, ServerProcess

DAY = 86400
T0 = 1_700_006_400 // DAY * DAY


def events(tag: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{tag}-{i}", "type": "completions", "timestamp": T0 + i % DAY, "model": "gpt-4o",
             "input_tokens": 3} for i in range(n)]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args])


def one_line_refusal(res: Result, *words: str) -> None:
    """A refusal is exit code 1 and one line naming the problem, never a traceback."""
    out = res.output.strip()
    assert res.exit_code == 1, res.output
    assert "Traceback" not in out and isinstance(res.exception, SystemExit), (res.output, res.exception)
    assert all(w in out for w in words), out


def make_store(path: Path, n: int = 500, rollups: bool = False) -> None:
    store = open_store(f"duckdb:///{path}?rollups=on" if rollups else str(path))
    try:
        store.insert([validate_events(events("b", n))])
        create_key(store, "reader", "read", ["p1"])
        store.set_meta(META_KEY, json.dumps({"version": 1, "prices": []}))
    finally:
        store.close()


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def good_backup(tmp_path: Path) -> Path:
    make_store(tmp_path / "src.duckdb")
    res = run("backup", "--db", str(tmp_path / "src.duckdb"), str(tmp_path / "bk"))
    assert res.exit_code == 0, res.output
    return tmp_path / "bk"


def reseal(bk: Path) -> None:
    """Make the manifest agree with the edited files, as an attacker who edits a backup would."""
    mpath = bk / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["files"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                         for p in sorted(bk.iterdir()) if p.name != "manifest.json" and not p.is_symlink()}
    mpath.write_text(json.dumps(manifest))


# -- restore against a live store ------------------------------------------------------------------


def test_restore_refuses_a_store_held_by_a_running_server(tmp_path: Path, good_backup: Path) -> None:
    db = tmp_path / "live.duckdb"
    acked: set[str] = set()
    with ServerProcess(str(db), tmp_path) as srv, srv.client() as c:
        for k in range(5):
            batch = events(f"live{k}", 300)
            assert c.post("/v1/usage/events", json={"events": batch}).status_code == 200
            acked |= {e["id"] for e in batch}
        before = listing(tmp_path)
        res = run("restore", str(good_backup), "--db", str(db), "--force")
        one_line_refusal(res, "in use by a running server", "stop it first", "Nothing was changed")
        assert listing(tmp_path) == before  # no temporary file, no renamed store, the WAL in place
        for k in range(5, 10):  # the server goes on, into the same file
            batch = events(f"live{k}", 300)
            assert c.post("/v1/usage/events", json={"events": batch}).status_code == 200
            acked |= {e["id"] for e in batch}
        srv.kill()  # no graceful shutdown: the WAL must still be there to replay
    store = open_store(str(db))
    try:
        ids = {r[0] for r in store.execute("SELECT id FROM events")}  # type: ignore[attr-defined]
    finally:
        store.close()
    assert ids == acked and len(acked) == 3000


def test_restore_keeps_the_store_it_replaces(tmp_path: Path, good_backup: Path) -> None:
    db = tmp_path / "old.duckdb"
    crash = ("import os, sys; from openusage.store import open_store; from openusage.ingest.events import "
             "validate_events; from tests.test_backup import events; s = open_store(sys.argv[1]); "
             "s.insert([validate_events(events('old', 77))]); os._exit(0)")
    subprocess.run([sys.executable, "-c", crash, str(db)], check=True)  # a crash: the last commit only in the WAL
    assert Path(f"{db}.wal").stat().st_size > 0
    res = run("restore", str(good_backup), "--db", str(db), "--force")
    assert res.exit_code == 0, res.output
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("old.duckdb.before-restore-") and "wal" not in p.name]
    assert len(kept) == 1 and str(kept[0]) in res.output.replace("\n", "")
    restored, previous = open_store(str(db)), open_store(str(kept[0]))
    try:
        assert restored.count_events() == 500 and len(restored.list_keys()) == 1
        assert restored.get_meta(META_KEY) is not None
        assert previous.count_events() == 77  # nothing of the replaced store is lost, its WAL included
    finally:
        restored.close()
        previous.close()
    assert not [p for p in tmp_path.iterdir() if "restoring" in p.name]


def test_restore_removes_what_a_killed_restore_left(tmp_path: Path, good_backup: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = [tmp_path / f".new.duckdb.restoring-{gone.pid}", tmp_path / f".new.duckdb.restoring-{gone.pid}.wal"]
    for p in stale:
        p.write_bytes(b"half a store")
    res = run("restore", str(good_backup), "--db", str(tmp_path / "new.duckdb"))
    assert res.exit_code == 0, res.output
    assert not any(p.exists() for p in stale)


def test_restore_rebuilds_rollups_and_keeps_keys(tmp_path: Path) -> None:
    make_store(tmp_path / "r.duckdb", 1200, rollups=True)
    assert run("backup", "--db", str(tmp_path / "r.duckdb"), str(tmp_path / "bk")).exit_code == 0
    res = run("restore", str(tmp_path / "bk"), "--db", str(tmp_path / "back.duckdb"))
    assert res.exit_code == 0, res.output
    back = open_store(str(tmp_path / "back.duckdb"))
    try:
        assert back.get_meta("rollups") == "current"
        for table, _ in ROLLUPS:  # rebuilt from the events, each counted once
            assert back.execute(f"SELECT sum(n) FROM {table}")[0][0] == 1200  # type: ignore[attr-defined]
    finally:
        back.close()


# -- hostile or damaged backups ---------------------------------------------------------------------


def write_events(bk: Path, table: pa.Table) -> None:
    pq.write_table(table, bk / "events.parquet")
    manifest = json.loads((bk / "manifest.json").read_text())
    manifest["counts"]["events"] = table.num_rows
    (bk / "manifest.json").write_text(json.dumps(manifest))
    reseal(bk)


def hostile_schema_sql(bk: Path, tmp_path: Path) -> None:
    (bk / "schema.sql").write_text(f"COPY (SELECT 1) TO '{tmp_path / 'pwned.csv'}';\n"
                                   "CREATE TABLE stolen AS SELECT * FROM read_csv('/etc/passwd');\n")
    (bk / "load.sql").write_text("INSERT INTO events SELECT * FROM read_csv('/etc/passwd');\n")
    reseal(bk)


def parent_path_name(bk: Path, tmp_path: Path) -> None:
    manifest = json.loads((bk / "manifest.json").read_text())
    manifest["files"]["../src.duckdb"] = hashlib.sha256((tmp_path / "src.duckdb").read_bytes()).hexdigest()
    (bk / "manifest.json").write_text(json.dumps(manifest))


def absolute_name(bk: Path, tmp_path: Path) -> None:
    manifest = json.loads((bk / "manifest.json").read_text())
    manifest["files"]["/etc/passwd"] = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    (bk / "manifest.json").write_text(json.dumps(manifest))


def symlinked_file(bk: Path, tmp_path: Path) -> None:
    (bk / "api_keys.parquet").unlink()
    (bk / "api_keys.parquet").symlink_to("/etc/passwd")
    manifest = json.loads((bk / "manifest.json").read_text())
    manifest["files"]["api_keys.parquet"] = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    (bk / "manifest.json").write_text(json.dumps(manifest))


def wrong_type(bk: Path, tmp_path: Path) -> None:
    t = pq.read_table(bk / "events.parquet")
    i = t.schema.get_field_index("input_tokens")
    write_events(bk, t.set_column(i, "input_tokens", t.column(i).cast(pa.string())))


def unknown_column(bk: Path, tmp_path: Path) -> None:
    t = pq.read_table(bk / "events.parquet")
    write_events(bk, t.append_column("secret", pa.array(["x"] * t.num_rows)))


def truncated(bk: Path, tmp_path: Path) -> None:
    data = (bk / "events.parquet").read_bytes()
    (bk / "events.parquet").write_bytes(data[: len(data) // 2])
    reseal(bk)


def unknown_event_type(bk: Path, tmp_path: Path) -> None:
    t = pq.read_table(bk / "events.parquet")
    i = t.schema.get_field_index("type")
    write_events(bk, t.set_column(i, "type", pa.array(["'; DROP TABLE events; --"] * t.num_rows)))


def duplicated_ids(bk: Path, tmp_path: Path) -> None:
    t = pq.read_table(bk / "events.parquet")
    write_events(bk, pa.concat_tables([t, t.slice(0, 10)]))


def bad_manifest(bk: Path, tmp_path: Path) -> None:
    (bk / "manifest.json").write_text("{not json")


@pytest.mark.parametrize(("edit", "words"), [
    (hostile_schema_sql, ["unexpected files", "schema.sql"]),
    (parent_path_name, ["outside the backup folder", "../src.duckdb"]),
    (absolute_name, ["outside the backup folder", "/etc/passwd"]),
    (symlinked_file, ["not a regular file"]),
    (wrong_type, ["'input_tokens' is string, expected int64"]),
    (unknown_column, ["unknown column 'secret'"]),
    (truncated, ["not a readable Parquet file"]),
    (unknown_event_type, ["unknown type"]),
    (duplicated_ids, ["Restore check failed"]),
    (bad_manifest, ["not valid JSON"]),
])
def test_edited_backup_is_refused_and_nothing_is_written(tmp_path: Path, good_backup: Path, edit: Any,
                                                         words: list[str]) -> None:
    edit(good_backup, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if not p.is_symlink()}
    res = run("restore", str(good_backup), "--db", str(tmp_path / "new.duckdb"))
    one_line_refusal(res, *words)
    assert len(res.output.strip().splitlines()) <= 2, res.output  # one message (the console may wrap it)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if not p.is_symlink()}
    assert after == before  # nothing created, nothing touched
    assert not (tmp_path / "pwned.csv").exists()


def legacy_backup(tmp_path: Path) -> Path:
    """A backup of the previous format: DuckDB's EXPORT DATABASE and a manifest."""
    import duckdb

    make_store(tmp_path / "src.duckdb", 300)
    bk = tmp_path / "legacy"
    con = duckdb.connect(str(tmp_path / "src.duckdb"))
    con.execute(f"EXPORT DATABASE '{bk}' (FORMAT PARQUET)")
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
              for t in ("openusage_meta", "events", "api_keys")}
    con.close()
    # as the previous release wrote it: the events' own columns (later stores add derived ones)
    pq.write_table(pq.read_table(bk / "events.parquet", columns=SCHEMA.names), bk / "events.parquet")
    (bk / "manifest.json").write_text(json.dumps({"format": "openusage-backup/1", "counts": counts, "files": {}}))
    reseal(bk)
    return bk


def test_legacy_backup_restores_as_data(tmp_path: Path) -> None:
    res = run("restore", str(legacy_backup(tmp_path)), "--db", str(tmp_path / "new.duckdb"))
    assert res.exit_code == 0, res.output
    store = open_store(str(tmp_path / "new.duckdb"))
    try:
        assert store.count_events() == 300 and len(store.list_keys()) == 1
    finally:
        store.close()


@pytest.mark.parametrize("statement", [
    "COPY (SELECT 1) TO '{out}';",
    "CREATE TABLE stolen AS SELECT * FROM read_csv('/etc/passwd');",
    "CREATE TABLE t(x VARCHAR); ATTACH '{out}' AS x;",
])
def test_legacy_backup_with_edited_sql_is_refused(tmp_path: Path, statement: str) -> None:
    bk = legacy_backup(tmp_path)
    with (bk / "schema.sql").open("a") as f:
        f.write(statement.format(out=tmp_path / "pwned.csv") + "\n")
    reseal(bk)
    before = listing(tmp_path)
    one_line_refusal(run("restore", str(bk), "--db", str(tmp_path / "new.duckdb")), "schema.sql", "was edited")
    assert listing(tmp_path) == before and not (tmp_path / "pwned.csv").exists()


def test_bad_destinations_give_one_line(tmp_path: Path, good_backup: Path) -> None:
    one_line_refusal(run("backup", "--db", str(tmp_path / "src.duckdb"), str(tmp_path / "no" / "such" / "bk")),
                     "does not exist")
    one_line_refusal(run("restore", str(good_backup), "--db", str(tmp_path / "no" / "x.duckdb")), "does not exist")
    one_line_refusal(run("backup", "--db", str(tmp_path / "missing.duckdb"), str(tmp_path / "bk2")), "No store")
    one_line_refusal(run("backup", "--db", "postgresql://u@h/db", str(tmp_path / "bk3")), "pg_dump")
    one_line_refusal(run("backup", "--url", "http://127.0.0.1:9", "--key", "k", str(tmp_path / "bk4")),
                     "Cannot reach")
    assert not any("partial" in p.name for p in tmp_path.iterdir())


# -- online backup -----------------------------------------------------------------------------------


def test_online_backup_while_ingesting(tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def stream(client: int, url: str) -> None:
        n = 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30,
                          verify=tls()) as c:
            while not stop.is_set():
                batch = events(f"c{client}-{n}", 100)
                n += 1
                if c.post("/v1/usage/events", json={"events": batch}).status_code == 200:
                    with lock:
                        acked.extend(e["id"] for e in batch)

    with ServerProcess(str(db), tmp_path) as srv:
        threads = [threading.Thread(target=stream, args=(i, srv.url)) for i in range(3)]
        for t in threads:
            t.start()
        try:
            while len(acked) < 3000:
                threading.Event().wait(0.05)
            # A local command on the held store says how to back it up through the server, with the
            # server's address when its runtime file gives it.
            one_line_refusal(run("backup", "--db", str(db), str(tmp_path / "offline")), "--url")
            if read_runtime(str(db)) is None:
                assert srv.proc is not None
                write_runtime(str(db), srv.url, new_local_key(), pid=srv.proc.pid)
            one_line_refusal(run("backup", "--db", str(db), str(tmp_path / "offline")), f"--url {srv.url}")
            one_line_refusal(run("restore", str(tmp_path), "--db", str(db), "--force"), srv.url)
            with lock:
                before = set(acked)
            res = run("backup", "--url", srv.url, "--key", ADMIN_KEY, str(tmp_path / "online"))
            with lock:
                after = set(acked)
            assert res.exit_code == 0, res.output
            # Refused without an admin key, and the client can name no path on the server.
            with srv.client("wrong") as c:
                assert c.post("/v1/openusage/backup").status_code == 401
            # The server's working folder is gone before the answer starts: a client that goes away
            # mid-download leaves nothing behind.
            with srv.client() as c, c.stream("POST", "/v1/openusage/backup") as r:
                assert r.status_code == 200 and int(r.headers["content-length"]) > 0
                assert not [p for p in tmp_path.iterdir() if p.name.startswith(".openusage-backup-")]
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".openusage-backup-")]  # cleaned up
        srv.terminate()
    manifest = json.loads((tmp_path / "online" / "manifest.json").read_text())
    res = run("restore", str(tmp_path / "online"), "--db", str(tmp_path / "restored.duckdb"))
    assert res.exit_code == 0, res.output
    store = open_store(str(tmp_path / "restored.duckdb"))
    try:
        ids = {r[0] for r in store.execute("SELECT id FROM events")}  # type: ignore[attr-defined]
    finally:
        store.close()
    assert before <= ids  # everything acknowledged before the backup began is in it
    assert ids <= set(acked) and len(ids) == manifest["counts"]["events"]
    batches = {i.rsplit("-", 1)[0] for i in ids}
    assert len(ids) == 100 * len(batches)  # one transaction: whole requests only, never half of one
    print(f"\nonline backup while 3 clients ingest: {len(before)} acknowledged before it began, {len(ids)} in it, "
          f"{len(after)} acknowledged by its end, {len(acked)} in all")


def test_backup_route_needs_an_admin_key_and_a_duckdb_store(tmp_path: Path) -> None:
    from openusage.server.app import ServerSettings
    from tests.conftest import start_server
    from tests.storeconf import fresh_store

    with fresh_store("postgresql", tmp_path) as store:
        server = start_server(store, ServerSettings(admin_key=ADMIN_KEY))
        try:
            reader = create_key(store, "reader", "read").secret
            r = httpx.post(f"{server.url}/v1/openusage/backup", headers={"Authorization": f"Bearer {reader}"},
                           verify=tls())
            assert r.status_code == 403
            r = httpx.post(f"{server.url}/v1/openusage/backup", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                           verify=tls())
            assert r.status_code == 400 and "pg_dump" in r.json()["error"]["message"]
            res = run("backup", "--url", server.url, "--key", ADMIN_KEY, str(tmp_path / "bk"))
            one_line_refusal(res, "refused the backup (400)", "pg_dump")
            assert not (tmp_path / "bk").exists()
        finally:
            server.stop()


def test_restore_moves_an_orphan_wal_aside(tmp_path: Path, good_backup: Path) -> None:
    """A WAL left without its file would be replayed into the restored store: it is kept aside instead."""
    (tmp_path / "new.duckdb.wal").write_bytes(b"not this store's log")
    res = run("restore", str(good_backup), "--db", str(tmp_path / "new.duckdb"))
    assert res.exit_code == 0, res.output
    kept = list(tmp_path.glob("new.duckdb.before-restore-*.wal"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"not this store's log"
    store = open_store(str(tmp_path / "new.duckdb"))
    try:
        assert store.count_events() == 500
    finally:
        store.close()


def test_online_backup_on_a_full_disk_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    from tests.test_faults import fill, small_disk

    with small_disk(tmp_path / "disk", "8m") as disk:
        db = disk / "usage.duckdb"
        with ServerProcess(str(db), tmp_path) as srv, srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": events("full", 20_000)}).status_code == 200
            fill(disk / "filler")
            r = c.post("/v1/openusage/backup")
            assert r.status_code == 503 and r.json()["error"]["code"] == "backup_failed", r.text
            one_line_refusal(run("backup", "--url", srv.url, "--key", ADMIN_KEY, str(tmp_path / "bk")),
                             "refused the backup (503)", "nothing was kept")
            assert not [p for p in disk.iterdir() if p.name.startswith(".openusage-backup-")]
            assert not (tmp_path / "bk").exists()
            (disk / "filler").unlink()
            res = run("backup", "--url", srv.url, "--key", ADMIN_KEY, str(tmp_path / "bk"))
            assert res.exit_code == 0, res.output
            srv.terminate()
