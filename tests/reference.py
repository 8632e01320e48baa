"""An independent model of the Usage & Costs API, in plain Python, straight from the contract.

It shares nothing with ``openusage.query`` or ``openusage.store``: only the field lists of
:mod:`openusage.spec` are read.  Given every event a server has been sent (in order) and one query,
:func:`reference_buckets` returns the buckets of all pages concatenated, as the contract
(``shared/api.md``) says they must be:

* bucket edges on UTC multiples of the width, clipped to ``[start_time, end_time)``; every bucket,
  in ascending time, even empty ones;
* an event counts when ``start_time <= t < end_time``, with ``t`` kept to the microsecond;
* an event id seen before is ignored (the first one wins), whatever its type;
* dimensions an event leaves out take the spec's defaults (``batch=false``,
  ``service_tier="default"``, ``api_source="unlabeled"``), metrics theirs
  (``num_model_requests=1`` ...); completions token details left out are derived from their
  totals (:func:`derive_tokens`);
* filters keep events whose dimension is one of the values (a null dimension never matches);
* one result per distinct combination of the grouped fields (others ``null``), or one result with
  every dimension ``null`` when not grouping; results sorted by the grouped fields taken in the
  endpoint table's ``group_by`` order, nulls first, ``false`` before ``true``, strings by code point;
* ``usage_bytes`` is a gauge: per project the largest sample in the bucket, summed over projects;
* cost amounts are summed as :class:`~decimal.Decimal` (kept to 12 decimal places, the store's
  precision) and written as a number; ``quantity``/``quantity_unit`` only when grouped by
  ``line_item``: the sum of the known quantities and the smallest unit given, both ``null`` when
  no quantity is known.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from openusage.spec import BUCKET_SECONDS, DIMENSIONS, Endpoint, stored_dimensions

TWELVE_PLACES = Decimal("1e-12")

TOKEN_PARTS: dict[str, tuple[str, ...]] = {
    "input_tokens": ("input_cached_tokens", "input_cache_write_tokens", "input_uncached_tokens"),
    "input_cached_tokens": ("input_cached_audio_tokens", "input_cached_image_tokens", "input_cached_text_tokens"),
    "input_cache_write_tokens": ("input_cache_write_30m_tokens", "input_cache_write_12h_tokens"),
    "input_uncached_tokens": ("input_audio_tokens", "input_image_tokens", "input_text_tokens"),
    "output_tokens": ("output_audio_tokens", "output_image_tokens", "output_text_tokens"),
}
"""OpenAI's completions token accounting: each total and the parts it is made of (docs/api.md)."""


def derive_tokens(given: Mapping[str, Any]) -> dict[str, int]:
    """Every token field of a completions event: a total left out is the sum of its parts, a last
    part left out what its total leaves over, any other part left out 0."""
    v: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, **given}
    for total in ("input_cache_write_tokens", "input_cached_tokens", "input_tokens", "input_uncached_tokens",
                  "output_tokens"):
        parts = TOKEN_PARTS[total]
        if v.get(total) is None:
            v[total] = sum(v.get(p) or 0 for p in parts)
        if v.get(parts[-1]) is None:
            v[parts[-1]] = v[total] - sum(v.get(p) or 0 for p in parts[:-1])
        for p in parts[:-1]:
            v[p] = v.get(p) or 0
    return v


def consistent_tokens(ev: dict[str, Any]) -> dict[str, Any]:
    """A completions event with its given token parts cut to fit their totals, as OpenAI's never
    exceed them (random test data otherwise is refused as inconsistent); other events unchanged."""
    if ev.get("type") != "completions":
        return ev
    out = dict(ev)

    def fit(name: str, cap: int, leftover: bool) -> int:
        """Cut ``name`` and the fields under it to ``cap``; a left-out ``leftover`` takes all of it."""
        value = out.get(name)
        if value is not None:
            value = out[name] = min(value, cap)
        elif leftover:
            value = cap
        parts = TOKEN_PARTS.get(name, ())
        used = 0
        for k, p in enumerate(parts):
            used += fit(p, (cap if value is None else value) - used, k == len(parts) - 1 and value is not None)
        return used if value is None else value

    for top in ("input_tokens", "output_tokens"):
        fit(top, out.get(top) or 0, True)
    return out


def micros(timestamp: float) -> int:
    """An event's time as the contract keeps it: Unix microseconds."""
    return round(timestamp * 1_000_000)


def bucket_edges(start: int, end: int, width: int) -> list[tuple[int, int]]:
    """Every bucket of ``[start, end)``: aligned on multiples of ``width``, clipped to the range."""
    out: list[tuple[int, int]] = []
    s = start
    while s < end:
        e = min(s - s % width + width, end)
        out.append((s, e))
        s = e
    return out


def event_key(ev: Mapping[str, Any]) -> tuple[str | None, str]:
    """What makes an event unique: its id within its project (CloudEvents: within its source)."""
    return ev.get("project_id"), ev["id"]


def unique_events(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Events in order, each (project, id) once: the first event with it wins."""
    seen: set[tuple[str | None, str]] = set()
    out: list[Mapping[str, Any]] = []
    for ev in events:
        if event_key(ev) not in seen:
            seen.add(event_key(ev))
            out.append(ev)
    return out


def _amount(raw: Any) -> Decimal:
    value = raw["value"] if isinstance(raw, Mapping) else raw
    if isinstance(value, float):
        value = repr(value)  # what a JSON number reads as
    return Decimal(str(value)).quantize(TWELVE_PLACES)


def normalized(ep: Endpoint, ev: Mapping[str, Any]) -> dict[str, Any]:
    """An event with the spec's defaults filled in for its dimensions and metrics."""
    out: dict[str, Any] = {"ts_us": micros(ev["timestamp"])}
    for d in stored_dimensions(ep.event_type):  # ``origin``: what the server stamps (``ingest`` for the events API)
        value = ev.get(d)
        out[d] = DIMENSIONS[d].default if value is None else value
    for m in ep.metrics:
        if m.agg in ("sum", "gauge"):
            out[m.name] = ev.get(m.name, m.default)
    if ep.name == "completions":
        out.update(derive_tokens({name: ev.get(name) for name in out if name.endswith("_tokens")}))
    if ep.name == "costs":
        out["amount"] = _amount(ev["amount"])
        out["quantity"] = ev.get("quantity")
        out["quantity_unit"] = ev.get("quantity_unit")
    return out


def _matches(ev: Mapping[str, Any], ep: Endpoint, filters: Mapping[str, Any]) -> bool:
    for param, wanted in filters.items():
        f = ep.filter_by_param(param)
        assert f is not None, param
        value = ev.get(f.dimension)
        if f.kind == "bool":
            if value is not wanted:
                return False
        elif value is None or value not in set(wanted):
            return False
    return True


def _sort_key(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is not None, v if v is not None else 0) for v in values)


def _result(ep: Endpoint, group: dict[str, Any], rows: list[dict[str, Any]], grouped: tuple[str, ...]) -> dict:
    out: dict[str, Any] = {"object": ep.result_object}
    if ep.name == "costs":
        total = sum((r["amount"] for r in rows), Decimal(0))
        out["amount"] = {"value": float(total), "currency": "usd"}
        quantity = unit = None
        if "line_item" in grouped:
            known = [r["quantity"] for r in rows if r["quantity"] is not None]
            units = [r["quantity_unit"] for r in rows if r["quantity_unit"] is not None]
            if known:  # a unit means nothing without a quantity
                quantity = float(sum(known))
                unit = min(units) if units else None
        out.update(dict.fromkeys(ep.result_dimensions))
        out["quantity"] = quantity
        out["quantity_unit"] = unit
    else:
        for m in ep.metrics:
            if m.agg == "gauge":
                per_project: dict[Any, int] = {}
                for r in rows:
                    p = r["project_id"]
                    per_project[p] = max(per_project.get(p, r[m.name]), r[m.name])
                out[m.name] = sum(per_project.values())
            else:
                out[m.name] = sum(r[m.name] for r in rows)
        out.update(dict.fromkeys(ep.result_dimensions))
    out.update(group)
    return out


def reference_buckets(
    ep: Endpoint,
    events: Iterable[Mapping[str, Any]],
    *,
    start_time: int,
    end_time: int,
    bucket_width: str = "1d",
    group_by: Iterable[str] = (),
    filters: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The buckets of every page of one query, concatenated.

    ``filters`` maps a filter parameter (``project_ids``, ``batch``) to its values (or bool).
    """
    wanted = set(group_by)
    grouped = tuple(g for g in ep.group_by if g in wanted)
    assert len(grouped) == len(wanted), f"not group_by fields of {ep.name}: {wanted - set(grouped)}"
    width = BUCKET_SECONDS[bucket_width]
    edges = bucket_edges(start_time, end_time, width)
    starts_us = [s * 1_000_000 for s, _ in edges]
    by_bucket: list[list[dict[str, Any]]] = [[] for _ in edges]
    lo, hi = start_time * 1_000_000, end_time * 1_000_000
    for raw in unique_events(events):
        if raw["type"] != ep.event_type or not lo <= micros(raw["timestamp"]) < hi:
            continue
        ev = normalized(ep, raw)
        if _matches(ev, ep, filters or {}):
            # the bucket that holds it: the last one starting at or before the event
            by_bucket[bisect.bisect_right(starts_us, ev["ts_us"]) - 1].append(ev)
    out: list[dict[str, Any]] = []
    for (s, e), inside in zip(edges, by_bucket, strict=True):
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for ev in inside:
            groups.setdefault(tuple(ev[g] for g in grouped), []).append(ev)
        results = [_result(ep, dict(zip(grouped, key, strict=True)), groups[key], grouped)
                   for key in sorted(groups, key=_sort_key)]
        out.append({"object": "bucket", "start_time": s, "end_time": e, "results": results})
    return out


# --------------------------------------------------------------------------------------------
# Talking to a live server: shared by the property, SDK and ingestion tests.
# --------------------------------------------------------------------------------------------

ARRAY_FORMS = ("repeat", "brackets", "comma")
"""How clients send arrays: ``a=x&a=y`` (requests), ``a[]=x&a[]=y`` (the SDK), ``a=x,y``."""


def encode_array(name: str, values: Iterable[str], form: str) -> list[tuple[str, str]]:
    values = list(values)
    if form == "comma":
        return [(name, ",".join(values))] if values else []
    key = f"{name}[]" if form == "brackets" else name
    return [(key, v) for v in values]


def fetch_all(client: Any, path: str, items: list[tuple[str, str]], max_pages: int = 200) -> list[dict[str, Any]]:
    """Every page of a query, following ``next_page``; asserts the page envelope on the way."""
    pages: list[dict[str, Any]] = []
    page: str | None = None
    for _ in range(max_pages):
        r = client.get(path, params=items + ([("page", page)] if page else []))
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"object", "data", "has_more", "next_page"}
        assert body["object"] == "page"
        assert body["has_more"] == (body["next_page"] is not None)
        pages.append(body)
        if not body["has_more"]:
            return pages
        assert body["next_page"].startswith("page_")
        page = body["next_page"]
    raise AssertionError(f"more than {max_pages} pages")
