"""Mirror a remote Usage API (OpenAI, or another openusage server) into openusage events.

Each result of each bucket becomes one synthetic event, grouped by every ``group_by`` field of
its endpoint so that no dimension is lost, stamped at the bucket's start, with a deterministic id::

    sync:<source host>:<endpoint>:<bucket width>:<bucket start>:<hash of the group's values>

Choices, and why:

* **Only complete buckets.**  The range ends at the last bucket edge before ``now - settle``; the
  bucket still filling is never mirrored.  A mirrored bucket is final for us: re-running sends the
  same ids and the store keeps the first (``accepted`` 0, all ``duplicates``), so nothing is ever
  counted twice.  The price: usage the source reports *late* for a bucket already mirrored is not
  picked up.  ``settle`` (default one hour) waits that long after a bucket ends before taking it,
  which covers OpenAI's usual reporting delay.
* **Buckets aligned** on the width (the start is rounded down), so two runs with different
  ``--since`` produce the same buckets and the same ids.
* **One grain per source.**  The checkpoint records the bucket width; mirroring the same source at
  another width would count the same usage twice, so it is refused.
* **Resumable.**  After each page is stored the checkpoint (``[from, through)`` mirrored, width,
  group set) is saved; the next run continues at ``through`` and back-fills before ``from``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from ..errors import BadRequestError
from ..spec import BUCKET_SECONDS, DIMENSIONS, QUANTITY_UNITS, Endpoint
from .types import Bucket, Page

CHUNK = 10_000
"""Events per write (a server accepts 32 MiB per request; ten thousand events is about 5 MiB)."""
DROPPABLE_GROUPS = ("user_id",)
"""Grouping OpenAI may refuse in combination (costs by user and project): dropped on a 400."""


def source_name(url: str) -> str:
    """The host (and port) of the source, as it appears in event ids."""
    return urlsplit(url).netloc or url


def group_hash(values: Iterable[Any]) -> str:
    return hashlib.blake2b(orjson.dumps(list(values)), digest_size=8).hexdigest()


def event_id(source: str, endpoint: Endpoint, width: str, bucket_start: int, group_values: Iterable[Any]) -> str:
    return f"sync:{source}:{endpoint.name}:{width}:{bucket_start}:{group_hash(group_values)}"


@dataclass
class Stats:
    buckets: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    dropped_values: int = 0
    """Dimension values this store cannot hold (an enum value newer than this version): left out."""
    skipped_results: int = 0
    """Results with a metric this store cannot hold (negative, not a number)."""
    first: int | None = None
    """Start of the earliest bucket copied (None when nothing was to copy)."""
    last: int | None = None
    """End of the latest bucket copied."""


def result_event(endpoint: Endpoint, width: str, source: str, bucket: Bucket[Any], raw: dict[str, Any],
                 group_by: tuple[str, ...], stats: Stats) -> dict[str, Any] | None:
    """The event standing for one result, or None when it cannot be stored."""
    ev: dict[str, Any] = {
        "id": event_id(source, endpoint, width, bucket.start_time, [raw.get(g) for g in group_by]),
        "type": endpoint.event_type,
        "timestamp": bucket.start_time,
    }
    for g in group_by:
        value = raw.get(g)
        if value is None:
            continue
        dim = DIMENSIONS[g]
        if dim.pattern and isinstance(value, str) and re.match(dim.pattern, value):
            pass  # a value wider than the filter's documented ones (an image size), kept
        elif dim.enum and value not in dim.enum:
            stats.dropped_values += 1
            continue
        ev[g] = value
    if endpoint.is_costs:
        amount = raw.get("amount")
        value = amount.get("value") if isinstance(amount, dict) else amount
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            stats.skipped_results += 1
            return None
        ev["amount"] = repr(float(value))  # the decimal the JSON number was written as
        quantity = raw.get("quantity")
        if isinstance(quantity, (int, float)) and not isinstance(quantity, bool) and math.isfinite(quantity):
            ev["quantity"] = float(quantity)
        unit = raw.get("quantity_unit")
        if unit in QUANTITY_UNITS:
            ev["quantity_unit"] = unit
        return ev
    for m in endpoint.metrics:
        value = raw.get(m.name)
        if value is None:
            value = 0  # absent means none (not the ingest default of 1 request)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            stats.skipped_results += 1
            return None
        ev[m.name] = value
    return ev


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    start: int
    """Mirrored from here ..."""
    through: int
    """... up to here (exclusive): every bucket in between is stored."""
    bucket_width: str
    group_by: list[str] = field(default_factory=list)


class Checkpoints(Protocol):
    def get(self, key: str) -> Checkpoint | None: ...

    def put(self, key: str, cp: Checkpoint) -> None: ...


class StoreCheckpoints:
    """Checkpoints in the store's own metadata, next to the events they describe."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, key: str) -> Checkpoint | None:
        raw = self.store.get_meta(key)
        return Checkpoint(**json.loads(raw)) if raw else None

    def put(self, key: str, cp: Checkpoint) -> None:
        self.store.set_meta(key, json.dumps(asdict(cp)))


class FileCheckpoints:
    """Checkpoints in a JSON file (when the events go to a server whose store we cannot reach)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _all(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, key: str) -> Checkpoint | None:
        raw = self._all().get(key)
        return Checkpoint(**raw) if raw else None

    def put(self, key: str, cp: Checkpoint) -> None:
        data = self._all()
        data[key] = asdict(cp)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(self.path)


class NoCheckpoints:
    def get(self, key: str) -> Checkpoint | None:
        return None

    def put(self, key: str, cp: Checkpoint) -> None:
        pass


# --------------------------------------------------------------------------------------------
# The mirror loop
# --------------------------------------------------------------------------------------------

Sink = Callable[[list[dict[str, Any]]], tuple[int, int]]
"""Stores events durably; returns (accepted, duplicates)."""


class GrainMismatch(ValueError):
    pass


def checkpoint_key(source: str, endpoint: Endpoint) -> str:
    return f"sync:{source}:{endpoint.name}"


def plan(endpoint: Endpoint, width: str, since: int, until: int, cp: Checkpoint | None) -> list[tuple[int, int]]:
    """The aligned ranges still to mirror: a back-fill before the checkpoint, then onward from it."""
    w = BUCKET_SECONDS[width]
    start, end = since - since % w, until - until % w
    if cp is None:
        return [(start, end)] if start < end else []
    if cp.bucket_width != width:
        raise GrainMismatch(f"{endpoint.name} from this source is already mirrored at bucket width "
                            f"{cp.bucket_width}; mirroring it at {width} too would count usage twice.")
    ranges = []
    if start < cp.start:
        ranges.append((start, min(cp.start, end)))
    if max(start, cp.through) < end:
        ranges.append((max(start, cp.through), end))
    return ranges


def mirror_endpoint(api: Any, endpoint: Endpoint, width: str, since: int, until: int, source: str, sink: Sink,
                    checkpoints: Checkpoints, progress: Callable[[int, int], None] | None = None) -> Stats:
    """Mirror one endpoint's complete buckets of ``[since, until)``; ``progress(done, total)`` per page."""
    stats = Stats()
    key = checkpoint_key(source, endpoint)
    cp = checkpoints.get(key)
    ranges = plan(endpoint, width, since, until, cp)
    w = BUCKET_SECONDS[width]
    total = sum((e - s) // w for s, e in ranges)
    if progress:
        progress(0, total)
    # OpenAI's groups only: the source's own ``origin`` is not ours (these events enter as the sync's)
    group_by = tuple(cp.group_by) if cp and cp.group_by else endpoint.openai_group_by
    method = getattr(api, endpoint.method_name)
    limit = endpoint.limits[width][1]
    for start, end in ranges:
        backfill = cp is not None and end <= cp.start
        cursor: str | None = None
        for _ in range((end - start) // (w * limit) + 2):  # bounded: one more than the pages needed
            try:
                page: Page[Any] = method(start, end_time=end, bucket_width=width, group_by=list(group_by),
                                         limit=limit, page=cursor)
            except BadRequestError as exc:
                dropped = tuple(g for g in group_by if g not in DROPPABLE_GROUPS)
                about_groups = exc.param == "group_by" or "group" in exc.message.lower()
                if cursor is not None or not about_groups or dropped == group_by or cp is not None:
                    raise
                group_by = dropped  # the source refuses this combination: keep what it allows
                continue
            events: list[dict[str, Any]] = []
            for bucket in page.data:
                for r in bucket.results:
                    ev = result_event(endpoint, width, source, bucket, r._raw, group_by, stats)
                    if ev is not None:
                        events.append(ev)
            for i in range(0, len(events), CHUNK):
                accepted, duplicates = sink(events[i:i + CHUNK])
                stats.accepted += accepted
                stats.duplicates += duplicates
            stats.events += len(events)
            stats.buckets += len(page.data)
            if page.data:
                first, last = page.data[0].start_time, page.data[-1].end_time
                stats.first = first if stats.first is None else min(stats.first, first)
                stats.last = last if stats.last is None else max(stats.last, last)
                edge = page.data[-1].end_time
                if not backfill:
                    cp = Checkpoint(cp.start if cp else start, edge, width, list(group_by))
                    checkpoints.put(key, cp)
                elif cp is not None and end == cp.start and not page.has_more:
                    # the back-fill reached the copied range: one contiguous range again
                    cp = Checkpoint(start, cp.through, width, list(group_by))
                    checkpoints.put(key, cp)
                # (a back-fill that stops short of the copied range leaves a gap: the checkpoint stays)
            if progress:
                progress(stats.buckets, total)
            if not page.has_more or not page.next_page:
                break
            cursor = page.next_page
        else:
            raise RuntimeError(f"{endpoint.name}: the source kept paging past the end of the range")
    return stats
