"""The columnar page renderer gives byte for byte the JSON of the plain reference (dicts + orjson)."""

from __future__ import annotations

import random

import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs
import pytest

from openusage.query.params import UsageQuery, parse_query
from openusage.query.render import _render_columnar, page_dict, render_parts
from openusage.spec import BUCKET_SECONDS, DIMENSIONS, ENDPOINTS_BY_NAME

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
TRICKY = ["", "a", "gpt-4o", 'quo"te', "back\\slash", "new\nline", "tab\t", "\x00\x1f\x7f", "é", "日本語",
          "emoji 🎉", "</script>", "\u2028\u2029", "x" * 300]


def reference(q: UsageQuery, table: pa.Table) -> bytes:
    return orjson.dumps(page_dict(q, table))


def render_page(q: UsageQuery, table: pa.Table) -> bytes:
    """The whole page the server streams in pieces."""
    return b"".join(render_parts(q, table))


def random_query(rng: random.Random, name: str) -> UsageQuery:
    ep = ENDPOINTS_BY_NAME[name]
    width = rng.choice(ep.bucket_widths)
    secs = BUCKET_SECONDS[width]
    _, max_limit = ep.limits[width]
    limit = rng.randint(1, min(max_limit, 40))
    start = NOW - rng.randint(1, 3 * limit) * secs - rng.randint(0, secs - 1)  # often not aligned
    items = [("start_time", str(start)), ("bucket_width", width), ("limit", str(limit))]
    if rng.random() < 0.7:
        items.append(("end_time", str(min(NOW, start + rng.randint(1, 2 * limit) * secs))))
    group_by = [g for g in ep.group_by if rng.random() < 0.5]
    if group_by:
        items.append(("group_by", ",".join(group_by)))
    return parse_query(ep, items, now=NOW)


def random_column(rng: random.Random, name: str, n: int) -> pa.Array:
    if rng.random() < 0.2:  # the same value on every row (a metric nobody used: all zeros)
        value = rng.choice([0, 5, True, "gpt-4o", 'q"uote'])
        typ = {int: pa.int64(), bool: pa.bool_(), str: pa.string()}[type(value)]
        if name in DIMENSIONS and DIMENSIONS[name].kind == "bool":
            value, typ = bool(value), pa.bool_()
        elif name in DIMENSIONS:
            value, typ = str(value), pa.string()
        elif not isinstance(value, int) or isinstance(value, bool):
            value, typ = 0, pa.int64()
        return pa.array([value] * n, typ)
    null_rate = rng.choice([0.0, 0.0, 0.2, 1.0])
    if name in DIMENSIONS and DIMENSIONS[name].kind == "bool":
        return pa.array([None if rng.random() < null_rate else rng.random() < 0.5 for _ in range(n)], pa.bool_())
    if name in DIMENSIONS:
        pool = [rng.choice(TRICKY) + str(rng.randint(0, 3)) for _ in range(rng.randint(1, 6))]
        typ = rng.choice([pa.string(), pa.large_string()])
        return pa.array([None if rng.random() < null_rate else rng.choice(pool) for _ in range(n)], typ)
    values = [None if rng.random() < null_rate else rng.choice([0, 1, -7, rng.randint(0, 2**62)]) for _ in range(n)]
    return pa.array(values, rng.choice([pa.int64(), pa.int64(), pa.int32()]) if max(
        (abs(v) for v in values if v is not None), default=0) < 2**31 else pa.int64())


def random_table(rng: random.Random, q: UsageQuery) -> pa.Table:
    """An engine answer: buckets of the page (and some outside it), in any order, maybe chunked."""
    ep = q.endpoint
    width = q.width
    keys = [(b.start // width) * width for b in q.buckets]
    outside = [keys[0] - width, keys[-1] + width, keys[0] + 1]
    n = rng.choice([0, 1, 5, 50, 300])
    buckets = [rng.choice(keys) if rng.random() < 0.9 else rng.choice(outside) for _ in range(n)]
    if rng.random() < 0.5:
        buckets.sort()
    names = [m.name for m in ep.metrics] + list(q.params.group_by)
    if rng.random() < 0.2:
        names.append("not_a_result_field")  # ignored by both
    cols = {"bucket": pa.array(buckets, pa.int64())}
    for name in names:
        cols[name] = random_column(rng, name, n)
    table = pa.table(cols)
    if n > 3 and rng.random() < 0.5:
        cut = rng.randint(1, n - 1)
        table = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    return table


@pytest.mark.parametrize("name", ["completions", "embeddings", "images", "vector_stores", "web_search_calls",
                                  "code_interpreter_sessions"])
def test_columnar_page_equals_reference(name: str) -> None:
    rng = random.Random(name)
    for _ in range(60):
        q = random_query(rng, name)
        table = random_table(rng, q)
        parts = _render_columnar(q, table)
        assert parts is not None
        assert b"".join(parts) == reference(q, table)


def test_null_column_renders_null() -> None:
    q = parse_query(ENDPOINTS_BY_NAME["completions"], [("start_time", str(NOW - 86400)), ("group_by", "model")],
                    now=NOW)
    table = pa.table({"bucket": pa.array([NOW - 86400], pa.int64()), "model": pa.nulls(1),
                      "input_tokens": pa.array([3], pa.int64())})
    body = render_page(q, table)
    assert body == reference(q, table)
    result = orjson.loads(body)["data"][0]["results"][0]
    assert result["model"] is None and result["input_tokens"] == 3 and result["output_tokens"] == 0


def test_empty_page_has_every_bucket() -> None:
    q = parse_query(ENDPOINTS_BY_NAME["completions"], [("start_time", str(NOW - 3 * 86400))], now=NOW)
    body = render_page(q, pa.table({"bucket": pa.array([], pa.int64())}))
    assert body == reference(q, pa.table({"bucket": pa.array([], pa.int64())}))
    page = orjson.loads(body)
    assert [b["start_time"] for b in page["data"]] == [NOW - 3 * 86400, NOW - 2 * 86400, NOW - 86400]
    assert page["has_more"] is False and page["next_page"] is None


def test_costs_and_floats_use_the_reference() -> None:
    q = parse_query(ENDPOINTS_BY_NAME["costs"], [("start_time", str(NOW - 86400))], now=NOW)
    from decimal import Decimal

    table = pa.table({"bucket": pa.array([NOW - 86400], pa.int64()),
                      "amount": pa.array([Decimal("1.250000000000")], pa.decimal128(38, 12))})
    assert _render_columnar(q, table) is None
    assert orjson.loads(render_page(q, table))["data"][0]["results"][0]["amount"] == {"value": 1.25, "currency": "usd"}
    q2 = parse_query(ENDPOINTS_BY_NAME["completions"], [("start_time", str(NOW - 86400))], now=NOW)
    floats = pa.table({"bucket": pa.array([NOW - 86400], pa.int64()), "input_tokens": pa.array([1.5])})
    assert _render_columnar(q2, floats) is None
    assert render_page(q2, floats) == reference(q2, floats)
