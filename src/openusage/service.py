"""The Usage API's behaviour, independent of HTTP: parse a request, ask the store, render a page.

The server, the CLI (reading a store file directly) and the tests share this one path.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

from .auth import Principal
from .errors import ApiError, invalid
from .pricing.costs import costs_response
from .query.params import Params, UsageQuery, parse_params, resolve
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
        chosen = allowed & set(wanted) if isinstance(wanted, tuple) else allowed  # a list filter, never a bool
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


log = logging.getLogger("openusage.service")

CURSOR_SECRET = "cursor_secret"
"""Store metadata entry holding the key that signs page cursors (shared by every worker)."""
DEFAULT_MAX_PAGE_RESULTS = 100_000


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")  # runs may read rollups or raw events


class UsageService:
    def __init__(self, store: Store, max_page_results: int = DEFAULT_MAX_PAGE_RESULTS) -> None:
        if max_page_results < 1:
            raise ValueError("max_page_results must be >= 1")
        self.store = store
        self.max_page_results = max_page_results
        self._cursor_key: bytes | None = None
        self._lock = threading.Lock()

    def cursor_key(self, reload: bool = False) -> bytes:
        """The store's cursor secret, made on first use (kept in store metadata so that every
        worker signs and checks cursors alike; a read-only store gets one for this process)."""
        with self._lock:
            if self._cursor_key is None or reload:
                value = self.store.get_meta(CURSOR_SECRET)
                if value is None:
                    try:
                        self.store.set_meta(CURSOR_SECRET, secrets.token_hex(32))
                        value = self.store.get_meta(CURSOR_SECRET)  # another worker may have won
                    except Exception as exc:  # a read-only store: cursors valid in this process only
                        log.warning("cannot keep the cursor secret in the store (%s)", type(exc).__name__)
                        value = self._cursor_key.hex() if self._cursor_key else secrets.token_hex(32)
                self._cursor_key = bytes.fromhex(value or secrets.token_hex(32))
            return self._cursor_key

    def resolve(self, params: Params, now: int) -> UsageQuery:
        """:func:`resolve` with the store's cursor secret; a cursor that fails is checked once more
        against a freshly read secret (workers starting together may both have made one)."""
        try:
            return resolve(params, now, self.cursor_key())
        except ApiError as exc:
            if exc.param != "page" or self.cursor_key() == self.cursor_key(reload=True):
                raise
            return resolve(params, now, self.cursor_key())

    def page_table(self, q: UsageQuery, principal: Principal | None = None, max_rows: int | None = None) -> pa.Table:
        if not q.buckets:
            return pa.table({"bucket": pa.array([], pa.int64())})
        return self.store.aggregate(replace(aggregate_for(q, principal), max_rows=max_rows))

    def bounded_page(self, q: UsageQuery, principal: Principal | None = None) -> tuple[UsageQuery, pa.Table]:
        """The page and its rows, cut at a bucket edge when its buckets hold more than
        ``max_page_results`` results (``has_more`` and ``next_page`` carry on from there); a 400
        when one bucket alone holds more.

        The engine holds every group of the range it aggregates, whatever the row limit, so the
        page's buckets are read in runs: one bucket first, then as many as the results seen so
        far say will reach the bound (at most eight times the buckets read), so that no run holds
        much more than the bound however many results the whole page range has.  Each run is a
        round trip to the engine, so a page that cannot come near the bound is read in fewer:
        without ``group_by`` (a result per bucket at most) in one, and once the results seen,
        scaled to every bucket left, stay under an eighth of the bound, the rest in one.
        """
        bound = self.max_page_results
        tables: list[pa.Table] = []
        have = done = 0
        step = len(q.buckets) if not q.params.group_by and len(q.buckets) <= bound else 1
        while done < len(q.buckets):
            run = q.buckets[done:done + step]
            table = self.page_table(replace(q, buckets=run), principal, max_rows=bound - have + 1)
            if table.num_rows > bound - have:  # the bound falls in this run's last bucket
                last = table.column("bucket")[-1].as_py()
                table = table.filter(pc.less(table.column("bucket"), last))
                if have + table.num_rows == 0:
                    start = max(last, q.buckets[0].start)
                    raise invalid(None, f"The bucket starting at {start} holds more than {bound} results, the "
                                        "most one page may hold: narrow the query with a smaller bucket_width, "
                                        "fewer group_by fields or filters (project_ids, models, ...).")
                tables.append(table)
                buckets = [b for b in q.buckets if (b.start // q.width) * q.width < last]
                return replace(q, buckets=buckets), _concat(tables)
            tables.append(table)
            have += table.num_rows
            done += len(run)
            fit = math.ceil((bound - have) * done / have) + 1 if have else len(q.buckets)
            left = len(q.buckets) - done
            step = left if fit > 8 * left else max(1, min(fit, 8 * done))
        return q, _concat(tables)

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
        q = self.resolve(parse_params(endpoint, items), int(time.time()) if now is None else now)
        if endpoint.is_costs:  # imported cost lines plus usage priced at query time
            body, headers = costs_response(self.store, q, aggregate_for(q, principal),
                                           max_results=self.max_page_results)
            return [body], headers
        return render_parts(*self.bounded_page(q, principal)), {}
