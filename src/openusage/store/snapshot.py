"""Backups of the embedded DuckDB store: a snapshot written as data, and a restore that only reads data.

A backup is a directory of one Parquet file per table (``events``, ``api_keys``,
``openusage_meta``), all written inside one read transaction, so the copy is a consistent snapshot
even while a server keeps ingesting, plus ``manifest.json`` with each table's row count and each
file's SHA-256.

Restoring never runs anything taken from the backup.  The checksums are not authenticated (whoever
can edit the files can edit the manifest too), so the backup is treated as untrusted input: the
schema comes from this version's code (:func:`openusage.store.open_store` of a new file), file
names are checked, every column must have the type this version expects, and the rows go in
through the store's ordinary ``insert``/``put_key``/``set_meta``.  Older backups made with
``EXPORT DATABASE`` (format 1) restore the same way; their ``schema.sql``/``load.sql`` are checked
against the manifest and otherwise ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import __version__
from .base import Store
from .common import KEY_SCHEMA, META_SCHEMA

MANIFEST = "manifest.json"
FORMAT = "openusage-backup/2"
FORMATS = ("openusage-backup/1", FORMAT)
TABLES = ("openusage_meta", "events", "api_keys")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_MAX_MANIFEST = 1 << 20
_CHUNK = 50_000
LOCAL_STATE = ("schema_version", "rollups")
"""Metadata each store keeps for itself, never copied from a backup."""


class BackupError(ValueError):
    """A backup or restore refused, with a one-line reason for the operator."""


# -- writing -------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _literal(path: Path) -> str:
    """A server-chosen path as a SQL string literal (COPY takes no bound parameter for its target)."""
    return "'" + str(path.resolve()).replace("'", "''") + "'"


def _columns() -> dict[str, list[str]]:
    """What a backup holds of each table: the data as this version defines it, not columns a store derives."""
    from ..ingest.events import SCHEMA

    return {"openusage_meta": META_SCHEMA.names, "events": SCHEMA.names, "api_keys": KEY_SCHEMA.names}


def write_snapshot(con: Any, out: Path) -> dict[str, Any]:
    """Write every table of the DuckDB connection ``con`` into the existing empty directory ``out``.

    All reads happen in one transaction: the files hold exactly the rows committed when it began,
    so every event acknowledged before the backup started is in it, and nothing half-written is.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
        row = con.execute("SELECT value FROM openusage_meta WHERE name = 'schema_version'").fetchone()
        for table, columns in _columns().items():
            con.execute(f"COPY (SELECT {', '.join(columns)} FROM {table}) TO {_literal(out / f'{table}.parquet')} "
                        "(FORMAT PARQUET)")
    finally:
        con.execute("ROLLBACK")  # read only: nothing to commit
    files = {p.name: sha256(p) for p in sorted(out.iterdir()) if p.is_file()}
    manifest = {"format": FORMAT, "openusage": __version__, "created_at": int(time.time()),
                "schema_version": row[0] if row else None, "counts": counts, "files": files}
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    fd = os.open(out / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return manifest


def snapshot_store(store: Store, out: Path) -> dict[str, Any]:
    """Snapshot an open :class:`~openusage.store.duckdb_store.DuckDBStore` (a running server's) into ``out``."""
    from .duckdb_store import DuckDBStore

    if not isinstance(store, DuckDBStore):
        raise BackupError("online backup covers DuckDB store files; back up PostgreSQL with pg_dump and "
                          "ClickHouse with BACKUP (see docs/operations.md).")
    cur = store._con.cursor()  # its own connection to the same database: its own transaction
    try:
        return write_snapshot(cur, out)
    finally:
        cur.close()


# -- checking ------------------------------------------------------------------------------------


def _lstat_regular(path: Path) -> os.stat_result:
    try:
        status = os.lstat(path)
    except OSError:
        raise BackupError(f"{path} is missing.") from None
    if not stat.S_ISREG(status.st_mode):
        raise BackupError(f"{path} is not a regular file (links and folders are refused).")
    return status


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of the backup at ``src``, after checking its shape, its file names and every checksum."""
    if not src.is_dir():
        raise BackupError(f"{src} is not a backup folder.")
    mpath = src / MANIFEST
    if not os.path.lexists(mpath):
        raise BackupError(f"{src} is not an openusage backup (no {MANIFEST}).")
    if _lstat_regular(mpath).st_size > _MAX_MANIFEST:
        raise BackupError(f"{mpath} is too large to be a manifest.")
    try:
        manifest = json.loads(mpath.read_bytes())
    except (ValueError, OSError):
        raise BackupError(f"{mpath} is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in FORMATS:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"{src}: unknown backup format {fmt!r}.")
    files, counts = manifest.get("files"), manifest.get("counts")
    if not isinstance(files, dict) or not all(isinstance(v, str) and _SHA.match(v) for v in files.values()):
        raise BackupError(f"{mpath}: 'files' must map file names to SHA-256 digests.")
    if not isinstance(counts, dict) or any(type(counts.get(t)) is not int or counts[t] < 0 for t in TABLES):
        raise BackupError(f"{mpath}: 'counts' must give a row count for each of {', '.join(TABLES)}.")
    bad = sorted(n for n in files if not NAME.match(n) or n == MANIFEST)
    if bad:
        raise BackupError(f"{src}: the manifest names a file outside the backup folder: {bad[0]!r}.")
    present = {e.name for e in os.scandir(src) if e.name != MANIFEST}
    if present != set(files):
        raise BackupError(f"{src}: files differ from the manifest (missing or extra: {sorted(present ^ set(files))}).")
    for name, digest in files.items():
        _lstat_regular(src / name)
        if sha256(src / name) != digest:
            raise BackupError(f"{src}: {name} is damaged (checksum mismatch).")
    if manifest["format"] != FORMAT:
        _check_legacy_sql(src, files)
    expected = {f"{t}.parquet" for t in TABLES}
    if manifest["format"] == FORMAT and set(files) != expected:
        raise BackupError(f"{src}: unexpected files {sorted(set(files) ^ expected)} in a backup of this format.")
    if not expected <= set(files):
        raise BackupError(f"{src}: {sorted(expected - set(files))[0]} is missing.")
    return manifest


_LEGACY_SQL = {"schema.sql": re.compile(r"CREATE TABLE [A-Za-z_][A-Za-z0-9_]*\([^';]*\);"),
               "load.sql": re.compile(r"COPY [A-Za-z_][A-Za-z0-9_]* FROM '[^';]*' \(FORMAT 'parquet'\);")}


def _check_legacy_sql(src: Path, files: dict[str, str]) -> None:
    """Refuse an ``EXPORT DATABASE`` backup whose SQL is more than its plain tables and loads.

    That SQL is never run; a statement of another shape means the backup was edited.
    """
    for name, shape in _LEGACY_SQL.items():
        if name not in files:
            continue
        for line in (src / name).read_text(errors="replace").splitlines():
            if line.strip() and not shape.fullmatch(line.strip()):
                raise BackupError(f"{src}: {name} holds a statement a backup never has ({line.strip()[:60]!r}); "
                                  "the backup was edited.")


def _same(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether a backup's column type holds what the schema expects (an all-null column has type null)."""
    if pa.types.is_string(expected):
        return bool(pa.types.is_string(actual) or pa.types.is_large_string(actual) or pa.types.is_null(actual))
    return bool(actual.equals(expected) or pa.types.is_null(actual))


def _open_table(src: Path, table: str, expected: pa.Schema, required: tuple[str, ...], rows: int) -> pq.ParquetFile:
    """The backup's Parquet file of ``table``, after checking its columns, their types and its row count."""
    path = src / f"{table}.parquet"
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError):
        raise BackupError(f"{path.name} is not a readable Parquet file.") from None
    for field in schema:
        if field.name not in expected.names:
            raise BackupError(f"{path.name}: unknown column {field.name!r}.")
        want = expected.field(field.name).type
        if not _same(field.type, want):
            raise BackupError(f"{path.name}: column {field.name!r} is {field.type}, expected {want}.")
    missing = [c for c in required if c not in schema.names]
    if missing:
        raise BackupError(f"{path.name}: column {missing[0]!r} is missing.")
    if parquet.metadata.num_rows != rows:
        raise BackupError(f"{path.name} holds {parquet.metadata.num_rows} rows, the manifest says {rows}.")
    return parquet


def _chunks(parquet: pq.ParquetFile, expected: pa.Schema, name: str) -> Iterator[pa.Table]:
    """The file's rows in chunks, with every column of ``expected`` (absent ones null), cast to its type."""
    try:
        for batch in parquet.iter_batches(batch_size=_CHUNK):
            cols = [batch.column(f.name).cast(f.type) if f.name in batch.schema.names
                    else pa.nulls(batch.num_rows, f.type) for f in expected]
            yield pa.Table.from_arrays(cols, schema=expected)
    except (pa.ArrowException, OSError) as exc:
        raise BackupError(f"{name} cannot be read: {str(exc).splitlines()[0][:200]}") from None


# -- restoring -----------------------------------------------------------------------------------


def load_into(store: Any, src: Path, manifest: dict[str, Any]) -> dict[str, int]:
    """Load the checked backup at ``src`` into the new, empty ``store``; returns the rows loaded per table."""
    from ..ingest.events import SCHEMA, EventBatch
    from ..spec import EVENT_TYPES
    from .base import ApiKeyRecord

    counts = manifest["counts"]
    files = {t: _open_table(src, t, s, req, counts[t]) for t, s, req in (
        ("events", SCHEMA, ("id", "type", "ts_us")), ("api_keys", KEY_SCHEMA, ("key_id", "scope", "salt", "hash")),
        ("openusage_meta", META_SCHEMA, ("name", "value")))}
    types = pa.array(sorted(EVENT_TYPES))
    loaded = dict.fromkeys(TABLES, 0)
    for tbl in _chunks(files["events"], SCHEMA, "events.parquet"):
        for col in ("id", "type", "ts_us"):
            if tbl.column(col).null_count:
                raise BackupError(f"events.parquet: column {col!r} has empty values.")
        if not pc.all(pc.is_in(tbl.column("type"), value_set=types)).as_py():
            raise BackupError("events.parquet: an event has an unknown type.")
        at = tbl.schema.get_field_index("origin")  # a backup made before origin: its usage was ingested
        tbl = tbl.set_column(at, "origin", pc.fill_null(tbl.column(at), pa.scalar("ingest", pa.string())))
        loaded["events"] += store.insert([EventBatch(tbl, tbl.num_rows)])[0]
    for tbl in _chunks(files["api_keys"], KEY_SCHEMA, "api_keys.parquet"):
        for r in tbl.to_pylist():
            try:
                projects = json.loads(r["projects"]) if r["projects"] else None
            except ValueError:
                raise BackupError("api_keys.parquet: a key's projects are not a JSON list.") from None
            if projects is not None and not (isinstance(projects, list) and all(isinstance(p, str) for p in projects)):
                raise BackupError("api_keys.parquet: a key's projects are not a list of project ids.")
            store.put_key(ApiKeyRecord(r["key_id"], r["name"] or "", r["scope"], projects, r["salt"], r["hash"],
                                       r["created_at"] or 0, r["revoked_at"], r["last_used_at"]))
            loaded["api_keys"] += 1
    for tbl in _chunks(files["openusage_meta"], META_SCHEMA, "openusage_meta.parquet"):
        for r in tbl.to_pylist():
            if r["name"] is not None and r["name"] not in LOCAL_STATE and r["value"] is not None:
                store.set_meta(r["name"], r["value"])
            loaded["openusage_meta"] += 1
    return loaded


def backup_settings(src: Path) -> dict[str, str]:
    """The backup's own state (``rollups``), read as data."""
    try:
        rows = pq.read_table(src / "openusage_meta.parquet", columns=["name", "value"]).to_pylist()
    except (pa.ArrowException, OSError, KeyError):
        return {}
    return {r["name"]: r["value"] for r in rows if r["name"] in LOCAL_STATE and isinstance(r["value"], str)}


__all__ = ["FORMAT", "MANIFEST", "NAME", "TABLES", "BackupError", "load_into", "read_manifest", "snapshot_store",
           "write_snapshot"]
