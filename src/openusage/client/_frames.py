"""Pages as data frames: one row per result, columns built once each.

``pandas`` and ``polars`` are optional extras (``pip install openusage[pandas]`` / ``[polars]``),
imported only when asked for.  Columns: ``start_time`` and ``end_time`` (UTC timestamps), the
result's fields in the endpoint's order (dimensions, then metrics), then any field a newer API
added.  A cost's ``amount`` becomes two columns: ``amount`` (the number) and ``currency``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..spec import Endpoint

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars

    from .types import Page


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"to_{module}() needs {module}: install it with `pip install openusage[{extra}]` "
            f"(or `pip install {module}`)."
        ) from None


def _known_columns(endpoint: Endpoint | None) -> list[str]:
    if endpoint is None:
        return []
    cols = list(endpoint.result_dimensions)
    for m in endpoint.metrics:
        cols.append(m.name)
        if m.agg == "decimal":
            cols.append("currency")
    if endpoint.is_costs:
        cols.append("quantity_unit")
    return cols


def columns(page: Page[Any]) -> tuple[dict[str, list[Any]], set[str]]:
    """Column name -> values (one per result), and the names that hold integer counters."""
    endpoint = page.endpoint
    names = _known_columns(endpoint)
    seen = set(names)
    rows: list[dict[str, Any]] = []
    starts: list[int] = []
    ends: list[int] = []
    for bucket in page.data:
        s, e = bucket.start_time, bucket.end_time
        for r in bucket.results:
            raw = r._raw
            amount = raw.get("amount")
            if isinstance(amount, dict):
                raw = {**raw, "amount": amount.get("value"), "currency": amount.get("currency")}
            for k in raw:
                if k not in seen and k != "object":
                    seen.add(k)
                    names.append(k)
            rows.append(raw)
            starts.append(s)
            ends.append(e)
    cols: dict[str, list[Any]] = {"start_time": starts, "end_time": ends}
    for n in names:
        cols[n] = [row.get(n) for row in rows]
    ints = {m.name for m in endpoint.metrics if m.agg in ("sum", "gauge")} if endpoint else set()
    return cols, ints


def to_pandas(page: Page[Any]) -> pandas.DataFrame:
    pd = _require("pandas", "pandas")
    cols, ints = columns(page)
    data: dict[str, Any] = {}
    for name, values in cols.items():
        if name in ("start_time", "end_time"):
            data[name] = pd.to_datetime(pd.Series(values, dtype="int64"), unit="s", utc=True)
        elif name in ints:
            data[name] = pd.array(values, dtype="Int64")
        else:
            data[name] = values
    return pd.DataFrame(data)


def to_polars(page: Page[Any]) -> polars.DataFrame:
    pl = _require("polars", "polars")
    cols, _ = columns(page)
    frame = pl.DataFrame(cols, strict=False)
    result: polars.DataFrame = frame.with_columns(
        pl.from_epoch(pl.col("start_time").cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC"),
        pl.from_epoch(pl.col("end_time").cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC"),
    )
    return result
