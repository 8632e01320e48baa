"""Property tests: the live server answers every endpoint as the reference model says.

Random events go over real HTTP into one server per module; random queries (every endpoint,
bucket width, filter, ``group_by`` subset, limit and array encoding) come back page by page and
are compared, all pages concatenated, with :mod:`tests.reference` run over every event the
server was ever sent (so examples sharing the server cannot fool each other).  Costs run on a
server of their own, holding cost lines only.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.spec import BUCKET_SECONDS, DIMENSIONS, ENDPOINTS, QUANTITY_UNITS, Endpoint, event_dimensions
from tests.conftest import AppServer, new_store, start_app
from tests.reference import (
    ARRAY_FORMS,
    bucket_edges,
    consistent_tokens,
    encode_array,
    event_key,
    fetch_all,
    reference_buckets,
)

POOLS: dict[str, list[str]] = {
    "project_id": ["proj_a", "proj_b", "proj_c"],
    "user_id": ["user_1", "user_2"],
    "api_key_id": ["key_x", "key_y"],
    "model": ["gpt-4o", "gpt-4o-mini", 'o3 "quoted" \\ é', "модель-🚀"],
    "service_tier": ["default", "flex", "priority"],
    "vector_store_id": ["vs_1", "vs_2"],
    "line_item": ["gpt-4o, input", "gpt-4o, output", "web search tool calls"],
}
DAY0 = 1672531200  # 2023-01-01T00:00:00Z
SPAN = {"1m": (60, 4 * 3600), "1h": (3600, 4 * 86400), "1d": (86400, 45 * 86400)}
"""Per width: (width, longest query range), so that a query has a handful of pages at most."""
MAX_PAGES = 6
EXAMPLES = int(os.environ.get("OPENUSAGE_PROPERTY_EXAMPLES", "20"))
"""Examples per endpoint; raise it for a deeper search (``OPENUSAGE_PROPERTY_EXAMPLES=500``)."""

_ids = itertools.count()


@dataclass
class Target:
    """A live server and every event it was ever sent, in order: the reference model's input."""

    client: httpx.Client
    history: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def usage_target(module_app_server: AppServer) -> Iterator[Target]:
    with module_app_server.client() as c:
        yield Target(c)


@pytest.fixture(scope="module")
def costs_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Costs get a server of their own: there usage would be priced into the amounts as well (the
    pricing module's business), while the contract's costs are the imported cost lines."""
    store = new_store(tmp_path_factory.mktemp("costs") / "usage.duckdb")
    srv = start_app(store)
    with srv.client() as c:
        yield Target(c)
    srv.stop()
    store.close()


@pytest.fixture
def target(request: pytest.FixtureRequest, ep: Endpoint) -> Target:
    return request.getfixturevalue("costs_target" if ep.name == "costs" else "usage_target")


def dimension_value(name: str) -> st.SearchStrategy[Any]:
    d = DIMENSIONS[name]
    if d.kind == "bool":
        return st.none() | st.booleans()
    if d.enum:
        return st.none() | st.sampled_from(d.enum)
    return st.none() | st.sampled_from(POOLS[name])


def amount() -> st.SearchStrategy[Any]:
    """Money as clients send it: a JSON number, a string, or ``{"value", "currency"}``."""
    dec = st.decimals(min_value=-50, max_value=5000, places=6, allow_nan=False, allow_infinity=False)
    return st.one_of(dec.map(str), dec.map(float), dec.map(lambda d: {"value": str(d), "currency": "usd"}))


@st.composite
def event(draw: st.DrawFn, ep: Endpoint, prefix: str, moments: list[int], shift_us: int = 0) -> dict[str, Any]:
    """An event at one of ``moments`` (plus ``shift_us``, whole seconds, applied after drawing)."""
    us = draw(st.sampled_from(moments)) + shift_us
    ts: float | int = us // 1_000_000 if us % 1_000_000 == 0 and draw(st.booleans()) else us / 1_000_000
    ev: dict[str, Any] = {"id": f"{prefix}{draw(st.integers(0, 40))}", "type": ep.event_type, "timestamp": ts}
    for d in event_dimensions(ep.event_type):
        if draw(st.booleans()):
            ev[d] = draw(dimension_value(d))
    for m in ep.metrics:
        if m.agg in ("sum", "gauge") and draw(st.booleans()):
            ev[m.name] = draw(st.integers(0, 10**9 if m.agg == "gauge" else 10**6))
    if ep.name == "costs":
        ev["amount"] = draw(amount())
        if draw(st.booleans()):
            ev["quantity"] = draw(st.none() | st.integers(0, 10**6).map(lambda q: q / 4))
            ev["quantity_unit"] = draw(st.none() | st.sampled_from(QUANTITY_UNITS))
    return consistent_tokens(ev)


def noise(ep: Endpoint, prefix: str, us: int, n: int) -> dict[str, Any]:
    """A minimal event of another type, sometimes reusing an id of this example (first one wins)."""
    other = "moderations" if ep.event_type == "embeddings" else "embeddings"
    return {"id": f"{prefix}{n}", "type": other, "timestamp": us / 1_000_000, "input_tokens": 7}


@st.composite
def query_filters(draw: st.DrawFn, ep: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in ep.filters:
        if not draw(st.integers(0, 3)) == 0:
            continue
        d = DIMENSIONS[f.dimension]
        if f.kind == "bool":
            out[f.param] = draw(st.booleans())
        else:
            pool = list(d.enum) if d.enum else [*POOLS[f.dimension], "absent_value"]
            out[f.param] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    return out


@st.composite
def case(draw: st.DrawFn, ep: Endpoint) -> dict[str, Any]:
    """A query over a random range and the events around it (many on its bucket edges)."""
    width_name = draw(st.sampled_from(ep.bucket_widths))
    width, longest = SPAN[width_name]
    anchor = DAY0 + draw(st.integers(0, 1300)) * 86400  # up to mid-2026: ingestion refuses future times
    aligned = draw(st.booleans())
    start = anchor + (0 if aligned else draw(st.integers(1, width - 1)))
    start += draw(st.integers(0, 3)) * width
    end = start + draw(st.integers(1, longest))
    edges = [s for s, _ in bucket_edges(start, end, width)] + [end]
    moments = [t * 1_000_000 for t in (*edges, start - 1, end - 1, start - width, end + width)]
    moments += [end * 1_000_000 - 1, start * 1_000_000 - 1, start * 1_000_000 + 1]
    moments += draw(st.lists(st.integers((start - width) * 1_000_000, (end + width) * 1_000_000), max_size=16))
    prefix = f"prop{next(_ids)}-"
    events = draw(st.lists(event(ep, prefix, moments), max_size=40))
    if ep.name != "costs":
        extra = draw(st.lists(st.sampled_from(moments), max_size=3))
        events += [noise(ep, prefix, m, n) for n, m in enumerate(extra)]
    n_buckets = len(edges) - 1
    lo, hi = ep.limits[width_name]
    least = min(hi, math.ceil(n_buckets / MAX_PAGES))
    limit = draw(st.none() | st.integers(least, hi)) if lo >= least else draw(st.integers(least, hi))
    group_by = draw(st.lists(st.sampled_from(ep.group_by), max_size=len(ep.group_by) + 1))
    return {
        "events": events, "start": start, "end": end, "width": width_name, "limit": limit,
        "group_by": group_by, "filters": draw(query_filters(ep)), "form": draw(st.sampled_from(ARRAY_FORMS)),
        "explicit_width": draw(st.booleans()) or width_name != "1d",
    }


def ingest(t: Target, events: list[dict[str, Any]]) -> None:
    """Send events and check the answer's counts against the history of the server."""
    known = {event_key(e) for e in t.history}
    fresh = len({event_key(e) for e in events} - known)
    r = t.client.post("/v1/usage/events", json={"events": events})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": fresh, "duplicates": len(events) - fresh}
    t.history.extend(events)


def query_items(ep: Endpoint, c: dict[str, Any], with_end: bool = True) -> list[tuple[str, str]]:
    items = [("start_time", str(c["start"]))]
    if with_end:
        items.append(("end_time", str(c["end"])))
    if c["explicit_width"]:
        items.append(("bucket_width", c["width"]))
    if c["limit"] is not None:
        items.append(("limit", str(c["limit"])))
    items += encode_array("group_by", c["group_by"], c["form"])
    for param, value in c["filters"].items():
        if isinstance(value, bool):
            items.append((param, "true" if value else "false"))
        else:
            items += encode_array(param, value, c["form"])
    return items


def check_pages(t: Target, ep: Endpoint, pages: list[dict[str, Any]], c: dict[str, Any], end: int) -> None:
    limit = c["limit"] or ep.limits[c["width"]][0]
    for p in pages[:-1]:
        assert len(p["data"]) == limit
    assert 1 <= len(pages[-1]["data"]) <= limit
    got = [b for p in pages for b in p["data"]]
    want = reference_buckets(ep, t.history, start_time=c["start"], end_time=end, bucket_width=c["width"],
                             group_by=c["group_by"], filters=c["filters"])
    assert [(b["start_time"], b["end_time"]) for b in got] == [(b["start_time"], b["end_time"]) for b in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, f"bucket {g['start_time']}: got {g['results']}, want {w['results']}"


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_server_matches_reference(target: Target, ep: Endpoint, data: st.DataObject) -> None:
    c = data.draw(case(ep))
    ingest(target, c["events"])
    pages = fetch_all(target.client, ep.full_path, query_items(ep, c))
    check_pages(target, ep, pages, c, c["end"])


@pytest.mark.parametrize("ep", [e for e in ENDPOINTS if e.name in ("completions", "vector_stores", "costs")],
                         ids=lambda e: e.name)
@settings(max_examples=max(1, EXAMPLES // 4), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_end_time_defaults_to_now(target: Target, ep: Endpoint, data: st.DataObject) -> None:
    """Without ``end_time`` the range ends now; events just before now count, later ones do not."""
    width_name = data.draw(st.sampled_from(ep.bucket_widths))
    width = BUCKET_SECONDS[width_name]
    # drawn relative to "now" (seconds before it), so that a replayed example draws the same data
    back = data.draw(st.integers(1, {60: 3 * 3600, 3600: 3 * 86400, 86400: 20 * 86400}[width]))
    moments = [-t * 1_000_000 for t in (back, 2, 1, -60, back + 1)]
    moments += data.draw(st.lists(st.integers(-back * 1_000_000, 0), max_size=6))
    prefix = f"now{next(_ids)}-"
    now = int(time.time())
    start = now - back
    events = data.draw(st.lists(event(ep, prefix, moments, shift_us=now * 1_000_000), max_size=15))
    ingest(target, events)
    n_buckets = math.ceil((now - start) / width) + 1
    limit = min(ep.limits[width_name][1], math.ceil(n_buckets / MAX_PAGES) + 1)
    c = {"start": start, "end": None, "width": width_name, "limit": limit, "group_by": [], "filters": {},
         "form": "repeat", "explicit_width": True}
    before = int(time.time())
    pages = fetch_all(target.client, ep.full_path, query_items(ep, c, with_end=False))
    after = int(time.time())
    end = pages[-1]["data"][-1]["end_time"]
    assert before <= end <= after
    check_pages(target, ep, pages, c, end)


def test_empty_range_has_every_bucket_empty(usage_target: Target) -> None:
    """A range no event touches answers every bucket, each with no results."""
    for ep in ENDPOINTS:
        start = DAY0 - 400 * 86400 + 123
        items = [("start_time", str(start)), ("end_time", str(start + 10 * 86400)), ("group_by", ep.group_by[0])]
        pages = fetch_all(usage_target.client, ep.full_path, items)
        buckets = [b for p in pages for b in p["data"]]
        assert len(buckets) == 11 and all(b["results"] == [] for b in buckets)
        assert buckets[0]["start_time"] == start and buckets[-1]["end_time"] == start + 10 * 86400


def test_cost_amounts_are_summed_exactly(costs_target: Target) -> None:
    """0.1 + 0.2 + ... as decimals: the float total is the exact decimal sum, rounded once."""
    t = DAY0 - 500 * 86400
    events = [{"id": f"exact-{i}", "type": "costs", "timestamp": t + i, "amount": "0.1"} for i in range(10)]
    events.append({"id": "exact-10", "type": "costs", "timestamp": t + 10, "amount": "0.000000000001"})
    ingest(costs_target, events)
    items = [("start_time", str(t)), ("end_time", str(t + 86400))]
    pages = fetch_all(costs_target.client, "/v1/organization/costs", items)
    assert pages[0]["data"][0]["results"][0]["amount"] == {"value": float(Decimal("1.000000000001")),
                                                           "currency": "usd"}


@pytest.mark.parametrize("name", ["completions", "vector_stores", "costs"])
def test_many_groups_in_many_buckets(usage_target: Target, costs_target: Target, name: str) -> None:
    """Thousands of events over a day, minute buckets, pages of hundreds of buckets and many groups."""
    ep = next(e for e in ENDPOINTS if e.name == name)
    t = costs_target if name == "costs" else usage_target
    rng = random.Random(7)
    start = DAY0 - 200 * 86400 + 17  # unaligned, and far from the random examples
    events = []
    for i in range(3000):
        ev: dict[str, Any] = {"id": f"bulk-{name}-{i}", "type": ep.event_type,
                              "timestamp": start + rng.randrange(86400 * 1_000_000) / 1_000_000}
        for d in ep.result_dimensions:
            ev[d] = rng.choice([None, *POOLS.get(d, DIMENSIONS[d].enum or (True, False))])
        for m in ep.metrics:
            if m.agg in ("sum", "gauge"):
                ev[m.name] = rng.randrange(10**6)
        if name == "costs":
            ev["amount"] = f"{rng.randrange(10**6)}.{rng.randrange(10**6):06d}"
            ev["quantity"] = rng.randrange(1000) / 8
        events.append(consistent_tokens(ev))
    ingest(t, events)
    width = "1d" if name == "costs" else "1m"
    c = {"start": start, "end": start + 86400 - 5, "width": width, "limit": 31 if name == "costs" else 500,
         "group_by": list(ep.group_by[:3]), "filters": {}, "form": "comma", "explicit_width": True}
    pages = fetch_all(t.client, ep.full_path, query_items(ep, c))
    assert sum(len(b["results"]) for p in pages for b in p["data"]) >= (2 if name == "costs" else 2000)
    check_pages(t, ep, pages, c, c["end"])
