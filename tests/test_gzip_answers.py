"""Usage and costs pages are gzip-compressed for clients that accept it, once they are at least
``gzip_min_bytes`` long: the same bytes once decompressed, ``Vary: accept-encoding`` on every page,
never for a client that refuses gzip, never for small pages or errors; the typed client reads them."""

from __future__ import annotations

import gzip
import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openusage.cli.serve_cmd import fill_demo
from openusage.client import UsageApi
from openusage.server.app import ServerSettings, create_app
from openusage.server.compress import accepts_gzip, gzip_parts
from openusage.store import open_store

from .conftest import ADMIN_KEY, run_uvicorn, stop_uvicorn

DAY = 86_400


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two servers over one demo store: the default bound, and gzip turned off."""
    store = open_store(str(Path(tmp_path_factory.mktemp("gzip")) / "usage.duckdb"))
    fill_demo(store)
    servers = [run_uvicorn(create_app(store, ServerSettings(admin_key=ADMIN_KEY, dashboard=False, **extra)))
               for extra in ({}, {"gzip_min_bytes": 0})]
    try:
        yield {"port": servers[0][2], "off": servers[1][2]}
    finally:
        for server, thread, _ in servers:
            stop_uvicorn(server, thread)
        store.close()


def get(port: int, path: str, encoding: str | None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    if encoding is not None:
        headers["Accept-Encoding"] = encoding
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def costs_path() -> str:
    end = (int(time.time()) // DAY + 1) * DAY
    return f"/v1/organization/costs?start_time={end - 30 * DAY}&end_time={end}&limit=30&group_by=line_item"


def test_a_large_page_is_compressed_and_decompresses_to_the_same_bytes(served: dict[str, Any]) -> None:
    status, plain_headers, plain = get(served["port"], costs_path(), None)
    assert status == 200 and "content-encoding" not in plain_headers and len(plain) > 100_000
    status, headers, packed = get(served["port"], costs_path(), "gzip, deflate, br")
    assert status == 200
    assert headers["content-encoding"] == "gzip" and headers["vary"] == "accept-encoding"
    assert int(headers["content-length"]) == len(packed) < len(plain) // 5
    assert gzip.decompress(packed) == plain


@pytest.mark.parametrize("encoding", ["identity", "br", "gzip;q=0", "gzip;q=0, *", "deflate", "gzip;q=bad"])
def test_a_client_that_does_not_accept_gzip_gets_the_page_as_is(served: dict[str, Any], encoding: str) -> None:
    status, headers, body = get(served["port"], costs_path(), encoding)
    assert status == 200 and "content-encoding" not in headers and headers["vary"] == "accept-encoding"
    assert body.startswith(b"{")


def test_small_pages_errors_and_a_server_without_gzip_send_as_is(served: dict[str, Any]) -> None:
    end = (int(time.time()) // DAY + 1) * DAY
    small = f"/v1/organization/usage/completions?start_time={end - DAY}&end_time={end}&limit=1"
    status, headers, body = get(served["port"], small, "gzip")
    assert status == 200 and len(body) < 4096 and "content-encoding" not in headers
    status, headers, body = get(served["port"], "/v1/organization/costs?start_time=nope", "gzip")
    assert status == 400 and "content-encoding" not in headers and b'"invalid_request_error"' in body
    status, headers, body = get(served["off"], costs_path(), "gzip")
    assert status == 200 and "content-encoding" not in headers and len(body) > 100_000


def test_the_typed_client_reads_compressed_pages(served: dict[str, Any]) -> None:
    end = (int(time.time()) // DAY + 1) * DAY
    pages = []
    for port in (served["port"], served["off"]):
        with UsageApi(f"http://127.0.0.1:{port}", ADMIN_KEY) as api:
            pages.append(api.usage_costs(start_time=end - 30 * DAY, end_time=end, limit=30, group_by=["line_item"]))
    assert pages[0] == pages[1] and len(pages[0].data) == 30


@pytest.mark.parametrize(("header", "accepted"), [
    ("gzip", True), ("GZIP", True), ("x-gzip", True), ("br, gzip", True), ("gzip;q=0.5", True), ("*", True),
    ("gzip ; q=1.0", True), ("", False), ("identity", False), ("gzip;q=0", False), ("gzip;q=0.0, br", False),
    ("*;q=0", False), ("gzip;q=0, *", False), ("gzipped", False), ("gzip;q=x", False),
])
def test_accept_encoding_is_read_with_its_q_values(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


@given(st.text(max_size=200))
def test_any_accept_encoding_is_answered_without_an_error(header: str) -> None:
    assert accepts_gzip(header) in (True, False)


@given(st.lists(st.binary(max_size=2000), max_size=20))
def test_pieces_compress_to_their_join(parts: list[bytes]) -> None:
    assert gzip.decompress(gzip_parts(list(parts))) == b"".join(parts)


def test_serve_refuses_a_negative_bound_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from openusage.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "x.duckdb"), "--gzip-min-bytes", "-1"])
    assert result.exit_code == 2
    assert "--gzip-min-bytes" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.duckdb").exists()
