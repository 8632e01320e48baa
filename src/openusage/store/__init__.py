"""Stores: where events and keys live.  :func:`open_store` picks the engine from a URL or path.

=============================================  ==============================================
``usage.duckdb`` or ``duckdb:///path``         DuckDB file, one process (the default)
``postgresql://user@host:5432/db``             PostgreSQL, shared by several server processes
``clickhouse://user:pw@host:8123/db``          a ClickHouse server or cluster (clickhouse-connect)
``chdb:///path``                               the ClickHouse engine in this process (chdb)
=============================================  ==============================================

Every URL takes ``?rollups=on|off`` and ``?retention_days=N`` (prune raw events older than N days;
the rollups keep them counted).  PostgreSQL and ClickHouse keep rollups by default.  A new DuckDB
file does not (ingestion runs about 1.5x faster without them, and DuckDB aggregates raw events
quickly); ``?rollups=on`` folds every insert into them from then on, rebuilt from the events, and the
file remembers the choice.
PostgreSQL also takes ``schema=NAME`` and ``pool_max=N``; ClickHouse ``cluster=NAME``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .base import Aggregate, ApiKeyRecord, Store

SCHEMES = ("duckdb", "postgresql", "postgres", "clickhouse", "chdb")
_BOOL = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def store_options(url: str) -> tuple[str, dict[str, Any]]:
    """The URL without its query string, and openusage's options from that query string."""
    parts = urlsplit(url)
    opts: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "rollups":
            if value.lower() not in _BOOL:
                raise ValueError(f"rollups must be on or off, not {value!r}")
            opts["rollups"] = _BOOL[value.lower()]
        elif key in ("retention_days", "pool_max"):
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"{key} must be a positive whole number, not {value!r}")
            opts[key] = int(value)
        elif key in ("schema", "cluster"):
            if not value.isidentifier():
                raise ValueError(f"{key} must be an identifier, not {value!r}")
            opts[key] = value
        else:
            opts.setdefault("extra", []).append((key, value))
    base = url.split("?", 1)[0]
    return base, opts


def _only(opts: dict[str, Any], scheme: str, allowed: set[str]) -> dict[str, Any]:
    bad = sorted(set(opts) - allowed - {"extra"})
    if bad:
        raise ValueError(f"option {bad[0]!r} does not apply to {scheme} stores")
    return {k: v for k, v in opts.items() if k != "extra"}


def _needs(module: str, extra: str) -> None:
    """A clear word when an optional engine's driver is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"this store needs the '{extra}' extra: pip install 'openusage[{extra}]'")


def open_store(url: str, migrate: bool = True) -> Store:
    """Open the store named by ``url`` (see the module docstring) and bring its schema up to date."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme and scheme not in SCHEMES:
        raise ValueError(f"unsupported store URL {url!r}: use a file path, duckdb:///path, postgresql://..., "
                         "clickhouse://... or chdb:///path")
    store: Any
    if scheme in ("", "duckdb"):
        base, opts = store_options(url) if scheme else (url, {})
        if opts.get("extra"):
            raise ValueError(f"unknown option {opts['extra'][0][0]!r} in {url!r}")
        path = base[len("duckdb://"):] if scheme else base  # duckdb:///abs/path.db or duckdb://relative.db
        path = ":memory:" if path in ("/:memory:", ":memory:", "") else path
        from .duckdb_store import DuckDBStore

        store = DuckDBStore(path, **_only(opts, "duckdb", {"rollups", "retention_days"}))
    elif scheme in ("postgresql", "postgres"):
        _needs("psycopg_pool", "postgresql")
        from .postgres_store import PostgresStore

        _, opts = store_options(url)
        store = PostgresStore(url, **_only(opts, "postgresql", {"rollups", "retention_days", "schema", "pool_max"}))
    else:
        _needs("chdb" if scheme == "chdb" else "clickhouse_connect", "clickhouse")
        from .clickhouse_store import ClickHouseStore

        base, opts = store_options(url)
        if opts.get("extra") and scheme == "chdb":
            raise ValueError(f"unknown option {opts['extra'][0][0]!r} in {url!r}")
        store = ClickHouseStore(base if scheme == "chdb" else url,
                                **_only(opts, scheme, {"rollups", "retention_days", "cluster"}))
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()  # a store that cannot be brought up to date is not left open (nor locked)
            raise
    return store


__all__ = ["SCHEMES", "Aggregate", "ApiKeyRecord", "Store", "open_store", "store_options"]
