"""The proxy's smaller promises: the upstream's request id kept, moderations counted, budgets exact and
shared by every worker of one store, credentials in upstream URLs never printed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from openusage.auth import create_key
from openusage.proxy import parse_upstream
from tests.conftest import new_store, tls
from tests.fake_upstream import ProxyRig, start_fake_upstream, start_proxy_rig
from tests.procserver import ADMIN_KEY, ServerProcess
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema

CHAT = [{"role": "user", "content": "Say hello"}]
EXACT = "12345678.123456789012"
"""A spend whose float (12345678.123456789) is below it: only exact decimals see the limit reached."""


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyRig]:
    store = new_store(tmp_path_factory.mktemp("extras") / "usage.duckdb")
    r = start_proxy_rig(store, budgets=[f"proj_exact={EXACT}", "proj_above=12345678.123456789013"])
    yield r
    r.stop()
    store.close()


def test_upstream_request_id_kept(rig: ProxyRig) -> None:
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=CHAT, stream=True) as r:
        assert r.headers["x-request-id"] == "req_fake_stream"  # the upstream's own
        list(r.iter_lines())
    plain = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=CHAT)
    assert plain.headers["x-request-id"].startswith("req_")  # none upstream: openusage's
    assert plain.headers["x-request-id"] != "req_fake_stream"
    r = httpx.get(rig.server.url + "/healthz", headers={"x-request-id": "mine-1"}, verify=tls())
    assert r.headers["x-request-id"] == "mine-1"


def test_moderations_count_one_request_per_call(rig: ProxyRig) -> None:
    user = f"mod-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    client.moderations.create(model="omni-moderation-latest", input=["a", "b", "c"],
                              extra_headers={"OpenAI-User": user})
    client.moderations.create(input="d", extra_headers={"OpenAI-User": user})
    deadline = time.monotonic() + 10
    with rig.server.client() as c:
        while True:
            r = c.get("/v1/organization/usage/moderations", params={
                "start_time": int(time.time()) - 3600, "user_ids": user, "group_by": "model"})
            results = {res["model"]: res for b in r.json()["data"] for res in b["results"]}
            if sum(x["num_model_requests"] for x in results.values()) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert {m: (x["num_model_requests"], x["input_tokens"]) for m, x in results.items()} == {
        "omni-moderation-latest": (2, 0)}


def test_budget_compares_exact_decimals(rig: ProxyRig) -> None:
    with rig.server.client() as c:
        r = c.post("/v1/usage/events", json={"events": [
            {"id": f"cost-{uuid.uuid4().hex}", "type": "costs", "timestamp": time.time() - 1, "project_id": p,
             "line_item": "gpt-4o, input", "amount": EXACT} for p in ("proj_exact", "proj_above")]})
        assert r.status_code == 200, r.text
    at_limit = create_key(rig.server.store, "exact", "proxy", ["proj_exact"]).secret
    below = create_key(rig.server.store, "above", "proxy", ["proj_above"]).secret
    with pytest.raises(openai.RateLimitError) as info:
        openai.OpenAI(base_url=rig.base_url, api_key=at_limit, max_retries=0).chat.completions.create(
            model="gpt-4o", messages=CHAT)
    assert info.value.body["code"] == "insufficient_quota"  # type: ignore[index]
    openai.OpenAI(base_url=rig.base_url, api_key=below, max_retries=0).chat.completions.create(
        model="gpt-4o", messages=CHAT)


def _proxy(srv: ServerProcess, key: str) -> int:
    r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": CHAT},
                   headers={"Authorization": f"Bearer {key}"}, timeout=30, verify=tls())
    return r.status_code


def test_budget_holds_across_two_workers_on_postgresql(tmp_path: Path) -> None:
    """Two ``openusage serve`` processes on one PostgreSQL store: spend recorded through one stops the
    other too (each reads the spend from the shared store, cached for 5 s)."""
    require_pg()
    schema = unique_schema()
    db = f"{PG_BASE}?schema={schema}"
    upstream = start_fake_upstream()
    args = ("--upstream", upstream.url, "--budget", "proj_shared=5", "--journal", str(tmp_path / "journal"))
    a = ServerProcess(db, tmp_path / "a", args)
    b = ServerProcess(db, tmp_path / "b", args)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        with a, b:
            with a.client() as c:
                made = c.post("/v1/openusage/keys", json={"name": "shared", "scope": "proxy",
                                                           "projects": ["proj_shared"]})
                assert made.status_code == 201, made.text
                key = made.json()["key"]
            assert (_proxy(a, key), _proxy(b, key)) == (200, 200)
            with a.client() as c:
                r = c.post("/v1/usage/events", json={"events": [
                    {"id": f"cost-{uuid.uuid4().hex}", "type": "costs", "timestamp": time.time() - 1,
                     "project_id": "proj_shared", "line_item": "gpt-4o, input", "amount": "5"}]})
                assert r.status_code == 200, r.text
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (_proxy(a, key), _proxy(b, key)) != (429, 429):
                time.sleep(0.5)
            assert (_proxy(a, key), _proxy(b, key)) == (429, 429)
            journals = sorted(p.name for p in (tmp_path / "journal").iterdir() if p.suffix == ".lock")
            assert len(journals) == 2  # one journal per worker, side by side
    finally:
        upstream.stop()
        drop_schema(schema)


def test_upstream_credentials_never_printed(tmp_path: Path) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    srv = ServerProcess(str(tmp_path / "usage.duckdb"), tmp_path,
                        ("--upstream", f"http://tok:{secret}@127.0.0.1:9/v1", "--upstream",
                         f"llama-*=http://{secret}@127.0.0.1:9/v1"))
    with srv:
        assert _proxy(srv, ADMIN_KEY) == 502  # nothing listens on port 9: a warning is logged
        r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "llama-3", "messages": CHAT},
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"}, verify=tls())
        assert r.status_code == 502 and secret not in r.text
        time.sleep(0.2)
        srv.terminate()
    log = srv.log_text()
    assert "upstream" in log and "***@127.0.0.1:9" in log
    assert secret not in log, log


@pytest.mark.parametrize("spec", ["ftp://tok:SECRET@h/v1", "http://tok:SECRET@h/v1?x=1", "http://h/v1?key=SECRET",
                                  "=http://SECRET@h/v1"])
def test_bad_upstream_option_never_echoes_credentials(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_upstream(spec)
    assert "SECRET" not in str(info.value) and "***" in str(info.value)
    assert parse_upstream("http://tok:SECRET@h:8000/v1").shown == "http://***@h:8000/v1"
