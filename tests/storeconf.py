"""Helpers for tests that run on every store engine: URLs, fresh stores, PostgreSQL schemas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from openusage.store import Store, open_store

PG_BASE = os.environ.get("OPENUSAGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ("duckdb", "postgresql", "chdb")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_BASE, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def unique_schema() -> str:
    """A schema of its own per test, so parallel runs on the shared database never meet."""
    return f"ou_test_{uuid.uuid4().hex[:12]}"


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def store_url(engine: str, tmp: Path, schema: str | None = None) -> str:
    if engine == "duckdb":
        return f"duckdb:///{tmp / 'usage.duckdb'}?rollups=on"
    if engine == "postgresql":
        return f"{PG_BASE}?schema={schema or unique_schema()}"
    if engine == "chdb":
        return f"chdb:///{tmp / 'chdb'}"
    raise ValueError(engine)


def require_pg() -> None:
    """PostgreSQL is part of the suite (CI runs all three engines): its absence is a failure, not a skip."""
    if not pg_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_BASE} (set OPENUSAGE_TEST_PG)")


@contextmanager
def fresh_store(engine: str, tmp: Path) -> Iterator[Store]:
    """A new, empty store of ``engine``; removed afterwards (PostgreSQL: its schema dropped)."""
    if engine == "postgresql":
        require_pg()
    schema = unique_schema()
    store = open_store(store_url(engine, tmp, schema))
    try:
        yield store
    finally:
        store.close()
        if engine == "postgresql":
            drop_schema(schema)
