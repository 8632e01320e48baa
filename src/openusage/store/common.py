"""What every SQL store does alike: API keys, metadata, schema migrations and the pruning policy.

Each engine supplies only its primitives: ``execute`` (a read), ``_write`` (one statement committed on its
own), ``_put`` (insert or replace one row), ``_migrating`` (the connection a migration runs on, under the
engine's lock), ``prune`` and its ordered list of migrations.  The bookkeeping built on them lives here once.

Migrations are data: ``migrations[v - 1]`` holds the statements taking a store from version ``v - 1`` to
``v``, so a new migration is one appended entry.  :meth:`SqlStoreBase.migrate` runs the pending ones and
records the new version, in one transaction where the engine has them: a store is upgraded whole or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from ..ingest.events import SCHEMA
from .base import ApiKeyRecord, DuplicateRepair, StoreUpgradeError
from .sql import ROLLUPS, SCAN_ORDER, Dialect, scan_where

KEY_SCHEMA = pa.schema([("key_id", pa.string()), ("name", pa.string()), ("scope", pa.string()),
                        ("projects", pa.string()), ("salt", pa.string()), ("hash", pa.string()),
                        ("created_at", pa.int64()), ("revoked_at", pa.int64()), ("last_used_at", pa.int64())])
META_SCHEMA = pa.schema([("name", pa.string()), ("value", pa.string())])
ROW_SCHEMAS = {"api_keys": KEY_SCHEMA, "openusage_meta": META_SCHEMA}
"""The columns of the keys and metadata tables, as Arrow (backups; ClickHouse inserts rows as Arrow)."""
KEY_COLUMNS = tuple(KEY_SCHEMA.names)
"""The columns of ``api_keys``, in :class:`ApiKeyRecord` order."""
PRICE_SETS_KEPT = 4
"""How many price sets (the newest) ``price_rows`` keeps: a worker still pricing with an older set
re-adds the keys it reads (see :meth:`SqlStoreBase.add_price_rows`)."""
PRICE_COLUMNS = ("set_id", "key", "lo", "hi", "line_id", "q")
"""The columns of ``price_rows`` (see :mod:`openusage.pricing.price_table`)."""
PRICE_ROWS_PER_STATEMENT = 2000
"""Price rows inserted by one statement at most (every engine's bound-parameter limit allows it)."""
PRUNE_EVERY_S = 3600.0
"""With ``retention_days``, how often an insert prunes the raw events past it."""


class Connection(Protocol):
    """The statements of a migration, all on one connection (and in its transaction)."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None: ...

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def put(self, table: str, key: str, row: dict[str, Any]) -> None:
        """Insert ``row`` into ``table``, replacing the row with the same ``key`` column."""

    def transaction(self) -> AbstractContextManager[Any]:
        """Statements committed together or not at all (a no-op where the engine has no transactions)."""


class DbApiConnection:
    """A DuckDB or psycopg connection as a :class:`Connection` (both answer ``execute`` with a cursor)."""

    def __init__(self, con: Any, dialect: Dialect, transaction: Callable[[], AbstractContextManager[Any]]) -> None:
        self.con = con
        self.dialect = dialect
        self._transaction = transaction

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(args))

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.con.execute(sql, list(args)).fetchall())

    def put(self, table: str, key: str, row: dict[str, Any]) -> None:
        self.execute(self.dialect.upsert_sql(table, tuple(row), key), list(row.values()))

    def transaction(self) -> AbstractContextManager[Any]:
        return self._transaction()


def key_row(record: ApiKeyRecord) -> dict[str, Any]:
    """An :class:`ApiKeyRecord` as an ``api_keys`` row (projects as JSON)."""
    return {"key_id": record.key_id, "name": record.name, "scope": record.scope,
            "projects": json.dumps(record.projects) if record.projects is not None else None,
            "salt": record.salt, "hash": record.hash, "created_at": record.created_at,
            "revoked_at": record.revoked_at, "last_used_at": record.last_used_at}


def key_record(row: Sequence[Any]) -> ApiKeyRecord:
    """An ``api_keys`` row (in :data:`KEY_COLUMNS` order) as an :class:`ApiKeyRecord`."""
    return ApiKeyRecord(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, *row[4:9])


class SqlStoreBase:
    """The bookkeeping shared by the DuckDB, PostgreSQL and ClickHouse stores."""

    dialect: ClassVar[Dialect]
    migrations: ClassVar[Sequence[Sequence[str]]]
    """Per version, the statements upgrading a store to it from the version before."""
    meta_ddl: str
    """The metadata table, created before the schema version is read from it."""
    upgrade_errors: ClassVar[tuple[type[Exception], ...]] = (Exception,)
    """The engine's errors that make an upgrade fail as a whole (reported as :class:`StoreUpgradeError`)."""
    retention_days: int | None = None
    rollups: bool
    """Whether aggregations read the rollups (each engine sets it)."""
    rollup_tables: ClassVar[tuple[tuple[str, int], ...]] = ROLLUPS
    """The rollups the engine keeps, as ``(table, width)``, widest first."""

    def rollups_for(self, dims: set[str]) -> tuple[tuple[str, int], ...]:
        """The rollups keeping every one of ``dims`` (an engine whose rollups leave some dimensions out
        answers fewer, or none: raw events); by default :attr:`rollup_tables`, which keep them all."""
        return self.rollup_tables
    _pruned_at = 0.0

    # -- what each engine supplies ---------------------------------------------------------------
    def execute(self, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run read-only SQL (benchmarks and tests compare the API with the raw engine)."""
        raise NotImplementedError

    def _write(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One writing statement, committed; the rows it answers (``RETURNING``)."""
        raise NotImplementedError

    def _put(self, table: str, key: str, row: dict[str, Any]) -> None:
        """Insert ``row``, replacing the row with the same ``key`` column."""
        self._write(self.dialect.upsert_sql(table, tuple(row), key), list(row.values()))

    def _migrating(self) -> AbstractContextManager[Connection]:
        """The connection migrations run on, held under the engine's migration lock."""
        raise NotImplementedError

    def describe(self) -> str:
        """This store in a message: ``the store at PATH`` and the like."""
        raise NotImplementedError

    def _events(self, sql: str, args: list[Any]) -> pa.Table:
        """The events a query selects (every column of :data:`SCHEMA`, by name), as Arrow in that schema."""
        raise NotImplementedError

    def prune(self, before_s: int) -> int | None:
        """Delete raw events before ``before_s`` (rounded down to a minute); the rollups keep them counted."""
        raise NotImplementedError

    def duplicate_repair(self) -> DuplicateRepair | None:
        """``None``: an engine that checks ids inside the insert's transaction never stores an event twice."""
        return None

    # -- schema ------------------------------------------------------------------------------------
    @classmethod
    def schema_version(cls) -> int:
        """The version this openusage makes: one per migration."""
        return len(cls.migrations)

    def create_statements(self) -> list[str] | None:
        """For an engine that makes a new store in its newest shape at once: the statements; else None
        (a new store runs every migration)."""
        return None

    def _before_upgrade(self, current: int) -> None:
        """Refuse an upgrade the engine cannot make (raise :class:`StoreUpgradeError`)."""

    def _abandon_upgrade(self, conn: Connection) -> None:
        """Undo what a failed upgrade left behind where the engine has no transaction to roll back."""

    def _migrated(self, conn: Connection, previous: int) -> None:
        """Engine state to settle once the schema is current (``previous`` was 0 for a new store)."""

    def migrate(self) -> int:
        """Bring the schema to the current version (whole or not at all); returns the version."""
        target = self.schema_version()
        with self._migrating() as conn:
            conn.execute(self.meta_ddl)
            row = conn.rows(f"SELECT value FROM {self.dialect.current_rows('openusage_meta')} "
                            "WHERE name = 'schema_version'")
            current = int(row[0][0]) if row else 0
            if current > target:
                raise RuntimeError(f"{self.describe()} has schema version {current}, newer than this openusage "
                                   f"({target}); upgrade openusage")
            create = self.create_statements() if current == 0 else None
            pending = create if create is not None else [
                stmt for version in range(current + 1, target + 1) for stmt in self.migrations[version - 1]]
            if current < target:
                self._before_upgrade(current)
                try:
                    with conn.transaction():
                        for stmt in pending:
                            conn.execute(stmt)
                        conn.put("openusage_meta", "name", {"name": "schema_version", "value": str(target)})
                except self.upgrade_errors as exc:
                    self._abandon_upgrade(conn)
                    raise StoreUpgradeError(f"cannot upgrade {self.describe()} from schema version {current} to "
                                            f"{target} (nothing was changed): {exc}") from exc
            self._migrated(conn, current)
        return target

    # -- events ------------------------------------------------------------------------------------
    def count_events(self) -> int:
        return int(self.execute(f"SELECT count(*) FROM {self.dialect.raw_events}")[0][0])

    def scan(self, after: tuple[int, str] | None, limit: int) -> pa.Table:
        """About ``limit`` events in ``(ts_us, id)`` order after ``after``: the migrate command's chunks.

        The chunk ends with every event of its last ``(ts_us, id)`` (see :func:`~openusage.store.sql.scan_where`).
        """
        dialect = self.dialect
        where, args = scan_where(dialect, after, None)
        upto = self.execute(f"SELECT ts_us, id FROM {dialect.raw_events} {where}ORDER BY ts_us, id "
                            f"LIMIT 1 OFFSET {int(limit) - 1}", args)
        where, args = scan_where(dialect, after, upto[0] if upto else None)
        # project_id, not DuckDB's project_key: a 0.1.0 file read without upgrading it (openusage migrate) lacks it
        return self._events(f"SELECT {', '.join(SCHEMA.names)} FROM {dialect.raw_events} {where}{SCAN_ORDER}", args)

    # -- retention ---------------------------------------------------------------------------------
    def _maybe_prune(self) -> None:
        """Prune past ``retention_days``, at most every :data:`PRUNE_EVERY_S` (inserts call this)."""
        if self.retention_days is None or time.monotonic() - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        self.prune(int(time.time()) - self.retention_days * 86400)

    # -- keys --------------------------------------------------------------------------------------
    def put_key(self, record: ApiKeyRecord) -> None:
        self._put("api_keys", "key_id", key_row(record))

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = self.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM {self.dialect.current_rows('api_keys')} "
                            f"WHERE key_id = {self.dialect.placeholder}", [key_id])
        return key_record(rows[0]) if rows else None

    def list_keys(self) -> list[ApiKeyRecord]:
        rows = self.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM {self.dialect.current_rows('api_keys')} "
                            "ORDER BY created_at, key_id")
        return [key_record(row) for row in rows]

    def revoke_key(self, key_id: str, at: int) -> bool:
        mark = self.dialect.placeholder
        return bool(self._write(f"UPDATE api_keys SET revoked_at = {mark} WHERE key_id = {mark} "
                                "AND revoked_at IS NULL RETURNING key_id", [at, key_id]))

    # -- price rows --------------------------------------------------------------------------------
    def price_keys(self, set_id: str) -> set[str]:
        """The price keys ``price_rows`` holds rows of in the price set ``set_id``."""
        rows = self.execute(f"SELECT DISTINCT key FROM price_rows WHERE set_id = {self.dialect.placeholder}",
                            [set_id])
        return {str(r[0]) for r in rows}

    def add_price_rows(self, set_id: str, rows: Sequence[tuple[str, int, int, int, int]]) -> None:
        """Load price rows ``(key, lo, hi, line id, quantity index)`` into the price set ``set_id``,
        each only if absent; the set is registered if new, and sets beyond the newest
        :data:`PRICE_SETS_KEPT` deleted.

        Several workers may load the same keys at once: a key's rows depend on the set's prices alone,
        so every worker writes the same rows.  PostgreSQL and DuckDB skip rows present by primary key
        (``ON CONFLICT DO NOTHING``, in one statement); ClickHouse, which has no unique keys, may hold a
        row twice until its parts merge, and the costs statement reads the rows ``DISTINCT``.  Rows are
        inserted in primary-key order, the same in every worker: two inserting overlapping rows in two
        orders would each wait for a row the other holds (a deadlock)."""
        from .pricing_sql import bound_price_rows_sql  # it builds on this module

        rows = sorted(rows, key=lambda r: (r[0], r[1], r[3]))
        self._register_price_set(set_id)
        for off in range(0, len(rows), PRICE_ROWS_PER_STATEMENT):
            # bound as arrays (DuckDB, PostgreSQL): binding 6 values a row took 140 us a row on DuckDB
            relation, args = bound_price_rows_sql(self.dialect, tuple(rows[off:off + PRICE_ROWS_PER_STATEMENT]))
            sql = (f"INSERT INTO price_rows ({', '.join(PRICE_COLUMNS)}) "
                   f"SELECT {self.dialect.placeholder}, key, lo, hi, line_id, q FROM {relation} AS v"
                   f"{self.dialect.if_absent}")
            self._write(sql, [set_id, *args])

    def _register_price_set(self, set_id: str) -> None:
        """Record ``set_id`` (when first loaded) and delete the rows of sets older than the newest kept."""
        p = self.dialect.placeholder
        known = self.execute("SELECT set_id, max(created_at) FROM price_sets GROUP BY set_id "
                             "ORDER BY max(created_at) DESC, set_id")
        if any(r[0] == set_id for r in known):
            return
        self._write(f"INSERT INTO price_sets (set_id, created_at) VALUES ({p}, {p}){self.dialect.if_absent}",
                    [set_id, time.time_ns()])
        old = [str(r[0]) for r in known[PRICE_SETS_KEPT - 1:]]
        if old:
            marks = ", ".join([p] * len(old))
            for table in ("price_rows", "price_sets"):
                self._write(f"DELETE FROM {table} WHERE set_id IN ({marks})", old)

    # -- metadata ----------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        rows = self.execute(f"SELECT value FROM {self.dialect.current_rows('openusage_meta')} "
                            f"WHERE name = {self.dialect.placeholder}", [name])
        value = rows[0][0] if rows else None
        return None if value is None else str(value)

    def meta_items(self) -> dict[str, str]:
        """Every metadata entry (``openusage migrate`` copies them)."""
        rows = self.execute(f"SELECT name, value FROM {self.dialect.current_rows('openusage_meta')} ORDER BY name")
        return {str(name): str(value) for name, value in rows}

    def set_meta(self, name: str, value: str) -> None:
        self._put("openusage_meta", "name", {"name": name, "value": value})


__all__ = ["KEY_COLUMNS", "KEY_SCHEMA", "META_SCHEMA", "PRICE_COLUMNS", "PRICE_SETS_KEPT", "ROW_SCHEMAS", "Connection",
           "DbApiConnection", "SqlStoreBase", "key_record", "key_row"]
