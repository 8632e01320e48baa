"""The runtime file a running server leaves beside its store file.

DuckDB lets one process hold a file, so while ``openusage serve`` runs, the other commands
(``usage``, ``costs``, ``ingest``, ``keys``, ``prices``, ...) cannot open the store themselves. The
server writes ``<store>.server.json`` once it listens: its address and a credential that lives only
as long as the server does, readable by its owner alone (mode 0600). A command given the store path
finds the file and goes through the server instead; ``--url/--key`` remain for remote servers.

A runtime file is trusted only when it is a regular file owned by the current user, not readable by
others, and names a live process; anything else is ignored (and a stale file is left for the server
to replace).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

SUFFIX = ".server.json"
LOCAL_KEY_PREFIX = "ouk_local_"


@dataclass(frozen=True)
class Runtime:
    """What a running server tells local commands: where it listens and the key to use."""

    url: str
    key: str
    pid: int
    store: str


def new_local_key() -> str:
    """A fresh admin credential for this server's lifetime (never stored in the key table)."""
    return LOCAL_KEY_PREFIX + secrets.token_urlsafe(32)


def store_file(db: str) -> str | None:
    """The DuckDB file a store path or URL names; ``None`` for an in-memory store or another engine.

    The server's runtime file and the commands' check for a mistyped store path both need it."""
    if "://" in db:
        scheme, rest = db.split("://", 1)
        if scheme.lower() != "duckdb":
            return None
        db = rest.split("?", 1)[0]
    return None if db in ("", ":memory:", "/:memory:") else db


def runtime_path(db: str) -> Path | None:
    """Where the runtime file of a store lives; ``None`` for stores that are not local files."""
    path = store_file(db)
    return None if path is None else Path(path).with_name(Path(path).name + SUFFIX)


def write_runtime(db: str, url: str, key: str, pid: int | None = None) -> Path | None:
    """Write the runtime file atomically, mode 0600 from its creation; returns its path."""
    path = runtime_path(db)
    if path is None:
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(asdict(Runtime(url=url, key=key, pid=pid or os.getpid(), store=str(db)))).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def read_runtime(db: str) -> Runtime | None:
    """The runtime file of a live server on ``db``, or ``None`` (missing, stale, or not trustworthy)."""
    path = runtime_path(db)
    if path is None:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    try:
        raw = json.loads(path.read_bytes())
        rt = Runtime(url=str(raw["url"]), key=str(raw["key"]), pid=int(raw["pid"]), store=str(raw["store"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rt if _alive(rt.pid) else None


def remove_runtime(db: str, pid: int | None = None) -> None:
    """Remove the runtime file if it is this process's (another server may have replaced it)."""
    path = runtime_path(db)
    if path is None:
        return
    try:
        raw = json.loads(path.read_bytes())
        if int(raw.get("pid", -1)) != (pid or os.getpid()):
            return
        path.unlink()
    except (OSError, ValueError, TypeError, AttributeError):
        return


__all__ = ["SUFFIX", "Runtime", "new_local_key", "read_runtime", "remove_runtime", "runtime_path", "store_file",
           "write_runtime"]
