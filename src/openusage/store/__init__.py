"""Stores: where events and keys live.  :func:`open_store` picks the engine from a URL or path.

=============================================  ==============================================
``usage.duckdb`` or ``duckdb:///path``         DuckDB file, one process (the default)
``postgresql://user@host:5432/db``             PostgreSQL, shared by several server processes
``clickhouse://user:pw@host:8123/db``          a ClickHouse server or cluster (clickhouse-connect)
``chdb:///path``                               the ClickHouse engine in this process (chdb)
=============================================  ==============================================

Every URL takes ``?rollups=on|off`` and ``?retention_days=N`` (prune raw events older than N days;
the rollups keep them counted).  PostgreSQL and ClickHouse keep rollups by default.  A new DuckDB
file keeps only the summaries (rollups without user, key and vector store: far fewer rows; ingestion
runs about 1.5x faster without the others, and DuckDB aggregates raw events quickly); ``?rollups=on``
folds every insert into them all from then on, rebuilt from the events, and the file remembers the
choice.
PostgreSQL also takes ``schema=NAME``, ``pool_max=N`` and ``writers=N`` (and libpq's own parameters); ClickHouse
``cluster=NAME`` and ``secure=on``.  Any other option is refused (see :mod:`openusage.store.url`).
"""

from __future__ import annotations

from .base import Aggregate, ApiKeyRecord, Store
from .url import SCHEMES, parse_store_url, store_options


def _needs(module: str, extra: str) -> None:
    """A clear word when an optional engine's driver is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"this store needs the '{extra}' extra: pip install 'openusage[{extra}]'")


def open_store(url: str, migrate: bool = True) -> Store:
    """Open the store named by ``url`` (see the module docstring) and bring its schema up to date."""
    parsed = parse_store_url(url)
    store: Store
    if parsed.engine == "duckdb":
        from .duckdb_store import DuckDBStore

        store = DuckDBStore(parsed.base, **parsed.options)
    elif parsed.engine == "postgresql":
        _needs("psycopg_pool", "postgresql")
        from .postgres_store import PostgresStore

        store = PostgresStore(parsed.base, **parsed.options)
    else:
        _needs("chdb" if parsed.engine == "chdb" else "clickhouse_connect", "clickhouse")
        from .clickhouse_store import ClickHouseStore

        store = ClickHouseStore(parsed.base, **parsed.options)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()  # a store that cannot be brought up to date is not left open (nor locked)
            raise
    return store


__all__ = ["SCHEMES", "Aggregate", "ApiKeyRecord", "Store", "open_store", "store_options"]
