"""Security over real HTTP: hashed keys, scopes on every route, rate and size limits, CORS,
security headers, and injection through every string parameter of every endpoint."""

from __future__ import annotations

import ast
import base64
import hashlib
import inspect
import logging
import math
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from starlette.routing import Route

from openusage import auth
from openusage.server.logs import JsonFormatter
from openusage.spec import ENDPOINTS, Endpoint, event_dimensions
from tests.conftest import ADMIN_KEY, AppServer, new_store, start_app

DAY = 86400
T0 = 1_700_006_400 // DAY * DAY  # a UTC midnight
RANGE = {"start_time": T0, "end_time": T0 + 2 * DAY}
PROJECT_VALUE = {"p1": 1, "p2": 100, None: 10_000}
PUBLIC_PATHS = {"/healthz", "/readyz", "/openapi.json"}
INGEST_ROUTES = {("POST", "/v1/usage/events"): 400, ("POST", "/v1/traces"): 200}
"""The routes of ingest keys, and their answer to an empty body."""


def metric(ep: Endpoint) -> str:
    return "amount" if ep.name == "costs" else next(m.name for m in ep.metrics if m.agg in ("sum", "gauge"))


def value_of(ep: Endpoint, result: dict[str, Any]) -> float:
    return result["amount"]["value"] if ep.name == "costs" else result[metric(ep)]


def seed_events() -> list[dict[str, Any]]:
    """One event per endpoint type, project (p1, p2, none) and day, with a value telling the project."""
    out = []
    for ep in ENDPOINTS:
        for project, value in PROJECT_VALUE.items():
            for day in range(2):
                e: dict[str, Any] = {"id": f"{ep.event_type}-{project}-{day}", "type": ep.event_type,
                                     "timestamp": T0 + day * DAY + 60, "project_id": project}
                if "user_id" in event_dimensions(ep.event_type):
                    e["user_id"] = f"user-{project}"
                if ep.name == "costs":
                    e.update(amount=str(value), line_item="gpt-4o, input")
                else:
                    e[metric(ep)] = value
                out.append(e)
    return out


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    store = new_store(tmp_path_factory.mktemp("sec") / "usage.duckdb")
    server = start_app(store)
    with server.client() as c:
        r = c.post("/v1/usage/events", json={"events": seed_events()})
        assert r.status_code == 200, r.text
    yield server
    server.stop()
    store.close()


def new_key(srv: AppServer, scope: str, projects: list[str] | None = None) -> str:
    with srv.client() as c:
        r = c.post("/v1/openusage/keys", json={"name": f"{scope} key", "scope": scope, "projects": projects})
        assert r.status_code == 201, r.text
        return r.json()["key"]


def routes(srv: AppServer) -> list[tuple[str, str]]:
    """(method, concrete path) of every route the app serves."""
    out = []
    for r in srv.app.routes:
        if isinstance(r, Route):
            path = r.path.replace("{key_id}", "0123456789ab")
            path = path.split("{")[0] + "x" if "{" in path else path
            out += [(m, path) for m in sorted(r.methods or ()) if m != "HEAD"]
    return out


# -- keys --------------------------------------------------------------------------------------


def test_keys_are_stored_as_salted_hashes(srv: AppServer) -> None:
    keys = [new_key(srv, "read") for _ in range(2)]
    secrets = [k.split("_", 2)[2] for k in keys]
    dump = repr(srv.store.execute("SELECT * FROM api_keys")) + repr(  # type: ignore[attr-defined]
        srv.store.execute("SELECT * FROM openusage_meta"))  # type: ignore[attr-defined]
    for key, secret in zip(keys, secrets, strict=True):
        assert key not in dump and secret not in dump
    records = {r.key_id: r for r in srv.store.list_keys()}
    a, b = (records[k.split("_")[1]] for k in keys)
    assert a.salt != b.salt and len(a.salt) == 32
    assert a.hash == hashlib.sha256((a.salt + secrets[0]).encode()).hexdigest()
    assert a.hash != hashlib.sha256(secrets[0].encode()).hexdigest()
    with srv.client(keys[0]) as c:
        assert c.get("/v1/organization/usage/completions", params=RANGE).status_code == 200


def test_keys_are_compared_in_constant_time(srv: AppServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # No == / != on secrets, digests or tokens anywhere in the key ring ...
    tree = ast.parse(textwrap.dedent(inspect.getsource(auth.KeyRing)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            assert not names & {"token", "secret", "hash", "digest", "env_admin_key"}, ast.unparse(node)
    # ... and every verification goes through hmac.compare_digest.
    calls: list[tuple[bytes | str, bytes | str]] = []
    real = auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    key = new_key(srv, "read")
    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    ring = auth.KeyRing(srv.store, env_admin_key=ADMIN_KEY)
    assert ring.verify(key).scope == "read"
    assert ring.verify(ADMIN_KEY).scope == "admin"
    with pytest.raises(auth.AuthenticationError):
        ring.verify(key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert len(calls) >= 4  # env key check + stored digest, for each token


def test_keys_are_never_logged(srv: AppServer, caplog: pytest.LogCaptureFixture) -> None:
    key = new_key(srv, "ingest")
    wrong = "ouk_0123456789ab_" + "s" * 32
    caplog.set_level(logging.DEBUG)
    with srv.client(key) as c:
        c.post("/v1/usage/events", json={"events": [{"id": "log-1", "type": "completions", "timestamp": T0}]})
        c.post("/v1/usage/events", json={"events": [{"id": "log-2", "type": "nope", "timestamp": T0}]})
        c.get("/v1/organization/usage/completions", params={**RANGE, "api_key": key})
    with srv.client(wrong) as c:
        assert c.get("/v1/organization/usage/completions", params=RANGE).status_code == 401
    with srv.client(ADMIN_KEY) as c:
        c.get("/v1/organization/usage/completions", params={"start_time": "x"})
    # The server runs in this process: its records are captured (the test's own client logs are not its).
    server_records = [r for r in caplog.records if r.name.startswith(("openusage", "uvicorn", "starlette"))]
    access = [r for r in server_records if r.name == "openusage.access"]
    assert len(access) >= 5
    assert {getattr(r, "key_id", None) for r in access} >= {key.split("_")[1], "env"}
    text = "\n".join(JsonFormatter().format(r) for r in server_records)
    for secret in (key, key.split("_", 2)[2], wrong, "s" * 32, ADMIN_KEY):
        assert secret not in text


# -- scopes ------------------------------------------------------------------------------------


def test_every_protected_route_needs_a_key(srv: AppServer) -> None:
    with srv.http() as c:
        for method, path in routes(srv):
            r = c.request(method, path, headers={"Authorization": "Bearer ouk_000000000000_nope"})
            if path in PUBLIC_PATHS or not (path.startswith("/v1/") or path == "/metrics"):
                continue
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "invalid_api_key"
            assert c.request(method, path).status_code == 401


def test_an_ingest_key_reads_nothing(srv: AppServer) -> None:
    key = new_key(srv, "ingest")
    checked = 0
    with srv.client(key) as c:
        for method, path in routes(srv):
            if path in PUBLIC_PATHS or not (path.startswith("/v1/") or path == "/metrics"):
                continue
            r = c.request(method, path, params=RANGE if method == "GET" else None)
            if (method, path) in INGEST_ROUTES:  # allowed: an empty body is no event list, an empty export is
                assert r.status_code == INGEST_ROUTES[(method, path)], (method, path, r.text)
                continue
            if (method, path) == ("POST", "/v1/traces"):
                assert r.status_code == 200  # allowed: an empty OTLP export, nothing to store
                continue
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"]["code"] == "insufficient_scope"
            checked += 1
    assert checked >= len(ENDPOINTS) + 4


def test_a_read_key_cannot_write_or_manage(srv: AppServer) -> None:
    key = new_key(srv, "read", ["p1"])
    with srv.client(key) as c:
        r = c.post("/v1/usage/events", json={"events": [{"id": "r1", "type": "completions", "timestamp": T0}]})
        assert r.status_code == 403
        assert c.get("/v1/openusage/keys").status_code == 403
        assert c.post("/v1/openusage/keys", json={"scope": "admin"}).status_code == 403
        assert c.delete("/v1/openusage/keys/0123456789ab").status_code == 403
        assert c.get("/metrics").status_code == 403


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_a_project_key_sees_only_its_projects(srv: AppServer, ep: Endpoint) -> None:
    key = new_key(srv, "read", ["p1"])
    with srv.client(key) as c, srv.client() as admin:

        def results(params: dict[str, Any], client: httpx.Client = c) -> list[dict[str, Any]]:
            r = client.get(ep.full_path, params={**RANGE, **params})
            assert r.status_code == 200, r.text
            return [x for b in r.json()["data"] for x in b["results"]]

        everything = results({}, admin)
        assert sum(value_of(ep, x) for x in everything) == 2 * sum(PROJECT_VALUE.values())
        assert sum(value_of(ep, x) for x in results({})) == 2 * PROJECT_VALUE["p1"]
        for g in ep.group_by:
            got = results({"group_by": g})
            assert sum(value_of(ep, x) for x in got) == 2, g
            assert {x.get("project_id") for x in got} <= {"p1", None}
        assert {x["project_id"] for x in results({"group_by": "project_id"})} == {"p1"}
        assert results({"project_ids": "p2"}) == []
        assert results({"project_ids": ["p1", "p2"], "group_by": "project_id"}) == results(
            {"group_by": "project_id"})
        # A cursor made by an admin query does not widen the project key's view.
        first = admin.get(ep.full_path, params={**RANGE, "limit": 1, "group_by": "project_id"}).json()
        assert first["has_more"] and len({x["project_id"] for x in first["data"][0]["results"]}) == 3
        page2 = c.get(ep.full_path, params={**RANGE, "limit": 1, "group_by": "project_id",
                                             "page": first["next_page"]})
        assert page2.status_code == 200
        assert [x["project_id"] for b in page2.json()["data"] for x in b["results"]] == ["p1"]


# -- limits ------------------------------------------------------------------------------------


def test_rate_limit_per_key_answers_429_with_retry_after(make_app: Callable[..., AppServer]) -> None:
    server = make_app(rate_limit=0.25, rate_burst=3)  # a token every 4 s: none comes back mid-test, however slow
    mine, other = new_key(server, "read"), new_key(server, "read")
    with server.client(mine) as c, server.client(other) as o:
        codes = [c.get("/v1/organization/usage/completions", params=RANGE).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = c.get("/v1/organization/usage/completions", params=RANGE)
        assert r.status_code == 429
        wait = float(r.headers["x-ratelimit-reset-requests"].removesuffix("s"))
        assert 0 < wait <= 4 and r.headers["retry-after"] == str(max(1, math.ceil(wait)))
        assert r.json()["error"] == {"message": r.json()["error"]["message"], "type": "rate_limit_error",
                                     "param": None, "code": "rate_limit_exceeded"}
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert o.get("/v1/organization/usage/completions", params=RANGE).status_code == 200  # per key
        assert all(c.get("/healthz").status_code == 200 for _ in range(10))  # probes are exempt
        assert all(c.get("/").status_code == 200 for _ in range(10))  # so is the dashboard's page
        time.sleep(float(r.headers["retry-after"]))
        assert c.get("/v1/organization/usage/completions", params=RANGE).status_code == 200
    with server.http() as anon:  # no key: limited by address
        assert [anon.get("/v1/organization/costs").status_code for _ in range(4)][-1] == 429


def test_every_post_refuses_a_large_body_with_413(make_app: Callable[..., AppServer]) -> None:
    server = make_app(max_body_bytes=2048)
    posts = [p for m, p in routes(server) if m == "POST"]
    assert "/v1/usage/events" in posts and "/v1/openusage/keys" in posts
    big = b'{"events": [' + b" " * 4096 + b"]}"

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b" " * 512

    with server.client() as c:
        for path in posts:
            for content in (big, chunks()):
                r = c.post(path, content=content, headers={"content-type": "application/json"})
                assert r.status_code == 413, (path, r.status_code, r.text)
                assert r.json()["error"]["type"] == "invalid_request_error"
        ok = c.post("/v1/usage/events", json={"events": [{"id": "s", "type": "embeddings", "timestamp": T0}]})
        assert ok.status_code == 200


# -- browsers ----------------------------------------------------------------------------------


def test_cors_is_closed_by_default(srv: AppServer) -> None:
    with srv.client() as c:
        r = c.get("/v1/organization/usage/completions", params=RANGE, headers={"Origin": "https://evil.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        pre = c.options("/v1/organization/usage/completions", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code == 405 and "access-control-allow-origin" not in pre.headers


def test_cors_allows_only_listed_origins(make_app: Callable[..., AppServer]) -> None:
    server = make_app(cors_origins=("https://dash.example",))
    with server.client() as c:
        ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        ok = c.options("/v1/organization/costs", headers={"Origin": "https://dash.example", **ask})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://dash.example"
        bad = c.options("/v1/organization/costs", headers={"Origin": "https://evil.example", **ask})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
        r = c.get("/v1/organization/costs", params=RANGE, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_security_headers_and_request_ids(srv: AppServer) -> None:
    with srv.client() as c:
        answers = [c.get("/v1/organization/usage/completions", params=RANGE), c.get("/healthz"),
                   c.get("/nowhere"), c.get("/v1/organization/costs"), c.get("/"),
                   srv.http().get("/v1/organization/costs")]
        for r in answers:
            assert r.headers["x-content-type-options"] == "nosniff", r.url
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["x-request-id"].startswith("req_")
        assert answers[0].headers["cache-control"] == "no-store"
        assert len({r.headers["x-request-id"] for r in answers}) == len(answers)
        mine = c.get("/healthz", headers={"x-request-id": "trace-42.a"})
        assert mine.headers["x-request-id"] == "trace-42.a"
        evil = c.get("/healthz", headers={"x-request-id": "a b<script>"})
        assert evil.headers["x-request-id"].startswith("req_")


# -- injection ---------------------------------------------------------------------------------

PAYLOADS = [
    "' OR 1=1 --", "p1' OR '1'='1", "\"; DROP TABLE events; --", "p1'); DELETE FROM events; --",
    "' UNION SELECT key_id, hash FROM api_keys --", "1; SELECT 1", "%", "_", "p%", "\\", "\\'", "''",
    "NULL", "null", "*", "project_id", "p1\x00", "😀 émoji ✓", "\U0001d561\U0001d7d9", "\u202ep1", "../../etc/passwd",
    "<script>alert(1)</script>", "${jndi:ldap://x}", "-1", "1e309", "9" * 40, "a" * 513, "x" * 4000,
    "true", "1m", "page_" + "A" * 64, "page_' OR 1=1 --",
]


SCALARS = {"start_time", "end_time", "limit", "bucket_width"}


def test_injection_through_every_string_parameter(srv: AppServer) -> None:
    before = (srv.store.count_events(), len(srv.store.list_keys()))
    tried = 0
    swept: set[str] = set()
    with srv.client() as c:
        for j, ep in enumerate(ENDPOINTS):
            names = ["start_time", "end_time", "bucket_width", "limit", "page", "group_by",
                     *(f.param for f in ep.filters)]
            for name in names:
                # Every payload goes through each parameter on the first endpoint that has it; the
                # others share its parsing and SQL building (from the spec), so they get a quarter
                # of the payloads, a different quarter on each endpoint. Numbers and enums are
                # parsed before anything else: a sample of payloads is enough for them anywhere.
                if name in SCALARS:
                    payloads = PAYLOADS[::4]
                elif name not in swept:
                    payloads = PAYLOADS
                    swept.add(name)
                else:
                    payloads = PAYLOADS[j % 4::4]
                for payload in payloads:
                    params: dict[str, Any] = {**RANGE, name: payload}
                    r = c.get(ep.full_path, params=params)
                    tried += 1
                    assert r.status_code in (200, 400), (ep.name, name, payload, r.status_code, r.text)
                    body = r.json()
                    if r.status_code == 400:
                        assert body["error"]["type"] == "invalid_request_error"
                    elif name.endswith("_ids") or name in ("models", "line_items"):
                        # A filter value is data, never SQL: it matches nothing here.
                        assert all(b["results"] == [] for b in body["data"]), (ep.name, name, payload)
        for payload in PAYLOADS:
            tried += 1
            r = c.delete(f"/v1/openusage/keys/{quote(payload, safe='')}")
            assert r.status_code in (404, 400), (payload, r.status_code)
    assert (srv.store.count_events(), len(srv.store.list_keys())) == before
    print(f"\n{tried} injection attempts, none changed the store")


def test_injected_strings_are_stored_and_filtered_as_data(srv: AppServer) -> None:
    values = [p for p in PAYLOADS if 0 < len(p) <= 512 and "\x00" not in p]
    events = [{"id": f"inj-{i}-{v}", "type": "embeddings", "timestamp": T0 + 5, "project_id": v, "input_tokens": i + 1}
              for i, v in enumerate(values)]
    with srv.client() as c:
        r = c.post("/v1/usage/events", json={"events": events})
        assert r.status_code == 200 and r.json()["accepted"] == len(events)
        for i, v in enumerate(values):
            got = c.get("/v1/organization/usage/embeddings",
                        params={**RANGE, "project_ids": [v], "group_by": "project_id"})
            if got.status_code == 400:  # a value with ", " cannot be a single filter value; never a 500
                continue
            res = [x for b in got.json()["data"] for x in b["results"]]
            assert [(x["project_id"], x["input_tokens"]) for x in res] == [(v, i + 1)], v


# -- integers and cursors ----------------------------------------------------------------------


def test_huge_integers_are_a_400_naming_them(srv: AppServer) -> None:
    with srv.client() as c:
        for ep in ENDPOINTS:
            for name in ("start_time", "end_time", "limit"):
                params = {**RANGE, name: "9" * 4300}
                r = c.get(ep.full_path, params=params)
                assert r.status_code == 400, (ep.name, name, r.text)
                assert r.json()["error"]["param"] == name


def test_forged_cursors_are_refused(srv: AppServer) -> None:
    params = {"start_time": T0, "end_time": T0 + 2 * DAY, "bucket_width": "1h", "limit": 24}
    with srv.client() as c:
        first = c.get("/v1/organization/usage/completions", params=params).json()
        secret = srv.store.get_meta("cursor_secret")  # made by the first page that needed a cursor
        assert secret is not None and len(bytes.fromhex(secret)) == 32
        cursor = first["next_page"]
        assert c.get("/v1/organization/usage/completions", params={**params, "page": cursor}).status_code == 200
        body = cursor[len("page_"):-22]
        data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        far = orjson.dumps({**data, "n": 9_200_000_000_000_000_000, "e": 9_200_000_000_000_003_600})
        forged = "page_" + base64.urlsafe_b64encode(far).decode().rstrip("=") + cursor[-22:]
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        flipped = [cursor[:-1] + alphabet[alphabet.index(cursor[-1]) ^ flip] for flip in (1, 16)]
        for page in (forged, *flipped, cursor[:-22]):
            r = c.get("/v1/organization/usage/completions", params={**params, "page": page})
            assert r.status_code == 400
            assert r.json()["error"] == {"message": "Invalid page cursor: use the `next_page` value of a previous "
                                                    "response.", "type": "invalid_request_error", "param": "page",
                                         "code": None}


def test_workers_on_one_store_share_the_cursor_secret(srv: AppServer) -> None:
    other = start_app(srv.store)
    try:
        params = {"start_time": T0, "end_time": T0 + 2 * DAY, "bucket_width": "1h", "limit": 24}
        with srv.client() as a, other.client() as b:
            cursor = a.get("/v1/organization/usage/completions", params=params).json()["next_page"]
            page2 = b.get("/v1/organization/usage/completions", params={**params, "page": cursor})
            assert page2.status_code == 200
            assert page2.json()["data"][0]["start_time"] == T0 + DAY
    finally:
        other.stop()
