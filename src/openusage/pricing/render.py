"""Build the JSON costs page column by column, as :mod:`openusage.query.render` does for usage pages.

:func:`openusage.pricing.costs.page_dict` makes a Python dict per result and lets orjson serialize the
page: with tens of thousands of results (a month by project, line item and key) that and the sort
dominate the answer.  :func:`render_costs` makes the same bytes from columns instead: the results'
buckets, groups, amounts and quantities are gathered into lists once, sorted by Arrow, every string
column becomes JSON text through its dictionary of distinct values, every float column through one
``orjson.dumps`` of the whole list, and a result is the join of its columns between constant key text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

from ..query.params import UsageQuery
from ..query.render import page_parts, result_template
from ..spec import ENDPOINTS_BY_NAME

COSTS = ENDPOINTS_BY_NAME["costs"]
_TEXT = pa.large_string()
_JOIN_ARITY = 8


def _floats(values: list[float | None]) -> pa.Array:
    """Each float as orjson writes it (``null`` for None), by one ``orjson.dumps`` of the list."""
    text = orjson.dumps(values).decode()[1:-1]
    return pa.array(text.split(",") if text else [], _TEXT)


def _strings(values: Sequence[Any]) -> pa.Array | None:
    """Each string as JSON text (``null`` for None), through the distinct values; None if one is not text."""
    try:
        arr = pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    enc = pc.dictionary_encode(arr)
    texts = pa.array([orjson.dumps(v).decode() for v in enc.dictionary.to_pylist()], _TEXT)
    return pc.fill_null(texts.take(enc.indices), pa.scalar("null", _TEXT))


def render_costs(q: UsageQuery, group_by: tuple[str, ...], lines: dict[tuple[Any, ...], Any]) -> bytes | None:
    """The costs page of ``lines`` (result key -> summed line: amount, quantity, unit), byte for byte
    ``orjson.dumps(page_dict(...))``; None when a group value is not text (the reference renders it)."""
    width = q.width
    index = {(b.start // width) * width: i for i, b in enumerate(q.buckets)}
    by_line = "line_item" in group_by
    keys = list(lines)
    values = list(lines.values())
    slots: list[int | None] = [index.get(k[0]) for k in keys]
    if None in slots:  # outside the page (days the page was cut before)
        inside = [i for i, slot in enumerate(slots) if slot is not None]
        keys, values, slots = [keys[i] for i in inside], [values[i] for i in inside], [slots[i] for i in inside]
    columns: list[tuple[Any, ...]] = list(zip(*keys, strict=True))[1:] if keys else [() for _ in group_by]
    amounts: list[float | None] = [float(v.amount) for v in values]
    quantities: list[float | None] = [float(v.quantity) if v.has_quantity else None for v in values] \
        if by_line else []
    units: list[str | None] = [v.unit if v.has_quantity else None for v in values] if by_line else []
    n = len(slots)
    counts: dict[int, int] = {}
    rows: pa.Array | None = None
    if n:
        arrays: dict[str, pa.Array] = {}
        for g, col in zip(group_by, columns, strict=True):
            arr = _strings(col)
            if arr is None:
                return None
            arrays[g] = arr
        arrays["amount"] = pc.binary_join_element_wise(pa.scalar('{"value":', _TEXT), _floats(amounts),
                                                       pa.scalar(',"currency":"usd"}', _TEXT),
                                                       pa.scalar("", _TEXT))
        if by_line:
            arrays["quantity"] = _floats(quantities)
            unit_text = _strings(units)
            if unit_text is None:
                return None
            arrays["quantity_unit"] = unit_text
        parts: list[Any] = []
        const = ""
        for name, default in result_template(COSTS, group_by).items():
            const += ("," if parts or const else "{") + orjson.dumps(name).decode() + ":"
            if name in arrays:
                parts += [pa.scalar(const, _TEXT), arrays[name]]
                const = ""
            else:
                const += orjson.dumps(default).decode()
        parts.append(pa.scalar(const + "},", _TEXT))
        empty = pa.scalar("", _TEXT)
        while len(parts) > 1:  # a few arguments at a time: Arrow's join slows down with many
            parts = [pc.binary_join_element_wise(*parts[i:i + _JOIN_ARITY], empty)
                     for i in range(0, len(parts), _JOIN_ARITY)]
        rows = parts[0]
        # results in bucket order, then by their groups, nulls first (the usage pages' order)
        table = pa.table({"slot": pa.array(slots, pa.int64()),
                          **{f"g{i}": pa.array(col, pa.string()) for i, col in enumerate(columns)}})
        order = pc.sort_indices(table, sort_keys=[(c, "ascending", "at_start") for c in table.column_names])
        rows = rows.take(order)
        for item in pc.value_counts(pa.array(slots, pa.int64())).to_pylist():
            counts[item["values"]] = item["counts"]
    return b"".join(page_parts(q, rows, counts))
