"""Decode and validate usage events, and turn them into one columnar batch.

The event schema is generated from the endpoint table as ``msgspec`` structs (one per event type,
discriminated on ``type``), so decoding and validation happen in one fast pass and every error
carries a path.  Validation is all-or-nothing: the first bad event rejects the whole request with a
400 whose ``param`` points at it (``events[3].input_tokens``), so nothing of a bad request is stored.

Timestamps are kept to the microsecond.  An id repeated inside one request counts once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Annotated, Any, Literal, Union

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import invalid
from ..spec import DIMENSIONS, ENDPOINTS_BY_TYPE, EVENT_TYPES, METRICS, QUANTITY_UNITS, event_dimensions

MAX_ID_LEN = 256
MAX_STR_LEN = 512
MAX_TIME = 32503680000
MAX_INT = 2**62
AMOUNT_TYPE = pa.decimal128(38, 12)

DIM_COLUMNS = tuple(DIMENSIONS)
INT_METRICS = tuple(m for m, spec in METRICS.items() if spec.agg in ("sum", "gauge"))

SCHEMA = pa.schema(
    [("id", pa.string()), ("type", pa.string()), ("ts_us", pa.int64())]
    + [(d, pa.bool_() if DIMENSIONS[d].kind == "bool" else pa.string()) for d in DIM_COLUMNS]
    + [(m, pa.int64()) for m in INT_METRICS]
    + [("amount", AMOUNT_TYPE), ("quantity", pa.float64()), ("quantity_unit", pa.string())]
)
"""Columns of the events table, in order; every store uses these names."""

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LEN)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_STR_LEN)]
Timestamp = Annotated[float, msgspec.Meta(ge=0, le=MAX_TIME)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
Money = Decimal


class Amount(msgspec.Struct, forbid_unknown_fields=True):
    """A money amount as OpenAI writes it in cost results."""

    value: Money
    currency: Literal["usd"] = "usd"


def _dimension_type(name: str) -> Any:
    spec = DIMENSIONS[name]
    if spec.kind == "bool":
        return bool | None
    if spec.pattern:
        return Annotated[str, msgspec.Meta(pattern=spec.pattern)] | None
    if spec.enum:
        return Literal[spec.enum] | None  # type: ignore[valid-type]
    return Text | None


def _event_struct(event_type: str) -> type[msgspec.Struct]:
    ep = ENDPOINTS_BY_TYPE[event_type]
    fields: list[tuple[str, Any, Any]] = [("id", Id, msgspec.NODEFAULT), ("timestamp", Timestamp, msgspec.NODEFAULT)]
    fields += [(d, _dimension_type(d), None) for d in event_dimensions(event_type)]
    fields += [(m.name, Count, m.default) for m in ep.metrics if m.agg in ("sum", "gauge")]
    if event_type == "costs":
        fields += [
            ("amount", Money | Amount, msgspec.NODEFAULT),
            ("quantity", Annotated[float, msgspec.Meta(ge=0)] | None, None),
            ("quantity_unit", Literal[QUANTITY_UNITS] | None, None),  # type: ignore[valid-type]
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
_EVENTS = msgspec.convert
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
    hint = f" (at {param})" if param else ""
    return invalid(param, f"Invalid event: {msg}{hint}.")


@dataclass
class EventBatch:
    """Validated events as one Arrow table, with duplicate ids inside the request already folded."""

    table: pa.Table
    received: int

    def __len__(self) -> int:
        return self.table.num_rows

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


def _columns(event_type: str, events: list[Any]) -> pa.Table:
    """One type's events as a table of the full schema (columns it lacks are null)."""
    n = len(events)
    struct = EVENT_STRUCTS[event_type]
    present = set(struct.__struct_fields__)
    arrays: list[pa.Array] = []
    for f in SCHEMA:
        name = f.name
        if name == "id":
            arrays.append(pa.array([e.id for e in events], pa.string()))
        elif name == "type":
            arrays.append(pa.array([event_type] * n, pa.string()))
        elif name == "ts_us":
            arrays.append(pa.array([round(e.timestamp * 1_000_000) for e in events], pa.int64()))
        elif name == "amount" and "amount" in present:
            arrays.append(pa.array([_money(e.amount, i) for i, e in enumerate(events)], AMOUNT_TYPE))
        elif name in present:
            values = pa.array([getattr(e, name) for e in events], f.type)
            default = DIMENSIONS[name].default if name in DIMENSIONS else None
            if default is not None and values.null_count:
                values = pc.fill_null(values, pa.scalar(default, f.type))
            arrays.append(values)
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def batch_from_structs(events: list[Any]) -> EventBatch:
    """Fold repeated ids (first wins) and build the columnar batch."""
    received = len(events)
    seen: set[str] = set()
    by_type: dict[str, list[Any]] = {}
    for i, e in enumerate(events):
        if type(e).__struct_config__.tag == "costs":
            _money(e.amount, i)  # checked here, where ``i`` is the event's place in the request
        if e.id in seen:
            continue
        seen.add(e.id)
        by_type.setdefault(type(e).__struct_config__.tag, []).append(e)
    tables = [_columns(t, evs) for t, evs in by_type.items()]
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    return EventBatch(table, received)


def decode_json(body: bytes) -> EventBatch:
    """A JSON body ``{"events": [...]}``."""
    try:
        parsed = _JSON_BODY.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _error(exc) from None
    return batch_from_structs(parsed.events)


def decode_ndjson(body: bytes | Iterable[bytes]) -> EventBatch:
    """One event per line; blank lines are skipped; ``param`` names the event by its position."""
    lines = body.splitlines() if isinstance(body, (bytes, bytearray)) else body
    events: list[Any] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            events.append(_JSON_EVENT.decode(line))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise _error(exc, prefix=f"events[{len(events)}]") from None
    return batch_from_structs(events)


def validate_events(events: Any) -> EventBatch:
    """Events already parsed into Python objects (from a file or a client)."""
    if not isinstance(events, list):
        raise invalid("events", "'events' must be a list of event objects.")
    try:
        structs = msgspec.convert(events, list[Event])  # type: ignore[valid-type]
    except msgspec.ValidationError as exc:
        raise _error(exc, prefix="events") from None
    return batch_from_structs(structs)
