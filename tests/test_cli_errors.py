"""Bad input to usage, costs, ingest and sync: one clear line and the right exit code, never a traceback.

Each case runs the real ``openusage`` console script in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import LiveServer, free_port
from tests.procserver import default_sigint

DOWN = f"http://127.0.0.1:{free_port()}"  # nothing listens there


def openusage(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    for name in ("OPENUSAGE_URL", "OPENUSAGE_DB", "OPENUSAGE_API_KEY", "OPENUSAGE_ADMIN_KEY"):
        env.pop(name, None)
    return subprocess.run(["openusage", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "good.json").write_bytes(orjson.dumps({"events": [{"id": "g1", "type": "completions",
                                                            "timestamp": 1_795_000_000, "input_tokens": 1}]}))
    (d / "garbage.ndjson").write_bytes(b"\xff\xfe\x00garbage\n")
    (d / "trailing.ndjson").write_bytes(b'{"id": "a", "type": "completions", "timestamp": 1795000000}\n{"id": \n')
    (d / "notparquet.parquet").write_text("not parquet")
    (d / "broken.csv").write_text('id,type,timestamp\n1,completions,1795000000\n"unterminated\n')
    (d / "empty.json").write_text("")
    (d / "scalar.json").write_text("42")
    (d / "strings.json").write_text('["a", "b"]')
    (d / "events.txt").write_text("{}")
    (d / "adir").mkdir()
    return d


CASES: dict[str, tuple[list[str], int, str]] = {
    # name: (arguments, exit code, a word the message must hold)
    "usage-unknown-endpoint": (["usage", "nope"], 2, "completions"),
    "usage-bad-group-by": (["usage", "completions", "--group-by", "model,colour"], 2, "service_tier"),
    "usage-bad-since": (["usage", "completions", "--since", "last week"], 2, "yesterday"),
    "usage-bad-until": (["usage", "completions", "--until", "soon"], 2, "yesterday"),
    "usage-bad-width": (["usage", "completions", "--bucket-width", "2h"], 2, "1d"),
    "usage-zero-limit": (["usage", "completions", "--limit", "0"], 2, "--limit"),
    "usage-limit-too-big": (["usage", "completions", "--limit", "99999"], 2, "limit"),
    "usage-filter-of-another-endpoint": (["usage", "vector_stores", "--models", "x"], 2, "--project-ids"),
    "usage-bad-columns": (["usage", "completions", "--columns", "colour"], 2, "input_tokens"),
    "usage-parquet-to-terminal": (["usage", "completions", "--format", "parquet"], 2, "--output"),
    "usage-server-down": (["usage", "completions", "--url", DOWN], 1, "cannot reach"),
    "costs-bad-group-by": (["costs", "--group-by", "model"], 2, "line_item"),
    "costs-filter-it-lacks": (["costs", "--models", "gpt-4o"], 2, "--models"),
    "costs-server-down": (["costs", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    "costs-bad-format": (["costs", "--format", "xlsx"], 2, "parquet"),
    "ingest-missing-file": (["ingest", "{files}/missing.json"], 2, "does not exist"),
    "ingest-directory": (["ingest", "{files}/adir"], 2, "directory"),
    "ingest-unknown-extension": (["ingest", "{files}/events.txt"], 2, "--format"),
    "ingest-garbage-ndjson": (["ingest", "{files}/garbage.ndjson"], 1, "line 1"),
    "ingest-cut-ndjson": (["ingest", "{files}/trailing.ndjson"], 1, "line 2"),
    "ingest-not-parquet": (["ingest", "{files}/notparquet.parquet"], 1, "notparquet.parquet"),
    "ingest-broken-csv": (["ingest", "{files}/broken.csv"], 1, "broken.csv"),
    "ingest-empty-json": (["ingest", "{files}/empty.json"], 1, "empty.json"),
    "ingest-scalar-json": (["ingest", "{files}/scalar.json"], 1, "list of events"),
    "ingest-strings-json": (["ingest", "{files}/strings.json"], 1, "events[0]"),
    "ingest-json-as-csv": (["ingest", "--format", "csv", "{files}/good.json"], 1, "good.json"),
    "ingest-server-down": (["ingest", "{files}/good.json", "--url", DOWN], 1, "cannot reach"),
    "ingest-zero-chunk": (["ingest", "--chunk-size", "0", "{files}/good.json"], 2, "--chunk-size"),
    "sync-unknown-endpoint": (["sync", "--key", "k", "--endpoint", "nope"], 2, "completions"),
    "sync-bad-since": (["sync", "--key", "k", "--since", "7 fortnights"], 2, "2026-11-01"),
    "sync-bad-settle": (["sync", "--key", "k", "--settle", "soon"], 2, "--settle"),
    "sync-backwards": (["sync", "--key", "k", "--since", "today", "--until", "yesterday"], 1, "nothing to copy"),
    "sync-without-key": (["sync", "--from", DOWN], 1, "--key"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_line(name: str, files: Path, tmp_path: Path) -> None:
    args, code, word = CASES[name]
    args = [a.replace("{files}", str(files)) for a in args]
    if not any(a in ("--url",) for a in args):
        args += ["--db", str(tmp_path / "store.duckdb")]
    done = openusage(*args, cwd=tmp_path)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == code, done.stderr
    assert word in done.stderr, done.stderr
    assert len([ln for ln in done.stderr.splitlines() if ln.startswith("Error")]) == 1, done.stderr


def test_a_bad_store_url_is_one_line(tmp_path: Path) -> None:
    done = openusage("costs", "--db", f"clickhouse://u:p@127.0.0.1:{free_port()}/db")
    assert "Traceback" not in done.stderr and done.returncode == 1
    assert "cannot open the store" in done.stderr


def test_a_server_answering_an_error_is_one_line(live_server: LiveServer, tmp_path: Path) -> None:
    done = openusage("usage", "completions", "--url", live_server.url, "--key", "sk-wrong")
    assert "Traceback" not in done.stderr and done.returncode == 1 and "401" in done.stderr
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b'{"id": "a", "type": "completions", "timestamp": 1795000000}\n'
                    b'{"id": "b", "type": "completions", "timestamp": 1795000000, "input_tokens": "many"}\n')
    done = openusage("ingest", str(bad), "--url", live_server.url, "--key", live_server.admin_key)
    assert "Traceback" not in done.stderr and done.returncode == 1
    assert "bad.ndjson line 2: input_tokens:" in done.stderr, done.stderr


@pytest.mark.parametrize("command", [["usage", "completions"], ["costs"], ["sync", "--endpoint", "costs", "--from"]])
def test_ctrl_c_while_a_server_is_slow_is_one_line(command: list[str], tmp_path: Path) -> None:
    """A server that accepts and never answers; Ctrl-C while waiting: exit 130, no traceback."""
    import signal
    import socket

    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen()
        url = f"http://127.0.0.1:{hang.getsockname()[1]}"
        args = [*command, url, "--key", "k"] if command[0] == "sync" else [*command, "--url", url, "--key", "k"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
        proc = subprocess.Popen(["openusage", *args, "--db", str(tmp_path / "s.duckdb")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, preexec_fn=default_sigint)
        try:
            hang.settimeout(120)
            conn, _ = hang.accept()  # the request is sent: the command waits for its answer
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            conn.close()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Interrupted" in err
