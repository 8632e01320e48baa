"""One store fed by every source: a sync from another openusage server, the events API, the metering
proxy and OpenTelemetry spans.  ``group_by=origin`` answers per source with exact numbers, ``origins``
filters, and answers that do not group by it keep OpenAI's shape (no ``origin`` field)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from click.testing import CliRunner

from openusage import UsageApi
from openusage.cli import cli
from openusage.query.render import result_template
from openusage.spec import ENDPOINTS_BY_NAME
from openusage.store import open_store
from tests import fake_upstream as fake
from tests.conftest import LiveServer, new_store, start_server
from tests.fake_upstream import ProxyRig, start_proxy_rig
from tests.storeconf import drop_schema, require_pg, store_url, unique_schema
from tests.test_otlp import _body, _span

pytestmark = pytest.mark.xdist_group("origin")  # one module fixture, built once

DAY = 86400
NOW = int(time.time())
TODAY = NOW - NOW % DAY
SINCE = TODAY - DAY
COMPLETIONS = ENDPOINTS_BY_NAME["completions"]
CHAT = fake.CHAT_USAGE


@pytest.fixture(scope="module", params=["duckdb", "postgresql", "chdb"])
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyRig]:
    """A store filled by a sync from another server, then served with the proxy in front."""
    engine = request.param
    if engine == "postgresql":
        require_pg()
    schema = unique_schema()
    url = store_url(engine, tmp_path_factory.mktemp(engine), schema)
    source_store = new_store(tmp_path_factory.mktemp("source") / "source.duckdb")
    source = start_server(source_store)
    try:
        with UsageApi(source.url, source.admin_key) as api:
            api.ingest_events([{"id": "synced", "type": "completions", "timestamp": TODAY - 3600, "model": "gpt-4o",
                                "input_tokens": 1000, "output_tokens": 100, "num_model_requests": 2}])
        synced = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", source.admin_key, "--since",
                                          str(SINCE), "--until", str(TODAY), "--db", url, "--endpoint", "completions"],
                                    catch_exceptions=False)
        assert synced.exit_code == 0, synced.output
    finally:
        source.stop()
        source_store.close()
    store = open_store(url)
    r = start_proxy_rig(store)
    yield r
    r.stop()
    store.close()
    if engine == "postgresql":
        drop_schema(schema)


def results(server: LiveServer, path: str = "completions", **params: Any) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get(f"/v1/organization/{path}", params={"start_time": SINCE, "end_time": int(time.time()) + 2,
                                                      "limit": 2, **params})
    assert r.status_code == 200, r.text
    return [res for b in r.json()["data"] for res in b["results"]]


def fill(rig: ProxyRig) -> None:
    """Usage through the events API, the proxy and OTLP (the sync ran when the store was made)."""
    with rig.server.client() as c:
        r = c.post("/v1/usage/events", json={"events": [
            {"id": "posted", "type": "completions", "timestamp": NOW - 60, "model": "gpt-4o", "input_tokens": 7,
             "output_tokens": 3}]})
        assert r.status_code == 200, r.text
        r = c.post("/v1/traces", json=_body(_span("051581bf3cb55c13", "chat", gen_ai__request__model="llama-3.1-70b",
                                                  gen_ai__usage__input_tokens=100, gen_ai__usage__output_tokens=20,
                                                  openusage__project_id="proj_a")))
        assert r.status_code == 200, r.text
    sdk = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    deadline = time.monotonic() + 10
    while not any(r["num_model_requests"] for r in results(rig.server, "usage/completions", origins="proxy")):
        assert time.monotonic() < deadline, "the proxy did not record its request"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def filled(rig: ProxyRig) -> ProxyRig:
    fill(rig)
    return rig


def totals(rows: list[dict[str, Any]], *keys: str) -> dict[Any, tuple[int, int, int]]:
    out: dict[Any, tuple[int, int, int]] = {}
    for r in rows:
        k = tuple(r[g] for g in keys)
        n, i, o = out.get(k, (0, 0, 0))
        out[k] = (n + r["num_model_requests"], i + r["input_tokens"], o + r["output_tokens"])
    return out


def test_group_by_origin_answers_each_source_exactly(filled: ProxyRig) -> None:
    rows = results(filled.server, "usage/completions", group_by="origin")
    assert totals(rows, "origin") == {
        ("ingest",): (1, 7, 3),
        ("openusage",): (2, 1000, 100),
        ("otlp",): (1, 100, 20),
        ("proxy",): (1, CHAT["prompt_tokens"], CHAT["completion_tokens"]),
    }
    assert all(list(r) == [*result_template(COMPLETIONS), "origin"] for r in rows)
    by_model = results(filled.server, "usage/completions", group_by=["origin", "model"])
    assert set(totals(by_model, "origin", "model")) >= {("otlp", "llama-3.1-70b"), ("ingest", "gpt-4o")}


def test_origins_filter_and_ungrouped_answers_keep_openai_shape(filled: ProxyRig) -> None:
    proxied = results(filled.server, "usage/completions", origins="proxy")
    assert totals(proxied) == {(): (1, CHAT["prompt_tokens"], CHAT["completion_tokens"])}
    everything = results(filled.server, "usage/completions")
    assert totals(everything) == {(): (5, 7 + 1000 + 100 + CHAT["prompt_tokens"], 3 + 100 + 20
                                       + CHAT["completion_tokens"])}
    assert all(list(r) == list(result_template(COMPLETIONS)) and "origin" not in r for r in everything + proxied)
    two = results(filled.server, "usage/completions", origins=["ingest", "otlp"], group_by="origin")
    assert sorted({r["origin"] for r in two}) == ["ingest", "otlp"]


def test_costs_by_origin_add_up_to_the_total(filled: ProxyRig) -> None:
    whole = results(filled.server, "costs")
    parts = results(filled.server, "costs", group_by="origin")
    assert "origin" not in whole[0] and {r["origin"] for r in parts} <= {"ingest", "openusage", "otlp", "proxy"}
    assert sum(r["amount"]["value"] for r in parts) == pytest.approx(sum(r["amount"]["value"] for r in whole))
    only = results(filled.server, "costs", origins="ingest", group_by="origin")
    assert {r["origin"] for r in only} == {"ingest"}


def test_an_event_naming_its_origin_is_refused(rig: ProxyRig) -> None:
    with rig.server.client() as c:
        r = c.post("/v1/usage/events", json={"events": [
            {"id": "claims", "type": "completions", "timestamp": NOW - 60, "model": "gpt-4o", "input_tokens": 1,
             "output_tokens": 1, "origin": "openai"}]})
    assert r.status_code == 400, r.text
    assert "origin" in r.json()["error"]["param"] + r.json()["error"]["message"]
    assert not any(r["num_model_requests"] for r in results(rig.server, "usage/completions", origins="openai"))


def test_an_unknown_origin_is_a_400(rig: ProxyRig) -> None:
    with rig.server.client() as c:
        r = c.get("/v1/organization/usage/completions", params={"start_time": SINCE, "origins": "elsewhere"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "origins", r.text


def test_the_cli_groups_and_filters_by_origin(filled: ProxyRig) -> None:
    srv = filled.server
    common = ["--url", srv.url, "--key", srv.admin_key, "--since", str(SINCE), "--until", str(int(time.time()) + 2),
              "--format", "json"]
    grouped = CliRunner().invoke(cli, ["usage", "completions", *common, "--group-by", "origin"])
    assert grouped.exit_code == 0, grouped.output
    page = json.loads(grouped.output)
    assert {r["origin"] for b in page["data"] for r in b["results"]} == {"ingest", "openusage", "otlp", "proxy"}
    only = CliRunner().invoke(cli, ["costs", *common, "--origin", "proxy", "--group-by", "origin"])
    assert only.exit_code == 0, only.output
    assert {r["origin"] for b in json.loads(only.output)["data"] for r in b["results"]} <= {"proxy"}
