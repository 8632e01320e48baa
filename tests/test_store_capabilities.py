"""What only some engines do.  ``Store.duplicate_repair()``: only ClickHouse, whose id check and insert
are two statements, offers the duplicate repair ``openusage repair`` runs; the engines that deduplicate
inside the insert's transaction answer ``None``.  Online backup: DuckDB files only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openusage.store import open_store
from openusage.store.clickhouse_store import ClickHouseStore
from openusage.store.snapshot import BackupError, snapshot_store
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


def test_online_backup_refuses_other_engines(tmp_path: Path) -> None:
    store = open_store(f"chdb:///{tmp_path / 'ch'}")
    try:
        with pytest.raises(BackupError) as caught:
            snapshot_store(store, tmp_path / "snap")
        assert str(caught.value) == ("online backup covers DuckDB store files; back up PostgreSQL with pg_dump and "
                                     "ClickHouse with BACKUP (see docs/operations.md).")
        assert not (tmp_path / "snap").exists()
    finally:
        store.close()
