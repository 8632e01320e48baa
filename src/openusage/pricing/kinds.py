"""The priced kinds of usage, as data: one row per event type that costs money.

Each row says what a price depends on and how a usage row becomes a line item: the dimensions the
store groups by before pricing, the metric counted, the unit, the line-item label, the catalog fields
its entries take and what one price is for (1M tokens, a minute, a GiB-day, 1,000 calls).  The
catalog's validation, the store aggregation behind a costs page and the arithmetic all read this
table, so a new kind of usage priced by one field is one row here plus its catalog entries.

Two kinds are priced by a rule rather than one field: completions (a price per token kind, with
batch and service tiers, see :mod:`.compute`) and images (``per_image``):

* an images row of ``images`` images of ``size`` and ``quality`` costs ``images x per_image[q][s]``, where
  ``q`` is the row's quality, or the record's ``default_quality`` when it has none or ``auto``, and ``s``
  the row's size, or the record's ``default_size`` when it has none; an image with no such price is
  unpriced;
* plus, for gpt-image models, their input tokens (what their answers report in ``usage``):
  ``(input_tokens - input_image_tokens) x input / 10^6`` (text input) and
  ``input_image_tokens x image_input / 10^6`` (image input), each its own line item (``MODEL, input``,
  ``MODEL, image input``); image input falls back to the ``input`` price, and tokens with no price are
  unpriced.  Output image tokens are not priced apart: OpenAI's price per image is the price of the
  output image tokens an image of that quality and size takes.

A kind with an ``option`` (code interpreter: the container's ``memory_limit``) takes the price of the
row's value of that dimension from the record's ``per_<option>`` mapping (``per_memory_limit: {1g: 0.03,
4g: 0.12}``); a row with no value, or the ``option_default`` value, is priced at the first field
(``per_session``, the 1g container); a value the mapping lacks is unpriced.  Its line item is the label,
followed by `` (VALUE)`` for a value other than the default.
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

IMAGE_METRICS = ("images", "input_tokens", "input_image_tokens")
"""The images metrics a price reads: images, and gpt-image models' input tokens (text and image)."""

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
    """``field``: the first of ``fields`` per ``per`` units (or by ``option``); ``tokens``, ``per_image``: see
    the module."""
    batch_label: str | None = None
    """Batch API usage of this kind is billed at the batch tier factor, under this line item."""

    reads: tuple[str, ...] = ()
    """The metrics pricing reads, when more than ``metric`` (completions' token details)."""
    option: str | None = None
    """A dimension (among ``dims``) whose value picks the price from the record's ``per_<option>`` mapping."""
    option_default: str | None = None
    """The ``option`` value priced at the first field: usage that names no value has it."""

    @property
    def option_field(self) -> str | None:
        """The catalog record key of the prices by ``option`` value (``per_memory_limit``)."""
        return f"per_{self.option}" if self.option else None

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
    PriceKind("images", ("model", "size", "quality"), "images", "images", "{name}, images {size}",
              ("input", "image_input"), MILLION, detail="images {size}", rule="per_image",
              reads=IMAGE_METRICS),
    PriceKind("audio_speeches", ("model",), "characters", "characters", "{name}, characters",
              ("per_1m_characters",), MILLION, detail="characters"),
    PriceKind("audio_transcriptions", ("model",), "seconds", "duration_seconds", "{name}, transcription",
              ("per_minute",), Decimal(60), detail="seconds"),
    # the gauge is per project: the day's largest sample, priced per GiB-day
    PriceKind("vector_stores", ("project_id",), "usage_bytes", "gibibyte_hours", "vector store storage",
              ("per_gib_day",), Decimal(GIB), tool="vector_storage", detail="bytes held"),
    PriceKind("code_interpreter_sessions", ("memory_limit",), "num_sessions", None, "code interpreter sessions",
              ("per_session",), tool="code_interpreter", detail="sessions", option="memory_limit",
              option_default="1g"),
    PriceKind("file_searches", (), "num_requests", None, "file search tool calls", ("per_1k_calls",),
              Decimal(1000), tool="file_search", detail="calls"),
    # priced by the searching model and context size (a catalog record's by_model rates)
    PriceKind("web_searches", ("model", "context_level"), "num_requests", None, "web search tool calls",
              ("per_1k_calls",), Decimal(1000), tool="web_search", detail="calls"),
)

KINDS: dict[str, PriceKind] = {k.event_type: k for k in PRICE_KINDS}
"""The priced kinds by event type."""
