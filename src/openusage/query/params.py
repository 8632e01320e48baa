"""Parse and validate the query string of a Usage API request, from the endpoint table.

Arrays arrive in any of the forms real clients send: repeated (``group_by=a&group_by=b``),
bracketed (``group_by[]=a``, the official SDK) or comma-separated (``group_by=a,b``).  A comma
followed by a space does not split, so line items such as ``gpt-4o, input`` survive.

The client calls :func:`parse_params` too, so a bad argument fails before it is sent, with the
same message the server would give.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import invalid
from ..spec import BUCKET_SECONDS, DIMENSIONS, Endpoint
from .buckets import Bucket, page_buckets
from .cursor import decode_cursor, encode_cursor, fingerprint

_SPLIT = re.compile(r",(?!\s)")
_INT = re.compile(r"^[+-]?[0-9]+$")  # ASCII digits only (\d also matches other scripts' digits)
MAX_TIME = 32503680000  # year 3000: beyond it a "timestamp" is a mistake (milliseconds, say)
MAX_VALUES = 1000
MAX_VALUE_LEN = 512
MAX_INT_DIGITS = 18
"""Digits an integer parameter may have: every valid value fits, and Python refuses to parse
integers of 4,300 digits and more (a 500 otherwise)."""


@dataclass(frozen=True)
class Params:
    """Validated parameters of one request, before the cursor and "now" are applied."""

    endpoint: Endpoint
    start_time: int
    end_time: int | None
    bucket_width: str
    limit: int
    group_by: tuple[str, ...]
    filters: dict[str, tuple[str, ...] | bool] = field(default_factory=dict)
    """Filter values by dimension name (``project_id`` -> ids; ``batch`` -> bool)."""
    page: str | None = None

    def fingerprint(self) -> str:
        return fingerprint(
            [self.endpoint.name, self.start_time, self.end_time, self.bucket_width, self.limit,
             list(self.group_by), {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.filters.items()}]
        )


@dataclass(frozen=True)
class UsageQuery:
    """One page to answer: the validated parameters plus the resolved range and cursor."""

    params: Params
    end_time: int
    page_start: int
    buckets: list[Bucket]
    cursor_key: bytes = field(default=b"", repr=False)
    """The secret signing this query's ``next_page``."""

    @property
    def endpoint(self) -> Endpoint:
        return self.params.endpoint

    @property
    def width(self) -> int:
        return BUCKET_SECONDS[self.params.bucket_width]

    @property
    def has_more(self) -> bool:
        return bool(self.buckets) and self.buckets[-1].end < self.end_time

    @property
    def next_page(self) -> str | None:
        if not self.has_more:
            return None
        return encode_cursor(self.buckets[-1].end, self.end_time, self.params.fingerprint(), self.cursor_key)

    @property
    def range(self) -> tuple[int, int]:
        """[start, end) of this page's buckets."""
        if not self.buckets:
            return (self.page_start, self.page_start)
        return (self.buckets[0].start, self.buckets[-1].end)


def _values(name: str, raw: list[str]) -> list[str]:
    out: list[str] = []
    for item in raw:
        out.extend(v.strip() for v in _SPLIT.split(item) if v.strip())
    if len(out) > MAX_VALUES:
        raise invalid(name, f"Too many values for '{name}' (at most {MAX_VALUES}).")
    for v in out:
        if len(v) > MAX_VALUE_LEN:
            raise invalid(name, f"A value of '{name}' is longer than {MAX_VALUE_LEN} characters.")
    return out


def _int(name: str, raw: str) -> int:
    text = raw.strip()
    if not _INT.match(text):
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise invalid(name, f"Invalid value for '{name}': expected an integer, got {shown!r}.")
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > MAX_INT_DIGITS:
        raise invalid(name, f"Invalid value for '{name}': the integer has more than {MAX_INT_DIGITS} digits.")
    return -int(digits) if text.startswith("-") else int(digits)


def _bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise invalid(name, f"Invalid value for '{name}': expected true or false, got {raw!r}.")


def _collect(endpoint: Endpoint, items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    known = set(endpoint.parameters)
    arrays = set(endpoint.array_params)
    seen: dict[str, list[str]] = {}
    for key, value in items:
        name = key[:-2] if key.endswith("[]") else key
        if name not in known:
            allowed = ", ".join(endpoint.parameters)
            raise invalid(name, f"Unknown parameter '{name}'. Parameters of {endpoint.path}: {allowed}.")
        if name not in arrays and (key != name or name in seen):
            raise invalid(name, f"'{name}' takes a single value.")
        seen.setdefault(name, []).append(value)
    return seen


def parse_params(endpoint: Endpoint, items: Iterable[tuple[str, str]]) -> Params:
    """Validate the raw (name, value) pairs of a request against the endpoint description."""
    raw = _collect(endpoint, items)
    if "start_time" not in raw:
        raise invalid("start_time", "Missing required parameter: 'start_time' (Unix seconds, inclusive).")
    start = _int("start_time", raw["start_time"][0])
    end = _int("end_time", raw["end_time"][0]) if "end_time" in raw else None
    for name, value in (("start_time", start), ("end_time", end)):
        if value is not None and not 0 <= value <= MAX_TIME:
            raise invalid(name, f"'{name}' must be Unix seconds between 0 and {MAX_TIME}.")
    if end is not None and end <= start:
        raise invalid("end_time", "'end_time' must be later than 'start_time'.")

    width = raw.get("bucket_width", [endpoint.default_bucket_width])[0]
    if width not in endpoint.limits:
        allowed = ", ".join(endpoint.bucket_widths)
        raise invalid("bucket_width", f"Invalid bucket_width {width!r}: {endpoint.path} supports {allowed}.")
    default_limit, max_limit = endpoint.limits[width]
    limit = _int("limit", raw["limit"][0]) if "limit" in raw else default_limit
    if not 1 <= limit <= max_limit:
        raise invalid("limit", f"Invalid limit {limit}: with bucket_width={width} it must be "
                               f"between 1 and {max_limit}.")

    group_by: list[str] = []
    for g in _values("group_by", raw.get("group_by", [])):
        if g not in endpoint.group_by:
            allowed = ", ".join(endpoint.group_by)
            raise invalid("group_by", f"Invalid group_by value {g!r}: {endpoint.path} groups by {allowed}.")
        if g not in group_by:
            group_by.append(g)

    filters: dict[str, tuple[str, ...] | bool] = {}
    for f in endpoint.filters:
        if f.param not in raw:
            continue
        if f.kind == "bool":
            filters[f.dimension] = _bool(f.param, raw[f.param][0])
            continue
        values = _values(f.param, raw[f.param])
        enum = DIMENSIONS[f.dimension].enum
        for v in values:
            if enum and v not in enum:
                raise invalid(f.param, f"Invalid value {v!r} for '{f.param}': allowed are {', '.join(enum)}.")
        filters[f.dimension] = tuple(dict.fromkeys(values))

    page = raw["page"][0] if "page" in raw else None
    # Canonical group order (the endpoint's) so that results sort the same whatever the request's order.
    ordered = tuple(g for g in endpoint.group_by if g in group_by)
    return Params(endpoint, start, end, width, limit, ordered, filters, page)


def resolve(params: Params, now: int | None = None, cursor_key: bytes = b"") -> UsageQuery:
    """Fix the range (``end_time`` defaults to now) and the page this request asks for; cursors
    are signed and checked with ``cursor_key``."""
    end = params.end_time
    page_start = params.start_time
    if params.page is not None:
        page_start, end = decode_cursor(params.page, params.fingerprint(), cursor_key)
        if not params.start_time < page_start < end or (params.end_time is not None and end != params.end_time):
            raise invalid("page", "This page cursor is outside the query's time range.")
    if end is None:
        end = int(time.time()) if now is None else now
        if end <= params.start_time:
            raise invalid("start_time", "'start_time' is in the future: there is nothing to report yet.")
    width = BUCKET_SECONDS[params.bucket_width]
    return UsageQuery(params, end, page_start, page_buckets(page_start, end, width, params.limit), cursor_key)


def parse_query(endpoint: Endpoint, items: Iterable[tuple[str, str]], now: int | None = None,
                cursor_key: bytes = b"") -> UsageQuery:
    return resolve(parse_params(endpoint, items), now, cursor_key)
