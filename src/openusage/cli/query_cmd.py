"""``openusage usage ENDPOINT`` and ``openusage costs``: query, then print a table or export rows.

Options for filters are generated from the endpoint table, each command offering only the filters
its endpoints accept.  Every page is fetched.  The table keeps the columns that fit the terminal
(metrics nobody used are left out, ``--columns`` chooses); costs grouped by a field get one row per
group (``--per-bucket`` shows every bucket with a subtotal per group).  ``--format`` writes CSV,
JSON, NDJSON or Parquet rows for scripts, with spreadsheet formulas neutralised in CSV.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from ..spec import DIMENSIONS, ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint
from ..timeparse import TIME
from .common import (
    check_answer,
    db_option,
    err_console,
    fail,
    missing_store_file,
    open_local_store,
    remote_options,
    resolve_target,
)

if TYPE_CHECKING:  # rich's table loads when a table is printed, not when the CLI starts
    from rich.table import Table

FORMATS = ("table", "csv", "json", "ndjson", "parquet")
USAGE_ENDPOINTS = [e for e in ENDPOINTS if not e.is_costs]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def filter_params(endpoints: list[Endpoint]) -> dict[str, str]:
    """The filter parameters (and their kind) any of these endpoints accepts."""
    params: dict[str, str] = {}
    for ep in endpoints:
        for f in ep.filters:
            params.setdefault(f.param, f.kind)
    return params


def filter_dimension(endpoints: list[Endpoint], param: str) -> str:
    """The dimension a filter parameter restricts."""
    return next(f.dimension for ep in endpoints for f in ep.filters if f.param == param)


def split_group_by(endpoint: Endpoint, group_by: tuple[str, ...]) -> list[str]:
    """The ``--group-by`` values (repeated or a,b) in the endpoint's order; unknown ones exit 2."""
    values = [v.strip() for g in group_by for v in g.split(",") if v.strip()]
    bad = [v for v in values if v not in endpoint.group_by]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)} is not a group_by field of {endpoint.name}; choose from "
                                 f"{', '.join(endpoint.group_by)}.", param_hint="--group-by")
    return [g for g in endpoint.group_by if g in values]


def query_items(endpoint: Endpoint, since: int, until: int | None, bucket_width: str | None,
                group_by: list[str], limit: int | None, filters: dict[str, Any]) -> list[tuple[str, str]]:
    items = [("start_time", str(since))]
    if until is not None:
        items.append(("end_time", str(until)))
    if bucket_width:
        items.append(("bucket_width", bucket_width))
    items += [("group_by", g) for g in group_by]
    if limit:
        items.append(("limit", str(limit)))
    for param, value in filters.items():
        if value is None or value == ():
            continue
        if isinstance(value, bool):
            items.append((param, "true" if value else "false"))
        else:
            items += [(param, v) for v in value]
    return items


def fetch_pages(endpoint: Endpoint, items: list[tuple[str, str]], db: str, url: str | None,
                key: str | None, unpriced: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every page of the answer, from a server (--url) or straight from the store file.

    Models that costs could not price (the ``openusage-unpriced-models`` header) are added to ``unpriced``.
    """
    from ..errors import ApiError
    from ..pricing.costs import UNPRICED_HEADER

    def note(headers: Any) -> None:
        if unpriced is not None and headers.get(UNPRICED_HEADER):
            unpriced.update(headers[UNPRICED_HEADER].split(","))

    get: Callable[[list[tuple[str, str]]], dict[str, Any]]
    if url:
        import httpx

        client = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"} if key else {},
                              timeout=120)

        def get(params: list[tuple[str, str]]) -> dict[str, Any]:
            try:
                r = client.get(endpoint.full_path, params=tuple(params))
            except httpx.HTTPError as exc:
                fail(f"cannot reach {url}: {exc or type(exc).__name__}")
            page = check_answer(r)
            note(r.headers)
            return page
    else:
        from ..service import UsageService

        missing = missing_store_file(db)  # reading must not leave an empty store behind a mistyped path
        service = UsageService(open_local_store(":memory:" if missing else db))

        def get(params: list[tuple[str, str]]) -> dict[str, Any]:
            try:
                body, headers = service.respond(endpoint, params)
            except ApiError as exc:
                fail(exc.message, 2 if exc.status == 400 else 1)  # a 400 is bad input: exit code 2
            if missing:  # the parameters were checked first: bad input is still named as such
                fail(f"No store at {db}: pass the --db a server or `openusage ingest` wrote, or --url for a server.")
            note(headers)
            answer: dict[str, Any] = orjson.loads(body)
            return answer

    page = get(items)
    yield page
    while page.get("has_more") and page.get("next_page"):
        page = get([*items, ("page", page["next_page"])])
        yield page


# --- rows -------------------------------------------------------------------------------------------


def row_fields(endpoint: Endpoint, group_by: list[str]) -> list[str]:
    """Result fields of a flat row besides the bucket's times: groups, metrics, then cost units."""
    fields = [*group_by, *(m.name for m in endpoint.metrics)]
    if endpoint.is_costs:
        fields.append("currency")
        if "line_item" in group_by:
            fields.append("quantity_unit")
        else:  # quantities are per line item's unit: without that grouping there are none
            fields.remove("quantity")
    return fields


def flat_rows(endpoint: Endpoint, pages: list[dict[str, Any]], group_by: list[str]) -> list[dict[str, Any]]:
    """One dict per bucket and group: ``start_time``, ``end_time`` and the result's fields (amount a number)."""
    fields = row_fields(endpoint, group_by)
    rows = []
    for page in pages:
        for b in page["data"]:
            for r in b["results"]:
                row: dict[str, Any] = {"start_time": b["start_time"], "end_time": b["end_time"]}
                for f in fields:
                    v = r.get(f)
                    if f == "amount" and isinstance(v, dict):
                        row["amount"], row["currency"] = v.get("value"), v.get("currency")
                    elif f not in row:  # currency came with the amount
                        row[f] = v
                rows.append(row)
    return rows


def choose_columns(endpoint: Endpoint, group_by: list[str], columns: str | None) -> list[str] | None:
    """The ``--columns`` list, checked against the fields rows have (exit 2 listing them)."""
    if not columns:
        return None
    allowed = row_fields(endpoint, group_by)
    chosen = [c.strip() for c in columns.split(",") if c.strip()]
    bad = [c for c in chosen if c not in allowed and c not in ("start_time", "end_time")]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)}: choose from start_time, end_time, {', '.join(allowed)}.",
                                 param_hint="--columns")
    return chosen


# --- exports ----------------------------------------------------------------------------------------


def neutralise(value: Any) -> Any:
    """OWASP's CSV-injection rule: a text cell a spreadsheet would read as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def rows_table(rows: list[dict[str, Any]], names: list[str]) -> Any:
    """A pyarrow table of these columns, for Parquet."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

    return pa.table({n: pa.array([r.get(n) for r in rows]) for n in names})


def write_csv(rows: list[dict[str, Any]], names: list[str], out: Any) -> None:
    """CSV through pyarrow; text cells that start like a formula are neutralised, numbers stay numbers."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs
    import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

    table = pa.table({n: pa.array([neutralise(r.get(n)) for r in rows]) for n in names})
    pacsv.write_csv(table, out)


def export(fmt: str, endpoint: Endpoint, pages: list[dict[str, Any]], group_by: list[str],
           columns: list[str] | None, output: Path | None) -> None:
    """Write the answer as csv, json (the page object), ndjson or parquet rows, to --output or stdout."""
    import sys

    if fmt == "json":
        data = [b for p in pages for b in p["data"]]
        body = orjson.dumps({"object": "page", "data": data, "has_more": False, "next_page": None},
                            option=orjson.OPT_INDENT_2) + b"\n"
        _emit(body, output)
        return
    rows = flat_rows(endpoint, pages, group_by)
    names = ["start_time", "end_time", *row_fields(endpoint, group_by)]
    if columns:
        names = [n for n in names if n in columns or n in ("start_time", "end_time", *group_by)]
    if fmt == "ndjson":
        _emit(b"".join(orjson.dumps({n: r.get(n) for n in names}) + b"\n" for r in rows), output)
    elif fmt == "csv":
        if output is None:
            import io

            buf = io.BytesIO()
            write_csv(rows, names, buf)
            sys.stdout.buffer.write(buf.getvalue())
            sys.stdout.flush()
        else:
            write_csv(rows, names, str(output))
    else:
        import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]  # pyarrow ships no type stubs

        assert output is not None
        pq.write_table(rows_table(rows, names), str(output))
    if output is not None:
        err_console.print(f"{len(rows):,} rows written to {output}.")


def _emit(body: bytes, output: Path | None) -> None:
    if output is None:
        click.echo(body.decode(), nl=False)
    else:
        output.write_bytes(body)


# --- the table --------------------------------------------------------------------------------------


def fmt_number(v: Any) -> str:
    """Counts as integers with separators; fractional quantities (GiB-days) with up to 4 decimals."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float | Decimal):
        if v == int(v):
            return f"{int(v):,}"
        text = f"{v:,.4f}".rstrip("0").rstrip(".")
        return text if text not in ("0", "-0") else f"{v:.2g}"  # tiny, yet not nothing
    return str(v)


def fmt_money(v: Decimal | float | None) -> str:
    """Dollars to 4 decimals; credits (negative amounts) as -$1.0000."""
    if v is None:
        return ""
    return f"-${-v:,.4f}" if v < 0 else f"${v:,.4f}"


def _money(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal(0)


def _start(ts: int, width: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d" if width == "1d" else "%Y-%m-%d %H:%M")


def fit_columns(widths: list[int], keep: int, total: int) -> int:
    """How many columns fit ``total`` cells (rich's default box: 2 of padding and 1 of border each).

    The first ``keep`` columns are always shown; the others in order while they fit.
    """
    used = 1 + sum(w + 3 for w in widths[:keep])
    n = keep
    for w in widths[keep:]:
        if used + w + 3 > total:
            break
        used += w + 3
        n += 1
    return n


def build_table(title: str, headers: list[str], right: set[str], body: list[list[str]],
                styles: list[str | None], keep: int, width: int | None) -> tuple[Table, list[str]]:
    """A table of the columns that fit ``width`` (all when None); returns it and the headers left out."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    widths = [max([cell_len(h), *(cell_len(r[i]) for r in body if r)]) for i, h in enumerate(headers)]
    n = len(headers) if width is None else fit_columns(widths, keep, width)
    table = Table(title=title, title_justify="left")
    for h, w in zip(headers[:n], widths, strict=False):
        if h in right or h == "start (UTC)":  # numbers and times are never cut
            table.add_column(h, justify="right" if h in right else "left", no_wrap=True, min_width=w)
        else:  # a value too long for the terminal wraps onto a second line rather than losing its end
            table.add_column(h, overflow="fold")
    for cells, style in zip(body, styles, strict=True):
        if style == "section":
            table.add_section()
            continue
        table.add_row(*(Text(c) for c in cells[:n]), style=style)  # Text: a model named "[red]" stays text
    return table, headers[n:]


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127]}


def shown(value: Any) -> str:
    """A dimension value as one line of plain text: control characters (newlines, escapes) written as \\xNN."""
    if value is None or isinstance(value, bool):
        return fmt_number(value)
    return str(value).translate(_CONTROL)


def render_table(endpoint: Endpoint, pages: list[dict[str, Any]], group_by: list[str], width: int | None = None,
                 columns: list[str] | None = None, per_bucket: bool = False,
                 bucket_width: str = "1d") -> tuple[Table, list[str]]:
    """The table to print, and the metric columns left out to fit ``width`` cells."""
    rows = flat_rows(endpoint, pages, group_by)
    if endpoint.is_costs:
        return _costs_table(endpoint, rows, group_by, width, columns, per_bucket, bucket_width)
    # the metrics always reported first (tokens, requests), so a narrow terminal keeps them
    metrics = [m.name for m in sorted(endpoint.metrics, key=lambda m: not m.required)]
    if columns:
        metrics = [m for m in metrics if m in columns]
    else:  # metrics nobody used are left out
        metrics = [m for m in metrics if any(r.get(m) for r in rows)] or metrics[:1]
    headers = ["start (UTC)", *group_by, *metrics]
    body = [[_start(r["start_time"], bucket_width), *(shown(r.get(g)) for g in group_by),
             *(fmt_number(r.get(m)) for m in metrics)] for r in rows]
    styles: list[str | None] = [None] * len(body)
    if rows:
        body += [[], ["total", *([""] * len(group_by)),
                      *(fmt_number(sum(r.get(m) or 0 for r in rows)) for m in metrics)]]
        styles += ["section", "bold"]
    return build_table(endpoint.full_path, headers, set(metrics), body, styles, 2 + len(group_by),
                       None if columns else width)


def _costs_table(endpoint: Endpoint, rows: list[dict[str, Any]], group_by: list[str], width: int | None,
                 columns: list[str] | None, per_bucket: bool, bucket_width: str) -> tuple[Table, list[str]]:
    """Costs: per bucket when not grouped, else one row per group (or its buckets then a subtotal)."""
    extra = [c for c in ("quantity", "quantity_unit") if "line_item" in group_by and (not columns or c in columns)]
    right = {"amount", "quantity"}
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(g) for g in group_by), []).append(r)

    def summary(key: tuple[Any, ...], members: list[dict[str, Any]], label: str) -> list[str]:
        quantity = sum(float(r.get("quantity") or 0) for r in members)
        cells = {"amount": fmt_money(sum(_money(r.get("amount")) for r in members)),
                 "quantity": fmt_number(quantity), "quantity_unit": shown(members[0].get("quantity_unit"))}
        return [label, *(shown(k) for k in key), cells["amount"], *(cells[c] for c in extra)]

    def line(r: dict[str, Any]) -> list[str]:
        cells = {"amount": fmt_money(_money(r.get("amount"))), "quantity": fmt_number(r.get("quantity")),
                 "quantity_unit": shown(r.get("quantity_unit"))}
        return [_start(r["start_time"], bucket_width), *(shown(r.get(g)) for g in group_by), cells["amount"],
                *(cells[c] for c in extra)]

    body: list[list[str]] = []
    styles: list[str | None] = []
    if group_by and not per_bucket:
        headers = [*group_by, "amount", *extra]
        ordered = sorted(groups.items(), key=lambda kv: -sum(_money(r.get("amount")) for r in kv[1]))
        body = [summary(k, members, "")[1:] for k, members in ordered]
        styles = [None] * len(body)
        keep = len(group_by) + 1
    else:
        headers = ["start (UTC)", *group_by, "amount", *extra]
        for key, members in groups.items():
            body += [line(r) for r in members]
            styles += [None] * len(members)
            if group_by:
                body.append(summary(key, members, "subtotal"))
                styles.append("italic")
        keep = len(group_by) + 2
    if rows:
        total = ["total", *([""] * (len(headers) - 1))]
        total[headers.index("amount")] = fmt_money(sum(_money(r.get("amount")) for r in rows))
        body += [[], total]
        styles += ["section", "bold"]
    return build_table(endpoint.full_path, headers, right, body, styles, keep, None if columns else width)


# --- the commands -----------------------------------------------------------------------------------


def _check_filters(ep: Endpoint, chosen: dict[str, Any]) -> None:
    """``usage`` offers the filters of every endpoint; one the chosen endpoint lacks is refused
    rather than silently ignored."""
    accepted = {f.param for f in ep.filters}
    for param, value in chosen.items():
        if value not in (None, ()) and param not in accepted:
            raise click.UsageError(f"{ep.name} has no filter --{param.replace('_', '-')}; its filters: "
                                   + (", ".join(f"--{p.replace('_', '-')}" for p in sorted(accepted)) or "none"))


def _output_format(fmt: str | None, output: Path | None, as_json: bool) -> str:
    """The format asked for, else the one ``--output``'s extension names, else a table; checked
    against the output before anything is fetched."""
    if as_json:
        fmt = "json"
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = {"jsonl": "ndjson"}.get(suffix, suffix) if suffix in (*FORMATS, "jsonl") else "table"
    if fmt == "parquet" and output is None:
        raise click.BadParameter("parquet needs a file: add --output FILE.parquet.", param_hint="--format")
    if fmt == "table" and output is not None:
        raise click.BadParameter("a table is for the terminal: use --format csv|json|ndjson|parquet with "
                                 "--output.", param_hint="--output")
    if output is not None and not output.resolve().parent.is_dir():
        raise click.BadParameter(f"no directory {output.parent} to write {output.name} in.", param_hint="--output")
    return fmt


def _print_table(ep: Endpoint, pages: list[dict[str, Any]], group_by: list[str], columns: list[str] | None,
                 per_bucket: bool, bucket_width: str) -> None:
    """The answer as a table as wide as the terminal, saying which columns did not fit."""
    from rich.console import Console

    console = Console()  # sized now, from the terminal or $COLUMNS
    table, left_out = render_table(ep, pages, group_by, console.width, columns, per_bucket, bucket_width)
    console.print(table)
    if left_out:
        err_console.print(f"Left out to fit {console.width} columns: {', '.join(left_out)} "
                          "(choose with --columns, or use --format csv).", style="dim")


def _query_command(cli: click.Group, name: str, endpoint: Endpoint | None) -> None:
    endpoints = USAGE_ENDPOINTS if endpoint is None else [endpoint]
    filters = filter_params(endpoints)

    def run(endpoint_name: str | None = None, **kw: Any) -> None:
        try:
            query(endpoint or ENDPOINTS_BY_NAME[endpoint_name or ""], **kw)
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            raise SystemExit(130) from None

    def query(ep: Endpoint, **kw: Any) -> None:
        chosen = {p: kw.pop(p) for p in filters}
        _check_filters(ep, chosen)
        group_by = split_group_by(ep, kw["group_by"])
        columns = choose_columns(ep, group_by, kw["columns"])
        output = kw["output"]
        fmt = _output_format(kw["fmt"], output, kw["as_json"])
        items = query_items(ep, kw["since"], kw["until"], kw["bucket_width"], group_by, kw["limit"], chosen)
        unpriced: set[str] = set()
        url, key = resolve_target(kw["db"], kw["url"], kw["key"]) or (None, None)
        pages = list(fetch_pages(ep, items, kw["db"], url, key, unpriced))
        if unpriced:
            err_console.print(f"[yellow]Not in the amounts, no price known for: {', '.join(sorted(unpriced))} "
                              "(see `openusage prices missing`).[/]")
        if fmt != "table":
            export(fmt, ep, pages, group_by, columns, output)
            return
        _print_table(ep, pages, group_by, columns, kw.get("per_bucket", False), kw["bucket_width"] or "1d")

    params: list[click.Parameter] = []
    if endpoint is None:
        params.append(click.Argument(["endpoint_name"], type=click.Choice([e.name for e in USAGE_ENDPOINTS])))
    params += [
        click.Option(["--since"], type=TIME, default="7d", show_default=True,
                     help="Start: 7d, 36h, 90m, 2w, 2026-11-01, 2026-11-01T12:00:00Z, yesterday, today, Unix seconds."),
        click.Option(["--until"], type=TIME, help="End (exclusive), in the same forms; default now."),
        click.Option(["--bucket-width", "bucket_width"],
                     type=click.Choice(sorted({w for e in endpoints for w in e.bucket_widths}, key=len)),
                     help="Bucket width (default 1d)."),
        click.Option(["--group-by", "group_by"], multiple=True, metavar="FIELD",
                     help="Group by a field (repeat, or a,b): "
                          + ", ".join(dict.fromkeys(g for e in endpoints for g in e.group_by)) + "."),
        click.Option(["--limit"], type=click.IntRange(min=1), help="Buckets per page fetched (all pages are fetched)."),
        click.Option(["--columns"], metavar="A,B", help="Only these result columns (shown even when zero)."),
        click.Option(["--format", "fmt"], type=click.Choice(FORMATS),
                     help="table (default), csv, json (the API's page), ndjson or parquet (needs --output); "
                          "default from --output's extension."),
        click.Option(["--output", "-o"], type=click.Path(dir_okay=False, writable=True, path_type=Path),
                     help="Write to this file instead of the terminal."),
        click.Option(["--json", "as_json"], is_flag=True, hidden=True, help="Same as --format json."),
    ]
    if endpoint is not None and endpoint.is_costs:
        params.append(click.Option(["--per-bucket", "per_bucket"], is_flag=True,
                                   help="With --group-by: every bucket, with a subtotal per group."))
    for param, kind in filters.items():
        flag = "--" + param.replace("_", "-")
        if kind == "bool":
            params.append(click.Option([f"{flag}/--no-{param}", param], default=None, help="Batch usage only / none."))
        else:
            dim = filter_dimension(endpoints, param)
            alias = [f"--{dim}"] if DIMENSIONS[dim].extension else []  # --origin ingest --origin proxy
            params.append(click.Option([flag, *alias, param], multiple=True,
                                       help=f"Only these {param.replace('_', ' ')}."))
    doc = ("Query a usage endpoint and print a table, e.g. `openusage usage completions --since 7d --group-by model`."
           if endpoint is None else
           "Query costs: a table with a subtotal per group and the total, e.g. `--since 30d --group-by line_item`.")
    cmd = click.Command(name, callback=run, params=params, help=doc)
    cmd = db_option(remote_options(cmd))  # type: ignore[assignment]
    cli.add_command(cmd)


def register(cli: click.Group) -> None:
    _query_command(cli, "usage", None)
    _query_command(cli, "costs", ENDPOINTS_BY_NAME["costs"])
