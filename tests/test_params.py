"""Unit and property tests of the pure query logic: buckets, parameters and cursors."""

from __future__ import annotations

import base64
import itertools

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openusage.errors import BadRequestError
from openusage.query.buckets import Bucket, next_edge, page_buckets
from openusage.query.cursor import SIG_CHARS, decode_cursor, encode_cursor, fingerprint
from openusage.query.params import parse_params, parse_query, resolve
from openusage.spec import BUCKET_SECONDS, ENDPOINTS, ENDPOINTS_BY_NAME
from tests.reference import ARRAY_FORMS, bucket_edges, encode_array

COMPLETIONS = ENDPOINTS_BY_NAME["completions"]
COSTS = ENDPOINTS_BY_NAME["costs"]
T0 = 1_700_006_400  # a UTC midnight
times = st.integers(0, 4_000_000_000)


def bad_param(call, param: str) -> BadRequestError:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequestError) as info:
        call()
    assert info.value.param == param and info.value.status == 400
    return info.value


# -- buckets -----------------------------------------------------------------------------------------

def test_next_edge() -> None:
    assert next_edge(0, 60) == 60
    assert next_edge(59, 60) == 60
    assert next_edge(60, 60) == 120  # strictly after
    assert next_edge(T0, 86400) == T0 + 86400
    assert next_edge(T0 - 1, 86400) == T0


def test_page_buckets_clip_to_the_range() -> None:
    assert page_buckets(T0 + 10, T0 + 86400 + 5, 86400, 7) == [Bucket(T0 + 10, T0 + 86400),
                                                                Bucket(T0 + 86400, T0 + 86400 + 5)]
    assert page_buckets(T0, T0 + 1, 60, 5) == [Bucket(T0, T0 + 1)]
    assert page_buckets(T0, T0 + 180, 60, 2) == [Bucket(T0, T0 + 60), Bucket(T0 + 60, T0 + 120)]
    assert page_buckets(T0, T0, 60, 2) == []


@settings(max_examples=300)
@given(start=times, length=st.integers(1, 400 * 86400), width=st.sampled_from(sorted(BUCKET_SECONDS.values())),
       limit=st.integers(1, 200))
def test_pages_cover_the_range_exactly_once(start: int, length: int, width: int, limit: int) -> None:
    end = start + length
    if (end - start) // width > 5000:
        end = start + 5000 * width
    pages: list[list[Bucket]] = []
    s = start
    while s < end:
        page = page_buckets(s, end, width, limit)
        assert 1 <= len(page) <= limit
        pages.append(page)
        s = page[-1].end
    assert all(len(p) == limit for p in pages[:-1])
    flat = [b for p in pages for b in p]
    assert [tuple(b) for b in flat] == bucket_edges(start, end, width)
    assert flat[0].start == start and flat[-1].end == end
    for a, b in itertools.pairwise(flat):
        assert a.end == b.start  # no gap, no overlap
        assert a.end % width == 0  # inner edges are aligned
        assert b.end - b.start <= width


# -- parameters --------------------------------------------------------------------------------------

@settings(max_examples=100)
@given(group_by=st.lists(st.sampled_from(COMPLETIONS.group_by), min_size=1),
       models=st.lists(st.sampled_from(["gpt-4o", "o3", "gpt-4o-mini"]), min_size=1),
       form=st.sampled_from(ARRAY_FORMS))
def test_array_encodings_are_equivalent(group_by: list[str], models: list[str], form: str) -> None:
    items = [("start_time", str(T0)), *encode_array("group_by", group_by, form), *encode_array("models", models, form)]
    p = parse_params(COMPLETIONS, items)
    assert p.group_by == tuple(g for g in COMPLETIONS.group_by if g in group_by)  # canonical order, once each
    assert p.filters == {"model": tuple(dict.fromkeys(models))}
    repeat = parse_params(COMPLETIONS, [("start_time", str(T0)), *encode_array("group_by", group_by, "repeat"),
                                        *encode_array("models", models, "repeat")])
    assert p.fingerprint() == repeat.fingerprint()


def test_comma_and_space_does_not_split() -> None:
    p = parse_params(COSTS, [("start_time", str(T0)), ("line_items", "gpt-4o, input,gpt-4o, output")])
    assert p.filters == {"line_item": ("gpt-4o, input", "gpt-4o, output")}


def test_defaults() -> None:
    for ep in ENDPOINTS:
        p = parse_params(ep, [("start_time", str(T0))])
        assert (p.bucket_width, p.limit, p.group_by, p.filters, p.end_time, p.page) == ("1d", 7, (), {}, None, None)
    assert parse_params(COMPLETIONS, [("start_time", "0"), ("bucket_width", "1h")]).limit == 24
    assert parse_params(COMPLETIONS, [("start_time", "0"), ("bucket_width", "1m")]).limit == 60
    assert parse_params(COMPLETIONS, [("start_time", "0"), ("batch", "false")]).filters == {"batch": False}


def test_bad_parameters_name_themselves() -> None:
    cases = [
        ([], "start_time"),
        ([("start_time", "x")], "start_time"),
        ([("start_time", "-5")], "start_time"),
        ([("start_time", str(T0)), ("end_time", str(T0))], "end_time"),
        ([("start_time", str(T0)), ("bucket_width", "1w")], "bucket_width"),
        ([("start_time", str(T0)), ("limit", "0")], "limit"),
        ([("start_time", str(T0)), ("limit", "32")], "limit"),
        ([("start_time", str(T0)), ("group_by", "line_item")], "group_by"),
        ([("start_time", str(T0)), ("batch", "maybe")], "batch"),
        ([("start_time", str(T0)), ("sizes", "1x1")], "sizes"),
        ([("start_time", str(T0)), ("start_time", str(T0))], "start_time"),
        ([("start_time", str(T0)), ("models", "m" * 513)], "models"),
        ([("start_time", str(T0)), ("models", ",".join(["m"] * 1001))], "models"),
    ]
    for items, param in cases:
        bad_param(lambda items=items: parse_params(COMPLETIONS, items), param)
    assert parse_params(COSTS, [("start_time", "0"), ("limit", "180")]).limit == 180
    bad_param(lambda: parse_params(COSTS, [("start_time", "0"), ("limit", "181")]), "limit")
    bad_param(lambda: parse_params(COSTS, [("start_time", "0"), ("bucket_width", "1h")]), "bucket_width")


def test_end_time_defaults_to_now() -> None:
    q = parse_query(COMPLETIONS, [("start_time", str(T0 + 5))], now=T0 + 3 * 86400 + 7)
    assert q.end_time == T0 + 3 * 86400 + 7
    assert q.buckets[0] == Bucket(T0 + 5, T0 + 86400) and q.buckets[-1] == Bucket(T0 + 3 * 86400, T0 + 3 * 86400 + 7)
    bad_param(lambda: parse_query(COMPLETIONS, [("start_time", str(T0))], now=T0), "start_time")


# -- cursors -----------------------------------------------------------------------------------------

@given(n=times, e=times, fp=st.text(min_size=1, max_size=30))
def test_cursor_round_trip(n: int, e: int, fp: str) -> None:
    cursor = encode_cursor(n, e, fp)
    assert cursor.startswith("page_")
    assert all(c.isalnum() or c in "-_" for c in cursor)  # URL-safe, no padding
    assert decode_cursor(cursor, fp) == (n, e)
    bad_param(lambda: decode_cursor(cursor, fp + "x"), "page")


def test_fingerprint_is_canonical() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint([1, 2]) != fingerprint([2, 1])


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 3_000_000_000), length=st.integers(1, 60 * 86400),
       ep=st.sampled_from(ENDPOINTS), data=st.data())
def test_following_cursors_walks_the_whole_range(start: int, length: int, ep, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    width_name = data.draw(st.sampled_from(ep.bucket_widths))
    width = BUCKET_SECONDS[width_name]
    length = min(length, 3000 * width)
    _, most = ep.limits[width_name]
    limit = data.draw(st.integers(min(most, max(1, -(-length // width) // 8)), most))
    with_end = data.draw(st.booleans())
    items = [("start_time", str(start)), ("bucket_width", width_name), ("limit", str(limit))]
    if with_end:
        items.append(("end_time", str(start + length)))
    now = start + length
    seen: list[tuple[int, int]] = []
    q = parse_query(ep, items, now=now)
    for _ in range(20):
        seen += [tuple(b) for b in q.buckets]
        if not q.has_more:
            assert q.next_page is None
            break
        # later pages keep the first page's end even when "now" has moved on
        q = parse_query(ep, [*items, ("page", q.next_page)], now=now + 10_000)
    assert seen == bucket_edges(start, start + length, width)


def test_cursor_bound_to_params() -> None:
    items = [("start_time", str(T0)), ("end_time", str(T0 + 10 * 86400)), ("limit", "3"), ("group_by", "model")]
    cursor = parse_query(COMPLETIONS, items).next_page
    assert cursor is not None
    q = parse_query(COMPLETIONS, [*items, ("page", cursor)])
    assert q.buckets[0].start == T0 + 3 * 86400
    # the same parameters in another order or encoding are the same query
    same = [("group_by[]", "model"), ("limit", "3"), ("end_time", str(T0 + 10 * 86400)), ("start_time", str(T0))]
    assert parse_query(COMPLETIONS, [*same, ("page", cursor)]).buckets == q.buckets
    for change in ([("limit", "4")], [("group_by", "project_id")], [("models", "o3")], [("batch", "true")],
                   [("bucket_width", "1h")]):
        names = {k for k, _ in change}
        changed = [i for i in items if i[0] not in names] + change
        bad_param(lambda changed=changed: parse_query(COMPLETIONS, [*changed, ("page", cursor)]), "page")
    bad_param(lambda: parse_query(ENDPOINTS_BY_NAME["embeddings"], [*items[:3], ("page", cursor)]), "page")


def test_cursor_outside_the_range_is_refused() -> None:
    params = parse_params(COMPLETIONS, [("start_time", str(T0)), ("end_time", str(T0 + 86400 * 5))])
    for n, e in ((T0, T0 + 86400 * 5), (T0 + 86400 * 5, T0 + 86400 * 5), (T0 + 86400, T0 + 86400 * 6)):
        forged = parse_params(COMPLETIONS, [("start_time", str(T0)), ("end_time", str(T0 + 86400 * 5)),
                                            ("page", encode_cursor(n, e, params.fingerprint()))])
        bad_param(lambda forged=forged: resolve(forged), "page")


def test_huge_integers_name_their_parameter() -> None:
    """Python will not parse integers of 4,300 digits or more: each integer parameter is a 400."""
    huge = "9" * 4300
    for name in ("start_time", "end_time", "limit"):
        items = [("start_time", str(T0)), (name, huge)] if name != "start_time" else [("start_time", huge)]
        err = bad_param(lambda items=items: parse_params(COMPLETIONS, items), name)
        assert err.message == f"Invalid value for '{name}': the integer has more than 18 digits."
    assert parse_params(COMPLETIONS, [("start_time", "0" * 5000 + str(T0))]).start_time == T0  # leading zeros
    bad_param(lambda: parse_params(COMPLETIONS, [("start_time", "1" + "0" * 18)]), "start_time")  # 19 digits


def test_cursors_are_signed() -> None:
    key, other = b"k" * 32, b"o" * 32
    items = [("start_time", str(T0)), ("end_time", str(T0 + 10 * 86400)), ("limit", "3")]
    cursor = parse_query(COMPLETIONS, items, cursor_key=key).next_page
    assert cursor is not None
    assert parse_query(COMPLETIONS, [*items, ("page", cursor)], cursor_key=key).buckets[0].start == T0 + 3 * 86400
    bad_param(lambda: parse_query(COMPLETIONS, [*items, ("page", cursor)], cursor_key=other), "page")
    # the payload changed to start at 9.2e18, the signature kept: refused
    body = cursor[len("page_"):-SIG_CHARS]
    data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged_raw = orjson.dumps({**data, "n": 9_200_000_000_000_000_000 // 1000 * 1000})
    forged = "page_" + base64.urlsafe_b64encode(forged_raw).decode().rstrip("=") + cursor[-SIG_CHARS:]
    err = bad_param(lambda: parse_query(COMPLETIONS, [*items, ("page", forged)], cursor_key=key), "page")
    assert err.message == "Invalid page cursor: use the `next_page` value of a previous response."
    # an unsigned cursor of the old form: refused
    old = "page_" + base64.urlsafe_b64encode(orjson.dumps({"v": 1, "n": T0 + 86400, "e": T0 + 10 * 86400,
                                                           "q": data["q"]})).decode().rstrip("=")
    bad_param(lambda: parse_query(COMPLETIONS, [*items, ("page", old)], cursor_key=key), "page")
    # the signature's last character holds 2 bits: flipping its lowest bit spells the same bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for flip in (1, 16):
        other = cursor[:-1] + alphabet[alphabet.index(cursor[-1]) ^ flip]
        bad_param(lambda other=other: parse_query(COMPLETIONS, [*items, ("page", other)], cursor_key=key), "page")
    for junk in ("page_", "page_" + "A" * 22, "page_" + "é" * 40, "page_" + "A" * 600):
        bad_param(lambda junk=junk: parse_query(COMPLETIONS, [*items, ("page", junk)], cursor_key=key), "page")
