"""Clients that hold connections without finishing requests (slowloris) cannot starve the server.

A real ``openusage serve`` in a child process, hostile sockets on loopback, bounded in number and
time; every socket is closed at the end of its test.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, tls

pytestmark = pytest.mark.timing

OPENUSAGE = shutil.which("openusage") or "openusage"
PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@contextmanager
def server(tmp_path: Path, *args: str, nofile: tuple[int, int] | None = None) -> Iterator[tuple[str, int, Path]]:
    """``openusage serve`` with ``args`` (and a descriptor limit); yields its URL, pid and log."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"

    def limits() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    env = {**os.environ, "OPENUSAGE_ADMIN_KEY": "sk-slow-admin"}
    with log.open("wb") as out:
        proc = subprocess.Popen([OPENUSAGE, "serve", "--db", str(tmp_path / "u.duckdb"), "--port", str(port), *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=limits)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1, verify=tls()).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield url, proc.pid, log
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@contextmanager
def stalled(port: int, n: int, payload: bytes = PARTIAL) -> Iterator[list[socket.socket]]:
    """``n`` connections that sent ``payload`` (a request cut short) and then nothing."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(payload)
            socks.append(s)
        yield socks
    finally:
        for s in socks:
            s.close()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fds(pid: int, seconds: float = 15.0) -> int:
    """The server's descriptors once its start-up work (the dashboard's warm-up: a store cursor, the
    thread pool) is done: the count unchanged for a second, or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    last, same = open_fds(pid), 0
    while same < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = open_fds(pid)
        same = same + 1 if now == last else 0
        last = now
    return last


def healthz_seconds(url: str) -> float:
    started = time.perf_counter()
    r = httpx.get(f"{url}/healthz", timeout=5, verify=tls())
    assert r.status_code == 200
    return time.perf_counter() - started


def closed_by_server(s: socket.socket, within: float) -> bool:
    """Whether the server closes ``s`` within ``within`` seconds (the rest of an answer is skipped)."""
    deadline = time.monotonic() + within
    try:
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            if s.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        pass
    return False


def wait_until(check, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_thousand_stalled_connections_leave_healthz_answering(tmp_path: Path) -> None:
    with server(tmp_path, "--header-timeout", "3") as (url, pid, _):
        port = int(url.rsplit(":", 1)[1])
        before = settled_fds(pid)
        with stalled(port, 1000) as socks:
            assert wait_until(lambda: open_fds(pid) >= before + 900, 10)
            seconds = max(healthz_seconds(url) for _ in range(5))
            print(f"\n1000 stalled connections held; /healthz answered in {seconds * 1000:.1f} ms at worst")
            assert seconds < 1.0
            # Past the header deadline the server closes every one of them.
            assert all(closed_by_server(s, 10) for s in socks)
        assert wait_until(lambda: open_fds(pid) <= before + 5, 10)


def test_the_connection_cap_bounds_descriptors_and_still_serves(tmp_path: Path) -> None:
    with server(tmp_path, "--max-connections", "100", "--header-timeout", "60") as (url, pid, _):
        port = int(url.rsplit(":", 1)[1])
        base = settled_fds(pid)
        with stalled(port, 300):
            time.sleep(0.5)
            assert open_fds(pid) <= base + 100
            assert healthz_seconds(url) < 1.0  # the oldest stalled connection made room


def test_trickled_headers_within_the_deadline_are_served(tmp_path: Path) -> None:
    with server(tmp_path, "--header-timeout", "3", "--keep-alive", "30") as (url, _, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                s.sendall(part)
                time.sleep(0.3)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            # The same connection, kept alive, starts a second request and stalls: closed too.
            s.sendall(PARTIAL)
            started = time.monotonic()
            assert closed_by_server(s, 15)
            assert 2.5 < time.monotonic() - started < 10  # the header deadline, not the keep-alive one
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # pipelined: whole, then cut
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + PARTIAL)
            started = time.monotonic()
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            assert closed_by_server(s, 15)
            assert 2.5 < time.monotonic() - started < 10


def test_a_body_that_never_arrives_gets_408_and_huge_headers_400(tmp_path: Path) -> None:
    with server(tmp_path, "--body-timeout", "1") as (url, _, _):
        port = int(url.rsplit(":", 1)[1])
        head = (b"POST /v1/usage/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-slow-admin\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"events\": [")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head)
            started = time.monotonic()
            answer = b""
            while chunk := s.recv(4096):  # the server closes the connection after its answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert b"request_timeout" in answer and time.monotonic() - started < 5
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # headers past 16 KiB: 400
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
            assert s.recv(4096).startswith(b"HTTP/1.1 400")
        assert httpx.get(f"{url}/healthz", verify=tls()).status_code == 200


@pytest.mark.parametrize("soft, hard", [(256, 4096), (300, 300)])
def test_descriptor_limit_is_raised_or_the_cap_follows_it(tmp_path: Path, soft: int, hard: int) -> None:
    with server(tmp_path, "--max-connections", "1000", "--header-timeout", "60",
                nofile=(soft, hard)) as (url, pid, log):
        limits = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        raised = int(line.split()[3])
        if hard >= 1000 + 128:
            assert raised == 1128  # the cap plus a reserve, not the whole hard limit
        else:
            assert raised == hard and "At most 172 connections" in log.read_text()
            port = int(url.rsplit(":", 1)[1])
            with stalled(port, 400):  # more than the descriptors allow: evicted, never EMFILE
                time.sleep(0.5)
                assert open_fds(pid) < hard
                assert healthz_seconds(url) < 1.0
