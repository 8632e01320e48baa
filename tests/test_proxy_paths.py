"""Paths that could leave the upstream's base path are refused before anything is forwarded.

Requests are written on a raw socket, byte for byte, so that no client library normalises the path
first (as ``curl --path-as-is`` sends them); the fake upstream records everything that reaches it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import orjson
import pytest

from tests.conftest import new_store
from tests.fake_upstream import ProxyRig, start_proxy_rig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyRig]:
    store = new_store(tmp_path_factory.mktemp("paths") / "usage.duckdb")
    r = start_proxy_rig(store)
    yield r
    r.stop()
    store.close()


def raw_request(rig: ProxyRig, method: str, target: bytes, key: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send one request with ``target`` exactly as given; (status, body) of the answer."""
    port = int(rig.server.url.rsplit(":", 1)[1])
    head = (method.encode() + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


HOSTILE = [
    b"/v1/../admin",
    b"/v1/%2e%2e/admin",
    b"/v1/..%2fadmin",
    b"/v1/%2E%2E%2Fadmin",
    b"/v1/./organization/usage/completions",
    b"/v1/%2e/organization/usage/completions",
    b"/v1/chat/../../admin",
    b"/v1/..",
    b"/v1/..\\admin",
    b"/v1/%5c..%5cadmin",
    b"/v1/..%5cadmin",
    b"/v1/chat%00/completions",
    b"/v1/chat/completions%00",
    b"//v1/../admin",
    b"/v1//admin",
    b"/v1/chat//completions",
    b"/v1/%252e%252e/admin",
    b"/v1/%25%32%65%25%32%65/admin",
    b"/v1/%c0%ae%c0%ae/admin",
    b"/v1/%e0%80%ae%e0%80%ae/admin",
    b"/v1/..;/admin",
    b"/v1/...",
    b"/v1/..%20/admin",
    b"/v1/.%20./admin",
    b"/v1/%2fadmin",
    b"/v1/chat%2Fcompletions",
    b"/v1/%63hat/completions",
    b"/v1/chat/completions%",
    b"/v1/\x01admin",
]


@pytest.mark.parametrize("target", HOSTILE, ids=lambda t: t.decode("latin-1"))
def test_non_canonical_path_refused_and_never_forwarded(rig: ProxyRig, target: bytes) -> None:
    seen = len(rig.upstream.app.requests)
    for method in ("GET", "POST"):
        status, body = raw_request(rig, method, target, rig.key, b'{"model": "gpt-4o"}')
        assert status in (400, 404), (method, status, body)
        if body.startswith(b"{"):  # our answer; a request line the HTTP parser itself refuses has none
            err = orjson.loads(body)["error"]
            assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    assert len(rig.upstream.app.requests) == seen, [r.path for r in rig.upstream.app.requests[seen:]]


@pytest.mark.parametrize("target", HOSTILE[:6], ids=lambda t: t.decode("latin-1"))
def test_refusal_is_openai_envelope_400(rig: ProxyRig, target: bytes) -> None:
    status, body = raw_request(rig, "POST", target, rig.key, b'{"model": "gpt-4o"}')
    assert status == 400
    err = orjson.loads(body)["error"]
    assert err["code"] is None and "canonical path" in err["message"]


def test_refused_even_without_a_key(rig: ProxyRig) -> None:
    seen = len(rig.upstream.app.requests)
    status, _ = raw_request(rig, "GET", b"/v1/%2e%2e/admin", "nope")
    assert status in (400, 401)
    assert len(rig.upstream.app.requests) == seen


def test_canonical_paths_forwarded_unchanged(rig: ProxyRig) -> None:
    seen = len(rig.upstream.app.requests)
    status, body = raw_request(rig, "POST", b"/v1/chat/completions", rig.key,
                               b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
    assert status == 200, body
    status, _ = raw_request(rig, "GET", b"/v1/files/file-abc%20x/content?limit=2", rig.key)
    assert status == 404  # the fake upstream has no files: its own 404, forwarded
    got = [(r.method, r.path) for r in rig.upstream.app.requests[seen:]]
    assert got == [("POST", "/v1/chat/completions"), ("GET", "/v1/files/file-abc x/content")]
    assert all(r.headers["authorization"] == "Bearer sk-upstream-secret" for r in rig.upstream.app.requests[seen:])


@pytest.mark.parametrize("target", [b"/v1/organization", b"/v1/Organization/usage/completions",
                                    b"/v1/organization;x/usage/completions", b"/v1/ORGANIZATION/costs",
                                    b"/v1/usage", b"/v1/OpenUsage/keys", b"/v1/organization/nothing-here"])
def test_openusage_paths_in_any_spelling_never_forwarded(rig: ProxyRig, target: bytes) -> None:
    seen = len(rig.upstream.app.requests)
    status, body = raw_request(rig, "GET", target, rig.key)
    assert status == 404, body
    assert orjson.loads(body)["error"]["type"] == "invalid_request_error"
    assert len(rig.upstream.app.requests) == seen


def test_server_routes_below_v1_stay_the_servers(rig: ProxyRig) -> None:
    """Requests are handed to the proxy before the router, except the server's own routes below /v1/
    outside its reserved prefixes (OTLP's /v1/traces)."""
    seen = len(rig.upstream.app.requests)
    status, body = raw_request(rig, "POST", b"/v1/traces", rig.key, b"{}")
    assert status in (400, 401, 403, 415), body  # the server's answer, whatever it is
    assert len(rig.upstream.app.requests) == seen
