"""Decode and validate usage events, and turn them into one columnar batch.

The event schema is generated from the endpoint table as ``msgspec`` structs (one per event type,
discriminated on ``type``), so decoding and type checks happen in one fast pass and every error
carries a path.  What a schema cannot say (control characters, the accepted time window, a key's
projects, token details against their totals) is then checked column by column with Arrow, event
by event only to name the culprit.  Validation is all-or-nothing: a bad event rejects the whole
request with a 400 whose ``param`` points at it (``events[3].input_tokens``), so nothing of a bad
request is stored.

The common request (JSON text holding no byte that could make a control character, times as numbers)
takes a faster path: every field converted to Arrow in one pass, the string checks skipped.  It
accepts and refuses exactly as the precise path (tests/test_ingest_speed_equivalence.py).

Timestamps are kept to the microsecond.  An id repeated inside one request counts once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from typing import Annotated, Any, Literal, Union

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ApiError, PermissionDeniedError, invalid
from ..query.params import MAX_TIME
from ..spec import (
    DIMENSIONS,
    ENDPOINTS_BY_TYPE,
    EVENT_TYPES,
    METRICS,
    ORIGINS,
    PRICING_ONLY_DIMENSIONS,
    QUANTITY_UNITS,
    event_dimensions,
    event_metrics,
)

MAX_ID_LEN = 256
MAX_STR_LEN = 512
MAX_INT = 10**12
"""Largest count one event may carry per metric (a trillion tokens, requests, images...): 9 million
such events still sum within a signed 64-bit integer, and no real request comes near it."""
MAX_BYTES = 10**15
"""Largest ``usage_bytes`` sample (a petabyte): a gauge, summed over projects only."""
MAX_QUANTITY = 1e15
AMOUNT_TYPE = pa.decimal128(38, 12)

DIM_COLUMNS = tuple(d for d in DIMENSIONS if not DIMENSIONS[d].extension and d not in PRICING_ONLY_DIMENSIONS)
INT_METRICS = tuple(m for m, spec in METRICS.items() if spec.agg in ("sum", "gauge"))

SCHEMA = pa.schema(
    [("id", pa.string()), ("type", pa.string()), ("ts_us", pa.int64())]
    + [(d, pa.bool_() if DIMENSIONS[d].kind == "bool" else pa.string()) for d in DIM_COLUMNS]
    + [(m, pa.int64()) for m in INT_METRICS]
    + [("amount", AMOUNT_TYPE), ("quantity", pa.float64()), ("quantity_unit", pa.string())]
    + [("origin", pa.string())]
    + [(d, pa.string()) for d in PRICING_ONLY_DIMENSIONS]
)
"""Columns of the events table, in order; every store uses these names.  ``origin`` and then the dimensions
stored for pricing only (image ``quality``, container ``memory_limit``) come last: stores made before them
add them as their last columns, so the order holds for them too."""
SCHEMA_BEFORE_ORIGIN = pa.schema(list(SCHEMA)[:SCHEMA.get_field_index("origin")])
"""The events' columns before ``origin``: what the earlier store migrations create."""
SCHEMA_BEFORE_PRICING_DIMS = pa.schema(list(SCHEMA)[:SCHEMA.get_field_index("origin") + 1])
"""The events' columns before the dimensions stored for pricing only: what the migrations before them create."""


CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Refused in strings: control characters (C0, DEL, C1) and lone surrogates.  PostgreSQL cannot store
U+0000; the others only break logs, CSV exports and terminals.  Checked per column, after decoding."""
_CONTROL_MESSAGE = "strings must not contain control characters (U+0000 to U+001F, U+007F to U+009F) or lone surrogates"
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LEN)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_STR_LEN)]
Timestamp = float | datetime
"""Unix seconds, or an RFC 3339 string with its offset; bounds are checked in :func:`_timestamp_us`."""
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
Bytes = Annotated[int, msgspec.Meta(ge=0, le=MAX_BYTES)]
Money = Decimal


class Amount(msgspec.Struct, forbid_unknown_fields=True):
    """A money amount as OpenAI writes it in cost results."""

    value: Money
    currency: Literal["usd"] = "usd"


TOKEN_SPLITS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("input_cache_write_tokens", ("input_cache_write_30m_tokens", "input_cache_write_12h_tokens")),
    ("input_cached_tokens", ("input_cached_audio_tokens", "input_cached_image_tokens", "input_cached_text_tokens")),
    ("input_tokens", ("input_cached_tokens", "input_cache_write_tokens", "input_uncached_tokens")),
    ("input_uncached_tokens", ("input_audio_tokens", "input_image_tokens", "input_text_tokens")),
    ("output_tokens", ("output_audio_tokens", "output_image_tokens", "output_text_tokens")),
)
"""How OpenAI splits a completions total into parts, in the order details are derived: a part left
out is what its total leaves over (the last part) or 0 (the others); a total left out (cached, cache
writes) is the sum of its parts."""
TOKEN_DETAILS = frozenset(p for _, parts in TOKEN_SPLITS for p in parts) - {"input_tokens", "output_tokens"}
"""Completions metrics an event may leave out to have them derived (None until then)."""


def _dimension_type(name: str) -> Any:
    spec = DIMENSIONS[name]
    if spec.kind == "bool":
        return bool | None
    if spec.pattern:
        return Annotated[str, msgspec.Meta(pattern=spec.pattern)] | None
    if spec.enum:
        return Literal[spec.enum] | None
    return Text | None


def _event_struct(event_type: str) -> type[msgspec.Struct]:
    ep = ENDPOINTS_BY_TYPE[event_type]
    fields: list[tuple[str, Any, Any]] = [("id", Id, msgspec.NODEFAULT), ("timestamp", Timestamp, msgspec.NODEFAULT)]
    fields += [(d, _dimension_type(d), None) for d in event_dimensions(event_type)]
    fields += [(m.name, Count | None, None) if event_type == "completions" and m.name in TOKEN_DETAILS
               else (m.name, Bytes if m.agg == "gauge" else Count, m.default)
               for m in event_metrics(event_type) if m.agg in ("sum", "gauge")]
    if ep.is_costs:
        fields += [
            ("amount", Money | Amount, msgspec.NODEFAULT),
            # a credit line (a free allowance) has a negative amount and quantity
            ("quantity", Annotated[float, msgspec.Meta(ge=-MAX_QUANTITY, le=MAX_QUANTITY)] | None, None),
            ("quantity_unit", Literal[QUANTITY_UNITS] | None, None),
        ]
    name = "".join(p.title() for p in event_type.split("_")) + "Event"
    return msgspec.defstruct(name, fields, tag_field="type", tag=event_type, forbid_unknown_fields=True,
                             kw_only=True)


EVENT_STRUCTS: dict[str, type[msgspec.Struct]] = {t: _event_struct(t) for t in EVENT_TYPES}
Event = Union[tuple(EVENT_STRUCTS.values())]  # type: ignore[valid-type]  # noqa: UP007 (built at run time)


class IngestBody(msgspec.Struct, forbid_unknown_fields=True):
    events: list[Event]  # type: ignore[valid-type]


_JSON_BODY = msgspec.json.Decoder(IngestBody)
_JSON_EVENT = msgspec.json.Decoder(Event)
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"(?:unknown|required) field `([^`]+)`")


def _error(exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str = "") -> Exception:
    """Turn msgspec's message into our envelope: ``param`` is the JSON path of the bad value."""
    text = str(exc)
    m = _AT.match(text)
    msg, path = (m.group("msg"), m.group("path") or "") if m else (text, "")
    path = path.lstrip(".")
    field = _FIELD.search(msg)
    if field:
        path = f"{path}.{field.group(1)}" if path else field.group(1)
    joiner = "." if prefix and path and not path.startswith("[") else ""
    param = (prefix + joiner + path) if prefix or path else None
    if param and param.startswith("."):
        param = param[1:]
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return invalid(param, f"The body is not valid JSON: {msg}")
    if "RFC3339" in msg or "`float | datetime`" in msg:
        msg = "timestamp must be Unix seconds (a number) or an RFC 3339 string such as 2026-11-01T12:00:00Z"
    name = (param or "").rsplit(".", 1)[-1]
    if msg.startswith("Invalid enum value") and name in DIMENSIONS and DIMENSIONS[name].enum:
        msg = f"{msg}; {name} is one of {', '.join(DIMENSIONS[name].enum or ())}"
    hint = f" (at {param})" if param else ""
    return invalid(param, f"Invalid event: {msg}{hint}.")


@dataclass(frozen=True)
class IngestLimits:
    """What one request may hold beyond the schema; the server sets them from its settings.

    The defaults only keep times storable (1970 to 3000); the server narrows them, so a stray
    timestamp cannot land in 1971 or 2999, nor a request create hundreds of monthly partitions.
    """

    min_time: float = 0
    """Earliest accepted timestamp (Unix seconds)."""
    max_future_s: float | None = None
    """How far past the time of the request a timestamp may be (None: up to the year 3000)."""
    max_months: int | None = None
    """How many distinct calendar months (UTC) one request may touch (None: any)."""
    projects: frozenset[str] | None = None
    """The only ``project_id`` values allowed (an ingest key limited to projects); None: any."""


SERVER_MIN_TIME = 1_420_070_400
"""2015-01-01: OpenAI's API opened to the public later, so an earlier time is a mistake (a date
in the wrong unit, a zero)."""
SERVER_MAX_FUTURE_S = 86_400
"""A day: generous for clock skew and time zones mixed up, short enough to refuse a wrong year."""
SERVER_MAX_MONTHS = 24

_UNITS = ((1e17, "nanoseconds"), (1e14, "microseconds"), (1e11, "milliseconds"))
"""Sizes from which a "Unix seconds" value is surely another unit (1e11 s is the year 5138)."""
_US_PER_DAY = 86_400_000_000


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _timestamp_us(ts: float | datetime, index: int, lo: float, hi: float) -> int:
    """The event's time in microseconds, or a 400 saying why it is refused."""
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise invalid(f"events[{index}].timestamp",
                          "an RFC 3339 timestamp needs its offset (Z or +hh:mm), e.g. 2026-11-01T12:00:00Z.")
        us = (ts - _EPOCH) // _MICROSECOND
        if not lo <= us / 1_000_000 <= hi:
            raise _outside(index, us / 1_000_000, lo, hi)
        return us
    if lo <= ts <= hi:  # the common case
        return round(ts * 1_000_000)
    for size, unit in _UNITS:
        if ts >= size:
            raise invalid(f"events[{index}].timestamp",
                          f"timestamps are Unix seconds; this looks like {unit} ({ts!r}).")
    raise _outside(index, ts, lo, hi)


def _outside(index: int, seconds: float, lo: float, hi: float) -> Exception:
    param = f"events[{index}].timestamp"
    if seconds < lo:
        when = _iso(seconds) if seconds >= 0 else "before 1970"
        return invalid(param, f"timestamp {seconds!r} ({when}) is before {_iso(lo)}, the earliest this server "
                              "accepts.")
    if seconds > hi:
        return invalid(param, f"timestamp {seconds!r} ({_iso(seconds)}) is later than {_iso(hi)}, the latest this "
                              "server accepts now.")
    return invalid(param, "timestamp must be a finite number of Unix seconds.")


def _project_denied(index: int, project: str | None) -> PermissionDeniedError:
    what = f"project {project!r}" if project is not None else "no project"
    return PermissionDeniedError(f"This key may only write events of its projects; events[{index}] has {what}. "
                                 "Nothing of this request was stored.", param=f"events[{index}].project_id",
                                 code="project_not_allowed")


def _month(day: int) -> int:
    d = date.fromordinal(day + 719_163)  # day 0 is 1970-01-01
    return d.year * 12 + d.month


@dataclass
class EventBatch:
    """Validated events as one Arrow table, with duplicate ids inside the request already folded."""

    table: pa.Table
    received: int

    def __len__(self) -> int:
        rows: int = self.table.num_rows  # pyarrow has no type information (pyproject.toml)
        return rows

    @property
    def duplicates_in_request(self) -> int:
        return self.received - len(self)

    def to_arrow(self) -> pa.Table:
        return self.table


_CENT_FRACTION = Decimal("1e-12")
_MAX_MONEY = Decimal("1e18")
"""Per event: sums of up to 10^8 such amounts still fit the store's DECIMAL(38, 12) (26 digits)."""
_MONEY_CONTEXT = Context(prec=38)  # DECIMAL(38, 12): 26 digits before the point, 12 after


def _money(amount: Any, index: int) -> Decimal:
    """An amount kept exactly to 12 decimal places (enough for per-token prices)."""
    value = amount.value if isinstance(amount, Amount) else amount
    if not value.is_finite() or value.copy_abs() >= _MAX_MONEY:  # copy_abs: exact, abs() rounds
        raise invalid(f"events[{index}].amount", "amount must be a finite number below 1e18 in absolute value.")
    return value.quantize(_CENT_FRACTION, context=_MONEY_CONTEXT)


Problem = tuple[int, int, Exception]
"""(event index, order of the check, error): a request is refused with its first problem."""


def _first(mask: pa.Array) -> int | None:
    """The first row where ``mask`` holds, if any."""
    if not len(mask) or not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, True).as_py())


def _derive_tokens(cols: dict[str, pa.Array], index: Sequence[int], problems: list[Problem]) -> None:
    """Fill the detail columns left out (null) from their totals, refusing parts above their total."""
    n = len(cols["input_tokens"])
    if all(cols[name].null_count == n for name in TOKEN_DETAILS):  # only totals given: text, all of it
        zero = pa.repeat(pa.scalar(0, pa.int64()), n)
        cols.update(dict.fromkeys(TOKEN_DETAILS, zero))
        cols["input_uncached_tokens"] = cols["input_text_tokens"] = cols["input_tokens"]
        cols["output_text_tokens"] = cols["output_tokens"]
        return
    for total_name, parts in TOKEN_SPLITS:
        filled = [pc.fill_null(cols[p], 0) for p in parts]
        given = filled[0]
        for col in filled[1:]:
            given = pc.add(given, col)
        total = cols[total_name]
        if total.null_count:  # a total left out is the sum of its parts
            total = cols[total_name] = pc.coalesce(total, given)
        others = pc.subtract(given, filled[-1])
        over = [pc.greater(col, total) for col in filled]  # one part alone above its total
        short = pc.and_(pc.is_null(cols[parts[-1]]), pc.greater(others, total))  # nothing left to derive
        bad = over[0]
        for mask in (*over[1:], short):
            bad = pc.or_(bad, mask)
        row = _first(bad)
        if row is not None:
            t = total[row].as_py()
            field = next((p for p, m in zip(parts, over, strict=True) if m[row].as_py()), None)
            if field is not None:
                msg = f"{field} ({cols[field][row].as_py()}) is more than {total_name} ({t}), of which it is a part."
            else:
                field = parts[0]
                msg = (f"{' + '.join(parts[:-1])} ({others[row].as_py()}) are more than {total_name} ({t}), "
                       f"so {parts[-1]} cannot be derived.")
            i = index[row]
            problems.append((i, 4, invalid(f"events[{i}].{field}", f"Inconsistent token counts: {msg}")))
        cols[parts[-1]] = pc.coalesce(cols[parts[-1]], pc.subtract(total, others))
        for name, col in zip(parts[:-1], filled[:-1], strict=True):
            cols[name] = col


def _check_image_tokens(cols: dict[str, pa.Array], index: Sequence[int], problems: list[Problem]) -> None:
    """Image input tokens are a part of an images event's input tokens: more than them is refused."""
    row = _first(pc.greater(pc.fill_null(cols["input_image_tokens"], 0), pc.fill_null(cols["input_tokens"], 0)))
    if row is not None:
        i = index[row]
        msg = (f"input_image_tokens ({cols['input_image_tokens'][row].as_py()}) is more than input_tokens "
               f"({cols['input_tokens'][row].as_py()}), of which it is a part.")
        problems.append((i, 4, invalid(f"events[{i}].input_image_tokens", f"Inconsistent token counts: {msg}")))


_CONTROL_RE2 = "[\\x00-\\x1f\\x7f-\\x{9f}]"


def plain_json(body: bytes) -> bool:
    """Whether no string in a JSON text can hold a control character or a lone surrogate.

    A JSON decoder refuses raw C0 characters inside strings, so such characters only come from a
    backslash escape, a raw DEL (7F) or a raw C1 character (C2 80 to C2 9F); ED starts the UTF-8 form
    of surrogates.  Without any of these bytes the per-column regex checks can be skipped; with one,
    every column is checked (most such texts are clean too: an escaped quote, a character from U+00A0)."""
    return b"\\" not in body and b"\x7f" not in body and b"\xc2" not in body and b"\xed" not in body


def _text(values: Sequence[str | None], name: str, index: Sequence[int], problems: list[Problem],
          plain: bool = False) -> pa.Array:
    """A string column, refusing control characters and lone surrogates (see :data:`CONTROL_CHARS`);
    ``plain``: the text they came from holds none (:func:`plain_json`)."""
    if plain:
        return _arrow(values, pa.string())
    try:
        arr = pa.array(values, pa.string())
        row = _first(pc.match_substring_regex(arr, _CONTROL_RE2))
    except UnicodeEncodeError:  # a lone surrogate, from Python objects (JSON text cannot carry one)
        arr = pa.nulls(len(values), pa.string())
        row = next(k for k, v in enumerate(values) if v is not None and CONTROL_CHARS.search(v))
    if row is not None:
        param = f"events[{index[row]}].{name}"
        problems.append((index[row], 0, invalid(param, f"Invalid event: {_CONTROL_MESSAGE} (at {param}).")))
    return arr


def _times(values: Sequence[float | datetime], index: Sequence[int], lo: float, hi: float,
           problems: list[Problem]) -> pa.Array:
    """Timestamps in microseconds: numbers inside the window in one pass, else event by event."""
    try:
        seconds = _arrow(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # RFC 3339 times, decoded as datetimes
        seconds = None
    if seconds is not None and pc.all(pc.and_(pc.greater_equal(seconds, lo), pc.less_equal(seconds, hi))).as_py():
        return pc.cast(pc.round(pc.multiply(seconds, 1_000_000.0)), pa.int64())  # round half to even, as round()
    if isinstance(values, pa.Array):
        values = values.to_pylist()
    out: list[int] = []
    for v, i in zip(values, index, strict=True):
        try:
            out.append(_timestamp_us(v, i, lo, hi))
        except ApiError as exc:
            problems.append((i, 1, exc))
            return pa.nulls(len(values), pa.int64())
    return pa.array(out, pa.int64())


def _amounts(values: Sequence[Any], index: Sequence[int], problems: list[Problem]) -> pa.Array:
    amounts: list[Decimal] = []
    for v, i in zip(values, index, strict=True):
        try:
            amounts.append(_money(v, i))
        except ApiError as exc:
            problems.append((i, 3, exc))
            return pa.nulls(len(values), AMOUNT_TYPE)
    return pa.array(amounts, AMOUNT_TYPE)


def _row_type(event_type: str) -> pa.StructType | None:
    """An event's fields as one Arrow struct, timestamps as seconds; None for costs (amounts are
    Python decimals, converted one by one)."""
    fields = EVENT_STRUCTS[event_type].__struct_fields__
    if "amount" in fields:
        return None
    types = {f.name: f.type for f in SCHEMA} | {"timestamp": pa.float64()}
    return pa.struct([(name, types[name]) for name in fields])


ROW_TYPES = {t: _row_type(t) for t in EVENT_TYPES}


def _arrow(values: Sequence[Any] | pa.Array, type_: pa.DataType) -> pa.Array:
    """A column as Arrow, whichever way :func:`_transpose` gave it."""
    return values if isinstance(values, pa.Array) else pa.array(values, type_)


def _transpose(event_type: str, events: list[Any], fast: bool) -> dict[str, Sequence[Any] | pa.Array]:
    """Each field's values: as Arrow arrays converted in one pass when ``fast`` and every value
    fits its column (numbers for times, no decimal), else as Python tuples."""
    fields = EVENT_STRUCTS[event_type].__struct_fields__
    rows = list(map(msgspec.structs.astuple, events))
    row_type = ROW_TYPES[event_type]
    if fast and row_type is not None:
        try:
            return dict(zip(fields, pa.array(rows, row_type).flatten(), strict=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError, UnicodeEncodeError):
            pass  # an RFC 3339 time (a datetime): column by column
    return dict(zip(fields, zip(*rows, strict=True), strict=True))


def _columns(event_type: str, events: list[Any], index: Sequence[int], limits: IngestLimits, hi: float,
             problems: list[Problem], plain: bool, origin: str) -> pa.Table:
    """One type's events as a table of the full schema (columns it lacks are null), checked column by
    column; ``index`` holds each event's place in the request, for errors."""
    n = len(events)
    data = _transpose(event_type, events, plain)
    cols: dict[str, pa.Array] = {}
    for f in SCHEMA:
        name = f.name
        values = data.get(name)
        if name == "id":
            cols[name] = _text(data["id"], "id", index, problems, plain)
        elif name == "type":
            cols[name] = pa.array([event_type] * n, pa.string())
        elif name == "ts_us":
            cols[name] = _times(data["timestamp"], index, limits.min_time, hi, problems)
        elif name == "origin":
            cols[name] = pa.array([origin] * n, pa.string())
        elif values is None:
            cols[name] = pa.nulls(n, f.type)
        elif name == "amount":
            cols[name] = _amounts(values, index, problems)
        elif name in DIMENSIONS and DIMENSIONS[name].kind != "bool" and not DIMENSIONS[name].enum:
            cols[name] = _text(values, name, index, problems, plain)
        else:
            cols[name] = _arrow(values, f.type)
        default = DIMENSIONS[name].default if name in DIMENSIONS else None
        if default is not None and cols[name].null_count:
            cols[name] = pc.fill_null(cols[name], pa.scalar(default, f.type))
    if limits.projects is not None:
        allowed = pc.is_in(cols["project_id"], value_set=pa.array(sorted(limits.projects), pa.string()))
        row = _first(pc.invert(pc.fill_null(allowed, False)))
        if row is not None:
            problems.append((index[row], 2, _project_denied(index[row], cols["project_id"][row].as_py())))
    if event_type == "completions":
        _derive_tokens(cols, index, problems)
    elif event_type == "images":
        _check_image_tokens(cols, index, problems)
    return pa.Table.from_arrays([cols[f.name] for f in SCHEMA], schema=SCHEMA)


def _by_type(events: list[Any]) -> dict[str, tuple[list[Any], Sequence[int]]]:
    """Events grouped by type, each with its places in the request."""
    if len(set(map(type, events))) <= 1:  # the common case: one type
        return {type(events[0]).__struct_config__.tag: (events, range(len(events)))} if events else {}
    groups: dict[str, tuple[list[Any], list[int]]] = {}
    for i, e in enumerate(events):
        group = groups.setdefault(type(e).__struct_config__.tag, ([], []))
        group[0].append(e)
        group[1].append(i)
    return groups  # type: ignore[return-value]


def _check_months(days: list[pa.Array], index: list[Sequence[int]], max_months: int,
                  problems: list[Problem]) -> None:
    """Refuse a request whose events fall in more than ``max_months`` calendar months, naming the
    first event past the bound."""
    unique = pc.unique(pa.chunked_array(days, pa.int64())).to_pylist()
    if len({_month(d) for d in unique}) <= max_months:
        return
    by_place = sorted((i, d) for ds, idx in zip(days, index, strict=True) for i, d in zip(idx, ds.to_pylist(),
                                                                                           strict=True))
    months: set[int] = set()
    for i, d in by_place:
        months.add(_month(d))
        if len(months) > max_months:
            problems.append((i, 1, invalid(f"events[{i}].timestamp",
                                           f"one request may hold events of at most {max_months} calendar months "
                                           "(UTC); send older history in several requests.")))
            return


def _first_of_each_id(table: pa.Table, index: list[Sequence[int]]) -> pa.Table:
    """Rows whose (project, id) came first in the request: ids are unique per project, and a repeated
    one counts once, the first one wins."""
    if pc.count_distinct(table.column("id")).as_py() == table.num_rows:
        return table
    places = [i for idx in index for i in idx]
    seen: set[tuple[str | None, str]] = set()
    keep = [False] * table.num_rows
    ids, projects = table.column("id"), table.column("project_id")
    for row in sorted(range(table.num_rows), key=places.__getitem__):
        key = (projects[row].as_py(), ids[row].as_py())
        if key not in seen:
            seen.add(key)
            keep[row] = True
    return table.filter(pa.array(keep))


def batch_from_structs(events: list[Any], limits: IngestLimits | None = None, plain: bool = False,
                       origin: str = "ingest") -> EventBatch:
    """Check what the schema cannot (strings, times, projects, amounts, token details) column by
    column, fold repeated ids (first wins) and build the columnar batch.  A refused request is
    refused with the error of its first bad event.  ``plain``: the events were decoded from JSON
    text that :func:`plain_json` found free of control characters.  ``origin`` is where the events
    entered the server; it is stamped here, never read from an event (an event naming one is refused as
    an unknown field)."""
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")
    limits = limits or IngestLimits()
    hi = MAX_TIME if limits.max_future_s is None else min(MAX_TIME, time.time() + limits.max_future_s)
    problems: list[Problem] = []
    tables: list[pa.Table] = []
    places: list[Sequence[int]] = []
    for event_type, (evs, index) in _by_type(events).items():
        tables.append(_columns(event_type, evs, index, limits, hi, problems, plain, origin))
        places.append(index)
    if limits.max_months is not None and not problems and tables:
        days = [pc.divide(t.column("ts_us"), _US_PER_DAY).combine_chunks() for t in tables]
        _check_months(days, places, limits.max_months, problems)
    if problems:
        raise min(problems, key=lambda p: (p[0], p[1]))[2]
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    return EventBatch(_first_of_each_id(table, places), len(events))


_BOM = b"\xef\xbb\xbf"


def decode_json(body: bytes, limits: IngestLimits | None = None, origin: str = "ingest") -> EventBatch:
    """A JSON body ``{"events": [...]}`` (a leading UTF-8 byte order mark is skipped)."""
    if body[:3] == _BOM:
        body = body[3:]
    try:
        parsed = _JSON_BODY.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _error(exc) from None
    return batch_from_structs(parsed.events, limits, plain_json(body), origin)


def decode_ndjson(body: bytes | Iterable[bytes], limits: IngestLimits | None = None,
                  origin: str = "ingest") -> EventBatch:
    """One event per line; blank lines and a leading UTF-8 byte order mark are skipped; ``param``
    names the event by its position."""
    if isinstance(body, (bytes, bytearray)):
        lines: Iterable[bytes] = (body[3:] if body[:3] == _BOM else body).splitlines()
    else:
        lines = body
    events: list[Any] = []
    plain = True
    for line in lines:
        if not line.strip():
            continue
        try:
            events.append(_JSON_EVENT.decode(line))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise _error(exc, prefix=f"events[{len(events)}]") from None
        plain = plain and plain_json(line)
    return batch_from_structs(events, limits, plain, origin)


def validate_events(events: Any, limits: IngestLimits | None = None, origin: str = "ingest") -> EventBatch:
    """Events already parsed into Python objects (from a file or a client)."""
    if not isinstance(events, list):
        raise invalid("events", "'events' must be a list of event objects.")
    try:
        structs = msgspec.convert(events, list[Event])  # type: ignore[valid-type]
    except msgspec.ValidationError as exc:
        raise _error(exc, prefix="events") from None
    return batch_from_structs(structs, limits, origin=origin)
