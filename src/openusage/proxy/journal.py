"""A local append-only journal of proxied usage, so that a crash loses no billing data.

The store commits proxied usage in batches about once a second; a process killed in between would lose the
usage of answers its clients already have.  So each event is appended here first, and the answer's
last byte is sent only once the record is on disk: one writer thread writes whatever has gathered
and fsyncs it once (group commit), so concurrent requests share one fsync.

Layout: a directory (beside the store file by default) of segments ``<process>-<n>.jnl`` and one
``<process>.lock`` per process, held with ``flock`` for the process's life (several workers may share
the directory).  The recorder starts a new segment with each batch it hands to the store, and the
segment is deleted once every event of that batch is committed and every older segment is deleted.
A streamed answer journals, before it starts, its event as if cut off, marked open (:data:`OPEN`): it
is carried into the newest segment when its own is deleted, until the stream's own event closes it,
so a crash mid-stream still leaves the request recorded, marked cut.  At start, the segments of processes
no longer alive (their lock is free) are replayed into the store, idempotently: an event's id is its
key, so events committed before the crash count once.

A record is ``<length u32><crc32 u32><JSON event>``.  A crash can leave a record half written at a
segment's end; reading stops at the first record that is short or fails its checksum.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..store.base import Store
from ..store.writer import Writer

log = logging.getLogger("openusage.proxy")

_HEAD = struct.Struct("<II")
SUFFIX = ".jnl"
OPEN = "_open"
"""Marks a record that stands only if no later record of the same request ends it: a stream's event as
if cut off, journaled before its answer starts, replayed only when the stream's own end never came."""


def request_key(event_id: str) -> str:
    """What the ids of one request's events share: ``pxy-cut-<process>-<n>`` and ``pxy-<process>-<n>``."""
    return "-".join(event_id.rsplit("-", 2)[-2:])


def resolve(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events to replay: every final one, and the open ones of requests that have none."""
    finals = [r for r in records if not r.get(OPEN)]
    ended = {request_key(r["id"]) for r in finals if isinstance(r.get("id"), str)}
    still_open: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get(OPEN) and isinstance(r.get("id"), str) and request_key(r["id"]) not in ended:
            still_open[r["id"]] = {k: v for k, v in r.items() if k != OPEN}  # carried copies count once
    return finals + list(still_open.values())


def default_journal_dir(store: Store) -> Path | None:
    """``<store file>.proxy-journal`` beside a file store; the user's state directory for server stores;
    None for an in-memory store (nothing of it survives a crash anyway)."""
    path = getattr(store, "path", None)
    if isinstance(path, str):
        return None if path in ("", ":memory:") else Path(path).with_name(Path(path).name + ".proxy-journal")
    if getattr(store, "url", "").startswith(("duckdb", "chdb")):
        return None
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "openusage" / "proxy-journal"


def encode(event: dict[str, Any]) -> bytes:
    payload = orjson.dumps(event)
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def read_segment(path: Path) -> Iterator[dict[str, Any]]:
    """The events of one segment, up to the first incomplete or damaged record."""
    data = path.read_bytes()
    pos = 0
    while pos + _HEAD.size <= len(data):
        size, crc = _HEAD.unpack_from(data, pos)
        payload = data[pos + _HEAD.size:pos + _HEAD.size + size]
        if len(payload) < size or zlib.crc32(payload) != crc:
            break
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            break
        if isinstance(event, dict):
            yield event
        pos += _HEAD.size + size
    if pos < len(data):
        log.warning("journal %s: %d bytes of an unfinished record at its end ignored", path, len(data) - pos)


def orphans(directory: Path) -> list[tuple[Path, list[Path]]]:
    """(lock file, segments) of each process that wrote here and is no longer alive, its lock now held
    by the caller (released by :func:`release`)."""
    if not directory.is_dir():
        return []
    by_owner: dict[str, list[Path]] = {}
    for seg in sorted(directory.glob("*" + SUFFIX), key=_segment_order):
        by_owner.setdefault(seg.name.rsplit("-", 1)[0], []).append(seg)
    for lock in directory.glob("*.lock"):
        by_owner.setdefault(lock.name[:-len(".lock")], [])
    found = []
    for owner, segments in by_owner.items():
        lock = directory / f"{owner}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(lock).st_ino != os.fstat(fd).st_ino:  # replaced meanwhile: its owner is starting
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):  # alive: its journal is its own
            os.close(fd)
            continue
        _held[lock] = fd
        found.append((lock, segments))
    return found


_held: dict[Path, int] = {}


def release(lock: Path, segments: list[Path]) -> None:
    """Delete a dead process's replayed segments and its lock."""
    for seg in segments:
        seg.unlink(missing_ok=True)
    lock.unlink(missing_ok=True)
    fd = _held.pop(lock, None)
    if fd is not None:
        os.close(fd)


def _segment_order(p: Path) -> tuple[str, int]:
    owner, _, n = p.stem.rpartition("-")
    return owner, int(n) if n.isdigit() else -1


class Journal:
    """This process's journal: :meth:`append` on the event loop, writes and fsyncs on a thread.

    The thread sleeps on a bare lock (``_bell``) rung at most once per sleep, not a
    ``threading.Condition``: each group costs the loop one lock release and the thread one wake-up,
    with nothing in Python around them."""

    def __init__(self, directory: Path, owner: str) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.owner = owner
        self._lock_fd = _hold(directory / f"{owner}.lock")
        self.segment = 0
        """The segment new records go to; :meth:`rotate` moves on to the next."""
        self._mutex = threading.Lock()
        self._files: dict[int, int] = {}
        """Segment -> its open descriptor (the writer thread's)."""
        self._bell = threading.Lock()
        self._bell.acquire()  # held while nobody rings: the thread sleeps acquiring it
        self._waiting = False
        """The writer thread sleeps (set under the mutex): only then is the bell rung, once."""
        self._records: list[tuple[int, bytes]] = []
        self._group: asyncio.Future[None] | None = None
        self._committed: set[int] = set()
        self._next_trim = 0
        self._open: dict[int, dict[str, bytes]] = {}
        """Segment -> the open records in it (streams begun, not ended), by key."""
        self._open_in: dict[str, int] = {}
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.fsyncs = 0
        """fsyncs made: one per group (and segment)."""
        self._thread = threading.Thread(target=self._run, name="openusage-journal", daemon=True)
        self._thread.start()

    def path(self, segment: int) -> Path:
        return self.directory / f"{self.owner}-{segment}{SUFFIX}"

    def append(self, record: bytes, opens: str | None = None, closes: str | None = None) -> asyncio.Future[None]:
        """Queue one encoded record; the future resolves once it is on disk (with its whole group).

        ``opens`` names a record that stands until a later one ``closes`` it (a stream's interrupted
        event, until its final one): it is carried into newer segments as older ones are deleted."""
        with self._mutex:
            if self._group is None:
                self._loop = asyncio.get_running_loop()
                self._group = self._loop.create_future()
            group = self._group
            self._records.append((self.segment, record))
            if opens is not None:
                self._open.setdefault(self.segment, {})[opens] = record
                self._open_in[opens] = self.segment
            if closes is not None and (seg := self._open_in.pop(closes, None)) is not None:
                self._open[seg].pop(closes, None)
            self._ring()  # if the writer thread is busy, it takes these records on its next turn
        return group

    def _ring(self) -> None:
        """Under the mutex: wake the writer thread if it sleeps."""
        if self._waiting:
            self._waiting = False
            self._bell.release()

    def rotate(self) -> int:
        """Start a new segment; returns the one just closed (call from the event loop)."""
        with self._mutex:
            self.segment += 1
            return self.segment - 1

    def trim(self, segment: int) -> None:
        """Every event of ``segment`` is in the store: delete it once every older one is deleted (so a
        stream's final record never goes before its open one), its open records carried forward."""
        with self._mutex:
            if self._closing:  # closed or closing: the segment stays, replayed (idempotently) at the next start
                return
            self._committed.add(segment)
            self._ring()

    def _trimmable(self) -> tuple[list[int], list[tuple[int, bytes]]]:
        """Under the mutex: the segments to delete now, in order, and the open records to carry on."""
        trims: list[int] = []
        carried: list[tuple[int, bytes]] = []
        while self._next_trim in self._committed and self._next_trim < self.segment:
            seg = self._next_trim
            self._committed.discard(seg)
            for key, rec in self._open.pop(seg, {}).items():
                self._open.setdefault(self.segment, {})[key] = rec
                self._open_in[key] = self.segment
                carried.append((self.segment, rec))
            trims.append(seg)
            self._next_trim += 1
        return trims, carried

    def close(self) -> None:
        """Write what is queued, apply trims, stop the thread, let go of the lock."""
        with self._mutex:
            self._closing = True
            self._ring()
        self._thread.join(timeout=30)
        os.close(self._lock_fd)
        if not any(self.directory.glob(f"{self.owner}-*{SUFFIX}")):
            (self.directory / f"{self.owner}.lock").unlink(missing_ok=True)

    def _run(self) -> None:
        while True:
            with self._mutex:
                idle = self._waiting = not (self._records or self._closing or (
                    self._next_trim in self._committed and self._next_trim < self.segment))
                if not idle:
                    records, self._records = self._records, []
                    group, self._group = self._group, None
                    trims, carried = self._trimmable()
                    closing = self._closing
            if idle:
                self._bell.acquire()  # until :meth:`_ring`
                continue
            failed: OSError | None = None
            try:
                self._write(records + carried)  # carried on before their old segment goes
            except OSError as exc:  # disk full: the answers waiting on this group are withheld
                log.error("proxy journal: write failed, %d usage events not journaled: %s", len(records), exc)
                failed = exc
                trims = []
            if group is not None:
                self._resolve(group, failed)
            if (trims or closing) and self._delete(trims, closing):
                return

    def _resolve(self, group: asyncio.Future[None], failed: OSError | None) -> None:
        """Hand a group's outcome to the event loop that waits for it."""
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(_settle, group, failed)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _delete(self, trims: list[int], closing: bool) -> bool:
        """Delete trimmed segments; when closing and nothing is left to do, close every file: True then."""
        for seg in trims:
            fd = self._files.pop(seg, None)
            if fd is not None:
                os.close(fd)
            self.path(seg).unlink(missing_ok=True)
        if closing and not self._records and not trims:
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()
            return True
        return False

    def _write(self, records: list[tuple[int, bytes]]) -> None:
        """Append records to their segments, each segment's in one write, then fsync it."""
        files = self._files
        by_segment: dict[int, list[bytes]] = {}
        for seg, rec in records:
            by_segment.setdefault(seg, []).append(rec)
        for seg, recs in by_segment.items():
            fd = files.get(seg)
            if fd is None:
                fd = files[seg] = os.open(self.path(seg), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                _fsync_dir(self.directory)  # the new file's name must survive a power cut too
            end = os.lseek(fd, 0, os.SEEK_END)
            data = memoryview(b"".join(recs))
            try:
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)  # not O_DSYNC: measured slower here for a lone record (see docs/performance.md)
            except OSError:  # disk full: no half record may stay to hide the ones written after it
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, end)
                raise
            self.fsyncs += 1
        for seg in [s for s in files if s < self.segment - 1 and s not in by_segment]:
            os.close(files.pop(seg))  # an older segment is written no more: keep few descriptors open


class JournalWriteError(OSError):
    """The journal could not put a group on disk: its answers must not be delivered as if recorded."""


def _settle(group: asyncio.Future[None], failed: OSError | None = None) -> None:
    if group.done():
        return
    if failed is None:
        group.set_result(None)
    else:
        group.set_exception(JournalWriteError(f"the usage journal could not be written: {failed}"))


async def replay_orphans(directory: Path, writer: Writer) -> int:
    """Commit the journaled events of processes that died (idempotent: ids are keys); returns how many
    events were replayed.  A dead process's journal is deleted once all of it is in the store."""
    replayed = 0
    for lock, segments in orphans(directory):
        events = resolve([e for seg in segments for e in read_segment(seg)])
        try:
            for i in range(0, len(events), REPLAY_CHUNK):
                await _insert_isolating(events[i:i + REPLAY_CHUNK], writer)
        except Exception as exc:  # the store is unavailable: keep the journal for the next start
            log.error("proxy journal %s not replayed (kept for the next start): %s", lock.stem, exc)
            fd = _held.pop(lock, None)
            if fd is not None:
                os.close(fd)
            continue
        replayed += len(events)
        release(lock, segments)
    return replayed


REPLAY_CHUNK = 20_000


async def _insert_isolating(events: list[dict[str, Any]], writer: Writer) -> None:
    """Insert events; a part the store (or validation) refuses is split down to the bad event, which is
    logged and left out.  A store fault (unreachable, disk full) propagates."""
    from ..errors import ApiError
    from ..ingest.events import validate_events
    from ..server.faults import is_store_fault

    if not events:
        return
    try:
        await writer.write(validate_events(events, origin="proxy"))
        return
    except Exception as exc:
        if is_store_fault(exc):
            raise
        if len(events) == 1:
            reason = exc.message if isinstance(exc, ApiError) else exc
            log.error("journaled usage event refused, left out (%s): %r", reason, events[0])
            return
    half = len(events) // 2
    await _insert_isolating(events[:half], writer)
    await _insert_isolating(events[half:], writer)


def _hold(lock: Path) -> int:
    """Create and flock our lock file.  Another process's start may take it for a dead one's for a
    moment (and delete it): wait for its lock, and start over if the file we hold is not the one at
    the path any more."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
