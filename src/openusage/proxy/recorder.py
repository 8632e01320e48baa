"""Recording usage events off the request path.

A request hands its event to :meth:`Recorder.record`: the event is converted to its typed struct
(cheap), appended to the journal (:mod:`.journal`; the answer's last byte waits for that record to
be on disk) and gathered with others for ``flush_after`` seconds (longer while the writer is still
committing the previous batch, so that under load commits grow instead of multiplying), then turned
into one columnar batch, on a thread of its own (not the event loop), and queued on the server's single
writer.  No answer waits for the store.

One bad event never costs the others theirs: a batch the store refuses is split in halves, committed
one after the other, down to the single event at fault (logged and left out).  An unavailable store
is retried, backing off.  A batch whose every event is committed has its journal segment deleted;
otherwise the segment stays and is replayed at the next start.  On shutdown :meth:`aclose` hands over
what is gathered and waits (bounded) for its commit; past that bound the recorder stops where it is:
no later part goes to the store and no segment is trimmed, so the closed journal keeps every event not
settled for the next start (replayed idempotently).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec

from ..ingest.events import CONTROL_CHARS, EVENT_STRUCTS, MAX_STR_LEN, batch_from_structs
from ..server.faults import is_store_fault
from ..store.writer import Writer
from .journal import OPEN, Journal, encode, request_key

log = logging.getLogger("openusage.proxy")

FLUSH_AFTER_S = 1.0
"""Events are gathered this long before a commit: a DuckDB commit costs ~10 ms of CPU whatever its size,
plus ~2.5 µs per event, and building its batch ~1.5 ms plus ~3-5 µs per event (measured), so one commit a
second keeps the store's share of a proxied request's CPU at a few µs under load (at 0.2 s it was ~20 µs
at 6,600 requests/s); the journal keeps the events safe meanwhile.  The Usage API sees them within about
a second."""
MAX_PENDING = 10_000
"""Events gathered at most before a commit, whatever the interval (a bound on the memory they hold)."""
RETRY_MAX_S = 30.0
MAX_RETRYING = 200_000
"""Events held in memory for retries while the store is unavailable; beyond, the journal alone keeps
them until the next start."""
CONTROL = CONTROL_CHARS
"""Characters no recorded string keeps, as ingestion refuses them (C0, DEL, C1, lone surrogates):
PostgreSQL cannot store NUL, the others break logs, exports and terminals."""


@dataclass
class _Batch:
    """One flushed batch on its way to the store, split further if the store refuses part of it."""

    segment: int | None
    todo: list[list[Any]]
    failed: int = 0
    kept: int = 0
    """Events the store could not take for being unavailable: the journal segment stays for them."""
    stored: int = 0
    delay: float = 0.0
    """Seconds before the next attempt after the store was unavailable (doubling, up to a limit)."""


class Recorder:
    def __init__(self, writer: Callable[[], Writer | None], flush_after: float = FLUSH_AFTER_S,
                 journal: Journal | None = None, max_pending: int = MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._writer = writer
        self._flush_after = flush_after
        self._max_pending = max_pending
        self.journal = journal
        self._pending: list[Any] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        self._outstanding = 0
        self._closing = False
        self._abandoned = False
        """Set (under the lock) when :meth:`aclose` gave up waiting: threads still at work hand nothing more
        to the store and trim nothing, the journal being closed."""
        self._retries: dict[threading.Timer, _Batch] = {}
        self._retrying = 0
        self._builder: ThreadPoolExecutor | None = None
        """Builds each flushed batch's columns and hands it to the writer, off the event loop: a second's
        events (thousands under load) take tens of milliseconds to build, which would hold every request."""
        self.recorded = 0
        self.failed = 0

    def begin(self, event: dict[str, Any], checked: bool = False) -> asyncio.Future[None] | None:
        """Journal a streamed request's event as if cut off, before its answer starts: if the process
        dies before the stream's own event is recorded, this one is replayed.  Not queued for the store."""
        if self.journal is None:
            return None
        return self.journal.append(encode({**(event if checked else clean(event)), OPEN: True}),
                                   opens=request_key(event["id"]))

    def record(self, event: dict[str, Any], ends: bool = False, checked: bool = False) -> asyncio.Future[None] | None:
        """Queue one event (a dict in the ingestion schema); never raises.  ``ends`` a :meth:`begin`.
        ``checked``: every string of the event is known to be one the store takes (the proxy's own
        events: a client's strings are refused at the door, an upstream's cleaned as metering reads them),
        so :func:`clean` is skipped (over a quarter of recording the event on the event loop).

        Returns the journal's future, done once the event is on disk (None without a journal)."""
        cleaned = event if checked else clean(event)
        try:
            struct = msgspec.convert(cleaned, EVENT_STRUCTS[event["type"]])
        except (msgspec.ValidationError, KeyError) as exc:  # a bug, not the client's fault: log, keep serving
            with self._lock:
                self.failed += 1
            log.error("usage event rejected (%s): %r", exc, event)
            return None
        self._pending.append(struct)
        durable = None
        if self.journal is not None:
            durable = self.journal.append(encode(cleaned), closes=request_key(event["id"]) if ends else None)
        if len(self._pending) >= self._max_pending:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_after, self._tick)
        return durable

    def flush(self, force: bool = True) -> None:
        """Hand what is gathered to the writer (which commits it in the background)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        if not force and self._outstanding:
            # the writer is still committing our last batch: keep gathering, so that under load
            # commits grow larger instead of more frequent
            self._timer = asyncio.get_running_loop().call_later(self._flush_after, self._tick)
            return
        events, self._pending = self._pending, []
        segment = self.journal.rotate() if self.journal is not None else None
        batch = _Batch(segment, [events])
        with self._lock:
            self._outstanding += 1
        if self._builder is None:
            self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openusage-usage-batch")
        self._builder.submit(self._next, batch).add_done_callback(_log_failure)

    async def aclose(self, timeout: float = 60) -> None:
        """Flush, wait (bounded) for every batch to be settled, then close the journal.  Batches waiting
        to retry get one last attempt now; what still fails stays in the journal for the next start.

        Past ``timeout`` the batches still under way are abandoned before the journal closes: a part
        being committed may still land (ids are keys, so the replay counts it once), but nothing more is
        submitted or trimmed, so the journal keeps all of their events."""
        self._closing = True
        self.flush()
        with self._lock:
            waiting = list(self._retries)
        for timer in waiting:
            timer.cancel()
            self._resume(timer)
        deadline = time.monotonic() + timeout
        while self._outstanding and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        with self._lock:
            self._abandoned = True  # from here on no thread trims the journal or submits to the store
            left = self._outstanding
        if left:
            log.error("%d usage batches not committed within %.0f s of shutdown: the journal keeps them for "
                      "the next start", left, timeout)
        if self._builder is not None:
            self._builder.shutdown(wait=False, cancel_futures=True)  # a build under way finds _abandoned
            self._builder = None
        if self.journal is not None:
            self.journal.close()

    def _tick(self) -> None:
        self._timer = None
        self.flush(force=False)

    def _next(self, batch: _Batch) -> None:
        """Submit the batch's next part, or settle the batch when none is left (or the close gave up)."""
        while batch.todo:
            part = batch.todo.pop(0)
            writer = self._writer()
            if writer is None:
                batch.failed += len(part)
                batch.kept += len(part)
                log.error("no writer: %d usage events kept in the journal only", len(part))
                continue
            try:
                table = batch_from_structs(part, origin="proxy")
            except Exception as exc:  # refused before the store: split like a refused commit
                self._refused(batch, part, exc)
                continue
            if self._abandoned:  # the journal is closed and keeps the rest for the next start
                left = len(part) + sum(len(p) for p in batch.todo)
                batch.failed += left
                batch.kept += left
                batch.todo.clear()
                break
            fut = writer.submit(table)
            fut.add_done_callback(lambda f, part=part: self._done(f, batch, part))  # type: ignore[misc]
            return
        self._settle(batch)

    def _done(self, fut: Future[int], batch: _Batch, part: list[Any]) -> None:
        """On the writer's thread: count the part, or split it if refused, then go on."""
        exc = fut.exception()
        if exc is None:
            batch.stored += len(part)
            batch.delay = 0.0
        elif self._retry_later(batch, part, exc):
            return
        else:
            self._refused(batch, part, exc)
        self._next(batch)

    def _retry_later(self, batch: _Batch, part: list[Any], exc: BaseException) -> bool:
        """An unavailable store (down, disk full): try the part again later, backing off."""
        if self._closing or not is_store_fault(exc) or "shutting down" in str(exc):
            return False
        with self._lock:
            if self._retrying + len(part) > MAX_RETRYING:
                return False
            self._retrying += len(part)
            batch.todo.insert(0, part)
            batch.delay = min(max(batch.delay * 2, 0.5), RETRY_MAX_S)
            timer = threading.Timer(batch.delay, self._resume)
            timer.args = (timer,)
            timer.daemon = True
            self._retries[timer] = batch
        log.warning("usage store unavailable (%s): %d usage events retried in %.1f s", exc, len(part), batch.delay)
        timer.start()
        return True

    def _resume(self, timer: threading.Timer) -> None:
        """Retry a batch's part (from its timer, or at close); whoever takes the timer first does it."""
        with self._lock:
            batch = self._retries.pop(timer, None)
            if batch is None:
                return
            self._retrying -= len(batch.todo[0])
        self._next(batch)

    def _refused(self, batch: _Batch, part: list[Any], exc: BaseException) -> None:
        """Split a refused part so that its good events still go in; an unavailable store is not split."""
        if len(part) > 1 and not is_store_fault(exc):
            half = len(part) // 2
            batch.todo[:0] = [part[:half], part[half:]]
            return
        batch.failed += len(part)
        if is_store_fault(exc):
            batch.kept += len(part)
        if len(part) == 1 and not is_store_fault(exc):
            log.error("usage event refused by the store (%s): %r", exc, msgspec.to_builtins(part[0]))
        else:
            log.error("%d usage events could not be stored (%s); the journal keeps them", len(part), exc)

    def _settle(self, batch: _Batch) -> None:
        with self._lock:  # under the lock: aclose sets _abandoned under it before closing the journal
            if batch.segment is not None and self.journal is not None and not batch.kept and not self._abandoned:
                self.journal.trim(batch.segment)
            self.recorded += batch.stored
            self.failed += batch.failed
            self._outstanding -= 1


def _log_failure(fut: Future[None]) -> None:
    """A batch whose handing over failed unexpectedly (a bug): logged, its journal segment stays."""
    if fut.cancelled():  # queued when the close gave up: its segment stays in the journal
        return
    exc = fut.exception()
    if exc is not None:
        log.error("usage batch not handed to the store (kept in the journal): %r", exc, exc_info=exc)


def clean(event: dict[str, Any]) -> dict[str, Any]:
    """Drop empty strings, control characters and what is too long, so that an upstream's answer
    (a model name, a service tier) never fails validation or the store."""
    out: dict[str, Any] = {}
    for k, v in event.items():
        if isinstance(v, str) and k not in ("id", "type"):
            if CONTROL.search(v):
                v = CONTROL.sub("", v)
            v = v[:MAX_STR_LEN]
            if not v:
                continue
        if v is not None:
            out[k] = v
    return out
