"""The OpenAPI document: valid, complete for the API's routes, equal to the endpoint table, and true
to what the live server answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.routing import Route

from openusage.spec import DIMENSIONS, ENDPOINTS, EVENT_TYPES, Endpoint
from tests.conftest import AppServer, new_store
from tests.reference import fetch_all
from tests.test_ingest import full_event

T0 = 1_700_006_400


@pytest.fixture(scope="module")
def server(module_app_server: AppServer) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    with module_app_server.client() as c:
        events = [full_event(t, n) for n, t in enumerate(EVENT_TYPES)]
        events += [{"id": f"oa-min-{t}", "type": t, "timestamp": T0 + 60, "amount": 1} if t == "costs" else
                   {"id": f"oa-min-{t}", "type": t, "timestamp": T0 + 60} for t in EVENT_TYPES]
        assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
        with module_app_server.http() as h:
            r = h.get("/openapi.json")  # public: no key needed
        assert r.status_code == 200
        yield c, r.json()


def validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def op_schema_name(doc: dict[str, Any], ep: Endpoint) -> str:
    ref = doc["paths"][ep.full_path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def test_document_is_valid_openapi(server: tuple[httpx.Client, dict[str, Any]]) -> None:
    _, doc = server
    validate(doc)
    assert doc["openapi"].startswith("3.1")


UNDOCUMENTED = {
    "/": "the web dashboard: an HTML page, not part of the API",
    "/dashboard/{name}": "the web dashboard's static files",
    "/v1/{path:path}": "the metering proxy's catch-all (installed with --upstream only): it forwards OpenAI's "
                       "model API to the upstream server, whose operations are the upstream's, not openusage's",
}
"""Routes the document leaves out on purpose, and why."""


def test_every_route_is_documented(tmp_path: Path) -> None:
    """Every route the app serves, the optional ones included, is in the document with its methods."""
    from openusage.proxy import install, settings_from_options
    from openusage.server.app import ServerSettings, create_app
    from openusage.server.openapi import openapi_document

    settings = ServerSettings(dashboard=True)
    install(settings, settings_from_options(["http://127.0.0.1:9/v1"], journal=False))
    store = new_store(tmp_path / "usage.duckdb")
    try:
        app = create_app(store, settings)
    finally:
        store.close()
    doc = openapi_document()
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert len(routes) == len(app.routes)  # no mounted sub-application escapes the check
    served = {r.path for r in routes}
    assert set(UNDOCUMENTED) <= served, "a stated exclusion no longer matches a route"
    assert {"/v1/openusage/prices", "/v1/openusage/prices/missing", "/v1/openusage/backup", "/v1/traces"} <= served
    for route in routes:
        if route.path in UNDOCUMENTED:
            continue
        assert route.path in doc["paths"], f"{route.path} is served but not documented"
        documented = {m.upper() for m in doc["paths"][route.path]}
        missing = set(route.methods or ()) - {"HEAD"} - documented
        assert not missing, f"{sorted(missing)} {route.path} is served but not documented"
    assert set(doc["paths"]) <= served, "the document names a route the server does not serve"


def test_every_operation_documents_the_error_envelope() -> None:
    from openusage.server.openapi import openapi_document

    doc = openapi_document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if op.get("security") == []:
                continue  # public: health, readiness and this document answer no API errors
            errors = {c: r for c, r in op["responses"].items() if c[0] in "45"}
            assert {"401", "500"} <= set(errors), (method, path)
            for code, r in errors.items():
                assert r["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, \
                    (method, path, code)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_parameters_equal_the_spec(server: tuple[httpx.Client, dict[str, Any]], ep: Endpoint) -> None:
    _, doc = server
    op = doc["paths"][ep.full_path]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert [p["name"] for p in op["parameters"]] == list(ep.parameters)
    assert all(p["in"] == "query" for p in op["parameters"])
    assert [n for n, p in params.items() if p["required"]] == ["start_time"]
    assert params["bucket_width"]["schema"]["enum"] == list(ep.bucket_widths)
    assert params["group_by"]["schema"]["items"]["enum"] == list(ep.group_by)
    assert params["limit"]["schema"]["maximum"] == max(most for _, most in ep.limits.values())
    for f in ep.filters:
        schema = params[f.param]["schema"]
        assert schema["type"] == ("boolean" if f.kind == "bool" else "array"), f.param
    result = doc["components"]["schemas"][op_schema_name(doc, ep)]["properties"]["data"]["items"]["properties"]
    result_ref = result["results"]["items"]["$ref"].rsplit("/", 1)[1]
    props = doc["components"]["schemas"][result_ref]["properties"]
    extra = {"amount", "quantity", "quantity_unit"} if ep.name == "costs" else {m.name for m in ep.metrics}
    extensions = {g for g in ep.group_by if DIMENSIONS[g].extension}  # present only when grouped by
    assert set(props) == {"object", *ep.result_dimensions, *extra, *extensions}
    assert props["object"]["enum"] == [ep.result_object]


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_live_answers_match_the_documented_schema(server: tuple[httpx.Client, dict[str, Any]], ep: Endpoint) -> None:
    c, doc = server
    page_validator = validator(doc, op_schema_name(doc, ep))
    result_name = (doc["components"]["schemas"][op_schema_name(doc, ep)]["properties"]["data"]["items"]
                   ["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1])
    documented = set(doc["components"]["schemas"][result_name]["properties"])
    seen = 0
    for group_by in ([], list(ep.group_by), [ep.group_by[-1]]):
        items = [("start_time", str(T0 - 5)), ("end_time", str(T0 + 2 * 86400)), ("limit", "1")]
        items += [("group_by", g) for g in group_by]
        for page in fetch_all(c, ep.full_path, items):
            errors = sorted(page_validator.iter_errors(page), key=str)
            assert not errors, errors[0]
            for b in page["data"]:
                for r in b["results"]:
                    # an extension field (origin) only when grouped by it: OpenAI's shape otherwise
                    assert set(r) == {d for d in documented if not (d in DIMENSIONS and DIMENSIONS[d].extension)
                                      or d in group_by}
                    seen += 1
    assert seen >= 4
    error_validator = validator(doc, "Error")
    bad = c.get(ep.full_path, params={"start_time": "soon"})
    assert bad.status_code == 400 and not list(error_validator.iter_errors(bad.json()))
    assert "400" in doc["paths"][ep.full_path]["get"]["responses"]


def test_ingest_body_and_answer_match_the_document(server: tuple[httpx.Client, dict[str, Any]]) -> None:
    c, doc = server
    op = doc["paths"]["/v1/usage/events"]["post"]
    body_schema = {**op["requestBody"]["content"]["application/json"]["schema"], "components": doc["components"]}
    body = {"events": [{**full_event(t, n), "id": f"oa-doc-{t}"} for n, t in enumerate(EVENT_TYPES)]}
    assert not list(Draft202012Validator(body_schema).iter_errors(body))
    wrong = {"events": [{"id": "x", "type": "completions", "timestamp": 1, "size": "256x256"}]}
    assert list(Draft202012Validator(body_schema).iter_errors(wrong))  # the document forbids it too
    answer = c.post("/v1/usage/events", json=body)
    answer_schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer.status_code == 200 and not list(Draft202012Validator(answer_schema).iter_errors(answer.json()))


def _checker(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": doc["components"]})


def _assert_answer(doc: dict[str, Any], path: str, method: str, answer: httpx.Response) -> None:
    """The answer's status is documented for the operation and its JSON body fits that status's schema."""
    responses = doc["paths"][path][method]["responses"]
    assert str(answer.status_code) in responses, (method, path, answer.status_code, answer.text)
    schema = responses[str(answer.status_code)]["content"]["application/json"]["schema"]
    errors = list(_checker(doc, schema).iter_errors(answer.json()))
    assert not errors, (method, path, errors[0])


def test_price_answers_match_the_document(server: tuple[httpx.Client, dict[str, Any]]) -> None:
    c, doc = server
    prices = "/v1/openusage/prices"
    body = {"prices": [{"model": "oa-doc-model", "kind": "completions", "effective_from": "2024-01-01",
                        "input": "1.5", "output": "3"}]}
    request_schema = doc["paths"][prices]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert not list(_checker(doc, request_schema).iter_errors(body))
    answers = [("post", prices, c.post(prices, json=body)), ("get", prices, c.get(prices)),
               ("post", prices, c.post(prices, json={"prices": [{"model": ""}]})),
               ("post", prices, c.post(prices, json={"prices": [{"model": "m", "kind": {},
                                                                  "effective_from": "2024-01-01"}]})),
               ("delete", prices, c.delete(prices, params={"model": "oa-doc-model", "effective_from": "2024-01-01"})),
               ("delete", prices, c.delete(prices, params={"model": "oa-doc-model", "effective_from": "2024-01-01"})),
               ("get", prices + "/missing", c.get(prices + "/missing", params={"start_time": T0,
                                                                               "end_time": T0 + 2 * 86400})),
               ("get", prices + "/missing", c.get(prices + "/missing", params={"start_time": -1, "end_time": 1}))]
    assert [a.status_code for _, _, a in answers] == [201, 200, 400, 400, 200, 404, 200, 400]
    for method, path, answer in answers:
        _assert_answer(doc, path, method, answer)


def test_trace_export_answers_match_the_document(server: tuple[httpx.Client, dict[str, Any]]) -> None:
    c, doc = server
    op = doc["paths"]["/v1/traces"]["post"]
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "051581bf3cb55c13", "name": "work",
            "startTimeUnixNano": "1", "endTimeUnixNano": "2", "attributes": []}
    body = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}
    assert not list(_checker(doc, op["requestBody"]["content"]["application/json"]["schema"]).iter_errors(body))
    _assert_answer(doc, "/v1/traces", "post", c.post("/v1/traces", json=body))  # one span without usage
    _assert_answer(doc, "/v1/traces", "post", c.post("/v1/traces", content=b"{", headers={
        "content-type": "application/json"}))
    raw = c.post("/v1/traces", content=b"", headers={"content-type": "application/x-protobuf"})
    assert raw.status_code == 200 and raw.headers["content-type"] in op["responses"]["200"]["content"]
