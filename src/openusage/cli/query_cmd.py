"""``openusage usage ENDPOINT`` and ``openusage costs``: query and print a table.

Options for filters are generated from the endpoint table.  Every page is fetched; the table has one
row per bucket and group, with the metrics the endpoint reports and a total row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import click
import orjson
from rich.table import Table

from ..spec import ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint
from ..timeparse import iso, parse_time
from .common import console, db_option, err_console, fail, open_local_store, remote_options, resolve_target

FILTER_PARAMS: dict[str, str] = {}
for _ep in ENDPOINTS:
    for _f in _ep.filters:
        FILTER_PARAMS.setdefault(_f.param, _f.kind)


def query_items(endpoint: Endpoint, since: str, until: str | None, bucket_width: str | None,
                group_by: tuple[str, ...], limit: int | None, filters: dict[str, Any]) -> list[tuple[str, str]]:
    now = int(time.time())
    items = [("start_time", str(parse_time(since, now)))]
    if until:
        items.append(("end_time", str(parse_time(until, now))))
    if bucket_width:
        items.append(("bucket_width", bucket_width))
    for g in group_by:
        items += [("group_by", v) for v in g.split(",") if v]
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
    from ..pricing.costs import UNPRICED_HEADER

    def note(headers: Any) -> None:
        if unpriced is not None and headers.get(UNPRICED_HEADER):
            unpriced.update(headers[UNPRICED_HEADER].split(","))

    from ..errors import ApiError

    if url:
        import httpx

        client = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"} if key else {},
                              timeout=120)
        get: Callable[[list[tuple[str, str]]], dict[str, Any]]

        def get(params: list[tuple[str, str]]) -> dict[str, Any]:
            r = client.get(endpoint.full_path, params=params)
            if r.status_code != 200:
                try:
                    err = r.json()["error"]
                    fail(f"{r.status_code}: {err['message']}")
                except (ValueError, KeyError):
                    fail(f"{r.status_code}: {r.text[:200]}")
            note(r.headers)
            return r.json()
    else:
        from ..service import UsageService

        service = UsageService(open_local_store(db))

        def get(params: list[tuple[str, str]]) -> dict[str, Any]:
            try:
                body, headers = service.respond(endpoint, params)
                note(headers)
                return orjson.loads(body)
            except ApiError as exc:
                fail(exc.message)
                raise

    page = get(items)
    yield page
    while page.get("has_more") and page.get("next_page"):
        page = get([*items, ("page", page["next_page"])])
        yield page


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.4f}"
    if isinstance(v, dict) and "value" in v:
        return f"${v['value']:,.4f}"
    return str(v)


def render_table(endpoint: Endpoint, pages: list[dict[str, Any]], group_by: list[str]) -> Table:
    metrics = [m.name for m in endpoint.metrics]
    rows = [(b, r) for p in pages for b in p["data"] for r in b["results"]]
    if endpoint.name != "costs":  # keep the metrics this answer uses, and the required ones
        metrics = [m.name for m in endpoint.metrics if m.required or any(r.get(m.name) for _, r in rows)]
    else:  # quantities are in each line item's own unit: shown per row, never totalled
        metrics = ["amount"]
    extra = ["quantity", "quantity_unit"] if endpoint.name == "costs" and "line_item" in group_by else []
    table = Table(title=f"{endpoint.full_path}", title_justify="left")
    table.add_column("start (UTC)")
    for g in group_by:
        table.add_column(g)
    for m in [*metrics, *extra]:
        table.add_column(m, justify="right")
    totals: dict[str, float] = {m: 0 for m in metrics}
    for b, r in rows:
        table.add_row(iso(b["start_time"]), *(_fmt(r.get(g)) for g in group_by),
                      *(_fmt(r.get(m)) for m in [*metrics, *extra]))
        for m in metrics:
            v = r.get(m)
            totals[m] += v["value"] if isinstance(v, dict) else (v or 0)
    if rows:
        table.add_section()
        table.add_row("total", *([""] * len(group_by)),
                      *(f"${totals[m]:,.4f}" if m == "amount" else _fmt(totals[m]) for m in metrics),
                      *([""] * len(extra)), style="bold")
    return table


def _query_command(cli: click.Group, name: str, endpoint: Endpoint | None) -> None:
    def run(endpoint_name: str | None = None, **kw: Any) -> None:
        ep = endpoint or ENDPOINTS_BY_NAME[endpoint_name or ""]
        filters = {p: kw.pop(p) for p in FILTER_PARAMS}
        items = query_items(ep, kw["since"], kw["until"], kw["bucket_width"], kw["group_by"], kw["limit"], filters)
        unpriced: set[str] = set()
        url, key = resolve_target(kw["db"], kw["url"], kw["key"]) or (None, None)
        pages = list(fetch_pages(ep, items, kw["db"], url, key, unpriced))
        if unpriced:
            err_console.print(f"[yellow]Not in the amounts, no price known for: {', '.join(sorted(unpriced))} "
                              "(see `openusage prices missing`).[/]")
        if kw["as_json"]:
            data = [b for p in pages for b in p["data"]]
            click.echo(orjson.dumps({"object": "page", "data": data, "has_more": False, "next_page": None},
                                    option=orjson.OPT_INDENT_2).decode())
            return
        group_by = [v for g in kw["group_by"] for v in g.split(",") if v]
        ordered = [g for g in ep.group_by if g in group_by]
        console.print(render_table(ep, pages, ordered))

    params: list[click.Parameter] = []
    if endpoint is None:
        params.append(click.Argument(["endpoint_name"], type=click.Choice([e.name for e in ENDPOINTS
                                                                             if e.name != "costs"])))
    params += [
        click.Option(["--since"], default="7d", show_default=True, help="Start: 7d, 24h, 2026-01-31, Unix seconds."),
        click.Option(["--until"], help="End (exclusive); default now."),
        click.Option(["--bucket-width", "bucket_width"], type=click.Choice(["1m", "1h", "1d"]),
                     help="Bucket width (default 1d)."),
        click.Option(["--group-by", "group_by"], multiple=True, help="Group by a field (repeat, or a,b)."),
        click.Option(["--limit"], type=int, help="Buckets per page fetched (all pages are fetched)."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the buckets as JSON instead of a table."),
    ]
    for param, kind in FILTER_PARAMS.items():
        flag = "--" + param.replace("_", "-")
        if kind == "bool":
            params.append(click.Option([f"{flag}/--no-{param}", param], default=None, help="Batch usage only / none."))
        else:
            params.append(click.Option([flag, param], multiple=True, help=f"Only these {param.replace('_', ' ')}."))
    doc = ("Query a usage endpoint and print a table, e.g. `openusage usage completions --since 7d --group-by model`."
           if endpoint is None else "Query costs and print a table with totals, e.g. `--group-by line_item`.")
    cmd = click.Command(name, callback=run, params=params, help=doc)
    cmd = db_option(remote_options(cmd))  # type: ignore[assignment]
    cli.add_command(cmd)


def register(cli: click.Group) -> None:
    _query_command(cli, "usage", None)
    _query_command(cli, "costs", ENDPOINTS_BY_NAME["costs"])
