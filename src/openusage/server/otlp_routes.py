"""``POST /v1/traces``: OTLP/HTTP trace export, GenAI spans stored as usage events.

An app points its exporter here (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:8787/v1/traces``,
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<ingest key>``). The answer follows OTLP: 200 with
``partialSuccess`` naming how many spans were not usage (or not valid usage), 400 for a body that is
not an export request (nothing stored). Accepted spans are on disk before the answer, like every ingest.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ApiError, PermissionDeniedError
from ..ingest.events import EventBatch, IngestLimits, validate_events
from ..ingest.otlp import SpanEvents, decode, encode_response, span_events
from .core import AppCore


def _valid(found: SpanEvents, limits: IngestLimits) -> tuple[EventBatch, int, set[str]]:
    """The spans' events as one batch; events that fail validation (a bad value, a time outside the
    accepted window) are left out and counted (OTLP's partial success), each named by its span."""
    try:
        return validate_events(found.events, limits, origin="otlp"), 0, set()
    except ApiError:
        pass
    good: list[dict[str, Any]] = []
    reasons: set[str] = set()
    for event, path in zip(found.events, found.paths, strict=True):
        try:
            validate_events([event], limits, origin="otlp")
        except ApiError as exc:
            reasons.add(f"{path}: {exc.message}")
            continue
        good.append(event)
    return validate_events(good, limits, origin="otlp"), len(found.events) - len(good), reasons


def otlp_routes(core: AppCore) -> list[Route]:
    """The route, bound to the app core (authentication, the body limit, the writer, the metrics)."""

    async def traces(request: Request) -> Response:
        principal = core.principal(request, "ingest")
        body = await core.read_body(request)
        ctype = request.headers.get("content-type", "application/x-protobuf").split(";")[0].strip().lower()
        found = span_events(decode(body, ctype), core.settings.otlp_attributes)
        if principal.projects is not None:
            for event, path in zip(found.events, found.paths, strict=True):
                if event.get("project_id") not in principal.projects:
                    raise PermissionDeniedError(
                        f"This key may ingest usage of {', '.join(principal.projects)} only; {path} is of "
                        f"{event.get('project_id') or 'no project'}.", param=path)
        batch, invalid_spans, reasons = _valid(found, core.settings.ingest_limits(principal.projects))
        added = await core.write_batch(batch) if len(batch) else 0
        core.metrics.ingested(added, len(batch) - added)
        rejected = found.rejected + invalid_spans
        message = "; ".join(sorted(found.reasons | reasons))[:2000]
        content, media = encode_response(rejected, message, ctype)
        return Response(content, media_type=media)

    return [Route("/v1/traces", traces, methods=["POST"])]


__all__ = ["otlp_routes"]
