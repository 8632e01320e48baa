"""Options and helpers shared by sub-commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

DEFAULT_DB = "openusage.duckdb"
DEFAULT_PORT = 8787

console = Console()
err_console = Console(stderr=True)


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", default=lambda: os.environ.get("OPENUSAGE_DB", DEFAULT_DB), show_default=DEFAULT_DB,
        help="The store: a DuckDB file path or duckdb:///path, postgresql://..., clickhouse://... or "
             "chdb:///path; add ?rollups=off or ?retention_days=N (env OPENUSAGE_DB).",
    )(f)


def remote_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--url", default=lambda: os.environ.get("OPENUSAGE_URL"),
                     help="A running server's base URL, e.g. http://127.0.0.1:8787 (env OPENUSAGE_URL); "
                          "without it, the store file is read directly.")(f)
    f = click.option("--key", default=lambda: os.environ.get("OPENUSAGE_API_KEY") or os.environ.get(
        "OPENUSAGE_ADMIN_KEY"), help="API key for --url (env OPENUSAGE_API_KEY or OPENUSAGE_ADMIN_KEY).")(f)
    return f


def fail(message: str) -> None:
    raise click.ClickException(message)


def open_local_store(db: str):  # type: ignore[no-untyped-def]
    from ..store import open_store

    try:
        return open_store(db)
    except Exception as exc:  # duckdb.IOException when a server holds the file
        if isinstance(exc, RuntimeError):  # a schema too new, or an upgrade that could not run
            fail(str(exc))
        if "lock" in str(exc).lower():
            fail(f"{db} is in use by a running server: pass --url http://HOST:PORT (and --key) to go through it.")
        raise
