"""Resolved prices as rows an engine joins: one row per (price key, day range, line).

A costs page is answered by one store statement (:func:`openusage.store.pricing_sql.costs_sql`) that
aggregates usage per day and per *price key*, joins it with these rows on the key and the day range,
works out each line's quantity in SQL and sums it by the page's groups.  A price key is what the
prices of a usage row depend on, read off the :data:`.kinds.PRICE_KINDS` rows: the event type, the
project when a custom price names it (else ``''``, every project), and the kind's own dimensions
(model, batch, service tier, image size, context level...), each as text, ``''`` for null.

Rows are materialised here from :class:`.book.PriceBook`, with the reference code of :mod:`.compute`
(so catalog and custom layers, aliases, ``ft:`` models at their base model's fine-tuning rates,
fallbacks such as cached input at the input price, tier and batch factors and multipliers are applied
exactly as there), for the keys the store holds, and loaded into the store's ``price_rows`` table under
a *price set*: the hash of the catalog and custom prices (:func:`book_version`), so a changed price,
wherever it was set, makes a new set that re-prices every key.  The statement joins the rows of its
set and returns the keys it found none for (a model first seen since): those are materialised, added
to the table and the statement run again.  Keys are only ever added, and a key's rows follow from the
set's prices alone: every worker loading the same key writes the same rows, so loading is
insert-if-absent and needs no coordination (see :meth:`openusage.store.common.SqlStoreBase.add_price_rows`).

A line's id is a hash of what it charges (:func:`line_id`), so the ids a worker reads from rows another
worker wrote are the ids it makes itself for the same key; the lines of ids it has not made yet are
worked out from the keys of the set (:meth:`PriceTable.add`).

Each key's rows cover all of time: the days between two consecutive ``effective_from`` dates of any
record (catalog or custom) share their prices, and neighbouring ranges with equal lines are merged.

Exactness: the engine only sums integer quantities (128-bit / numeric sums, no rounding); each summed
quantity is multiplied by its exact unit price in Python with the 80-digit context of :mod:`.compute`,
on the few aggregated rows.  A unit price such as a per-minute price / 60 or a per-GiB-day price / 2^30
has more digits than DuckDB's 38-digit DECIMAL can hold next to a 38-digit quantity, so the final
multiply never happens in the engine and no amount is rounded differently from the reference path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..spec import DIMENSIONS
from ..store.pricing_sql import SEP
from .book import PriceBook
from .catalog import TOOL_NAMES
from .compute import TOKEN_LABELS, _token_plan, image_token_plan, price_row, tier_of
from .kinds import KINDS, PRICE_KINDS

NO_MODEL = "(no model)"
KEY_DIMS: tuple[str, ...] = tuple(dict.fromkeys(d for k in PRICE_KINDS for d in k.dims if d != "project_id"))
"""The price dimensions of every kind but the project (which is the key's project part)."""
TOKEN_QUANTITIES: tuple[str, ...] = tuple(TOKEN_LABELS)
"""Quantities of the ``tokens`` rule: the token kinds of :func:`.compute.token_split`."""
QUANTITIES: tuple[str, ...] = (*TOKEN_QUANTITIES,
                               *dict.fromkeys(k.metric for k in PRICE_KINDS if k.rule != "tokens" and k.metric))
"""Every quantity a line may charge, by index: token kinds, then the metrics of the other kinds."""
FOREVER = 2**62
"""The end of the last day range (Unix seconds), and minus it the start of the first."""


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One line of a price key in one day range: what it charges, at what unit price (None: unpriced)."""

    kind: str
    name: str
    quantity: int
    """Index into :data:`QUANTITIES`."""
    unit_price: Decimal | None
    line_item: str
    unit: str | None
    detail: str
    """What the unpriced-usage report calls the quantity (when ``unit_price`` is None)."""


@dataclass(frozen=True, slots=True)
class PriceRow:
    """A row of the price table: the key's lines from ``lo`` (inclusive) to ``hi`` (exclusive), seconds."""

    key: str
    lo: int
    hi: int
    line_id: int


def key_text(kind: str, project: str, dims: dict[str, str]) -> str:
    """The key string the statement builds for a usage row (see :func:`.pricing_sql.costs_sql`)."""
    own = KINDS[kind].dims
    return SEP.join([kind, project, *(dims.get(d, "") if d in own else "" for d in KEY_DIMS)])


def parse_key(key: str) -> tuple[str, str, dict[str, Any]]:
    """(kind, project part, a usage row's price dimensions) of a key string."""
    kind, project, *values = key.split(SEP)
    row: dict[str, Any] = {}
    for d, v in zip(KEY_DIMS, values, strict=True):
        if DIMENSIONS[d].kind == "bool":
            row[d] = v == "1"
        else:
            row[d] = v or None
    return kind, project, row


RULES = 2
"""The version of how rows are made from prices (part of a set's hash: rows made otherwise are another set)."""
_CATALOG_HASHES: dict[int, tuple[Any, str]] = {}


def book_version(book: PriceBook) -> str:
    """A hash of the prices in force: the catalog's records and the custom prices."""
    cat = book.catalog
    known = _CATALOG_HASHES.get(id(cat))
    if known is None or known[0] is not cat:  # a catalog is not changed once parsed: hashed once
        if len(_CATALOG_HASHES) >= MAX_TABLES:
            _CATALOG_HASHES.clear()
        known = _CATALOG_HASHES[id(cat)] = (cat, _catalog_hash(cat))
    custom = json.dumps([p.to_json() for p in book.custom], sort_keys=True)
    return hashlib.sha256(f"{RULES}:{known[1]}:{custom}".encode()).hexdigest()[:16]


def _catalog_hash(cat: Any) -> str:
    h = hashlib.sha256()
    for name in sorted(cat.entries):
        e = cat.entries[name]
        h.update(json.dumps([name, e.kind, sorted(e.aliases), [r.to_json() for r in e.records]],
                            sort_keys=True).encode())
    h.update(json.dumps(sorted(cat.aliases.items())).encode())
    h.update(json.dumps({k: str(v) for k, v in sorted(cat.default_tiers.items())}).encode())
    return h.hexdigest()


def change_days(book: PriceBook) -> list[dt.date]:
    """Every day some record (catalog or custom) takes effect, ascending."""
    days = {r.effective_from for e in book.catalog.entries.values() for r in e.records}
    days.update(p.record.effective_from for p in book.custom)
    return sorted(days)


def _day_start(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def lines_for(book: PriceBook, key: str, day: dt.date) -> tuple[PriceLine, ...]:
    """The lines a usage row of ``key`` makes on ``day``, priced by the reference code of :mod:`.compute`."""
    kind, project, row = parse_key(key)
    pk = KINDS[kind]
    name = TOOL_NAMES.get(kind) or row.get("model") or NO_MODEL
    res = book.resolve(name, kind, day, project or None)
    tiers = book.catalog.default_tiers
    if pk.rule == "tokens":
        return tuple(PriceLine(kind, name, TOKEN_QUANTITIES.index(tk), per_token, f"{name}, {label}", pk.unit, label)
                     for tk, label, per_token in _token_plan(name, tier_of(row), res, tiers))
    metric = pk.metric or ""
    charges, unpriced = price_row(kind, name, {**row, metric: 1}, res, tiers)  # one unit, no tokens
    q = QUANTITIES.index(metric)
    if charges:  # one unit's charge: its amount is the unit price
        c = charges[0]
        line = PriceLine(kind, name, q, c.amount, c.line_item, c.unit, "")
    else:
        line = PriceLine(kind, name, q, None, "", pk.unit, unpriced[0].detail)
    if pk.rule != "per_image":
        return (line,)
    # gpt-image input tokens: the completions split of a row holding only input and input image
    # tokens is the images split (text input = input - image input), so the token quantities serve
    return (line, *(PriceLine(kind, name, TOKEN_QUANTITIES.index(tk), per_token,
                              f"{name}, {label}" if per_token is not None else "", "tokens", label)
                    for tk, label, per_token in image_token_plan(name, res)))


def line_id(line: PriceLine) -> int:
    """A line's id: a positive 62-bit hash of what it charges, the same in every worker."""
    text = json.dumps([line.kind, line.name, line.quantity, None if line.unit_price is None else str(line.unit_price),
                       line.line_item, line.unit, line.detail])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 2 or 1


class PriceTable:
    """The price rows of one price book, for the keys materialised so far (grown by :meth:`add`)."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self.version = book_version(book)
        self.lines: dict[int, PriceLine] = {0: PriceLine("", "", 0, None, "", None, "")}
        """The lines by id (0: the usage's key has no rows)."""
        self.rows: list[PriceRow] = []
        self.keys: set[str] = set()
        days = change_days(book)
        # (lo, hi, the day whose prices hold in between): before the first record, then from each on
        starts = [-FOREVER, *(_day_start(d) for d in days)]
        probe = [days[0] - dt.timedelta(days=1) if days else dt.date(1970, 1, 1), *days]
        self._ranges = [(lo, starts[i + 1] if i + 1 < len(starts) else FOREVER, probe[i])
                        for i, lo in enumerate(starts)]
        self._lock = threading.Lock()

    def rows_of(self, keys: set[str]) -> list[tuple[str, int, int, int, int]]:
        """(key, lo, hi, line id, quantity index) of the rows of ``keys`` (materialised first)."""
        self.add(keys)
        with self._lock:
            return [(r.key, r.lo, r.hi, r.line_id, self.lines[r.line_id].quantity) for r in self.rows if r.key in keys]

    def add(self, keys: set[str]) -> None:
        """Materialise ``keys`` (new ones only): their lines over every day range, equal neighbours merged."""
        with self._lock:
            for key in sorted(keys - self.keys):
                spans: list[tuple[int, int, tuple[PriceLine, ...]]] = []
                for lo, hi, day in self._ranges:
                    lines = lines_for(self.book, key, day)
                    if spans and spans[-1][2] == lines:
                        spans[-1] = (spans[-1][0], hi, lines)
                    else:
                        spans.append((lo, hi, lines))
                for lo, hi, lines in spans:
                    for line in lines:
                        ident = line_id(line)
                        self.lines[ident] = line
                        self.rows.append(PriceRow(key, lo, hi, ident))
                self.keys.add(key)


_TABLES: dict[str, PriceTable] = {}
_TABLES_LOCK = threading.Lock()
MAX_TABLES = 16


def price_table(book: PriceBook) -> PriceTable:
    """The price table of ``book``'s prices, shared by every request under the same prices."""
    version = book_version(book)
    with _TABLES_LOCK:
        table = _TABLES.get(version)
        if table is None:
            if len(_TABLES) >= MAX_TABLES:
                _TABLES.clear()
            table = _TABLES[version] = PriceTable(book)
        return table


def quantity_sql(metrics: tuple[str, ...], col: str = "u.") -> tuple[str, ...]:
    """SQL of each of :data:`QUANTITIES` over a scan row's summed ``metrics`` (absent ones are 0):
    the token split of :func:`.compute.token_split`, then the plain metrics."""

    def n(m: str) -> str:
        return f"coalesce({col}{m}, 0)" if m in metrics else "0"

    def pos(e: str) -> str:
        return f"greatest({e}, 0)"

    cache_write = f"greatest({n('input_cache_write_tokens')}, " \
                  f"{n('input_cache_write_30m_tokens')} + {n('input_cache_write_12h_tokens')})"
    uncached = pos(f"{n('input_tokens')} - {n('input_cached_tokens')} - {cache_write}")
    split = {
        "input": pos(f"{uncached} - {n('input_audio_tokens')} - {n('input_image_tokens')}"),
        "cached_input": pos(f"{n('input_cached_tokens')} - {n('input_cached_audio_tokens')} - "
                            f"{n('input_cached_image_tokens')}"),
        "cache_write": cache_write,
        "output": pos(f"{n('output_tokens')} - {n('output_audio_tokens')} - {n('output_image_tokens')}"),
        "audio_input": n("input_audio_tokens"),
        "cached_audio_input": n("input_cached_audio_tokens"),
        "audio_output": n("output_audio_tokens"),
        "image_input": n("input_image_tokens"),
        "cached_image_input": n("input_cached_image_tokens"),
        "image_output": n("output_image_tokens"),
    }
    return tuple(split[q] if q in split else n(q) for q in QUANTITIES)
