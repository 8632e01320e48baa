"""The priced kinds of usage, as data: one row per event type that costs money.

Each row says what a price depends on and how a usage row becomes a line item: the dimensions the
store groups by before pricing, the metric counted, the unit, the line-item label, the catalog fields
its entries take and what one price is for (1M tokens, a minute, a GiB-day, 1,000 calls).  The
catalog's validation, the store aggregation behind a costs page and the arithmetic all read this
table, so a new kind of usage priced by one field is one row here plus its catalog entries.

Two kinds are priced by a rule rather than one field: completions (a price per token kind, with
batch and service tiers, see :mod:`.compute`) and images (a price per quality and size).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

TOKEN_KINDS = (
    "input",
    "cached_input",
    "cache_write",
    "output",
    "audio_input",
    "cached_audio_input",
    "audio_output",
    "image_input",
    "cached_image_input",
    "image_output",
)
"""Token kinds of a completions price, each in USD per 1M tokens."""

TOKEN_METRICS = (
    "input_tokens", "output_tokens", "input_cached_tokens", "input_cache_write_tokens",
    "input_cache_write_30m_tokens", "input_cache_write_12h_tokens", "input_audio_tokens", "input_image_tokens",
    "input_cached_audio_tokens", "input_cached_image_tokens", "output_audio_tokens", "output_image_tokens",
)
"""The completions metrics a token price reads (see :func:`.compute.token_split`)."""

GIB = 2**30
MILLION = Decimal(10) ** 6


@dataclass(frozen=True)
class PriceKind:
    """How usage of one event type is priced."""

    event_type: str
    dims: tuple[str, ...]
    """Dimensions a price depends on: the store groups by them before pricing."""
    metric: str | None
    """The metric priced; None for completions (every token metric, see :mod:`.compute`)."""
    unit: str | None
    """The ``quantity_unit`` of its line items."""
    label: str
    """The line item; ``{name}`` is the model, ``{size}`` and ``{quality}`` an image's."""
    fields: tuple[str, ...]
    """The catalog price fields its entries take (plain USD amounts)."""
    per: Decimal = Decimal(1)
    """How many units of ``metric`` one price is for (a per-1M-token price: 10^6)."""
    tool: str | None = None
    """The catalog tool entry pricing this usage whatever the model (else usage is priced by model)."""
    detail: str = ""
    """What the unpriced-usage report calls the quantity."""
    rule: Literal["field", "tokens", "per_image"] = "field"
    """``field``: the first of ``fields`` per ``per`` units; ``tokens``, ``per_image``: see the module."""
    batch_label: str | None = None
    """Batch API usage of this kind is billed at the batch tier factor, under this line item."""

    reads: tuple[str, ...] = ()
    """The metrics pricing reads, when more than ``metric`` (completions' token details)."""

    def price_field(self) -> str:
        return self.fields[0]

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics the store sums for pricing this kind."""
        return self.reads or ((self.metric,) if self.metric else ())


PRICE_KINDS: tuple[PriceKind, ...] = (
    PriceKind("completions", ("model", "batch", "service_tier"), None, "tokens", "{name}", TOKEN_KINDS,
              MILLION, rule="tokens", reads=TOKEN_METRICS),
    PriceKind("embeddings", ("model", "batch"), "input_tokens", "tokens", "{name}, input", ("input",), MILLION,
              detail="input", batch_label="{name}, batch input"),
    PriceKind("moderations", ("model",), "input_tokens", "tokens", "{name}, input", ("input",), MILLION,
              detail="input"),
    PriceKind("images", ("model", "size"), "images", "images", "{name}, images {size}", (),
              detail="images {size}", rule="per_image"),
    PriceKind("audio_speeches", ("model",), "characters", "characters", "{name}, characters",
              ("per_1m_characters",), MILLION, detail="characters"),
    PriceKind("audio_transcriptions", ("model",), "seconds", "duration_seconds", "{name}, transcription",
              ("per_minute",), Decimal(60), detail="seconds"),
    # the gauge is per project: the day's largest sample, priced per GiB-day
    PriceKind("vector_stores", ("project_id",), "usage_bytes", "gibibyte_hours", "vector store storage",
              ("per_gib_day",), Decimal(GIB), tool="vector_storage", detail="bytes held"),
    PriceKind("code_interpreter_sessions", (), "num_sessions", None, "code interpreter sessions",
              ("per_session",), tool="code_interpreter", detail="sessions"),
    PriceKind("file_searches", (), "num_requests", None, "file search tool calls", ("per_1k_calls",),
              Decimal(1000), tool="file_search", detail="calls"),
    # priced by the searching model and context size (a catalog record's by_model rates)
    PriceKind("web_searches", ("model", "context_level"), "num_requests", None, "web search tool calls",
              ("per_1k_calls",), Decimal(1000), tool="web_search", detail="calls"),
)

KINDS: dict[str, PriceKind] = {k.event_type: k for k in PRICE_KINDS}
"""The priced kinds by event type."""
