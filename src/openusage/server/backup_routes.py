"""``POST /v1/openusage/backup``: an online, consistent backup of the server's DuckDB store (admin keys only).

The server writes the snapshot (:func:`openusage.store.snapshot.snapshot_store`, one read
transaction, ingestion goes on) into a private temporary folder it names itself beside the store,
and answers with it as an uncompressed tar archive (the Parquet files are compressed already); the
folder is gone before the first byte is sent.  The client gives no path at all, so no request can
make the server write or read a file of the client's choosing; ``openusage backup --url`` unpacks
the archive on the client's side, refusing anything but plain file names, and checks every checksum.
"""

from __future__ import annotations

import errno
import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..errors import ServiceUnavailableError, invalid
from ..store.base import Store
from ..store.snapshot import BackupError, snapshot_store
from .core import AppCore

ARCHIVE = "backup.tar"


def _archive(store: Store, lock: threading.Lock) -> tuple[BinaryIO, int]:
    """Snapshot the store into a new private folder, pack it, and return the open archive and its size.

    The folder is removed before the answer starts: the open file keeps the archive readable until it
    is closed, so nothing is left behind, even when the client goes away mid-download.
    """
    path = getattr(store, "path", ":memory:")
    where = Path(path).resolve().parent if path != ":memory:" else None
    try:
        work = Path(tempfile.mkdtemp(prefix=".openusage-backup-", dir=where))  # mode 0700
    except OSError as exc:  # the store's folder is read-only to us: the system's temporary folder
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        work = Path(tempfile.mkdtemp(prefix=".openusage-backup-"))
    try:
        snap = work / "snapshot"
        snap.mkdir()
        with lock:  # one snapshot at a time: each holds a transaction and disk space
            snapshot_store(store, snap)
        with tarfile.open(work / ARCHIVE, "w", format=tarfile.PAX_FORMAT) as tar:
            for f in sorted(snap.iterdir()):
                tar.add(f, arcname=f.name, recursive=False)
        archive = (work / ARCHIVE).open("rb")
        return archive, os.fstat(archive.fileno()).st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _chunks(archive: BinaryIO) -> Iterator[bytes]:
    """The archive in pieces of 1 MiB, closed (so gone from the disk) once sent or abandoned."""
    try:
        while chunk := archive.read(1 << 20):
            yield chunk
    finally:
        archive.close()


def backup_routes(core: AppCore) -> list[Route]:
    """The route, bound to the app core (its ``store``, ``principal`` and ``read_body``)."""
    lock = threading.Lock()

    async def backup(request: Request) -> Response:
        core.principal(request, "admin")
        await core.read_body(request)  # takes no options; read under the body limit like every POST
        try:
            archive, size = await run_in_threadpool(_archive, core.store, lock)
        except BackupError as exc:
            raise invalid(None, str(exc)) from None
        except (OSError, duckdb.Error) as exc:  # the server's disk is full, or the store went away
            raise ServiceUnavailableError(f"The server could not write the backup ({str(exc).splitlines()[0][:200]}); "
                                          "nothing was kept. Retry once it has space.", code="backup_failed",
                                          headers={"retry-after": "30"}) from None
        name = time.strftime("openusage-backup-%Y%m%dT%H%M%SZ.tar", time.gmtime())
        return StreamingResponse(_chunks(archive), media_type="application/x-tar", headers={
            "content-length": str(size), "content-disposition": f'attachment; filename="{name}"'})

    return [Route("/v1/openusage/backup", backup, methods=["POST"])]
