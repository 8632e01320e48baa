"""Writer threads per store (one unless the store's engine takes concurrent inserts), fed by a queue,
each committing several requests at once.

Every ingest request waits for the commit that holds its events, so an answer is only sent once its
events are durable.  Requests arriving while a commit runs are gathered into the next one (group
commit), which keeps throughput high without weakening the guarantee.  With two threads (PostgreSQL:
:attr:`openusage.store.postgres_store.PostgresStore.writer_threads`) the next commit starts while the
previous one runs instead of after it: a request waits for one commit, not one and a half on average,
and the two overlap but where they add into the same rollup rows (the engine's row locks order them).

One request must never make the others of its commit fail: when a group commit fails for any reason
but an outage of the store, each of its requests is committed again on its own, so only the faulty
one is refused.  An outage (disk full, connection lost) fails every waiter at once, to be retried.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from ..ingest.events import EventBatch

MAX_ROWS_PER_COMMIT = 100_000


def _is_outage(exc: BaseException) -> bool:
    """The server's definition of a store outage (imported here: the server imports this module)."""
    from ..server.faults import is_store_fault

    return is_store_fault(exc)


class Writer:
    def __init__(self, insert: Callable[[list[EventBatch]], list[int]], threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"a writer needs at least one thread, not {threads}")
        self._insert = insert
        self._queue: queue.Queue[tuple[EventBatch, Future[int]] | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._run, name=f"openusage-writer-{i}", daemon=True)
                         for i in range(threads)]
        self._closed = False
        for thread in self._threads:
            thread.start()

    def submit(self, batch: EventBatch) -> Future[int]:
        """Queue a batch; the future resolves to the number of new events once committed."""
        fut: Future[int] = Future()
        if self._closed:
            fut.set_exception(RuntimeError("the store is shutting down"))
            return fut
        self._queue.put((batch, fut))
        return fut

    async def write(self, batch: EventBatch) -> int:
        return await asyncio.wrap_future(self.submit(batch))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            pending = [item]
            rows = len(item[0])
            stop = False
            while rows < MAX_ROWS_PER_COMMIT:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                pending.append(nxt)
                rows += len(nxt[0])
            self._commit(pending)
            if stop:
                return

    def _commit(self, pending: list[tuple[EventBatch, Future[int]]]) -> None:
        """Commit the requests together; if that fails, each alone, so the faulty one fails alone."""
        try:
            counts = self._insert([b for b, _ in pending])
        except Exception as exc:
            if len(pending) == 1 or _is_outage(exc):  # an outage: every waiter retries later
                for _, fut in pending:
                    fut.set_exception(exc)
                return
            for item in pending:
                self._commit([item])
        except BaseException as exc:  # not an error of one request: every waiter learns of it
            for _, fut in pending:
                fut.set_exception(exc)
        else:
            for (_, fut), n in zip(pending, counts, strict=True):
                fut.set_result(n)

    def close(self) -> None:
        """Finish every queued batch, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:  # one stop mark per thread, after every batch queued
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
