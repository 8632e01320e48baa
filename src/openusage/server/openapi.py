"""The OpenAPI 3.1 document, generated from the endpoint table (never written by hand)."""

from __future__ import annotations

from functools import cache
from typing import Any

from .. import __version__
from ..auth import SCOPES
from ..pricing.catalog import PRICE_FIELDS
from ..query.params import MAX_TIME
from ..spec import DIMENSIONS, ENDPOINTS, ENDPOINTS_BY_TYPE, EVENT_TYPES, QUANTITY_UNITS, Endpoint, event_dimensions

ERROR = {"$ref": "#/components/schemas/Error"}


def _error_responses(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid parameters.", 401: "Missing or unknown API key.", 403: "The key lacks the needed scope.",
            404: "Not found.", 413: "The body is too large.", 415: "Unsupported content encoding.",
            429: "Rate limited.", 500: "Server error.", 503: "Store unavailable."}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _dim_schema(name: str) -> dict[str, Any]:
    d = DIMENSIONS[name]
    if d.kind == "bool":
        return {"type": ["boolean", "null"], "description": d.description}
    if d.pattern:
        return {"type": ["string", "null"], "pattern": d.pattern, "description": d.description}
    if d.enum:
        return {"type": ["string", "null"], "enum": [*d.enum, None], "description": d.description}
    return {"type": ["string", "null"], "description": d.description}


def result_schema(ep: Endpoint) -> dict[str, Any]:
    props: dict[str, Any] = {"object": {"type": "string", "enum": [ep.result_object]}}
    required = ["object"]
    if ep.is_costs:
        props["amount"] = {
            "type": "object",
            "properties": {"value": {"type": "number"}, "currency": {"type": "string", "enum": ["usd"]}},
            "required": ["value", "currency"],
        }
        props["quantity"] = {"type": ["number", "null"], "description": "Quantity billed (grouped by line item)."}
        props["quantity_unit"] = {"type": ["string", "null"], "enum": [*QUANTITY_UNITS, None]}
        required.append("amount")
    else:
        for m in ep.metrics:
            props[m.name] = {"type": "integer", "description": m.description}
            required.append(m.name)
    for dim in ep.result_dimensions:
        props[dim] = _dim_schema(dim)
    for dim in (g for g in ep.group_by if DIMENSIONS[g].extension):  # not required: only when grouped by it
        note = f"{DIMENSIONS[dim].description} Present only when grouped by it."
        props[dim] = {**_dim_schema(dim), "description": note}
    return {"type": "object", "properties": props, "required": required, "description": ep.summary}


def _schema_name(ep: Endpoint) -> str:
    return "".join(p.title() for p in ep.result_object.split(".")[1:-1]) + "Result"


def page_schema(ep: Endpoint) -> dict[str, Any]:
    result = {"$ref": f"#/components/schemas/{_schema_name(ep)}"}
    bucket = {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["bucket"]},
            "start_time": {"type": "integer"},
            "end_time": {"type": "integer"},
            "results": {"type": "array", "items": result},
        },
        "required": ["object", "start_time", "end_time", "results"],
    }
    return {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["page"]},
            "data": {"type": "array", "items": bucket},
            "has_more": {"type": "boolean"},
            "next_page": {"type": ["string", "null"]},
        },
        "required": ["object", "data", "has_more", "next_page"],
    }


def parameters(ep: Endpoint) -> list[dict[str, Any]]:
    limits = "; ".join(f"`bucket_width={w}`: default {d}, max {m}" for w, (d, m) in ep.limits.items())
    out: list[dict[str, Any]] = [
        {"name": "start_time", "in": "query", "required": True,
         "description": "Start time (Unix seconds) of the query time range, inclusive.",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TIME}},
        {"name": "end_time", "in": "query", "required": False,
         "description": "End time (Unix seconds) of the query time range, exclusive. Defaults to now.",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TIME}},
        {"name": "bucket_width", "in": "query", "required": False,
         "description": f"Width of each time bucket: {', '.join(ep.bucket_widths)} (default `1d`).",
         "schema": {"type": "string", "enum": list(ep.bucket_widths), "default": "1d"}},
    ]
    for f in ep.filters:
        if f.kind == "bool":
            schema: dict[str, Any] = {"type": "boolean"}
        else:
            item: dict[str, Any] = {"type": "string"}
            if DIMENSIONS[f.dimension].enum:
                item["enum"] = list(DIMENSIONS[f.dimension].enum or ())
            schema = {"type": "array", "items": item}
        p: dict[str, Any] = {"name": f.param, "in": "query", "required": False, "description": f.description,
                             "schema": schema}
        if f.kind == "list":
            p.update(style="form", explode=True)
        out.append(p)
    out += [
        {"name": "group_by", "in": "query", "required": False, "style": "form", "explode": True,
         "description": f"Group by these fields, in any combination: {', '.join(ep.group_by)}.",
         "schema": {"type": "array", "items": {"type": "string", "enum": list(ep.group_by)}}},
        {"name": "limit", "in": "query", "required": False,
         "description": f"Number of buckets to return. {limits}.",
         "schema": {"type": "integer", "minimum": 1, "maximum": max(m for _, m in ep.limits.values())}},
        {"name": "page", "in": "query", "required": False,
         "description": "A cursor for pagination: the `next_page` field of the previous response.",
         "schema": {"type": "string"}},
    ]
    return sorted(out, key=lambda p: ep.parameters.index(p["name"]))  # extensions after OpenAI's parameters


def event_schema() -> dict[str, Any]:

    variants = []
    for t in EVENT_TYPES:
        ep = ENDPOINTS_BY_TYPE[t]
        props: dict[str, Any] = {
            "id": {"type": "string", "minLength": 1, "maxLength": 256, "description": "Idempotency key."},
            "type": {"type": "string", "enum": [t]},
            "timestamp": {"oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "format": "date-time"}],
                          "description": "Unix seconds, or an RFC 3339 string with its offset."},
        }
        for d in event_dimensions(t):
            props[d] = _dim_schema(d)
        for m in ep.metrics:
            if m.agg in ("sum", "gauge"):
                props[m.name] = {"type": "integer", "minimum": 0, "default": m.default}
        if ENDPOINTS_BY_TYPE[t].is_costs:
            props["amount"] = {"oneOf": [{"type": "number"}, {"type": "string"}, {
                "type": "object", "properties": {"value": {"type": ["number", "string"]},
                                                 "currency": {"type": "string", "enum": ["usd"]}},
                "required": ["value"], "additionalProperties": False}]}
            props["quantity"] = {"type": ["number", "null"], "minimum": 0}
            props["quantity_unit"] = {"type": ["string", "null"], "enum": [*QUANTITY_UNITS, None]}
        required = ["id", "type", "timestamp"] + (["amount"] if ENDPOINTS_BY_TYPE[t].is_costs else [])
        variants.append({"type": "object", "title": f"{t} event", "properties": props, "required": required,
                         "additionalProperties": False})
    return {"oneOf": variants, "discriminator": {"propertyName": "type"}}


def operations_paths() -> dict[str, Any]:
    """Readiness, metrics and key management (see docs/operations.md)."""
    status = {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}},
                                              "required": ["status"]}}}
    key: dict[str, Any] = {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "scope": {"type": "string", "enum": list(SCOPES)},
        "projects": {"type": ["array", "null"], "items": {"type": "string"}}, "created_at": {"type": "integer"},
        "revoked_at": {"type": ["integer", "null"]}}, "required": ["id", "name", "scope", "projects", "created_at"]}
    new_key = {**key, "properties": {**key["properties"], "key": {"type": "string"}},
               "required": [*key["required"], "key"]}
    admin_errors = _error_responses(400, 401, 403, 429, 500, 503)
    return {
        "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness: the store answers.", "tags": ["Operations"],
                            "security": [], "responses": {"200": {"description": "Ready.", "content": status},
                                                          "503": {"description": "Not ready.", "content": status}}}},
        "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics (admin key unless public).",
                             "tags": ["Operations"], "responses": {
                                 "200": {"description": "Prometheus text format.",
                                         "content": {"text/plain": {"schema": {"type": "string"}}}},
                                 **_error_responses(401, 403, 429, 500)}}},
        "/v1/openusage/keys": {
            "get": {"operationId": "list_keys", "summary": "List API keys (admin).", "tags": ["Keys"],
                    "responses": {"200": {"description": "The keys, without secrets.", "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "object": {"type": "string", "enum": ["list"]},
                            "data": {"type": "array", "items": key}}, "required": ["object", "data"]}}}},
                        **admin_errors}},
            "post": {"operationId": "create_key", "summary": "Create an API key (admin); the secret is shown once.",
                     "tags": ["Keys"], "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "properties": {
                             "name": {"type": "string"}, "scope": {"type": "string", "enum": list(SCOPES)},
                             "projects": {"type": ["array", "null"], "items": {"type": "string"}}}}}}},
                     "responses": {"201": {"description": "Created.", "content": {
                         "application/json": {"schema": new_key}}}, **_error_responses(400, 401, 403, 413, 429, 500,
                                                                                        503)}},
        },
        "/v1/openusage/keys/{key_id}": {"delete": {
            "operationId": "revoke_key", "summary": "Revoke an API key (admin).", "tags": ["Keys"],
            "parameters": [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Revoked.", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"},
                                                 "object": {"type": "string"}},
                "required": ["id", "deleted", "object"]}}}}, **_error_responses(404, 401, 403, 429, 500, 503)}}},
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"object": {"type": "string", "enum": ["list"]},
                                             "data": {"type": "array", "items": item}},
            "required": ["object", "data"]}


def price_paths() -> dict[str, Any]:
    """Custom prices through a running server (:mod:`openusage.pricing.routes`, docs/pricing.md).

    A record's price fields depend on its kind (the prices-file format); the server names any field
    it does not know, so the schema lists the common fields and leaves the others open.
    """
    common = {"model": {"type": "string", "minLength": 1, "description": "The model (or tool) name."},
              "kind": {"type": "string", "enum": list(PRICE_FIELDS), "description": "The usage kind priced."},
              "project_id": {"type": "string", "minLength": 1, "description": "Only this project's usage."},
              "effective_from": {"type": "string", "format": "date", "description": "First day (UTC) it applies."}}
    record = {"type": "object", "properties": common, "required": ["model", "effective_from"],
              "description": "One price record: the fields of the prices-file format for its kind "
                             "(per-million-token prices, tiers, per_image, multiplier...)."}
    stored = {**record, "required": ["model", "kind", "effective_from"]}
    errors = _error_responses(400, 401, 403, 429, 500, 503)
    day = {"type": "string", "format": "date"}
    when = {"type": "integer", "minimum": 0, "maximum": MAX_TIME}
    unpriced = {"type": "object", "properties": {
        "kind": {"type": "string"}, "model": {"type": "string"}, "what": {"type": "string"},
        "quantity": {"type": "number"}, "first_day": day, "last_day": day},
        "required": ["kind", "model", "what", "quantity", "first_day", "last_day"]}
    return {
        "/v1/openusage/prices": {
            "get": {"operationId": "list_prices", "summary": "List the custom prices (admin).", "tags": ["Prices"],
                    "responses": {"200": {"description": "The custom prices.", "content": _json(_listing(stored))},
                                  **errors}},
            "post": {"operationId": "add_prices", "summary": "Add custom prices (admin); a record with the same "
                                                             "model, project and day replaces the stored one.",
                     "tags": ["Prices"], "requestBody": {"required": True, "content": _json({
                         "type": "object", "properties": {"prices": {"type": "array", "items": record}},
                         "required": ["prices"]})},
                     "responses": {"201": {"description": "The records added.", "content": _json(_listing(stored))},
                                   **_error_responses(400, 401, 403, 413, 415, 429, 500, 503)}},
            "delete": {"operationId": "remove_price", "summary": "Remove one custom price (admin).",
                       "tags": ["Prices"], "parameters": [
                           {"name": "model", "in": "query", "required": True, "schema": {"type": "string"}},
                           {"name": "effective_from", "in": "query", "required": True, "schema": day},
                           {"name": "project_id", "in": "query", "required": False, "schema": {"type": "string"}}],
                       "responses": {"200": {"description": "Removed.", "content": _json({
                           "type": "object", "properties": {
                               "object": {"type": "string", "enum": ["openusage.price.deleted"]},
                               "model": {"type": "string"}, "effective_from": day,
                               "project_id": {"type": ["string", "null"]}, "deleted": {"type": "boolean"}},
                           "required": ["object", "model", "effective_from", "project_id", "deleted"]})},
                           **_error_responses(400, 401, 403, 404, 429, 500, 503)}},
        },
        "/v1/openusage/prices/missing": {"get": {
            "operationId": "missing_prices", "summary": "Usage no price covers in [start_time, end_time) (admin).",
            "tags": ["Prices"], "parameters": [
                {"name": "start_time", "in": "query", "required": True, "schema": when},
                {"name": "end_time", "in": "query", "required": True, "schema": when}],
            "responses": {"200": {"description": "The unpriced usage, by kind, model and what is unpriced.",
                                  "content": _json(_listing(unpriced))}, **errors}}},
    }


def backup_paths() -> dict[str, Any]:
    """An online backup of a DuckDB store, as a tar archive (docs/operations.md); it takes no options."""
    return {"/v1/openusage/backup": {"post": {
        "operationId": "backup", "summary": "Back the store up (admin): a consistent snapshot as a tar archive.",
        "tags": ["Operations"],
        "responses": {"200": {"description": "The snapshot's Parquet files and manifest, uncompressed tar.",
                              "headers": {"content-disposition": {"schema": {"type": "string"}}},
                              "content": {"application/x-tar": {"schema": {"type": "string",
                                                                           "contentMediaType": "application/x-tar"}}}},
                      **_error_responses(400, 401, 403, 413, 415, 429, 500, 503)}}}}


def otlp_paths() -> dict[str, Any]:
    """OTLP/HTTP trace export (:mod:`.otlp_routes`): GenAI spans stored as usage events.

    Bodies and answers are OTLP's ``ExportTraceServiceRequest`` and ``ExportTraceServiceResponse``,
    protobuf or JSON as sent; errors keep the API's JSON envelope.
    """
    protobuf = {"type": "string", "contentMediaType": "application/x-protobuf"}
    def array_of(item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "object", "properties": item}}

    span = {"traceId": {"type": "string"}, "spanId": {"type": "string"}, "parentSpanId": {"type": "string"},
            "name": {"type": "string"}, "attributes": {"type": "array", "items": {"type": "object"}}}
    request = {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest (ids in hex).",
               "properties": {"resourceSpans": array_of({
                   "resource": {"type": "object"},
                   "scopeSpans": array_of({"scope": {"type": "object"}, "spans": array_of(span)})})}}
    answer = {"type": "object", "description": "OTLP/JSON ExportTraceServiceResponse.", "properties": {
        "partialSuccess": {"type": "object", "properties": {
            "rejectedSpans": {"type": ["string", "integer"], "description": "Spans not stored (int64)."},
            "errorMessage": {"type": "string"}}}}}
    return {"/v1/traces": {"post": {
        "operationId": "export_traces", "summary": "OTLP/HTTP trace export: GenAI spans recorded as usage (ingest).",
        "tags": ["Ingestion"],
        "requestBody": {"required": True, "content": {"application/x-protobuf": {"schema": protobuf},
                                                      "application/json": {"schema": request}}},
        "responses": {"200": {"description": "Stored; partialSuccess counts the spans that were not usage or "
                                             "not valid usage.",
                              "content": {"application/x-protobuf": {"schema": protobuf},
                                          "application/json": {"schema": answer}}},
                      **_error_responses(400, 401, 403, 413, 415, 429, 500, 503)}}}}


@cache
def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "object", "properties": {
                "message": {"type": "string"}, "type": {"type": "string"},
                "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}},
                "required": ["message", "type", "param", "code"]}},
            "required": ["error"],
        },
        "UsageEvent": event_schema(),
    }
    for ep in ENDPOINTS:
        schemas[_schema_name(ep)] = result_schema(ep)
        schemas[_schema_name(ep) + "Page"] = page_schema(ep)
        paths[ep.full_path] = {"get": {
            "operationId": ep.method_name,
            "summary": ep.summary,
            "tags": [ep.tag],
            "parameters": parameters(ep),
            "responses": {
                "200": {"description": "Usage data retrieved successfully.", "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_schema_name(ep)}Page"}}}},
                **_error_responses(400, 401, 403, 429, 500, 503),
            },
        }}
    paths["/v1/usage/events"] = {"post": {
        "operationId": "ingest_events",
        "summary": "Record usage events (idempotent by id; answered once durable).",
        "tags": ["Ingestion"],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/UsageEvent"}}},
                "required": ["events"], "additionalProperties": False}},
            "application/x-ndjson": {"schema": {"type": "string"}}}},
        "responses": {"200": {"description": "Stored.", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"}},
            "required": ["accepted", "duplicates"]}}}}, **_error_responses(400, 401, 403, 413, 429, 500, 503)},
    }}
    paths["/healthz"] = {"get": {"operationId": "healthz", "summary": "Liveness.", "tags": ["Operations"],
                                 "security": [],
                                 "responses": {"200": {"description": "Ready."}, "503": {"description": "Starting."}}}}
    paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document.", "tags": ["Operations"],
                                      "security": [], "responses": {"200": {"description": "OpenAPI 3.1.",
                                                                            "content": _json({"type": "object"})}}}}
    paths.update(operations_paths())
    paths.update(price_paths())
    paths.update(backup_paths())
    paths.update(otlp_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "openusage: the OpenAI Usage & Costs API", "version": __version__,
                 "description": "OpenAI's organization Usage & Costs API, served over your own usage data."},
        "servers": [{"url": "/"}],
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"ApiKeyAuth": {"type": "http", "scheme": "bearer"}}},
    }
