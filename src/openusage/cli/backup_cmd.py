"""``openusage backup`` / ``openusage restore``: a consistent copy of the embedded store.

A backup is a directory written by DuckDB's ``EXPORT DATABASE`` (schema, load script and one
Parquet file per table, all read in one transaction, so the copy is a consistent snapshot) plus a
``manifest.json`` with each table's row count and each file's SHA-256.  Restore checks every
checksum first, imports into a new file beside the target, checks the row counts, and only then
moves the file into place, so a failed restore never leaves a half-written store behind.

DuckDB lets one process hold a store file: stop the server first (SIGTERM drains in-flight ingest).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import click

from .. import __version__
from .common import console, db_option, fail

MANIFEST = "manifest.json"
TABLES = ("openusage_meta", "events", "api_keys")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _counts(con) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def _connect(path: str, read_only: bool):  # type: ignore[no-untyped-def]
    import duckdb

    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            fail(f"{path} is in use by a running server: stop it first (SIGTERM finishes in-flight ingest).")
        raise


def backup(db: str, out: Path) -> dict:
    """Export ``db`` into the new directory ``out``; returns the manifest."""
    if not Path(db).is_file():
        fail(f"No store at {db}.")
    if out.exists() and any(out.iterdir()):
        fail(f"{out} exists and is not empty: choose a new directory.")
    out.parent.mkdir(parents=True, exist_ok=True)  # `backup backups/today` with no backups/ yet
    con = _connect(db, read_only=True)
    try:
        con.execute("BEGIN TRANSACTION")
        counts = _counts(con)
        version = con.execute("SELECT value FROM openusage_meta WHERE name = 'schema_version'").fetchone()
        con.execute("COMMIT")
        con.execute(f"EXPORT DATABASE '{_quote(out)}' (FORMAT PARQUET)")
    finally:
        con.close()
    files = {p.name: _sha256(p) for p in sorted(out.iterdir()) if p.is_file()}
    manifest = {"format": "openusage-backup/1", "openusage": __version__, "created_at": int(time.time()),
                "schema_version": version[0] if version else None, "counts": counts, "files": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _quote(path: Path) -> str:
    """A path as a SQL string literal body (EXPORT/IMPORT take no bound parameters)."""
    return str(path.resolve()).replace("'", "''")


def verify(src: Path) -> dict:
    """The manifest of the backup at ``src``, after checking every file against it."""
    mpath = src / MANIFEST
    if not mpath.is_file():
        fail(f"{src} is not an openusage backup (no {MANIFEST}).")
    manifest = json.loads(mpath.read_text())
    if manifest.get("format") != "openusage-backup/1":
        fail(f"{src}: unknown backup format {manifest.get('format')!r}.")
    present = {p.name for p in src.iterdir() if p.is_file() and p.name != MANIFEST}
    if present != set(manifest["files"]):
        fail(f"{src}: files differ from the manifest (missing or extra: "
             f"{sorted(present ^ set(manifest['files']))}).")
    for name, digest in manifest["files"].items():
        if _sha256(src / name) != digest:
            fail(f"{src}: {name} is damaged (checksum mismatch).")
    return manifest


def restore(src: Path, db: str, force: bool = False) -> dict:
    """Import the backup at ``src`` into a new store at ``db``; returns the verified counts."""
    manifest = verify(src)
    target = Path(db)
    if target.exists() and not force:
        fail(f"{db} exists: pass --force to replace it (stop the server first).")
    tmp = target.with_name(f".{target.name}.restoring")
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    con = _connect(str(tmp), read_only=False)
    try:
        con.execute(f"IMPORT DATABASE '{_quote(src)}'")
        counts = _counts(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if counts != manifest["counts"]:
        tmp.unlink(missing_ok=True)
        fail(f"Restore check failed: counts {counts} differ from the backup's {manifest['counts']}.")
    Path(f"{target}.wal").unlink(missing_ok=True)
    os.replace(tmp, target)
    return counts


def register(cli: click.Group) -> None:
    @cli.command("backup")
    @db_option
    @click.argument("out", type=click.Path(file_okay=False, path_type=Path))
    def backup_cmd(db: str, out: Path) -> None:
        """Write a consistent, checksummed copy of the store to the new directory OUT."""
        manifest = backup(db, out)
        c = manifest["counts"]
        console.print(f"Backed up {c['events']:,} events and {c['api_keys']} keys to [cyan]{out}[/].")

    @cli.command("restore")
    @click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @db_option
    @click.option("--force", is_flag=True, help="Replace an existing store file.")
    def restore_cmd(src: Path, db: str, force: bool) -> None:
        """Restore the backup directory SRC into the store --db, checking it first."""
        counts = restore(src, db, force)
        console.print(f"Restored {counts['events']:,} events and {counts['api_keys']} keys into [cyan]{db}[/]; "
                      "checksums and row counts verified.")
