"""Options and helpers shared by sub-commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console

from ..runtime import store_file

if TYPE_CHECKING:
    import httpx

    from ..store import Store

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


class CliError(click.ClickException):
    """One line on stderr and exit code 1: something failed at run time."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the cause's text held


class BadInputError(CliError):
    """One line on stderr and exit code 2: the command was given something it cannot use."""

    exit_code = 2


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop with one line: exit code 2 (``code=2``) for bad input, 1 for a failure at run time."""
    if code not in (1, 2):
        raise ValueError(f"exit code {code}: a command fails with 1 or 2")
    raise BadInputError(message) if code == 2 else CliError(message)


def bad_input(message: str) -> NoReturn:
    """The command was given something it cannot use (exit code 2)."""
    raise BadInputError(message)


def admin_client(target: tuple[str, str | None]) -> httpx.Client:
    """An HTTP client for a running server's admin routes (keys, prices), which need its admin key."""
    import httpx

    url, key = target
    if not key:
        bad_input("--key (an admin key) is needed with --url")
    return httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=30)


def admin_call(target: tuple[str, str | None], method: str, path: str, **kw: Any) -> dict[str, Any]:
    """One call to a running server's admin route (it holds the store): its JSON object, or one line."""
    with admin_client(target) as client:
        return check_answer(client.request(method, path, **kw))


def check_answer(r: httpx.Response) -> dict[str, Any]:
    """The JSON object a server answered, or one line naming its error (or that it is no openusage
    server).  A 400 is bad input (exit code 2), as the same mistake is without a server."""
    try:
        data = r.json()
    except ValueError:
        data = None
    if r.status_code >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        message = (error.get("message") if isinstance(error, dict) else None) or r.text[:200]
        if r.status_code == 400:
            bad_input(message)
        fail(f"{r.status_code}: {message}")
    if not isinstance(data, dict):
        fail(f"{r.url.copy_with(query=None)} did not answer like an openusage server "
             f"({r.status_code}, {r.text[:80]!r})")
    return data


def resolve_target(db: str, url: str | None, key: str | None) -> tuple[str, str | None] | None:
    """Where a command should send its requests: ``--url`` (with ``--key``) when given, else the
    server running on ``db`` (its runtime file: address and per-run admin key), else ``None`` to
    open the store directly."""
    if url:
        if not url.lower().startswith(("http://", "https://")):
            bad_input(f"--url takes a server's base URL, http(s)://HOST:PORT; got {url!r}")
        return url, key
    from ..runtime import read_runtime

    running = read_runtime(db)
    if running is None or not _listening(running.url):  # a killed server's file, its pid reused
        return None
    return running.url, running.key


def missing_store_file(db: str) -> bool:
    """True when ``db`` names a DuckDB file that does not exist (a command that only reads must not
    create an empty store there)."""
    path = store_file(db)
    return path is not None and not os.path.exists(path)


def _listening(url: str, timeout: float = 2.0) -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def open_local_store(db: str, serving: bool = False) -> Store:
    """The store ``db`` opened in this process, or one line saying why it cannot be."""
    from ..store import open_store
    from ..store.base import redact

    try:
        return open_store(db)
    except Exception as exc:  # duckdb.IOException when a server holds the file, ValueError for a bad URL
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        db = redact(db)
        if isinstance(exc, RuntimeError):  # a schema too new, or an upgrade that could not run
            fail(text)
        if "lock" in text.lower():
            if serving:
                fail(f"{db} is in use by another process (another server?): stop it, or serve another --db.")
            fail(f"{db} is in use by another process (a server without a runtime file?): pass --url "
                 "http://HOST:PORT and --key to go through it, or stop it.")
        if isinstance(exc, ValueError):
            bad_input(f"--db {db}: {text}")
        fail(f"cannot open the store {db}: {text}")
