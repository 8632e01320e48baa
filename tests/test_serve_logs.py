"""What the server writes never lies or leaks: a client cannot forge a log line, and the banner and
warnings show no password from an ``--upstream`` URL."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, tls
from tests.procserver import ServerProcess

OPENUSAGE = shutil.which("openusage") or "openusage"
FORGED = "2026-01-01 00:00:00,000 CRITICAL openusage.access: forged"


def raw_get(port: int, target: str) -> bytes:
    """A request line sent as is (httpx would re-encode the path)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_control_characters_in_a_path_cannot_forge_a_log_line(tmp_path: Path, fmt: str) -> None:
    db = str(tmp_path / "u.duckdb")
    with ServerProcess(db, tmp_path, args=("--log-format", fmt, "--log-level", "info")) as srv:
        target = "/nothing%0d%0a" + FORGED.replace(" ", "%20") + "%1b[2J%e2%80%a8"
        assert raw_get(srv.port, target).startswith(b"HTTP/1.1 404")
        assert srv.terminate() == 0
        text = srv.log_text()
    lines = text.splitlines()
    assert not any(line.startswith(FORGED[:19]) for line in lines)
    assert "\x1b" not in text and "\u2028" not in text
    hit = [line for line in lines if "/nothing" in line]
    assert len(hit) == 1
    if fmt == "json":
        record = json.loads(hit[0])
        assert record["path"].startswith("/nothing\\r\\n2026-01-01") and "\n" not in record["path"]
    else:
        assert "/nothing\\r\\n2026-01-01" in hit[0] and "\\x1b[2J" in hit[0]


def test_upstream_credentials_are_never_shown(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens: the proxy logs the failure, with the upstream's URL
    upstream = f"http://meter:s3cr3t-pw@127.0.0.1:{dead}/v1"
    db = str(tmp_path / "u.duckdb")
    with ServerProcess(db, tmp_path, args=("--upstream", upstream, "--log-level", "info")) as srv:
        with srv.client() as c:
            r = c.post("/v1/openusage/keys", json={"name": "p", "scope": "proxy", "projects": ["proj"]})
            proxy_key = r.json()["key"]
        r = httpx.post(f"{srv.url}/v1/chat/completions", json={"model": "m", "messages": []},
                       headers={"Authorization": f"Bearer {proxy_key}"}, timeout=30, verify=tls())
        assert r.status_code >= 500
        time.sleep(0.2)
        assert srv.terminate() == 0
        text = srv.log_text()
    assert f"***@127.0.0.1:{dead}" in text  # the banner names the upstream, its credentials hidden
    assert "s3cr3t-pw" not in text and "meter:" not in text


def test_bad_upstream_option_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run([OPENUSAGE, "serve", "--db", str(tmp_path / "u.duckdb"), "--port", str(free_port()),
                          "--upstream", "ftp://u:hidden@host/v1"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "hidden" not in res.stderr + res.stdout


def test_a_traceback_cannot_forge_a_record() -> None:
    from openusage.server.logs import TextFormatter

    try:
        raise ValueError("bad value\r\n" + FORGED + "\n" + FORGED)
    except ValueError:
        record = logging.LogRecord("openusage.server", logging.ERROR, __file__, 1, "unhandled %s", ("x\ny",),
                                   sys.exc_info())
    lines = TextFormatter().format(record).splitlines()
    assert lines[0].endswith("openusage.server: unhandled x\\ny")
    assert all(line.startswith("    ") for line in lines[1:]) and len(lines) > 2
    assert not any(line.startswith(FORGED) for line in lines)
