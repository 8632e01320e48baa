"""Prometheus metrics: request rate and latency per route, ingestion counts, store size.

Each app has its own registry (several apps live in one test process).  Store figures are read
when Prometheus scrapes, never on the request path.  Labels are bounded: routes are the route
templates (unknown paths count as ``other``), never raw paths or keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..store.base import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def store_bytes(store: Store) -> int:
    """Bytes on disk of an embedded store (its file and write-ahead log); 0 for server engines."""
    path = getattr(store, "path", None)
    if not path or path == ":memory:":
        return 0
    total = 0
    for p in (path, f"{path}.wal"):
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    return total


class StoreCollector(Collector):
    """Store size and event count, read at scrape time (a failing store reports ``up`` 0)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("openusage_store_up", "1 when the store answered the last scrape.")
        try:
            events = self.store.count_events()
        except Exception:  # the store is away; the scrape itself must still answer
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("openusage_store_events", "Events held by the store.", value=events)
        yield GaugeMetricFamily("openusage_store_size_bytes", "Bytes on disk of the embedded store.",
                                value=store_bytes(self.store))


CHILDREN_CACHED = 1024
"""Labelled metric children kept for reuse by :meth:`Metrics.observe`."""


class Metrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("openusage_http_requests", "HTTP requests answered.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("openusage_http_request_duration_seconds", "Time to answer, by route.",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=r)
        self.inflight = Gauge("openusage_http_requests_in_flight", "Requests being answered now.", registry=r)
        self.events = Counter("openusage_ingest_events", "Events received by ingestion, by outcome.",
                              ["outcome"], registry=r)
        self.ingest_batches = Counter("openusage_ingest_requests", "Ingestion requests acknowledged.",
                                      registry=r)
        self.rate_limited = Counter("openusage_rate_limited", "Requests refused with 429.", registry=r)
        self.store_errors = Counter("openusage_store_errors", "Requests answered 503 because the store failed.",
                                    registry=r)
        r.register(StoreCollector(store))
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answer.  The labelled children are kept per (route, method, status): ``labels()``
        validates and locks on every call, a few microseconds per request."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            if len(self._children) >= CHILDREN_CACHED:  # methods come from clients: keep the cache bounded
                self._children.clear()
            children = self._children[key] = (self.requests.labels(route, method, str(status)),
                                              self.latency.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)

    def ingested(self, accepted: int, duplicates: int) -> None:
        self.ingest_batches.inc()
        self.events.labels("accepted").inc(accepted)
        self.events.labels("duplicate").inc(duplicates)

    def render(self) -> bytes:
        return generate_latest(self.registry)
