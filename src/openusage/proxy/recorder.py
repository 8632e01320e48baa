"""Recording usage events off the request path.

A request hands its event to :meth:`Recorder.record`: the event is converted to its typed struct
(cheap), appended to the journal (:mod:`.journal`; the answer's last byte waits for that record to
be on disk) and gathered with others for ``flush_after`` seconds (longer while the writer is still
committing the previous batch, so that under load commits grow instead of multiplying), then turned
into one columnar batch and queued on the server's single writer.  No answer waits for the store.

One bad event never costs the others theirs: a batch the store refuses is split in halves, committed
one after the other, down to the single event at fault (logged and left out).  A batch whose every
event is committed has its journal segment deleted; otherwise the segment stays and is replayed at
the next start.  On shutdown :meth:`aclose` hands over what is gathered and waits for its commit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import msgspec

from ..ingest.events import EVENT_STRUCTS, MAX_STR_LEN, batch_from_structs
from ..server.faults import is_store_fault
from ..store.writer import Writer
from .journal import Journal, encode

log = logging.getLogger("openusage.proxy")

FLUSH_AFTER_S = 0.2
"""Events are gathered this long before a commit: an embedded-store commit costs about the same
(~15 ms of CPU with DuckDB, measured) for 1 event or 1,000, so rare large commits keep the store's share
of the CPU small under load; the journal keeps them safe meanwhile."""
MAX_PENDING = 2_000
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Characters no recorded string keeps (PostgreSQL refuses NUL in text; the rest is never meant)."""


@dataclass
class _Batch:
    """One flushed batch on its way to the store, split further if the store refuses part of it."""

    segment: int | None
    todo: list[list[Any]]
    failed: int = 0
    stored: int = 0


class Recorder:
    def __init__(self, writer: Callable[[], Writer | None], flush_after: float = FLUSH_AFTER_S,
                 journal: Journal | None = None) -> None:
        self._writer = writer
        self._flush_after = flush_after
        self.journal = journal
        self._pending: list[Any] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        self._outstanding = 0
        self.recorded = 0
        self.failed = 0

    def record(self, event: dict[str, Any]) -> asyncio.Future[None] | None:
        """Queue one event (a dict in the ingestion schema); never raises.

        Returns the journal's future, done once the event is on disk (None without a journal)."""
        cleaned = clean(event)
        try:
            struct = msgspec.convert(cleaned, EVENT_STRUCTS[event["type"]])
        except (msgspec.ValidationError, KeyError) as exc:  # a bug, not the client's fault: log, keep serving
            with self._lock:
                self.failed += 1
            log.error("usage event rejected (%s): %r", exc, event)
            return None
        self._pending.append(struct)
        durable = self.journal.append(encode(cleaned)) if self.journal is not None else None
        if len(self._pending) >= MAX_PENDING:
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
        self._next(batch)

    async def aclose(self, timeout: float = 60) -> None:
        """Flush, wait (bounded) for every batch to be settled, then close the journal."""
        self.flush()
        deadline = time.monotonic() + timeout
        while self._outstanding and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if self.journal is not None:
            self.journal.close()

    def _tick(self) -> None:
        self._timer = None
        self.flush(force=False)

    def _next(self, batch: _Batch) -> None:
        """Submit the batch's next part, or settle the batch when none is left."""
        if not batch.todo:
            self._settle(batch)
            return
        part = batch.todo.pop(0)
        writer = self._writer()
        if writer is None:
            batch.failed += len(part)
            log.error("no writer: %d usage events kept in the journal only", len(part))
            self._next(batch)
            return
        fut = writer.submit(batch_from_structs(part))
        fut.add_done_callback(lambda f: self._done(f, batch, part))

    def _done(self, fut: Future[int], batch: _Batch, part: list[Any]) -> None:
        """On the writer's thread: count, or split a refused part so the good events still go in."""
        exc = fut.exception()
        if exc is None:
            batch.stored += len(part)
        elif len(part) > 1 and not is_store_fault(exc):
            half = len(part) // 2
            batch.todo[:0] = [part[:half], part[half:]]
        else:
            batch.failed += len(part)
            if len(part) == 1 and not is_store_fault(exc):
                log.error("usage event refused by the store (%s): %r", exc, msgspec.to_builtins(part[0]))
            else:
                log.error("%d usage events could not be stored (%s); the journal keeps them", len(part), exc)
        self._next(batch)

    def _settle(self, batch: _Batch) -> None:
        if batch.segment is not None and self.journal is not None and not batch.failed:
            self.journal.trim(batch.segment)
        with self._lock:
            self.recorded += batch.stored
            self.failed += batch.failed
            self._outstanding -= 1


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
