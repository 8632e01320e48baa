"""Build the JSON page of an answer from the engine's columnar result.

The engine returns one row per (aligned bucket, group); this module places rows into the page's
buckets (clipped to the query), adds the empty buckets, shapes each result as OpenAI does and
serializes with orjson.  Columns are converted once each; no row is built twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from ..spec import Endpoint
from .params import UsageQuery


def result_template(endpoint: Endpoint) -> dict[str, Any]:
    """A result with every field in OpenAI's order: object, metrics, then dimensions (all null)."""
    out: dict[str, Any] = {"object": endpoint.result_object}
    if endpoint.name == "costs":
        out["amount"] = {"value": 0.0, "currency": "usd"}
        out.update(dict.fromkeys(endpoint.result_dimensions))
        out["quantity"] = None
        out["quantity_unit"] = None
        return out
    for m in endpoint.metrics:
        out[m.name] = 0
    out.update(dict.fromkeys(endpoint.result_dimensions))
    return out


def page_dict(q: UsageQuery, table: pa.Table) -> dict[str, Any]:
    """The page object (``object``, ``data``, ``has_more``, ``next_page``) for one query page."""
    ep = q.endpoint
    width = q.width
    buckets = [{"object": "bucket", "start_time": b.start, "end_time": b.end, "results": []} for b in q.buckets]
    index = {(b.start // width) * width: i for i, b in enumerate(q.buckets)}
    n = table.num_rows
    if n:
        cols = {name: table.column(name).to_pylist() for name in table.column_names}
        bucket_col = cols.pop("bucket")
        template = result_template(ep)
        names = [c for c in cols if c in template]
        is_costs = ep.name == "costs"
        for i in range(n):
            slot = index.get(bucket_col[i])
            if slot is None:  # outside the page (cannot happen with a correct range)
                continue
            r = dict(template)
            for c in names:
                r[c] = cols[c][i]
            if is_costs:
                amount = r["amount"]
                value = float(amount) if isinstance(amount, Decimal) else float(amount or 0)
                r["amount"] = {"value": value, "currency": "usd"}
            buckets[slot]["results"].append(r)
    return {"object": "page", "data": buckets, "has_more": q.has_more, "next_page": q.next_page}


def render_page(q: UsageQuery, table: pa.Table) -> bytes:
    return orjson.dumps(page_dict(q, table))
