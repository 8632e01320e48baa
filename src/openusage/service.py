"""The Usage API's behaviour, independent of HTTP: parse a request, ask the store, render a page.

The server, the CLI (reading a store file directly) and the tests share this one path.
"""

from __future__ import annotations

import time

import pyarrow as pa

from .auth import Principal
from .pricing.costs import costs_response
from .query.params import UsageQuery, parse_params, resolve
from .query.render import render_parts
from .spec import BUCKET_SECONDS, Endpoint
from .store.base import Aggregate, Store


def aggregate_for(q: UsageQuery, principal: Principal | None = None) -> Aggregate:
    """The store aggregation behind one page, with a project-limited key's projects applied."""
    ep = q.endpoint
    p = q.params
    filters = dict(p.filters)
    if principal is not None and principal.projects is not None:
        allowed = set(principal.projects)
        wanted = filters.get("project_id")
        chosen = allowed if wanted is None else allowed & set(wanted)  # type: ignore[arg-type]
        filters["project_id"] = tuple(sorted(chosen))
    start, end = q.range
    metrics = tuple(m.name for m in ep.metrics if m.agg == "sum")
    gauges = tuple(m.name for m in ep.metrics if m.agg == "gauge")
    decimals = tuple(m.name for m in ep.metrics if m.agg == "decimal")
    return Aggregate(
        event_type=ep.event_type,
        start_s=start,
        end_s=end,
        width_s=BUCKET_SECONDS[p.bucket_width],
        group_by=p.group_by,
        filters=filters,
        metrics=metrics,
        gauges=gauges,
        decimals=decimals,
        with_quantity=ep.is_costs and "line_item" in p.group_by,
    )


class UsageService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def page_table(self, q: UsageQuery, principal: Principal | None = None) -> pa.Table:
        if not q.buckets:
            return pa.table({"bucket": pa.array([], pa.int64())})
        return self.store.aggregate(aggregate_for(q, principal))

    def query(self, endpoint: Endpoint, items: list[tuple[str, str]], principal: Principal | None = None,
              now: int | None = None) -> bytes:
        """The JSON body answering one request (raises ApiError for bad parameters)."""
        return self.respond(endpoint, items, principal, now)[0]

    def respond(self, endpoint: Endpoint, items: list[tuple[str, str]], principal: Principal | None = None,
                now: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The JSON body and extra headers (costs name unpriced models) answering one request."""
        parts, headers = self.respond_parts(endpoint, items, principal, now)
        return b"".join(parts), headers

    def respond_parts(self, endpoint: Endpoint, items: list[tuple[str, str]], principal: Principal | None = None,
                      now: int | None = None) -> tuple[list[bytes | memoryview], dict[str, str]]:
        """Like :meth:`respond`, the body in pieces to stream (see :func:`render_parts`)."""
        q = resolve(parse_params(endpoint, items), int(time.time()) if now is None else now)
        if endpoint.is_costs:  # imported cost lines plus usage priced at query time
            body, headers = costs_response(self.store, q, aggregate_for(q, principal))
            return [body], headers
        return render_parts(q, self.page_table(q, principal)), {}
