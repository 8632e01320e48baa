"""One migration mechanism on every engine: a step appended to an engine's list upgrades its stores, a
failing one is reported and leaves the version as it was, and a store newer than the code is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openusage.store import open_store
from openusage.store.base import StoreUpgradeError
from openusage.store.clickhouse_store import ClickHouseStore
from openusage.store.common import SqlStoreBase
from openusage.store.duckdb_store import DuckDBStore
from openusage.store.postgres_store import PostgresStore
from openusage.store.url import parse_store_url
from tests.storeconf import ENGINES, drop_schema, require_pg, store_url, unique_schema

CLASSES: dict[str, type[SqlStoreBase]] = {"duckdb": DuckDBStore, "postgresql": PostgresStore, "chdb": ClickHouseStore}
CREATE = {"duckdb": "CREATE TABLE extra_step (x INTEGER)", "postgresql": "CREATE TABLE extra_step (x INTEGER)",
          "chdb": "CREATE TABLE extra_step (x Int32) ENGINE = MergeTree ORDER BY x"}


def _open(cls: type[SqlStoreBase], url: str) -> Any:
    """``open_store`` with another store class (one whose migrations have a step appended)."""
    parsed = parse_store_url(url)
    store: Any = cls(parsed.base, **parsed.options)  # type: ignore[call-arg]
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _appended(cls: type[SqlStoreBase], *step: str) -> type[SqlStoreBase]:
    return type(f"Appended{cls.__name__}", (cls,), {"migrations": [*cls.migrations, list(step)]})


def _tables(store: Any, engine: str) -> set[str]:
    if engine == "chdb":
        sql = "SELECT name FROM system.tables WHERE database = currentDatabase()"
    else:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = "
               + ("current_schema()" if engine == "postgresql" else "'main'"))
    return {r[0] for r in store.execute(sql)}


@pytest.mark.parametrize("engine", ENGINES)
def test_an_appended_step_upgrades_whole_or_not_at_all(engine: str, tmp_path: Path) -> None:
    if engine == "postgresql":
        require_pg()
    schema = unique_schema()
    url = store_url(engine, tmp_path, schema)
    cls = CLASSES[engine]
    n = cls.schema_version()
    try:
        store = open_store(url)
        assert store.get_meta("schema_version") == str(n)
        store.close()

        failing = _appended(cls, CREATE[engine], "SELECT * FROM no_such_table")
        with pytest.raises(StoreUpgradeError, match=rf"^cannot upgrade .* from schema version {n} to {n + 1} "
                                                    r"\(nothing was changed\): "):
            _open(failing, url)
        store = _open(cls, url)
        assert store.get_meta("schema_version") == str(n)
        if engine != "chdb":  # ClickHouse has no transactions: its steps are written to be run again
            assert "extra_step" not in _tables(store, engine)
        store.close()

        store = _open(_appended(cls, CREATE[engine].replace("TABLE", "TABLE IF NOT EXISTS")), url)
        assert store.get_meta("schema_version") == str(n + 1) and "extra_step" in _tables(store, engine)
        assert store.meta_items()["schema_version"] == str(n + 1)
        store.close()

        with pytest.raises(RuntimeError, match=rf"has schema version {n + 1}, newer than this openusage \({n}\); "
                                               "upgrade openusage"):
            open_store(url)
    finally:
        if engine == "postgresql":
            drop_schema(schema)


@pytest.mark.parametrize("engine", ENGINES)
def test_keys_and_metadata_behave_alike(engine: str, tmp_path: Path) -> None:
    """The shared bookkeeping: a key replaced by id, revoked once, and metadata replaced by name."""
    from openusage.store.base import ApiKeyRecord
    from tests.storeconf import fresh_store

    with fresh_store(engine, tmp_path) as store:
        key = ApiKeyRecord("k1", "first", "admin", None, "s", "h", 100)
        store.put_key(key)
        store.put_key(ApiKeyRecord("k1", "renamed", "ingest", ["p1"], "s", "h", 100))
        store.put_key(ApiKeyRecord("k0", "older", "admin", None, "s", "h", 50))
        assert store.get_key("k1") == ApiKeyRecord("k1", "renamed", "ingest", ["p1"], "s", "h", 100)
        assert [k.key_id for k in store.list_keys()] == ["k0", "k1"]
        assert store.revoke_key("k1", 200) is True
        assert store.revoke_key("k1", 300) is False and store.revoke_key("nope", 300) is False
        assert store.get_key("k1").revoked_at == 200  # type: ignore[union-attr]
        assert store.get_key("nope") is None
        store.set_meta("note", "a")
        store.set_meta("note", "b")
        assert store.get_meta("note") == "b" and store.get_meta("missing") is None
        assert store.meta_items()["note"] == "b"
