"""The storage interface every engine implements, and the request it answers.

A store keeps usage events (one wide table, columns from :data:`openusage.ingest.events.SCHEMA`),
API keys, and a little metadata (the schema version).  Aggregation happens in the engine, in SQL
built by :mod:`openusage.store.sql`; the store hands back an Arrow table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from ..ingest.events import EventBatch


class StoreUpgradeError(RuntimeError):
    """A store's schema could not be brought up to date; the message says why and that nothing changed."""


class CommitTooLargeError(RuntimeError):
    """One commit's events need more memory than the store may use (an embedded store's ``memory_limit``):
    nothing of them was stored.  Not an outage: the same commit fails again, smaller ones go in."""

    def __init__(self, events: int, memory_limit: int) -> None:
        super().__init__(
            f"{events:,} events in one commit need more memory than this store may use (memory_limit "
            f"{memory_limit / 2**20:,.0f} MiB); nothing of them was stored. Send fewer events at a time "
            "(--chunk-size, smaller requests), or raise memory_limit on the store URL.")
        self.events = events


@dataclass(frozen=True)
class Aggregate:
    """One aggregation: events of a type in [start, end), bucketed, filtered and grouped.

    ``start_s``/``end_s`` are Unix seconds.  The answer has a ``bucket`` column (the aligned bucket
    start in seconds), one column per ``group_by`` dimension and one per metric.
    """

    event_type: str
    start_s: int
    end_s: int
    width_s: int
    group_by: tuple[str, ...] = ()
    filters: dict[str, tuple[str, ...] | bool] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    gauges: tuple[str, ...] = ()
    """Metrics that are the per-project maximum in the bucket, summed over projects."""
    decimals: tuple[str, ...] = ()
    """Metrics summed exactly (money)."""
    with_quantity: bool = False
    """Costs: add summed ``quantity`` and the ``quantity_unit`` (meaningful per line item)."""
    max_rows: int | None = None
    """Answer at most this many rows (the first, in bucket order): bounds one page's memory."""


@dataclass
class ApiKeyRecord:
    key_id: str
    name: str
    scope: str
    projects: list[str] | None
    salt: str
    hash: str
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "name": self.name,
            "scope": self.scope,
            "projects": self.projects,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def redact(url: str) -> str:
    """A store URL fit to print: any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class DuplicateRepair(Protocol):
    """Finding and removing events stored twice, for an engine whose id check and insert are two
    statements (ClickHouse): writers in several processes may then both store one new id."""

    def duplicates(self) -> tuple[int, int]:
        """Events stored more than once: how many, and how many extra copies the rollups counted."""

    def repair(self) -> tuple[int, int]:
        """Take the extra copies out of the rollups and the raw events; returns what was found."""


class Store(Protocol):
    url: str

    def duplicate_repair(self) -> DuplicateRepair | None:
        """The store's duplicate repair, or ``None`` when every insert deduplicates in one transaction."""

    def migrate(self) -> int:
        """Bring the schema to the current version; returns the version."""

    def insert(self, batches: list[EventBatch]) -> list[int]:
        """Store batches in one transaction, durably; returns how many new events each added."""

    def aggregate(self, agg: Aggregate) -> pa.Table: ...

    def count_events(self) -> int: ...

    def put_key(self, record: ApiKeyRecord) -> None: ...

    def get_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_keys(self) -> list[ApiKeyRecord]: ...

    def revoke_key(self, key_id: str, at: int) -> bool: ...

    def get_meta(self, name: str) -> str | None: ...

    def set_meta(self, name: str, value: str) -> None: ...

    def meta_items(self) -> dict[str, str]:
        """Every metadata entry (``openusage migrate`` copies them)."""

    def scan(self, after: tuple[int, str] | None, limit: int) -> pa.Table:
        """About ``limit`` events in ``(ts_us, id)`` order after ``after``, in the events schema; the
        chunk ends with every event of its last ``(ts_us, id)`` (one id may be in several projects)."""

    def close(self) -> None: ...
