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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeGuard
from urllib.parse import urlsplit

import httpx
import orjson

from ..errors import ApiError, BadRequestError
from ..spec import BUCKET_SECONDS, DIMENSIONS, QUANTITY_UNITS, Endpoint
from .types import Bucket, Page

CHUNK = 10_000
"""Events per write (a server accepts 32 MiB per request; ten thousand events is about 5 MiB)."""
DROPPABLE_GROUPS = ("user_id",)
"""Grouping OpenAI may refuse in combination (costs by user and project): dropped on a 400."""


MAX_ANSWER_BYTES = 256 * 1024 * 1024
"""The largest answer read from a source.  A full page of minute buckets with many groups is tens
of MiB; anything past this is a broken or hostile source, refused before it fills the memory."""


class UsageSource(Protocol):
    """What the mirror needs of a source besides its page methods (``usage_completions`` ...)."""

    @property
    def base_url(self) -> str: ...

    def close(self) -> None: ...


class SourceError(ApiError):
    """A source answered, but not with pages the mirror can use (another shape, endless paging)."""


class AnswerTooLarge(SourceError):
    """A source's answer longer than :data:`MAX_ANSWER_BYTES`."""


class _Bounded(httpx.SyncByteStream):
    """A response body that stops (with :class:`AnswerTooLarge`) past ``limit`` bytes."""

    def __init__(self, stream: httpx.SyncByteStream, limit: int, url: httpx.URL) -> None:
        self._stream, self._limit, self._url = stream, limit, url

    def __iter__(self) -> Iterator[bytes]:
        read = 0
        for chunk in self._stream:
            read += len(chunk)
            if read > self._limit:
                raise _too_large(self._url, self._limit)
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _BoundedTransport(httpx.HTTPTransport):
    """HTTP whose answers are refused past a size: declared too long, or read too long."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            response.close()
            raise _too_large(request.url, self._limit)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Bounded(response.stream, self._limit, request.url)
        return response


def _too_large(url: httpx.URL, limit: int) -> AnswerTooLarge:
    return AnswerTooLarge(f"The answer from {url.copy_with(query=None)} is larger than {limit // 2**20} MiB: "
                          "not a Usage API page.")


def bounded_http(limit: int = MAX_ANSWER_BYTES, timeout: float = 60.0) -> httpx.Client:
    """An HTTP client for reading a source: a broken or hostile one answering without end stops
    the run with one line instead of exhausting the memory."""
    return httpx.Client(transport=_BoundedTransport(limit), timeout=httpx.Timeout(timeout, connect=10.0))


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
    dimensions = _dimensions(raw, group_by, stats)
    numbers = _cost_fields(raw) if endpoint.is_costs else _metric_fields(endpoint, raw)
    if numbers is None:
        stats.skipped_results += 1
        return None
    ev: dict[str, Any] = {
        "id": event_id(source, endpoint, width, bucket.start_time, [raw.get(g) for g in group_by]),
        "type": endpoint.event_type,
        "timestamp": bucket.start_time,
        **dimensions,
        **numbers,
    }
    return ev


def _dimensions(raw: dict[str, Any], group_by: tuple[str, ...], stats: Stats) -> dict[str, Any]:
    """The result's group values this store can hold.  A value outside a dimension's list (newer
    than this version) is left out and counted rather than refusing the whole result."""
    out: dict[str, Any] = {}
    for g in group_by:
        value = raw.get(g)
        if value is None:
            continue
        dim = DIMENSIONS[g]
        wider = dim.pattern and isinstance(value, str) and re.match(dim.pattern, value)
        if not wider and dim.enum and value not in dim.enum:  # a size wider than the documented ones is kept
            stats.dropped_values += 1
            continue
        out[g] = value
    return out


def _finite(value: Any) -> TypeGuard[float]:
    """A JSON number that is a finite amount (a bool is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _cost_fields(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A cost result's amount (as the decimal its JSON number was written as), quantity and unit;
    None without a usable amount."""
    amount = raw.get("amount")
    value = amount.get("value") if isinstance(amount, dict) else amount
    if not _finite(value):
        return None
    out: dict[str, Any] = {"amount": repr(float(value))}
    quantity = raw.get("quantity")
    if _finite(quantity):
        out["quantity"] = float(quantity)
    unit = raw.get("quantity_unit")
    if unit in QUANTITY_UNITS:
        out["quantity_unit"] = unit
    return out


def _metric_fields(endpoint: Endpoint, raw: dict[str, Any]) -> dict[str, int] | None:
    """A usage result's counters; an absent one is 0 (not the ingest default of 1 request); None
    when one is negative or not a whole number."""
    out: dict[str, int] = {}
    for m in endpoint.metrics:
        value = raw.get(m.name)
        if value is None:
            value = 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return None
        out[m.name] = value
    return out


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

    def check(self) -> None:
        """Raise ValueError, saying why, unless the file can hold checkpoints: its folder exists and
        it is absent or a JSON object of checkpoints (so a run never stops after copying a page)."""
        if not self.path.parent.is_dir():
            raise ValueError(f"no directory {self.path.parent} to keep the checkpoints in")
        try:
            data = self._all()
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"not JSON checkpoints ({type(exc).__name__}: {exc})") from None
        try:
            for raw in (data.values() if isinstance(data, dict) else [None]):
                Checkpoint(**raw)
        except TypeError:
            raise ValueError("not JSON checkpoints (an object of checkpoints by source and endpoint)") from None

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
    key = checkpoint_key(source, endpoint)
    cp = checkpoints.get(key)
    ranges = plan(endpoint, width, since, until, cp)
    w = BUCKET_SECONDS[width]
    total = sum((e - s) // w for s, e in ranges)
    # OpenAI's groups only: the source's own ``origin`` is not ours (these events enter as the sync's)
    group_by = tuple(cp.group_by) if cp and cp.group_by else endpoint.openai_group_by
    copy = _EndpointCopy(api, endpoint, width, source, sink, checkpoints, key, cp, group_by, total, progress)
    copy.report()
    for start, end in ranges:
        copy.copy_range(start, end)
    return copy.stats


def _check_page(page: Page[Any]) -> None:
    """Raise TypeError (or what reading the field raises) unless every bucket has Unix-second
    bounds and every result is an object: the page's views read their fields only when asked."""
    for bucket in page.data:
        for t in (bucket.start_time, bucket.end_time):
            if not isinstance(t, int) or isinstance(t, bool):
                raise TypeError(f"a bucket bound is {t!r}, not Unix seconds")
        for r in bucket.results:
            if not isinstance(r._raw, dict):
                raise TypeError(f"a result is {r._raw!r}, not an object")


@dataclass
class _EndpointCopy:
    """One endpoint's copy in progress: the grouping the source accepts, the checkpoint reached so
    far and the counts, shared by the steps of :func:`mirror_endpoint`."""

    api: Any
    endpoint: Endpoint
    width: str
    source: str
    sink: Sink
    checkpoints: Checkpoints
    key: str
    cp: Checkpoint | None
    group_by: tuple[str, ...]
    total: int
    progress: Callable[[int, int], None] | None
    stats: Stats = field(default_factory=Stats)

    def report(self) -> None:
        if self.progress:
            self.progress(self.stats.buckets, self.total)

    def copy_range(self, start: int, end: int) -> None:
        """Every page of ``[start, end)``.  The loop is bounded (one more than the pages needed), so a
        source that keeps paging cannot hold the run forever."""
        backfill = self.cp is not None and end <= self.cp.start
        limit = self.endpoint.limits[self.width][1]
        cursor: str | None = None
        for _ in range((end - start) // (BUCKET_SECONDS[self.width] * limit) + 2):
            page = self.fetch(start, end, cursor, limit)
            if page is None:
                continue  # asked again with the grouping the source allows
            self.store(page)
            if page.data:
                self.advance(page, start, end, backfill)
            self.report()
            if not page.has_more or not page.next_page:
                return
            cursor = page.next_page
        raise SourceError(f"{self.endpoint.name}: the source kept paging past the end of the range.")

    def fetch(self, start: int, end: int, cursor: str | None, limit: int) -> Page[Any] | None:
        """One page; None when the source refused the grouping and a narrower one is to be asked.

        OpenAI may refuse some combinations (costs by user and project); on the first page of a
        first copy the droppable groups are dropped, never later: a checkpoint's grouping is kept."""
        method = getattr(self.api, self.endpoint.method_name)
        try:
            page: Page[Any] = method(start, end_time=end, bucket_width=self.width, group_by=list(self.group_by),
                                     limit=limit, page=cursor)
            _check_page(page)
        except BadRequestError as exc:
            narrower = tuple(g for g in self.group_by if g not in DROPPABLE_GROUPS)
            about_groups = exc.param == "group_by" or "group" in exc.message.lower()
            if cursor is not None or not about_groups or narrower == self.group_by or self.cp is not None:
                raise
            self.group_by = narrower
            return None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a field missing or of another type
            raise SourceError(f"{self.endpoint.name}: the source's answer is not a page of buckets "
                              f"({type(exc).__name__}: {exc}).") from None
        except ApiError as exc:
            if exc.status != 200:  # an error answer, reported as the source gave it
                raise
            # a 200 answer the client could not read as a page
            raise SourceError(f"{self.endpoint.name}: the source's answer is not a page of buckets "
                              f"({exc.message})") from None
        return page

    def store(self, page: Page[Any]) -> None:
        """The page's results as events, through the sink in chunks, counted."""
        stats = self.stats
        events: list[dict[str, Any]] = []
        for bucket in page.data:
            for r in bucket.results:
                ev = result_event(self.endpoint, self.width, self.source, bucket, r._raw, self.group_by, stats)
                if ev is not None:
                    events.append(ev)
        for i in range(0, len(events), CHUNK):
            accepted, duplicates = self.sink(events[i:i + CHUNK])
            stats.accepted += accepted
            stats.duplicates += duplicates
        stats.events += len(events)
        stats.buckets += len(page.data)

    def advance(self, page: Page[Any], start: int, end: int, backfill: bool) -> None:
        """Widen the copied span and save the checkpoint once the page is stored.

        Onward copies move ``through``; a back-fill joins the checkpoint only when it reaches the
        copied range (one contiguous range again); one that stops short leaves a gap, so the
        checkpoint stays."""
        stats = self.stats
        first, last = page.data[0].start_time, page.data[-1].end_time
        stats.first = first if stats.first is None else min(stats.first, first)
        stats.last = last if stats.last is None else max(stats.last, last)
        cp = self.cp
        if not backfill:
            self.cp = Checkpoint(cp.start if cp else start, last, self.width, list(self.group_by))
        elif cp is not None and end == cp.start and not page.has_more:
            self.cp = Checkpoint(start, cp.through, self.width, list(self.group_by))
        else:
            return
        self.checkpoints.put(self.key, self.cp)
