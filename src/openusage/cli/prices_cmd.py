"""``openusage prices list|set|remove|missing``: the price catalog and the operator's own prices.

Custom prices are kept in the store (its metadata), so the server and ``openusage costs`` use them
at once; they re-price usage from their ``--from`` day (UTC) on, never before.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..timeparse import parse_time
from .common import (
    admin_call,
    bad_input,
    console,
    db_option,
    fail,
    open_local_store,
    remote_options,
    resolve_target,
)

if TYPE_CHECKING:
    from ..pricing import Catalog, CustomPrice

PRICES = "/v1/openusage/prices"


def _prices_of_file(file_: Path, catalog: Catalog) -> list[CustomPrice]:
    """``prices set --file``: every record of a YAML/JSON file, or one line naming what is wrong."""
    from ..pricing import CatalogError, load_text, parse_custom

    try:
        return parse_custom(load_text(file_.read_text(encoding="utf-8")), catalog, where=file_.name)
    except CatalogError as exc:
        bad_input(f"{file_}: {exc}")
    except (ValueError, TypeError) as exc:  # e.g. YAML reads 2026-02-30 as a date that cannot be
        bad_input(f"{file_}: {_yaml_value_error(exc)}")


def _price_of_options(model: str | None, from_: str | None, prices: dict[str, str | None], extra: tuple[str, ...],
                      project: str | None, kind: str | None, source: str, catalog: Catalog) -> list[CustomPrice]:
    """``prices set MODEL --input ... --from DAY``: the options as one record, checked as a file's
    record would be, so both ways of setting a price take the same values."""
    from ..pricing import CatalogError, parse_custom

    if not model:
        bad_input("name a MODEL (or give --file)")
    if not from_:
        bad_input("--from YYYY-MM-DD is required: the first day the price applies to")
    record: dict[str, Any] = {"model": model, "effective_from": from_}
    for field, value in prices.items():
        if value is not None:
            record[field] = _decimal(value, f"--{field.replace('_', '-')}")
    for item in extra:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            bad_input(f"--price takes FIELD=USD, got {item!r}")
        record[field.strip()] = _decimal(value.strip(), f"--price {field.strip()}")
    optional = {"project_id": project, "kind": kind, "source": source}
    record.update({k: v for k, v in optional.items() if v})
    try:
        return parse_custom([record], catalog, where="price")
    except CatalogError as exc:
        bad_input(str(exc).replace("price[0].", "").replace("price[0]", "price"))


def _fmt_prices(data: dict[str, Any]) -> str:
    skip = {"effective_from", "source", "model", "kind", "project_id"}
    parts = []
    for k, v in data.items():
        if k in skip:
            continue
        if isinstance(v, dict):
            inner = "; ".join(f"{t}: {_fmt_prices(x) if isinstance(x, dict) else x}" for t, x in v.items())
            parts.append(f"{k} {{{inner}}}")
        else:
            parts.append(f"{k} {v}")
    return ", ".join(parts)


def _decimal(text: str, what: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        bad_input(f"{what}: expected a number, got {text!r}")


def _yaml_value_error(exc: Exception) -> str:
    """PyYAML turns unquoted ``2026-02-30`` into a date and fails with a bare ``day is out of range``."""
    text = str(exc) or type(exc).__name__
    if "out of range" in text or "must be in" in text:
        return f"an impossible date ({text}): write real days as YYYY-MM-DD"
    return text


def register(cli: click.Group) -> None:
    @cli.group()
    def prices() -> None:
        """Show the price catalog, set your own prices, list what is unpriced."""

    @prices.command("list")
    @click.option("--model", "models", multiple=True, help="Only these models or tools (names or aliases).")
    @click.option("--custom", "custom_only", is_flag=True, help="Only the prices set for this store.")
    @db_option
    @remote_options
    def list_(models: tuple[str, ...], custom_only: bool, db: str, url: str | None, key: str | None) -> None:
        """Every dated price: the bundled catalog's and the custom ones (which take precedence)."""
        from rich.table import Table

        from ..pricing import bundled_catalog, load_custom, parse_custom

        catalog = bundled_catalog()
        wanted = {catalog.canonical(m) for m in models}
        table = Table("model / tool", "kind", "from", "scope", "prices (USD)", "source", title="Prices",
                      title_justify="left")
        if not custom_only:
            for name, entry in sorted(catalog.entries.items()):
                if wanted and name not in wanted:
                    continue
                label = name + (f" ({', '.join(entry.aliases)})" if entry.aliases else "")
                for r in entry.records:
                    table.add_row(label, entry.kind, r.effective_from.isoformat(), "catalog",
                                  _fmt_prices(r.to_json()), r.source)
        target = resolve_target(db, url, key)
        custom = (parse_custom(admin_call(target, "GET", PRICES)["data"], catalog) if target
                  else load_custom(open_local_store(db), catalog))
        for p in custom:
            if wanted and catalog.canonical(p.model) not in wanted:
                continue
            scope = f"project {p.project_id}" if p.project_id else "custom"
            table.add_row(p.model, p.kind, p.record.effective_from.isoformat(), scope,
                          _fmt_prices(p.record.to_json()), p.record.source)
        console.print(table)

    @prices.command("set")
    @click.argument("model", required=False)
    @click.option("--input", "input_", help="USD per 1M input tokens.")
    @click.option("--cached-input", help="USD per 1M cached input tokens (default: the input price).")
    @click.option("--output", help="USD per 1M output tokens.")
    @click.option("--price", "extra", multiple=True, metavar="FIELD=USD",
                  help="Any other price field, e.g. audio_input=40, per_minute=0.006, per_1k_calls=10 (repeat).")
    @click.option("--multiplier", help="A factor on every price in force, e.g. 0.8 for a 20% discount.")
    @click.option("--from", "from_", help="The first UTC day the price applies to (YYYY-MM-DD).")
    @click.option("--project", help="Only for this project's usage.")
    @click.option("--kind", help="Usage kind (completions, embeddings, images, ...); default from the catalog.")
    @click.option("--source", default="", help="Where the price comes from (a contract, a GPU-hour estimate).")
    @click.option("--file", "file_", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="A YAML/JSON prices file: a list of records with model, effective_from and prices.")
    @db_option
    @remote_options
    def set_(model: str | None, input_: str | None, cached_input: str | None, output: str | None,
             extra: tuple[str, ...], multiplier: str | None, from_: str | None, project: str | None,
             kind: str | None, source: str, file_: Path | None, db: str, url: str | None, key: str | None) -> None:
        """Set a price for MODEL from a day on (or load every price of --file).

        Example: openusage prices set llama-3.1-70b --input 0.5 --output 1.5 --from 2026-01-01
        """
        from ..pricing import bundled_catalog, load_custom, save_custom
        from ..pricing.book import merge

        catalog = bundled_catalog()
        if file_ is not None:
            if model or input_ or output or cached_input or extra or multiplier or from_:
                bad_input("--file takes the prices from the file: give no MODEL or price options with it")
            new = _prices_of_file(file_, catalog)
        else:
            prices = {"input": input_, "cached_input": cached_input, "output": output, "multiplier": multiplier}
            new = _price_of_options(model, from_, prices, extra, project, kind, source, catalog)
        target = resolve_target(db, url, key)
        if target:
            admin_call(target, "POST", PRICES, json={"prices": [p.to_json() for p in new]})
        else:
            store = open_local_store(db)
            save_custom(store, merge(load_custom(store, catalog), new))
        for p in new:
            scope = f" for project {p.project_id}" if p.project_id else ""
            console.print(f"{p.model}{scope} from {p.record.effective_from}: {_fmt_prices(p.record.to_json())}")

    @prices.command("remove")
    @click.argument("model")
    @click.option("--from", "from_", required=True, help="The effective_from day of the price to remove.")
    @click.option("--project", help="The project the price is for (if any).")
    @db_option
    @remote_options
    def remove(model: str, from_: str, project: str | None, db: str, url: str | None, key: str | None) -> None:
        """Remove a custom price (the catalog's, or an earlier one, applies again)."""
        from ..pricing import load_custom, save_custom

        try:
            day = dt.date.fromisoformat(from_)
        except ValueError:
            bad_input(f"--from: expected YYYY-MM-DD, got {from_!r}")
        target = resolve_target(db, url, key)
        if target:
            params = {"model": model, "effective_from": str(day), **({"project_id": project} if project else {})}
            admin_call(target, "DELETE", PRICES, params=params)
            console.print(f"Removed the price of {model} from {day}.")
            return
        store = open_local_store(db)
        current = load_custom(store)
        kept = [p for p in current if p.key != (model, project, day)]
        if len(kept) == len(current):
            fail(f"no custom price for {model}" + (f" in project {project}" if project else "") + f" from {day}")
        save_custom(store, kept)
        console.print(f"Removed the price of {model} from {day}.")

    @prices.command("missing")
    @click.option("--since", default="30d", show_default=True, help="Start: 30d, 2026-01-31, Unix seconds.")
    @click.option("--until", help="End (exclusive); default now.")
    @db_option
    @remote_options
    def missing(since: str, until: str | None, db: str, url: str | None, key: str | None) -> None:
        """Usage no price covers (left out of costs): set a price for each with `prices set`."""
        from ..pricing import unpriced_usage

        now = int(time.time())
        try:
            start = parse_time(since, now)
            end = parse_time(until, now) if until else now
        except ValueError as exc:
            bad_input(str(exc))
        if end <= start:
            bad_input("--until must be later than --since")
        start -= start % 86400  # whole UTC days, as costs are bucketed
        target = resolve_target(db, url, key)
        if target:
            rows = admin_call(target, "GET", PRICES + "/missing", params={"start_time": start, "end_time": end})["data"]
            for r in rows:
                r["first_day"], r["last_day"] = dt.date.fromisoformat(r["first_day"]), dt.date.fromisoformat(
                    r["last_day"])
        else:
            rows = unpriced_usage(open_local_store(db), start, end)
        if not rows:
            console.print("Every usage in the range is priced.")
            return
        from rich.table import Table

        table = Table("kind", "model", "what", "quantity", "first day", "last day", title="Unpriced usage",
                      title_justify="left")
        for r in rows:
            table.add_row(r["kind"], r["model"], r["what"], f"{r['quantity']:,}", r["first_day"].isoformat(),
                          r["last_day"].isoformat())
        console.print(table)
        console.print(f"{len({r['model'] for r in rows})} unpriced model(s): set prices with "
                      "`openusage prices set MODEL --input ... --output ... --from YYYY-MM-DD`.")
