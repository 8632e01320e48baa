"""OpenTelemetry GenAI spans (OTLP/HTTP traces) as usage events.

An app instrumented with a GenAI instrumentation (``opentelemetry-instrumentation-openai-v2`` and
its peers) exports one span per model call, carrying the semantic conventions' attributes:

==========================================  ==============================================
``gen_ai.operation.name``                   the endpoint: ``chat``, ``text_completion``,
                                            ``generate_content`` -> completions;
                                            ``embeddings`` -> embeddings
``gen_ai.response.model`` (else request)    ``model``
``gen_ai.usage.input_tokens``               ``input_tokens`` (all input, cached included)
``gen_ai.usage.output_tokens``              ``output_tokens`` (reasoning included, as OpenAI counts)
``gen_ai.usage.cache_read.input_tokens``    ``input_cached_tokens``
``gen_ai.usage.cache_creation.input_tokens`` ``input_cache_write_tokens``
==========================================  ==============================================

Project, user and key come from span or resource attributes, in the order of
:data:`DEFAULT_ATTRIBUTES` (the first present wins; configurable). The event id is derived from the
trace and span ids, so a re-sent batch counts once. Spans that carry no GenAI usage are not events:
they are counted in the answer's ``partialSuccess.rejectedSpans``, as OTLP prescribes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ..errors import invalid

OPERATIONS = {
    "chat": "completions",
    "text_completion": "completions",
    "generate_content": "completions",
    "embeddings": "embeddings",
}
"""``gen_ai.operation.name`` -> event type; other operations (tools, agents) carry no model usage."""

DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "project_id": ("openusage.project_id", "service.name"),
    "user_id": ("openusage.user_id", "enduser.id", "user.id"),
    "api_key_id": ("openusage.api_key_id",),
}
"""Where a span's project, user and key are read from: span attributes first, then the resource's."""

TOKEN_ATTRIBUTES = {
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.prompt_tokens": "input_tokens",  # the conventions' name before 1.27
    "gen_ai.usage.output_tokens": "output_tokens",
    "gen_ai.usage.completion_tokens": "output_tokens",
    "gen_ai.usage.cache_read.input_tokens": "input_cached_tokens",
    "gen_ai.usage.cache_creation.input_tokens": "input_cache_write_tokens",
}
PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPES = ("application/json",)


@dataclass
class SpanEvents:
    """The usage events found in one export request, and the spans that were not usage."""

    events: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    """Each event's span, as ``resourceSpans[i].scopeSpans[j].spans[k]``, for error messages."""
    rejected: int = 0
    reasons: set[str] = field(default_factory=set)


Scalar = str | bool | int | float | None
"""An attribute's value as read here: arrays, key-value lists and bytes are never an id or a count."""


def _scalar(value: AnyValue) -> Scalar:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    return None


def _attrs(items: Iterable[KeyValue]) -> dict[str, Scalar]:
    return {kv.key: _scalar(kv.value) for kv in items}


def decode(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """An OTLP/HTTP traces body, protobuf or JSON (ids in hex, as OTLP/JSON writes them)."""
    req = ExportTraceServiceRequest()
    if content_type in PROTOBUF_TYPES:
        try:
            req.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError):
            raise invalid(None, "The body is not a valid OTLP ExportTraceServiceRequest (protobuf).") from None
        return req
    if content_type in JSON_TYPES:
        try:
            doc = orjson.loads(body)
            json_format.ParseDict(_hex_ids_to_base64(doc), req, ignore_unknown_fields=True)
        except (orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError, AttributeError,
                binascii.Error) as exc:
            raise invalid(None, f"The body is not a valid OTLP/JSON ExportTraceServiceRequest: {exc}") from None
        return req
    raise invalid(None, f"Unsupported content type {content_type!r}: send application/x-protobuf or "
                        "application/json (OTLP/HTTP).")


def _hex_ids_to_base64(doc: Any) -> Any:
    """OTLP/JSON writes trace and span ids in hex, where protobuf's JSON mapping expects base64."""
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    for rs in _objects(doc.get("resourceSpans")):
        for ss in _objects(rs.get("scopeSpans")):
            for span in _objects(ss.get("spans")):
                for key in ("traceId", "spanId", "parentSpanId"):
                    value = span.get(key) if isinstance(span, dict) else None
                    if isinstance(value, str) and value:
                        span[key] = base64.b64encode(bytes.fromhex(value)).decode()
    return doc


def _objects(value: Any) -> list[dict[str, Any]]:
    """The items of an OTLP/JSON list, each of which must be an object."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError("resourceSpans, scopeSpans and spans must be lists of objects")
    return value


def _first(names: tuple[str, ...], span: dict[str, Scalar], resource: dict[str, Scalar]) -> str | None:
    for source in (span, resource):
        for name in names:
            value = source.get(name)
            if isinstance(value, str) and value:
                return value
    return None


def _count(value: Scalar) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) else None


def span_events(req: ExportTraceServiceRequest,
                attributes: dict[str, tuple[str, ...]] | None = None) -> SpanEvents:
    """The usage events of an export request, one per GenAI span that reports usage."""
    attributes = attributes or DEFAULT_ATTRIBUTES
    out = SpanEvents()
    for i, rs in enumerate(req.resource_spans):
        resource = _attrs(rs.resource.attributes)
        for j, ss in enumerate(rs.scope_spans):
            for k, span in enumerate(ss.spans):
                attrs = _attrs(span.attributes)
                event_type = OPERATIONS.get(str(attrs.get("gen_ai.operation.name") or ""))
                tokens = {field: _count(attrs.get(name)) for name, field in TOKEN_ATTRIBUTES.items()
                          if attrs.get(name) is not None}
                if event_type is None or not tokens:
                    out.rejected += 1
                    out.reasons.add("spans without GenAI usage (gen_ai.operation.name and gen_ai.usage.*) "
                                    "are not usage")
                    continue
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    out.rejected += 1
                    out.reasons.add("spans need a 16-byte trace id and an 8-byte span id")
                    continue
                event: dict[str, Any] = {
                    "id": f"otlp:{span.trace_id.hex()}:{span.span_id.hex()}",
                    "type": event_type,
                    "timestamp": (span.start_time_unix_nano or span.end_time_unix_nano) / 1e9,
                    "num_model_requests": 1,
                }
                model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
                if isinstance(model, str) and model:
                    event["model"] = model
                for dim, names in attributes.items():
                    value = _first(names, attrs, resource)
                    if value is not None:
                        event[dim] = value
                for metric, count in tokens.items():
                    if event_type == "embeddings" and metric != "input_tokens":
                        continue
                    event[metric] = count
                out.events.append(event)
                out.paths.append(f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]")
    return out


def encode_response(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """OTLP's answer: ``ExportTraceServiceResponse`` with ``partial_success`` when spans were rejected."""
    resp = ExportTraceServiceResponse()
    if rejected:
        resp.partial_success.rejected_spans = rejected
        resp.partial_success.error_message = message
    if content_type in PROTOBUF_TYPES:
        return resp.SerializeToString(), "application/x-protobuf"
    return orjson.dumps(json_format.MessageToDict(resp)), "application/json"


__all__ = ["DEFAULT_ATTRIBUTES", "OPERATIONS", "SpanEvents", "decode", "encode_response", "span_events"]
