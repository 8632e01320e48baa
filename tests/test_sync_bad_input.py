"""``openusage sync`` (``--from`` an OpenAI-style Usage API and ``--from anthropic``) answers every
bad input with one line on stderr and an exit code: bad flags, sources that do not answer, and
sources that answer 500, garbage, pages of another shape or bodies without end.

The command runs as the console script does (a child process through ``main``), against real
HTTP servers on loopback that answer each request from a script of raw responses.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import fake_anthropic as fake

T0 = 1_767_225_600  # 2026-01-01
DAY = 86400
MIB = 1 << 20


@dataclass
class Raw:
    """One scripted answer: status, headers, and a body sent whole, or ``chunks`` times ``chunk``
    with chunked transfer encoding (no length announced)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    chunk: bytes = b""
    chunks: int = 0
    length: int | None = None
    """Announce this Content-Length instead of the body's own (then send only the body)."""


class RawServer:
    """A loopback HTTP server answering every GET with the next :class:`Raw` (the last repeats)."""

    def __init__(self, script: list[Raw]) -> None:
        self.script = script
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.paths.append(self.path)
                step = owner.script[min(len(owner.paths), len(owner.script)) - 1]
                self.send_response(step.status)
                for k, v in step.headers.items():
                    self.send_header(k, v)
                try:
                    if step.chunks:
                        self.send_header("transfer-encoding", "chunked")
                        self.end_headers()
                        frame = b"%x\r\n%s\r\n" % (len(step.chunk), step.chunk)
                        for _ in range(step.chunks):
                            self.wfile.write(frame)
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    self.send_header("content-length", str(step.length if step.length is not None
                                                           else len(step.body)))
                    self.end_headers()
                    self.wfile.write(step.body)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: as it should
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[type[RawServer]]:
    servers: list[RawServer] = []

    class Tracked(RawServer):
        def __init__(self, script: list[Raw]) -> None:
            super().__init__(script)
            servers.append(self)

    yield Tracked
    for s in servers:
        s.close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sync(*args: str, db: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``openusage sync ARGS --db DB`` (unless ARGS name a --db) as the console script runs it,
    without keys or URLs from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_ADMIN_KEY", "_SYNC_KEY", "_SYNC_URL", "API_KEY"))}
    store = [] if "--db" in args else ["--db", str(db)]
    return subprocess.run([sys.executable, "-c", "from openusage.cli import main; main()", "sync", *args, *store],
                          capture_output=True, text=True, timeout=timeout, env={**env, "COLUMNS": "200"})


def one_line(done: subprocess.CompletedProcess[str], code: int, *expected: str) -> str:
    """The run failed with ``code`` and said why in one ``Error:`` line on stderr holding each of
    ``expected`` (a flag click refuses is preceded by the command's usage line, as everywhere)."""
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, done.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


WINDOW = ["--since", str(T0), "--until", str(T0 + 2 * DAY)]
PAGE = {"object": "page", "data": [], "has_more": False, "next_page": None}


# -- flags -------------------------------------------------------------------------------------

BAD_FLAGS = {
    "openai-from-not-a-url": (["--from", "ftp://example.com", "--key", "k"], 2, "--from ftp://example.com"),
    "openai-from-empty": (["--from", " ", "--key", "k"], 2, "--from takes a Usage API's base URL"),
    "openai-no-key": (["--from", "http://127.0.0.1:9"], 1, "--key is required"),
    "openai-base-url": (["--from", "http://127.0.0.1:9", "--key", "k", "--base-url", "http://x"], 1,
                        "--base-url goes with --from anthropic"),
    "openai-backwards": (["--from", "http://127.0.0.1:9", "--key", "k", "--since", "today", "--until", "yesterday"],
                         1, "--until is not after --since"),
    "openai-bad-since": (["--from", "http://127.0.0.1:9", "--key", "k", "--since", "7 fortnights"], 2, "--since"),
    "openai-bad-settle": (["--from", "http://127.0.0.1:9", "--key", "k", "--settle", "soon"], 2, "--settle"),
    "retries-negative": (["--from", "http://127.0.0.1:9", "--key", "k", "--retries", "-1"], 2, "--retries"),
    "retries-too-many": (["--from", "http://127.0.0.1:9", "--key", "k", "--retries", "1000"], 2, "--retries"),
    "openai-bad-width": (["--from", "http://127.0.0.1:9", "--key", "k", "--bucket-width", "1h"], 2,
                         "--bucket-width"),
    "openai-bad-endpoint": (["--from", "http://127.0.0.1:9", "--key", "k", "--endpoint", "nope"], 2, "--endpoint"),
    "openai-to-url-no-key": (["--from", "http://127.0.0.1:9", "--key", "k", "--to-url", "http://127.0.0.1:9"], 1,
                             "--to-key is required"),
    "openai-to-url-not-a-url": (["--from", "http://127.0.0.1:9", "--key", "k", "--to-url", "ftp://x",
                                 "--to-key", "k"], 2, "--to-url ftp://x"),
    "openai-into-itself": (["--from", "http://127.0.0.1:9", "--key", "k", "--to-url", "http://127.0.0.1:9/v1/",
                            "--to-key", "k"], 1, "into itself"),
    "openai-bad-db": (["--from", "http://127.0.0.1:9", "--key", "k", "--db", "nosuch://x"], 2, "--db"),
    "anthropic-no-key": (["--from", "anthropic"], 1, "ANTHROPIC_ADMIN_KEY"),
    "anthropic-base-url-not-a-url": (["--from", "anthropic", "--key", "k", "--base-url", "api.anthropic.com"], 2,
                                     "--base-url takes"),
    "anthropic-backwards": (["--from", "anthropic", "--key", "k", "--since", "today", "--until", "yesterday"], 1,
                            "--until is not after --since"),
    "anthropic-bad-settle": (["--from", "anthropic", "--key", "k", "--settle", "-1h"], 2, "--settle"),
}


@pytest.mark.parametrize("case", list(BAD_FLAGS))
def test_bad_flags_are_one_line(case: str, tmp_path: Path) -> None:
    args, code, expected = BAD_FLAGS[case]
    db = tmp_path / "store.duckdb"
    one_line(sync(*args, db=db), code, expected)
    assert not db.exists()  # nothing was created for a run that could not start


# -- sources that fail -------------------------------------------------------------------------

def not_json() -> Raw:
    return Raw(200, b"<html>502 Bad Gateway</html>", {"content-type": "text/html"})


NOT_A_PAGE = {"openai": "the source's answer is not a page of buckets",
              "anthropic": "Anthropic's Admin API answered with an unexpected body"}
TIMES = b'"start_time": 1767225600, "end_time": 1767312000, "starting_at": "2026-01-01T00:00:00Z", ' \
        b'"ending_at": "2026-01-02T00:00:00Z"'
UPSTREAM: dict[str, tuple[list[Raw], dict[str, str]]] = {
    "status-500": ([Raw(500, b'{"error": {"message": "boom", "type": "server_error"}}',
                        {"content-type": "application/json", "retry-after": "0"})],
                   {"openai": "InternalServerError: boom",
                    "anthropic": "InternalServerError: Anthropic: server_error"}),
    "garbage": ([not_json()], {"openai": "is not JSON", "anthropic": "a body that is not JSON"}),
    "not-an-object": ([Raw(200, b'[1, 2]')],
                      {"openai": "is not a page of buckets", "anthropic": NOT_A_PAGE["anthropic"]}),
    "data-not-a-list": ([Raw(200, b'{"data": "x", "has_more": false}')],
                        {"openai": "is not a page of buckets", "anthropic": NOT_A_PAGE["anthropic"]}),
    "bucket-not-an-object": ([Raw(200, b'{"data": [1], "has_more": false}')], NOT_A_PAGE),
    "bucket-without-times": ([Raw(200, b'{"data": [{"results": []}], "has_more": false}')], NOT_A_PAGE),
    "bucket-bad-times": ([Raw(200, b'{"data": [{"start_time": "soon", "end_time": null, "starting_at": "soon", '
                                   b'"ending_at": 7, "results": []}], "has_more": false}')], NOT_A_PAGE),
    "results-not-objects": ([Raw(200, b'{"data": [{' + TIMES + b', "results": [1, "x", null]}], "has_more": false}')],
                            NOT_A_PAGE),
    "cursor-not-a-string": ([Raw(200, b'{"data": [], "has_more": true, "next_page": 7}')],
                            {"openai": "next_page = 7, not a string or null",
                             "anthropic": NOT_A_PAGE["anthropic"]}),
    "huge-declared": ([Raw(200, b"{}", length=300 * MIB)], {"openai": "larger than 256 MiB",
                                                            "anthropic": "larger than 256 MiB"}),
    "huge-streamed": ([Raw(200, chunk=b" " * MIB, chunks=300)], {"openai": "larger than 256 MiB",
                                                                 "anthropic": "larger than 256 MiB"}),
}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("case", list(UPSTREAM))
def test_a_failing_source_is_one_line(kind: str, case: str, serve: type[RawServer], tmp_path: Path) -> None:
    script, expected = UPSTREAM[case]
    srv = serve(script)
    source = ["--from", srv.url + "/v1"] if kind == "openai" else ["--from", "anthropic", "--base-url", srv.url]
    done = sync(*source, "--key", fake.KEY, "--endpoint", "costs", *WINDOW, db=tmp_path / "s.duckdb")
    line = one_line(done, 1, expected[kind])
    assert "?" not in line  # the URL is named without its query (which may hold the range and cursor)
    assert not (tmp_path / "s.duckdb").exists() or _count(tmp_path / "s.duckdb") == 0


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_an_unreachable_source_is_one_line(kind: str, tmp_path: Path) -> None:
    """Retried (connection errors may pass), then one line naming the source; once here (``--retries 1``:
    the default five retries wait about 15 s)."""
    url = f"http://127.0.0.1:{closed_port()}"
    source = ["--from", url + "/v1"] if kind == "openai" else ["--from", "anthropic", "--base-url", url]
    done = sync(*source, "--key", fake.KEY, "--endpoint", "costs", *WINDOW, "--retries", "1",
                db=tmp_path / "s.duckdb")
    expected = (f"APIConnectionError: Request to {url}/v1/organization/costs failed" if kind == "openai"
                else "APIConnectionError: Anthropic's Admin API did not answer")
    one_line(done, 1, expected, "Connection refused")


def one_bucket() -> Raw:
    """A costs page of one day with one result."""
    return Raw(200, json.dumps({"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": T0, "end_time": T0 + DAY, "results": [
            {"object": "organization.costs.result", "amount": {"value": 1.5, "currency": "usd"},
             "line_item": "x", "project_id": "p"}]}]}).encode())


def test_an_unreachable_destination_is_one_line(serve: type[RawServer], tmp_path: Path) -> None:
    srv = serve([one_bucket()])
    to = f"http://127.0.0.1:{closed_port()}"
    done = sync("--from", srv.url + "/v1", "--key", "k", "--endpoint", "costs", *WINDOW, "--to-url", to,
                "--to-key", "k", "--retries", "1", db=tmp_path / "s.duckdb")
    one_line(done, 1, f"APIConnectionError: Request to {to}/v1/usage/events failed")


def test_a_state_file_that_cannot_be_read_or_written_is_one_line(serve: type[RawServer], tmp_path: Path) -> None:
    srv = serve([one_bucket()])
    args = ["--from", srv.url + "/v1", "--key", "k", "--endpoint", "costs", *WINDOW, "--to-url",
            f"http://127.0.0.1:{closed_port()}", "--to-key", "k"]
    garbage = tmp_path / "state.json"
    garbage.write_text("{not json")
    one_line(sync(*args, "--state", str(garbage), db=tmp_path / "s.duckdb"), 2, f"--state {garbage}", "not JSON")
    garbage.write_text('{"sync:api.openai.com:costs": {"from": 1}}')
    one_line(sync(*args, "--state", str(garbage), db=tmp_path / "s.duckdb"), 2, f"--state {garbage}",
             "not JSON checkpoints (an object of checkpoints by source and endpoint)")
    garbage.write_text("[1, 2]")
    one_line(sync(*args, "--state", str(garbage), db=tmp_path / "s.duckdb"), 2, f"--state {garbage}",
             "not JSON checkpoints (an object of checkpoints by source and endpoint)")
    missing = tmp_path / "no" / "such" / "state.json"
    one_line(sync(*args, "--state", str(missing), db=tmp_path / "s.duckdb"), 2, f"--state {missing}",
             "no directory")


def _count(db: Path) -> int:
    from openusage.store import open_store

    store = open_store(str(db))
    try:
        return int(store.count_events())
    finally:
        store.close()
