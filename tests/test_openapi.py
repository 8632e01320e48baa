"""The OpenAPI document: valid, complete for the API's routes, equal to the endpoint table, and true
to what the live server answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import Route

from openusage.spec import DIMENSIONS, ENDPOINTS, EVENT_TYPES, Endpoint
from tests.conftest import LiveServer
from tests.reference import fetch_all
from tests.test_ingest import full_event

T0 = 1_700_006_400


@pytest.fixture(scope="module")
def server(module_server: LiveServer) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    with module_server.client() as c:
        events = [full_event(t, n) for n, t in enumerate(EVENT_TYPES)]
        events += [{"id": f"oa-min-{t}", "type": t, "timestamp": T0 + 60, "amount": 1} if t == "costs" else
                   {"id": f"oa-min-{t}", "type": t, "timestamp": T0 + 60} for t in EVENT_TYPES]
        assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
        r = httpx.get(module_server.url + "/openapi.json")  # public: no key needed
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


def test_every_api_route_is_documented(server: tuple[httpx.Client, dict[str, Any]], module_server: LiveServer) -> None:
    _, doc = server
    app = module_server.server.config.app  # the app the live server runs
    assert isinstance(app, Starlette)
    api = [r for r in app.routes if isinstance(r, Route) and (
        r.path.startswith(("/v1/organization/", "/v1/openusage/keys")) or r.path == "/v1/usage/events")]
    assert len(api) == len(ENDPOINTS) + 4  # the usage endpoints, ingestion, keys (list, create, revoke)
    for route in api:
        assert route.path in doc["paths"], route.path
        documented = {m.upper() for m in doc["paths"][route.path]}
        assert set(route.methods or ()) - {"HEAD"} <= documented, route.path
    assert set(doc["paths"]) >= {ep.full_path for ep in ENDPOINTS}


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
