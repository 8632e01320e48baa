"""Stores: where events and keys live.  :func:`open_store` picks the engine from a URL or path."""

from __future__ import annotations

from .base import Aggregate, ApiKeyRecord, Store


def open_store(url: str, migrate: bool = True) -> Store:
    """Open the store named by ``url``: a file path or ``duckdb:///path`` (the default engine)."""
    if url.startswith("duckdb://"):
        path = url[len("duckdb://"):]  # duckdb:///abs/path.db or duckdb://relative.db
        path = ":memory:" if path in ("/:memory:", ":memory:", "") else path
    elif "://" in url:
        raise ValueError(f"unsupported store URL {url!r}: use a file path or duckdb:///path")
    else:
        path = url
    from .duckdb_store import DuckDBStore

    store = DuckDBStore(path)
    if migrate:
        store.migrate()
    return store


__all__ = ["Aggregate", "ApiKeyRecord", "Store", "open_store"]
