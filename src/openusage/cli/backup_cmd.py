"""``openusage backup`` / ``openusage restore``: a consistent copy of the embedded store, and its return.

``backup --db FILE DEST`` reads a stopped store; ``backup --url URL --key ADMIN_KEY DEST`` asks a
running server for a snapshot (``POST /v1/openusage/backup``) while it keeps ingesting.  Either way
DEST is a new folder of Parquet files and a checksummed manifest (:mod:`openusage.store.snapshot`).

``restore`` treats the backup as untrusted data: it creates the schema from this version's code,
loads the checked rows into a new file beside the target and only then swaps it in.  It refuses
while any process holds the store, and never deletes the store it replaces: that one is kept as
``<file>.before-restore-<time>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..runtime import read_runtime
from .common import console, db_option, fail


def _file_of(db: str) -> Path:
    """The file of a DuckDB store given as a path or ``duckdb:///path``; other stores are refused."""
    if "://" in db:
        scheme, rest = db.split("://", 1)
        if scheme.lower() in ("postgresql", "postgres"):
            fail("backup and restore handle DuckDB store files: back up PostgreSQL with pg_dump and restore "
                 "with pg_restore (see docs/operations.md).")
        if scheme.lower() != "duckdb":
            fail("backup and restore handle DuckDB store files: use ClickHouse's BACKUP and RESTORE "
                 "(see docs/operations.md).")
        db = rest.split("?", 1)[0]
    if db in ("", ":memory:", "/:memory:"):
        fail("an in-memory store has nothing to back up or restore.")
    return Path(db)


def _held(path: Path, exclusive: bool = True) -> bool:
    """Whether another process holds the store: DuckDB locks the file and its WAL (POSIX record locks).

    ``exclusive`` finds any holder (before replacing the file); otherwise only a writer (before reading it).
    """
    for p in (path, Path(f"{path}.wal")):
        try:
            fd = os.open(p, os.O_RDWR if exclusive else os.O_RDONLY)
        except FileNotFoundError:
            continue
        except PermissionError:
            fail(f"{p} is not {'writable' if exclusive else 'readable'} by this user.")
        try:
            fcntl.lockf(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # releases the probe's lock
    return False


def _in_use(db: str, path: Path, exclusive: bool = True) -> str | None:
    """Why ``path`` may not be touched now (a running server holds it), or ``None``."""
    rt = read_runtime(db) or read_runtime(str(path))
    if rt is None and not _held(path, exclusive):
        return None
    who = f"a running server (pid {rt.pid}, {rt.url})" if rt else "a running server"
    return f"{path} is in use by {who}"


# -- backup --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A private folder beside ``out`` that becomes ``out`` when the block succeeds, and vanishes otherwise."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"{out} exists and is not empty: choose a new directory.")
    if not out.parent.is_dir():
        fail(f"Cannot write the backup to {out}: the folder {out.parent} does not exist.")
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(mode=0o700)
    except OSError as exc:
        fail(f"Cannot write the backup to {out}: {exc.strerror}.")
    try:
        yield staging
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def backup(db: str, out: Path) -> dict[str, Any]:
    """Export the stopped store ``db`` into the new directory ``out``; returns the manifest."""
    import duckdb

    from ..store.snapshot import write_snapshot

    path = _file_of(db)
    if not path.is_file():
        fail(f"No store at {path}.")
    busy = _in_use(db, path, exclusive=False)
    if busy:
        rt = read_runtime(db) or read_runtime(str(path))
        url = rt.url if rt else "http://HOST:PORT"
        fail(f"{busy}: back it up through the server with `openusage backup --url {url} --key ADMIN_KEY {out}` "
             "(or stop it first: SIGTERM finishes in-flight ingest).")
    with _staging(out) as staging:
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            fail(f"Cannot open {path}: {str(exc).splitlines()[0]}")
        try:
            return write_snapshot(con, staging)
        except (duckdb.Error, OSError) as exc:
            fail(f"Backup failed: {str(exc).splitlines()[0]}")
        finally:
            con.close()
    raise AssertionError("unreachable")


def _unpack(archive: Path, dest: Path) -> None:
    """Extract the server's archive: plain files with plain names only, nothing else."""
    from ..store.snapshot import NAME

    try:
        with tarfile.open(archive, "r:") as tar:
            for m in tar:
                if not m.isfile() or not NAME.match(m.name):
                    fail(f"The server's archive holds an unexpected entry {m.name!r}; nothing was kept.")
                src = tar.extractfile(m)
                assert src is not None
                with src, open(dest / m.name, "xb") as f:
                    shutil.copyfileobj(src, f)
    except (tarfile.TarError, OSError) as exc:
        fail(f"The server's archive is unreadable ({exc}); nothing was kept.")


def online_backup(url: str, key: str | None, out: Path) -> dict[str, Any]:
    """Ask the server at ``url`` for a snapshot of its store and keep it in the new directory ``out``."""
    import httpx

    from ..store.snapshot import BackupError, read_manifest

    if not key:
        fail("--url needs --key: an admin key of that server (env OPENUSAGE_ADMIN_KEY).")
    with _staging(out) as staging:
        archive = staging / ".download.tar"
        try:
            with httpx.stream("POST", url.rstrip("/") + "/v1/openusage/backup", timeout=httpx.Timeout(30, read=600),
                              headers={"Authorization": f"Bearer {key}"}) as r:
                if r.status_code != 200:
                    r.read()
                    try:
                        message = r.json()["error"]["message"]
                    except (ValueError, KeyError, TypeError):
                        message = r.text[:200]
                    fail(f"The server refused the backup ({r.status_code}): {message}")
                with archive.open("wb") as f:
                    for chunk in r.iter_bytes(1 << 20):
                        f.write(chunk)
        except httpx.HTTPError as exc:
            fail(f"Cannot reach {url}: {exc}")
        _unpack(archive, staging)
        archive.unlink()
        try:
            return read_manifest(staging)
        except BackupError as exc:
            fail(f"The server's backup does not verify: {exc}")
    raise AssertionError("unreachable")


# -- restore -------------------------------------------------------------------------------------


def _counts(path: Path) -> dict[str, int]:
    import duckdb

    from ..store.snapshot import TABLES

    con = duckdb.connect(str(path), read_only=True)
    try:
        counts: dict[str, int] = {}
        for t in TABLES:
            row = con.execute(f"SELECT count(*) FROM {t}").fetchone()
            assert row is not None  # count(*) always answers one row
            counts[t] = int(row[0])
        return counts
    finally:
        con.close()


def _remove_stale(target: Path) -> None:
    """Remove the half-built files of restores that were killed (their process is gone)."""
    for p in target.parent.glob(f".{glob.escape(target.name)}.restoring-*"):
        pid = p.name.rsplit("-", 1)[-1].removesuffix(".wal")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except PermissionError:  # alive, someone else's
            continue


def _keep_name(target: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    keep = target.with_name(f"{target.name}.before-restore-{stamp}")
    n = 1
    while os.path.lexists(keep) or os.path.lexists(f"{keep}.wal"):
        n += 1
        keep = target.with_name(f"{target.name}.before-restore-{stamp}-{n}")
    return keep


def _swap(tmp: Path, target: Path) -> Path | None:
    """Put ``tmp`` in place of ``target`` in one rename, keeping the old store (and its WAL) aside."""
    keep = None
    wal = Path(f"{target}.wal")
    if target.exists() or wal.exists():  # a WAL left alone would be replayed into the new file
        keep = _keep_name(target)
        if target.exists():
            try:
                os.link(target, keep)  # the old store stays whole under its new name; the target never vanishes
            except OSError:
                os.rename(target, keep)
        if wal.exists():
            os.rename(wal, f"{keep}.wal")
    os.replace(tmp, target)
    dfd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return keep


def restore(src: Path, db: str, force: bool = False) -> tuple[dict[str, int], Path | None]:
    """Load the backup at ``src`` into a new store file and swap it in for ``db``.

    Returns the verified counts and where the replaced store was kept (``None`` if there was none).
    """
    from ..store import open_store
    from ..store.snapshot import BackupError, backup_settings, load_into, read_manifest

    target = _file_of(db)
    if target.is_dir():
        fail(f"{target} is a folder: give the store's file path to --db.")
    busy = _in_use(db, target)
    if busy:
        fail(f"{busy}: stop it first (SIGTERM finishes in-flight ingest), then restore. Nothing was changed.")
    if not target.parent.is_dir():
        fail(f"Cannot restore into {target}: the folder {target.parent} does not exist.")
    try:
        manifest = read_manifest(src)
    except BackupError as exc:
        fail(str(exc))
    if target.exists() and not force:
        fail(f"{target} exists: pass --force to replace it (the replaced store is kept beside it).")
    guard = None
    if target.exists():  # held until the swap: no server can open the store meanwhile
        guard = os.open(target, os.O_RDWR)
        try:
            fcntl.lockf(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(guard)
            fail(f"{target} is in use by a running server: stop it first, then restore. Nothing was changed.")
    _remove_stale(target)
    tmp = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    leftovers = (tmp, Path(f"{tmp}.wal"))
    for p in leftovers:
        p.unlink(missing_ok=True)
    try:
        store = open_store(str(tmp))
        try:
            loaded = load_into(store, src, manifest)
        finally:
            store.close()
        if backup_settings(src).get("rollups") == "current":
            open_store(f"duckdb:///{tmp.resolve()}?rollups=on").close()  # rebuilds them from the events
        counts = _counts(tmp)
        want = manifest["counts"]
        if (counts["events"], counts["api_keys"], loaded["openusage_meta"]) != (
                want["events"], want["api_keys"], want["openusage_meta"]):
            fail(f"Restore check failed: {counts['events']} events and {counts['api_keys']} keys loaded, the "
                 f"backup holds {want['events']} and {want['api_keys']}. Nothing was changed.")
        keep = _swap(tmp, target)
        return counts, keep
    except BackupError as exc:
        fail(f"{exc} Nothing was changed.")
    except click.ClickException:
        raise
    except Exception as exc:  # the engine refused a row: say so in one line
        fail(f"Restore failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}. Nothing was changed.")
    finally:
        for p in leftovers:
            p.unlink(missing_ok=True)
        if guard is not None:
            os.close(guard)
    raise AssertionError("unreachable")


def register(cli: click.Group) -> None:
    @cli.command("backup")
    @db_option
    @click.option("--url", default=None, help="A running server's base URL: back up its store while it runs.")
    @click.option("--key", default=lambda: os.environ.get("OPENUSAGE_ADMIN_KEY"),
                  help="An admin key for --url (env OPENUSAGE_ADMIN_KEY).")
    @click.argument("out", type=click.Path(file_okay=False, path_type=Path))
    def backup_cmd(db: str, url: str | None, key: str | None, out: Path) -> None:
        """Write a consistent, checksummed copy of the store to the new directory OUT."""
        manifest = online_backup(url, key, out) if url else backup(db, out)
        c = manifest["counts"]
        console.print(f"Backed up {c['events']:,} events and {c['api_keys']} keys to [cyan]{out}[/].")

    @cli.command("restore")
    @click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @db_option
    @click.option("--force", is_flag=True, help="Replace an existing store file (it is kept beside, renamed).")
    def restore_cmd(src: Path, db: str, force: bool) -> None:
        """Restore the backup directory SRC into the store --db, checking it first."""
        counts, keep = restore(src, db, force)
        console.print(f"Restored {counts['events']:,} events and {counts['api_keys']} keys into [cyan]{db}[/]; "
                      "checksums and row counts verified.")
        if keep is not None:
            console.print(f"The replaced store is kept as [cyan]{keep}[/].")
