"""OpenTelemetry GenAI spans through ``POST /v1/traces``: the official SDK, instrumented, exported
with the real OTLP/HTTP exporter to a live server, then read back through the Usage API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from openusage.auth import create_key
from tests import fake_upstream as fake
from tests.conftest import AppServer, LiveServer, Server
from tests.fake_upstream import RunningUpstream, start_fake_upstream

TRACE = "5b8efff798038103d269b633813fc60c"


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningUpstream]:
    up = start_fake_upstream()
    yield up
    up.stop()


def _usage(server: Server, path: str, **params: Any) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get(f"/v1/organization/usage/{path}",
                  params={"start_time": int(time.time()) - 86400, "end_time": int(time.time()) + 2, "limit": 2,
                          **params})  # end_time is exclusive and whole seconds: past this second's events
    assert r.status_code == 200, r.text
    return [res for b in r.json()["data"] for res in b["results"]]


def test_instrumented_sdk_calls_become_usage_exactly(live_server: LiveServer, upstream: RunningUpstream) -> None:
    key = create_key(live_server.store, "otel", "ingest").secret
    provider = TracerProvider(resource=Resource.create({"service.name": "proj_chat"}))
    exporter = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"})
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=upstream.url, api_key="sk-app")
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                           user="alice")
        client.embeddings.create(model="text-embedding-3-small", input="hello")
        provider.force_flush()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    rows = _usage(live_server, "completions", group_by=["model", "project_id"])
    assert [(r["model"], r["project_id"], r["num_model_requests"], r["input_tokens"], r["output_tokens"])
            for r in rows] == [("gpt-4o-2024-08-06", "proj_chat", 3, 3 * fake.CHAT_USAGE["prompt_tokens"],
                                3 * fake.CHAT_USAGE["completion_tokens"])]
    emb = _usage(live_server, "embeddings", group_by=["model", "project_id"])
    assert [(r["project_id"], r["input_tokens"], r["num_model_requests"]) for r in emb] == [
        ("proj_chat", fake.EMBEDDING_TOKENS, 1)]

    # The same spans sent again (an exporter's retry) count once.
    again = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"})
    assert again.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    rows = _usage(live_server, "completions")
    assert sum(r["num_model_requests"] for r in rows) == 3


def _span(span_id: str, op: str | None, **attrs: Any) -> dict[str, Any]:
    values = [{"key": k.replace("__", "."), "value": {"intValue": str(v)} if isinstance(v, int) else
               {"stringValue": v}} for k, v in attrs.items()]
    if op:
        values.append({"key": "gen_ai.operation.name", "value": {"stringValue": op}})
    now = time.time_ns()
    return {"traceId": TRACE, "spanId": span_id, "name": op or "work", "kind": 3,
            "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 10**6), "attributes": values}


def _body(*spans: dict[str, Any], resource: dict[str, str] | None = None) -> dict[str, Any]:
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {"service.name": "svc"}).items()]
    return {"resourceSpans": [{"resource": {"attributes": attrs},
                               "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]}


def test_json_export_with_partial_success_for_spans_without_usage(app_server: AppServer) -> None:
    chat = _span("051581bf3cb55c13", "chat", gen_ai__request__model="llama-3.1-70b", gen_ai__usage__input_tokens=100,
                 gen_ai__usage__output_tokens=20, gen_ai__usage__cache_read__input_tokens=40,
                 openusage__project_id="proj_a", enduser__id="u7")
    tool = _span("151581bf3cb55c13", "execute_tool")
    plain = _span("251581bf3cb55c13", None)
    with app_server.client() as c:
        r = c.post("/v1/traces", json=_body(chat, tool, plain))
    assert r.status_code == 200, r.text
    assert r.json()["partialSuccess"]["rejectedSpans"] == "2"
    rows = _usage(app_server, "completions", group_by=["model", "project_id", "user_id"])
    assert [(r["model"], r["project_id"], r["user_id"], r["input_tokens"], r["input_cached_tokens"],
             r["output_tokens"]) for r in rows] == [("llama-3.1-70b", "proj_a", "u7", 100, 40, 20)]


def test_invalid_span_values_are_rejected_alone(app_server: AppServer) -> None:
    good = _span("0000000000000001", "chat", gen_ai__response__model="m", gen_ai__usage__input_tokens=5)
    bad = _span("0000000000000002", "chat", gen_ai__response__model="m", gen_ai__usage__input_tokens=-5)
    with app_server.client() as c:
        r = c.post("/v1/traces", json=_body(good, bad))
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "resourceSpans[0].scopeSpans[0].spans[1]" in partial["errorMessage"]
    assert sum(r["input_tokens"] for r in _usage(app_server, "completions")) == 5


@pytest.mark.parametrize(("body", "ctype"), [
    (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf"),
    (b"{not json", "application/json"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json"),
    (b"[]", "application/json"),
    (b'{"resourceSpans": [true]}', "application/json"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": ["x"]}]}]}', "application/json"),
    (b"hello", "text/plain"),
])
def test_malformed_exports_are_400_and_store_nothing(app_server: AppServer, body: bytes, ctype: str) -> None:
    before = app_server.store.count_events()
    with app_server.client() as c:
        r = c.post("/v1/traces", content=body, headers={"content-type": ctype})
    assert r.status_code == 400, r.text
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert app_server.store.count_events() == before


def test_protobuf_answer_and_keys(app_server: AppServer) -> None:
    req = ExportTraceServiceRequest()
    json_format.ParseDict(_body(_span("AAAAAAAAAAE=", None)), req)  # base64 id here: protobuf's own JSON
    payload = req.SerializeToString()
    read_key = create_key(app_server.store, "r", "read").secret
    ingest_key = create_key(app_server.store, "i", "ingest").secret
    headers = {"content-type": "application/x-protobuf"}
    with app_server.http() as h:
        assert h.post("/v1/traces", content=payload, headers=headers).status_code == 401
        r = h.post("/v1/traces", content=payload, headers={**headers, "Authorization": f"Bearer {read_key}"})
        assert r.status_code == 403
        r = h.post("/v1/traces", content=payload, headers={**headers, "Authorization": f"Bearer {ingest_key}"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(r.content).partial_success.rejected_spans == 1


def test_serve_flag_sets_where_the_project_is_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.procserver import ServerProcess

    span = _span("0000000000000009", "chat", gen_ai__response__model="m", gen_ai__usage__input_tokens=7, team="blue")
    with ServerProcess(str(tmp_path / "o.duckdb"), tmp_path, args=("--otlp-attribute", "project_id=team")) as srv:
        with srv.client() as c:
            assert c.post("/v1/traces", json=_body(span, resource={"service.name": "svc"})).status_code == 200
            r = c.get("/v1/organization/usage/completions",
                      params={"start_time": int(time.time()) - 86400, "end_time": int(time.time()) + 2,
                              "limit": 2, "group_by": "project_id"})
    assert [x["project_id"] for b in r.json()["data"] for x in b["results"]] == ["blue"]  # not service.name
