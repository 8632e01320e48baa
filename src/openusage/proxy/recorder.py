"""Recording usage events off the request path.

A request hands its event to :meth:`Recorder.record` and moves on: the event is converted to its
typed struct (cheap), gathered with others for ``flush_after`` seconds (longer while the writer is still
committing the previous batch, so that under load commits grow instead of multiplying), turned into
one columnar batch and queued on the server's single writer.
No answer ever waits for the store.  On shutdown :meth:`flush` hands over what is gathered before the
writer drains its queue, so a clean stop loses nothing; a crash loses the events of the last
``flush_after`` seconds (0.2 by default) not yet committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import msgspec

from ..ingest.events import CONTROL_CHARS, EVENT_STRUCTS, MAX_STR_LEN, batch_from_structs
from ..store.writer import Writer

log = logging.getLogger("openusage.proxy")

FLUSH_AFTER_S = 0.2
"""Events are gathered this long before a commit: an embedded-store commit costs about the same
(~15 ms of CPU with DuckDB, measured) for 1 event or 1,000, so rare large commits keep the store's share
of the CPU small under load; the price is that a crash loses up to this much recent usage."""
MAX_PENDING = 2_000


class Recorder:
    def __init__(self, writer: Callable[[], Writer | None], flush_after: float = FLUSH_AFTER_S) -> None:
        self._writer = writer
        self._flush_after = flush_after
        self._pending: list[Any] = []
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: Future[int] | None = None
        self.recorded = 0
        self.failed = 0

    def record(self, event: dict[str, Any]) -> None:
        """Queue one event (a dict in the ingestion schema); never raises."""
        try:
            struct = msgspec.convert(_clean(event), EVENT_STRUCTS[event["type"]])
        except (msgspec.ValidationError, KeyError) as exc:  # a bug, not the client's fault: log, keep serving
            self.failed += 1
            log.error("usage event rejected (%s): %r", exc, event)
            return
        self._pending.append(struct)
        if len(self._pending) >= MAX_PENDING:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_after, self._tick)

    def flush(self, force: bool = True) -> None:
        """Hand what is gathered to the writer (which commits it in the background)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        if not force and self._inflight is not None and not self._inflight.done():
            # the writer is still committing our last batch: keep gathering, so that under load
            # commits grow larger instead of more frequent
            self._timer = asyncio.get_running_loop().call_later(self._flush_after, self._tick)
            return
        events, self._pending = self._pending, []
        writer = self._writer()
        if writer is None:
            self.failed += len(events)
            log.error("no writer: %d usage events dropped", len(events))
            return
        fut = writer.submit(batch_from_structs(events))
        fut.add_done_callback(lambda f, n=len(events): self._done(f, n))
        self._inflight = fut

    def _tick(self) -> None:
        self._timer = None
        self.flush(force=False)

    def _done(self, fut: Future[int], n: int) -> None:
        exc = fut.exception()
        if exc is not None:
            self.failed += n
            log.error("%d usage events could not be stored: %s", n, exc)
        else:
            self.recorded += n


def _clean(event: dict[str, Any]) -> dict[str, Any]:
    """Drop empty strings and cut long ones, so client-chosen values (``user``) never fail validation."""
    out: dict[str, Any] = {}
    for k, v in event.items():
        if isinstance(v, str) and k not in ("id", "type"):
            v = CONTROL_CHARS.sub("", v)[:MAX_STR_LEN]
            if not v:
                continue
        if v is not None:
            out[k] = v
    return out
