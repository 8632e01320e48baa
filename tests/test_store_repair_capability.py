"""``Store.duplicate_repair()``: only ClickHouse, whose id check and insert are two statements, offers
the duplicate repair ``openusage repair`` runs; the engines that deduplicate inside the insert's
transaction answer ``None``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openusage.store import open_store
from openusage.store.clickhouse_store import ClickHouseStore
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema


def test_duckdb_has_nothing_to_repair(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "u.duckdb"))
    try:
        assert store.duplicate_repair() is None
    finally:
        store.close()


@pytest.fixture
def schema() -> Iterator[str]:
    require_pg()
    name = unique_schema()
    yield name
    drop_schema(name)


def test_postgresql_has_nothing_to_repair(schema: str) -> None:
    store = open_store(f"{PG_BASE}?schema={schema}")
    try:
        assert store.duplicate_repair() is None
    finally:
        store.close()


def test_clickhouse_repairs_itself(tmp_path: Path) -> None:
    store = open_store(f"chdb:///{tmp_path / 'ch'}")
    try:
        assert isinstance(store, ClickHouseStore)
        repairer = store.duplicate_repair()
        assert repairer is store
        assert repairer.duplicates() == (0, 0)
        assert repairer.repair() == (0, 0)
    finally:
        store.close()
