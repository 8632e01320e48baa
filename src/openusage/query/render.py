"""Build the JSON page of an answer from the engine's columnar result.

The engine returns one row per (aligned bucket, group); this module places rows into the page's
buckets (clipped to the query), adds the empty buckets, shapes each result as OpenAI does and
serializes it.

:func:`page_dict` is the plain reference (Python objects, then orjson).  :func:`render_parts` builds the
same bytes column by column in Arrow instead: each column becomes JSON text once (a string column
through its dictionary of distinct values, escaped by orjson), a row is the join of its columns
between constant key text, and a bucket's results are one slice of the joined text.  No Python
object is made per row, which matters for minute buckets (tens of thousands of results a page).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

from ..spec import DIMENSIONS, Endpoint
from .params import UsageQuery


def result_template(endpoint: Endpoint, group_by: tuple[str, ...] = ()) -> dict[str, Any]:
    """A result with every field in OpenAI's order: object, metrics, then dimensions (all null).

    An extension dimension (``origin``) is a field only when ``group_by`` holds it, after OpenAI's
    fields: without it a result is exactly OpenAI's shape."""
    out: dict[str, Any] = {"object": endpoint.result_object}
    extensions = dict.fromkeys(g for g in group_by if DIMENSIONS[g].extension)
    if endpoint.is_costs:
        out["amount"] = {"value": 0.0, "currency": "usd"}
        out.update(dict.fromkeys(endpoint.result_dimensions))
        out["quantity"] = None
        out["quantity_unit"] = None
        out.update(extensions)
        return out
    for m in endpoint.metrics:
        out[m.name] = 0
    out.update(dict.fromkeys(endpoint.result_dimensions))
    out.update(extensions)
    return out


def page_dict(q: UsageQuery, table: pa.Table) -> dict[str, Any]:
    """The page object (``object``, ``data``, ``has_more``, ``next_page``) for one query page."""
    ep = q.endpoint
    width = q.width
    results: list[list[dict[str, Any]]] = [[] for _ in q.buckets]
    index = {(b.start // width) * width: i for i, b in enumerate(q.buckets)}
    n = table.num_rows
    if n:
        cols = {name: table.column(name).to_pylist() for name in table.column_names}
        bucket_col = cols.pop("bucket")
        template = result_template(ep, q.params.group_by)
        names = [c for c in cols if c in template]
        is_costs = ep.is_costs
        for i in range(n):
            slot = index.get(bucket_col[i])
            if slot is None:  # outside the page (cannot happen with a correct range)
                continue
            r = dict(template)
            for c in names:
                v = cols[c][i]
                r[c] = int(v) if isinstance(v, Decimal) and c != "amount" else v  # a sum beyond int64
            if is_costs:
                amount = r["amount"]
                value = float(amount) if isinstance(amount, Decimal) else float(amount or 0)
                r["amount"] = {"value": value, "currency": "usd"}
            results[slot].append(r)
    buckets = [{"object": "bucket", "start_time": b.start, "end_time": b.end, "results": rs}
               for b, rs in zip(q.buckets, results, strict=True)]
    return {"object": "page", "data": buckets, "has_more": q.has_more, "next_page": q.next_page}


def render_parts(q: UsageQuery, table: pa.Table) -> list[bytes | memoryview]:
    """The JSON page as pieces to send one after another (joined, byte for byte
    ``orjson.dumps(page_dict(q, table))``): large results are slices of the Arrow text buffer, so a
    streamed answer never holds the page twice."""
    parts = _render_columnar(q, table)
    return parts if parts is not None else [orjson.dumps(page_dict(q, table))]


_TEXT = pa.large_string()
_NULL = pa.scalar("null", _TEXT)
_JOIN_ARITY = 8


def _json_text(col: pa.ChunkedArray) -> pa.Array | str | None:
    """Each value as JSON text (no nulls left); one ``str`` when every row has the same value (a
    metric nobody used is all zeros); None for a type rendered only by the reference."""
    t = col.type
    arr = col.combine_chunks()
    if arr.null_count == len(arr):
        return "null"
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        if not arr.null_count:
            low, high = pc.min_max(arr).values()
            if low == high:
                return orjson.dumps(low.as_py()).decode()
        return pc.fill_null(pc.cast(arr, _TEXT), _NULL)
    if pa.types.is_decimal(t) and t.scale == 0:  # a counter sum beyond int64: its exact digits
        return pc.fill_null(pc.cast(arr, _TEXT), _NULL)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        enc = pc.dictionary_encode(arr)
        texts = [orjson.dumps(v).decode() for v in enc.dictionary.to_pylist()]
        if len(texts) == 1 and not arr.null_count:
            return texts[0]
        return pc.fill_null(pa.array(texts, _TEXT).take(enc.indices), _NULL)
    return None


def _result_rows(template: dict[str, Any], table: pa.Table) -> pa.Array | None:
    """One JSON object per row, each followed by a comma, in the table's order."""
    texts: dict[str, pa.Array | str] = {}
    for name in table.column_names:
        if name != "bucket" and name in template:
            text = _json_text(table.column(name))
            if text is None:
                return None
            texts[name] = text
    parts: list[Any] = []
    const = ""
    for key, default in template.items():
        const += ("," if parts or const else "{") + orjson.dumps(key).decode() + ":"
        text = texts.get(key)
        if isinstance(text, pa.Array):
            parts += [pa.scalar(const, _TEXT), text]
            const = ""
        else:
            const += orjson.dumps(default).decode() if text is None else text
    const += "},"
    if not parts:
        return pa.array([const] * table.num_rows, _TEXT)
    parts.append(pa.scalar(const, _TEXT))
    empty = pa.scalar("", _TEXT)
    while len(parts) > 1:  # a few arguments at a time: Arrow's join slows down with many
        parts = [pc.binary_join_element_wise(*parts[i:i + _JOIN_ARITY], empty)
                 for i in range(0, len(parts), _JOIN_ARITY)]
    return parts[0]


def _ascending(values: pa.ChunkedArray) -> bool:
    """Whether the (null-free) values never decrease, as the engine's ORDER BY returns them."""
    arr = values.combine_chunks()
    return len(arr) < 2 or bool(pc.all(pc.greater_equal(arr[1:], arr[:-1])).as_py())


def _render_columnar(q: UsageQuery, table: pa.Table) -> list[bytes | memoryview] | None:
    """The page built from Arrow columns; None when a column needs the reference (money, floats)."""
    ep = q.endpoint
    if ep.is_costs or "bucket" not in table.column_names:
        return None
    bucket = table.column("bucket")
    if not pa.types.is_integer(bucket.type):
        return None
    width = q.width
    counts: dict[int, int] = {}
    rows: pa.Array | None = None
    if table.num_rows:
        rows = _result_rows(result_template(ep, q.params.group_by), table)
        if rows is None:
            return None
        keys = pa.array([(b.start // width) * width for b in q.buckets], pa.int64())
        slot = pc.index_in(pc.cast(bucket, pa.int64()), value_set=keys)
        if slot.null_count or not _ascending(slot):
            order = pc.sort_indices(slot)  # stable, nulls last: rows keep the table's order
            order = order[: len(slot) - slot.null_count]
            rows = rows.take(order)
            slot = slot.take(order)
        for item in pc.value_counts(slot).to_pylist():
            counts[item["values"]] = item["counts"]
    return page_parts(q, rows if counts else None, counts)


def page_parts(q: UsageQuery, rows: pa.Array | None, counts: dict[int, int]) -> list[bytes | memoryview]:
    """The page's JSON in parts: every bucket of ``q``, holding its slice of ``rows``.

    ``rows`` are the results' JSON texts, each ending in a comma, in bucket order; ``counts`` says how
    many belong to each bucket (by its index in ``q.buckets``).  Usage and costs pages share this."""
    offsets: Any = None
    data: Any = None
    if rows is not None:
        _, offset_buf, data_buf = rows.buffers()
        offsets = memoryview(offset_buf).cast("q")[rows.offset:]
        data = memoryview(data_buf)
    out: list[bytes | memoryview] = [b'{"object":"page","data":[']
    pos = 0
    for i, b in enumerate(q.buckets):
        head = b'{"object":"bucket","start_time":%d,"end_time":%d,"results":[' % (b.start, b.end)
        out.append(head if i == 0 else b"," + head)
        c = counts.get(i, 0)
        if c:
            out.append(data[offsets[pos]:offsets[pos + c] - 1])  # drop the last row's comma
            pos += c
        out.append(b"]}")
    out.append(b'],"has_more":' + orjson.dumps(q.has_more) + b',"next_page":' + orjson.dumps(q.next_page) + b"}")
    return out
