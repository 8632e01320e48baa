"""Build the JSON costs page column by column, as :mod:`openusage.query.render` does for usage pages.

:func:`openusage.pricing.costs.page_dict` makes a Python dict per result and lets orjson serialize the
page: with tens of thousands of results (a month by project, line item and key) that and the sort
dominate the answer.  :func:`render_costs` makes the same bytes from columns instead: the results'
buckets, groups, amounts and quantities are gathered into lists once, sorted by Arrow, every string
column becomes JSON text through its dictionary of distinct values, every float column through one
``orjson.dumps`` of the whole list, and a result is the join of its columns between constant key text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

from ..query.params import UsageQuery
from ..query.render import page_parts, result_template
from ..spec import ENDPOINTS_BY_NAME

COSTS = ENDPOINTS_BY_NAME["costs"]
_TEXT = pa.large_string()
_JOIN_ARITY = 8
RUN_CODES = 2**62
"""The most combinations of values a run of text fields is coded in (:func:`_run`): one int64 each."""


def _floats(values: pa.Array) -> pa.Array:
    """Each float as orjson writes it (``null`` for null), by one ``orjson.dumps`` of the whole column,
    cut at its commas into Arrow text without a Python string per value."""
    array = values.to_numpy(zero_copy_only=False)  # nulls become NaN, which orjson writes as null
    n = len(array)
    if not n:
        return pa.array([], _TEXT)
    body = np.frombuffer(orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY), np.uint8)[1:-1]
    comma = body == ord(",")  # no float's text holds one
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    offsets[1:n] = np.flatnonzero(comma)[: n - 1] + 1 - np.arange(1, n)  # each start, less the commas before
    offsets[n] = len(body) - (n - 1)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(body[~comma]))


def lines_table(group_by: tuple[str, ...], lines: dict[tuple[Any, ...], Any]) -> pa.Table | None:
    """``lines`` (result key -> summed line: amount, quantity, unit) as the columns
    :func:`render_cost_table` renders; None when a group value is not text."""
    keys = list(lines)
    values = list(lines.values())
    columns: list[Sequence[Any]] = list(zip(*keys, strict=True)) if keys else [() for _ in range(len(group_by) + 1)]
    out: dict[str, pa.Array] = {"bucket": pa.array(columns[0], pa.int64())}
    try:
        for g, col in zip(group_by, columns[1:], strict=True):
            out[g] = pa.array(col, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    out["amount"] = pa.array([float(v.amount) for v in values], pa.float64())
    out["quantity"] = pa.array([float(v.quantity) if v.has_quantity else None for v in values], pa.float64())
    out["unit"] = pa.array([v.unit if v.has_quantity else None for v in values], pa.string())
    return pa.table(out)


def render_costs(q: UsageQuery, group_by: tuple[str, ...], lines: dict[tuple[Any, ...], Any]) -> bytes | None:
    """The costs page of ``lines`` (result key -> summed line: amount, quantity, unit), byte for byte
    ``orjson.dumps(page_dict(...))``; None when a group value is not text (the reference renders it)."""
    table = lines_table(group_by, lines)
    return None if table is None else render_cost_table(q, group_by, table)


COLUMNS = ("bucket", "amount", "quantity", "unit")
"""A costs results table's columns beside the groups (named as in ``group_by``): the day, the amount
in dollars (the float the JSON writes), and when grouped by line item the quantity and its unit."""


def render_cost_table(q: UsageQuery, group_by: tuple[str, ...], table: pa.Table) -> bytes:
    """The costs page of the results ``table`` (:data:`COLUMNS` and the groups as text, plain or
    dictionary-encoded; one row per result, any order), byte for byte ``orjson.dumps(page_dict(...))``
    of the same results: rows outside the page's buckets left out, results in bucket order, then by
    their groups, nulls first.  The order is worked out on integers (each group value's rank among
    its column's distinct values) and applied to the small columns before any text is made."""
    width = q.width
    by_line = "line_item" in group_by
    keys = pa.array([(b.start // width) * width for b in q.buckets], pa.int64())
    slot = pc.index_in(table.column("bucket"), value_set=keys)
    if slot.null_count:  # outside the page (days the page was cut before)
        table = table.filter(pc.is_valid(slot))
        slot = slot.drop_null()
    counts: dict[int, int] = {}
    rows: pa.Array | None = None
    if table.num_rows:
        codes: dict[str, tuple[pa.Array, pa.Array]] = {g: _encoded(table.column(g)) for g in group_by}
        if by_line:
            codes["quantity_unit"] = _encoded(table.column("unit"))
        order = _order(slot, [codes[g] for g in group_by])
        floats = {"amount": _floats(table.column("amount").combine_chunks().take(order))}
        if by_line:
            floats["quantity"] = _floats(table.column("quantity").combine_chunks().take(order))
        texts = {name: (indices.take(order), dictionary) for name, (indices, dictionary) in codes.items()}
        # the result's text in pieces: constants, floats, and text columns (indices into distinct values)
        pieces: list[Any] = []
        const = ""
        for name, default in result_template(COSTS, group_by).items():
            const += ("," if pieces or const else "{") + orjson.dumps(name).decode() + ":"
            if name == "amount":
                pieces += [const + '{"value":', floats["amount"]]
                const = ',"currency":"usd"}'
            elif name in floats or name in texts:
                pieces += [const, floats[name] if name in floats else texts[name]]
                const = ""
            else:
                const += orjson.dumps(default).decode()
        pieces.append(const + "},")
        parts = _runs(pieces)
        empty = pa.scalar("", _TEXT)
        while len(parts) > 1:  # a few arguments at a time: Arrow's join slows down with many
            parts = [pc.binary_join_element_wise(*parts[i:i + _JOIN_ARITY], empty)
                     for i in range(0, len(parts), _JOIN_ARITY)]
        rows = parts[0]
        for item in pc.value_counts(slot).to_pylist():
            counts[item["values"]] = item["counts"]
    return b"".join(page_parts(q, rows, counts))


def _encoded(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """A text column as (indices, distinct values): its own dictionary when it has one."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr if arr.type == pa.string() else arr.cast(pa.string()))
    return arr.indices, arr.dictionary


def _texts(indices: pa.Array, dictionary: pa.Array) -> pa.Array:
    """The JSON text of each value (``null`` for null), made once per distinct value."""
    texts = pa.array([orjson.dumps(v).decode() for v in dictionary.to_pylist()], _TEXT)
    return pc.fill_null(texts.take(indices), pa.scalar("null", _TEXT))


def _runs(pieces: list[Any]) -> list[Any]:
    """``pieces`` (constant text, float texts, text columns as (indices, distinct values)) as the
    arguments of one element-wise join: each run of constants and text columns between two floats
    becomes one column, its text made once per distinct combination of the run's values (far fewer
    than the rows: a project, key and line item repeat across days) and taken for every row."""
    parts: list[Any] = []
    run: list[Any] = []
    for piece in [*pieces, None]:
        if isinstance(piece, (str, tuple)):
            run.append(piece)
            continue
        if run:
            parts += _run(run)
            run = []
        if piece is not None:
            parts.append(piece)
    return parts


def _run(run: list[Any]) -> list[Any]:
    """One run of constants and text columns as join arguments: a text scalar (constants only), one
    column, or (a run too varied to code in 64 bits) the constants and columns as they are."""
    columns = [p for p in run if isinstance(p, tuple)]
    if not columns:
        return [pa.scalar("".join(run), _TEXT)]
    sizes = [len(dictionary) + 1 for _, dictionary in columns]  # code 0: null
    if math.prod(sizes) >= RUN_CODES or len(columns) == 1:  # one column: its texts taken as they are
        return [pa.scalar(p, _TEXT) if isinstance(p, str) else _texts(*p) for p in run]
    distinct = pc.dictionary_encode(pa.array(composite_codes([indices for indices, _ in columns], sizes)))
    codes_of = split_codes(distinct.dictionary.to_numpy(), sizes)
    args: list[Any] = []
    at = 0
    for p in run:
        if isinstance(p, str):
            args.append(pa.scalar(p, _TEXT))
            continue
        texts = pa.array(["null", *(orjson.dumps(v).decode() for v in p[1].to_pylist())], _TEXT)
        args.append(texts.take(pa.array(codes_of[at])))
        at += 1
    return [pc.binary_join_element_wise(*args, pa.scalar("", _TEXT)).take(distinct.indices)]


Codes = np.ndarray[Any, np.dtype[np.int64]]


def composite_codes(indices: Sequence[pa.Array | pa.ChunkedArray], sizes: Sequence[int]) -> Codes:
    """Several columns of dictionary indices as one int64 code per row: each index + 1 (null 0) in
    base ``sizes`` (each column's distinct values + 1), the first column most significant.  The
    caller checks that the product of ``sizes`` fits 64 bits; :func:`split_codes` undoes it."""
    composite: Codes = np.zeros(len(indices[0]), np.int64)
    for column, size in zip(indices, sizes, strict=True):
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        codes = column.to_numpy(zero_copy_only=False).astype(np.int64) + 1 if not column.null_count \
            else pc.fill_null(pc.add(column.cast(pa.int64()), 1), 0).to_numpy()
        composite = composite * size + codes
    return composite


def split_codes(composite: Codes, sizes: Sequence[int]) -> list[Codes]:
    """Each column's code (index + 1, 0 for null) of :func:`composite_codes`' int64 codes."""
    codes: list[Codes] = []
    rest = composite
    for size in reversed(sizes):
        rest, code = np.divmod(rest, size)
        codes.append(code)
    codes.reverse()
    return codes


def _order(slot: pa.Array, columns: list[tuple[pa.Array, pa.Array]]) -> pa.Array:
    """Row order by bucket slot, then each column's value (nulls first): on integer ranks, one
    composite int64 key when it fits."""
    ranks: list[pa.Array] = [slot.cast(pa.int64())]
    sizes: list[int] = [max(int(pc.max(slot).as_py() or 0) + 1, 1)]
    for indices, dictionary in columns:
        rank_of = pc.sort_indices(pc.sort_indices(dictionary))  # a code's rank among the distinct values
        ranks.append(pc.fill_null(pc.add(rank_of.take(indices).cast(pa.int64()), 1), 0))
        sizes.append(len(dictionary) + 1)
    span = 1
    for n in sizes:
        span *= n
    if span < 2**62:
        key = ranks[0]
        for rank, n in zip(ranks[1:], sizes[1:], strict=True):
            key = pc.add(pc.multiply(key, n), rank)
        return pc.sort_indices(key)
    table = pa.table({f"r{i}": r for i, r in enumerate(ranks)})
    return pc.sort_indices(table, sort_keys=[(c, "ascending") for c in table.column_names])
