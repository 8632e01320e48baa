"""Store failures (disk full, database gone, shutting down) answered as 503 with ``retry-after``.

An ingest request is acknowledged only after its commit, so a failed commit means nothing of the
request was acknowledged: the client is told to retry, and retrying is safe (events are idempotent
by id).  Programming errors (bad SQL, bad types) are not faults of the environment and stay 500s.
"""

from __future__ import annotations

from functools import cache

from ..errors import RequestTooLargeError, ServiceUnavailableError
from ..store.base import CommitTooLargeError

RETRY_AFTER_S = 2


@cache
def store_fault_types() -> tuple[type[BaseException], ...]:
    """Exception classes meaning "the store is unavailable now", for the engines installed."""
    import duckdb

    types: list[type[BaseException]] = [OSError, duckdb.OperationalError, duckdb.FatalException]
    try:
        import psycopg

        types += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:  # PostgreSQL support not installed
        pass
    return tuple(types)


def is_too_large(exc: BaseException) -> bool:
    """One commit too large for the store's memory bound (:class:`~openusage.store.base.CommitTooLargeError`):
    the request's own fault, answered 413; the requests committed with it go in without it."""
    return isinstance(exc, CommitTooLargeError)


def too_large_error(exc: BaseException) -> RequestTooLargeError:
    return RequestTooLargeError(str(exc), code="commit_too_large")


def is_store_fault(exc: BaseException) -> bool:
    if isinstance(exc, RuntimeError) and "shutting down" in str(exc):  # the writer is closing
        return True
    # other engines' drivers (clickhouse-connect, ...) follow DB-API names
    return isinstance(exc, store_fault_types()) or type(exc).__name__ in ("OperationalError", "InterfaceError")


def unavailable_error() -> ServiceUnavailableError:
    return ServiceUnavailableError(
        "The usage store is unavailable right now (storage full or database unreachable); nothing of this "
        f"request was recorded. Retry after {RETRY_AFTER_S} s; events are idempotent by id.",
        code="store_unavailable", headers={"retry-after": str(RETRY_AFTER_S)},
    )
