"""The embedded store: one DuckDB file.

DuckDB allows one writing process; inside it, writes go through the single writer thread of
:class:`openusage.store.writer.Writer` and reads use per-thread cursors.  A commit writes DuckDB's
write-ahead log before it returns, so an acknowledged event survives a crash.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import duckdb
import pyarrow as pa

from ..ingest.events import SCHEMA, EventBatch
from .base import Aggregate, ApiKeyRecord
from .sql import DUCKDB, aggregate_sql

_ARROW_TO_SQL = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.float64(): "DOUBLE",
}


def _column_type(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision}, {t.scale})"
    return _ARROW_TO_SQL[t]


def events_ddl(table: str = "events") -> str:
    cols = [f"{f.name} {_column_type(f.type)}" for f in SCHEMA]
    cols[0] = "id VARCHAR PRIMARY KEY"
    cols[1] = "type VARCHAR NOT NULL"
    cols[2] = "ts_us BIGINT NOT NULL"
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"


MIGRATIONS: list[list[str]] = [
    # version 1
    [
        "CREATE TABLE IF NOT EXISTS openusage_meta (name VARCHAR PRIMARY KEY, value VARCHAR)",
        events_ddl(),
        "CREATE TABLE IF NOT EXISTS api_keys (key_id VARCHAR PRIMARY KEY, name VARCHAR, scope VARCHAR NOT NULL,"
        " projects VARCHAR, salt VARCHAR NOT NULL, hash VARCHAR NOT NULL, created_at BIGINT NOT NULL,"
        " revoked_at BIGINT, last_used_at BIGINT)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class DuckDBStore:
    """Events, keys and metadata in one DuckDB database file (or ``:memory:``)."""

    dialect = DUCKDB

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False) -> None:
        self.path = str(path)
        self.url = f"duckdb:///{self.path}" if self.path != ":memory:" else "duckdb:///:memory:"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(self.path, read_only=read_only)
        self._local = threading.local()
        self._write_lock = threading.Lock()

    # -- connections ---------------------------------------------------------------------------
    def _reader(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
        return cur

    # -- schema --------------------------------------------------------------------------------
    def migrate(self) -> int:
        with self._write_lock:
            con = self._con
            con.execute("CREATE TABLE IF NOT EXISTS openusage_meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
            row = con.execute("SELECT value FROM openusage_meta WHERE name = 'schema_version'").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the store at {self.path} has schema version {current}, newer than this openusage "
                    f"({SCHEMA_VERSION}); upgrade openusage"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                con.execute("BEGIN")
                try:
                    for stmt in MIGRATIONS[version - 1]:
                        con.execute(stmt)
                    con.execute(
                        "INSERT OR REPLACE INTO openusage_meta VALUES ('schema_version', ?)", [str(version)]
                    )
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            return SCHEMA_VERSION

    # -- events --------------------------------------------------------------------------------
    def insert(self, batches: list[EventBatch]) -> list[int]:
        """All batches in one transaction; each batch's count of events new to the store."""
        counts: list[int] = []
        with self._write_lock:
            con = self._con
            con.execute("BEGIN")
            try:
                for batch in batches:
                    if not len(batch):
                        counts.append(0)
                        continue
                    tbl = batch.to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
                    row = con.execute("INSERT INTO events SELECT * FROM tbl ON CONFLICT DO NOTHING").fetchone()
                    counts.append(int(row[0]) if row else 0)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return counts

    def aggregate(self, agg: Aggregate) -> pa.Table:
        sql, args = aggregate_sql(agg, DUCKDB)
        return self._reader().sql(sql, params=args).to_arrow_table()

    def count_events(self) -> int:
        row = self._reader().execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def execute(self, sql: str, args: list | None = None) -> list[tuple]:
        """Run read-only SQL (benchmarks and tests compare the API with the raw engine)."""
        return self._reader().execute(sql, args or []).fetchall()

    # -- keys ----------------------------------------------------------------------------------
    def put_key(self, r: ApiKeyRecord) -> None:
        with self._write_lock:
            self._con.execute(
                "INSERT OR REPLACE INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [r.key_id, r.name, r.scope, json.dumps(r.projects) if r.projects is not None else None,
                 r.salt, r.hash, r.created_at, r.revoked_at, r.last_used_at],
            )

    @staticmethod
    def _key(row: tuple) -> ApiKeyRecord:
        return ApiKeyRecord(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, row[4], row[5],
                            row[6], row[7], row[8])

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        row = self._reader().execute("SELECT * FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        return self._key(row) if row else None

    def list_keys(self) -> list[ApiKeyRecord]:
        rows = self._reader().execute("SELECT * FROM api_keys ORDER BY created_at, key_id").fetchall()
        return [self._key(r) for r in rows]

    def revoke_key(self, key_id: str, at: int) -> bool:
        with self._write_lock:
            row = self._con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL RETURNING key_id",
                [at, key_id],
            ).fetchone()
        return row is not None

    # -- metadata ------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        row = self._reader().execute("SELECT value FROM openusage_meta WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self._write_lock:
            self._con.execute("INSERT OR REPLACE INTO openusage_meta VALUES (?, ?)", [name, value])

    def close(self) -> None:
        with self._write_lock:
            self._con.close()
