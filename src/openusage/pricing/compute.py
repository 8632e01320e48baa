"""Price one aggregated usage row: the charges (line items) it makes, or what could not be priced.

Every amount is ``quantity x unit price`` with the unit price a fixed Decimal (a per-1M-token price
scaled by 10^-6, a per-minute price divided by 60, a per-GiB-day price divided by 2^30), computed in
an 80-digit context where no product or sum is ever rounded.  So amounts add up exactly whatever the
grouping: the sum over line items, over projects and the ungrouped total are the same number.

Token accounting of a completions row (``input_tokens`` includes cached and cache-write tokens):

* cache writes = ``input_cache_write_tokens`` (or the 30m + 12h split when only that is given);
* uncached input = input - cached - cache writes, of which audio and image tokens are priced at their
  own rates and the rest as text ``input``;
* cached input = ``input_cached_tokens``, less cached audio and cached image tokens (own rates);
* output = ``output_tokens``, less audio and image output tokens (own rates).

Missing prices fall back where OpenAI bills the same way (cached input at the input price when a model
has no cache discount; cached audio input at the audio input price when a model publishes no cached audio
price; image input tokens as input tokens); audio and image output never fall back.

Images and kinds priced by a dimension's value (code interpreter container sizes) follow the rules
described in :mod:`.kinds`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any, NamedTuple

from .book import Resolved
from .kinds import GIB, KINDS, PriceKind

EXACT = Context(prec=80)
"""Wide enough that no price x quantity product or sum of them is rounded."""



class Charge(NamedTuple):
    """One line item's share of one aggregated row."""

    line_item: str
    quantity: Decimal
    unit: str | None
    amount: Decimal


@dataclass(frozen=True)
class Unpriced:
    """Usage that no price covers: never counted as zero, reported instead."""

    kind: str
    name: str
    detail: str
    quantity: int


TOKEN_LABELS = {
    "input": "input",
    "cached_input": "cached input",
    "cache_write": "cache write input",
    "output": "output",
    "audio_input": "audio input",
    "cached_audio_input": "cached audio input",
    "audio_output": "audio output",
    "image_input": "image input",
    "cached_image_input": "cached image input",
    "image_output": "image output",
}
FALLBACK = {
    "cached_input": ("input",),
    "cache_write": ("input",),
    "cached_audio_input": ("audio_input",),
    "image_input": ("input",),
    "cached_image_input": ("cached_input", "input"),
}
PRICED_TIERS = ("flex", "priority", "scale")


def _n(row: dict[str, Any], name: str) -> int:
    return int(row.get(name) or 0)


def token_split(row: dict[str, Any]) -> dict[str, int]:
    """A completions row's tokens by price kind; they add up to input + output tokens."""
    inp, out = _n(row, "input_tokens"), _n(row, "output_tokens")
    cached = _n(row, "input_cached_tokens")
    cache_write = max(_n(row, "input_cache_write_tokens"),
                      _n(row, "input_cache_write_30m_tokens") + _n(row, "input_cache_write_12h_tokens"))
    audio_in, image_in = _n(row, "input_audio_tokens"), _n(row, "input_image_tokens")
    cached_audio, cached_image = _n(row, "input_cached_audio_tokens"), _n(row, "input_cached_image_tokens")
    audio_out, image_out = _n(row, "output_audio_tokens"), _n(row, "output_image_tokens")
    uncached = max(inp - cached - cache_write, 0)
    return {
        "input": max(uncached - audio_in - image_in, 0),
        "cached_input": max(cached - cached_audio - cached_image, 0),
        "cache_write": cache_write,
        "output": max(out - audio_out - image_out, 0),
        "audio_input": audio_in,
        "cached_audio_input": cached_audio,
        "audio_output": audio_out,
        "image_input": image_in,
        "cached_image_input": cached_image,
        "image_output": image_out,
    }


def tier_of(row: dict[str, Any]) -> str | None:
    """``batch`` for Batch API usage, else ``flex``/``priority``/``scale``, else None (standard)."""
    if row.get("batch"):
        return "batch"
    tier = row.get("service_tier")
    return tier if tier in PRICED_TIERS else None


def token_price(resolved: Resolved, kind: str, tier: str | None, default_tiers: dict[str, Decimal]) -> Decimal | None:
    """USD per 1M tokens of ``kind`` under ``tier``: explicit tier price, else standard x multiplier."""
    chain = (kind, *FALLBACK.get(kind, ()))
    spec = resolved.tiers.get(tier) if tier else None
    if isinstance(spec, dict):
        for k in chain:
            if k in spec:
                return EXACT.multiply(spec[k], resolved.multiplier)
    factor = spec if isinstance(spec, Decimal) else default_tiers.get(tier, Decimal(1)) if tier else Decimal(1)
    for k in chain:
        if k in resolved.prices:
            return EXACT.multiply(EXACT.multiply(resolved.prices[k], factor), resolved.multiplier)
    return None


def _charge(label: str, qty: int | Decimal, unit: str | None, unit_price: Decimal) -> Charge:
    quantity = Decimal(qty)
    return Charge(label, quantity, unit, EXACT.multiply(quantity, unit_price))


def price_row(kind: str, name: str, row: dict[str, Any], resolved: Resolved | None,
              default_tiers: dict[str, Decimal]) -> tuple[list[Charge], list[Unpriced]]:
    """The charges of one aggregated row of ``kind`` usage for ``name`` (model or tool)."""
    price_kind = KINDS[kind]
    if price_kind.rule == "tokens":
        return _completions(name, row, resolved, default_tiers)
    charges: list[Charge] = []
    unpriced: list[Unpriced] = []
    if price_kind.rule == "per_image":
        charges, unpriced = _image_tokens(name, row, resolved)
    qty, label, detail = _measure(price_kind, name, row, resolved)
    if qty == 0:
        return charges, unpriced
    unit_price = _unit_price(price_kind, resolved, row) if resolved is not None else None
    if price_kind.batch_label and row.get("batch") and unit_price is not None:  # the Batch API bills at its tier
        unit_price = EXACT.multiply(unit_price, default_tiers.get("batch", Decimal(1)))
        label = price_kind.batch_label.format(name=name)
    if unit_price is None:
        return charges, [Unpriced(kind, name, detail, int(qty)), *unpriced]
    return [_charge(label, qty, price_kind.unit, unit_price), *charges], unpriced


def _completions(name: str, row: dict[str, Any], resolved: Resolved | None,
                 default_tiers: dict[str, Decimal]) -> tuple[list[Charge], list[Unpriced]]:
    tier = tier_of(row)
    split = token_split(row)
    charges: list[Charge] = []
    unpriced: list[Unpriced] = []
    for kind, label, per_token in _token_plan(name, tier, resolved, default_tiers):
        qty = split[kind]
        if qty <= 0:
            continue
        if per_token is None:
            unpriced.append(Unpriced("completions", name, label, qty))
        else:
            charges.append(Charge(f"{name}, {label}", Decimal(qty), "tokens", EXACT.multiply(qty, per_token)))
    return charges, unpriced


def _token_plan(name: str, tier: str | None, resolved: Resolved | None,
                default_tiers: dict[str, Decimal]) -> list[tuple[str, str, Decimal | None]]:
    """(token kind, label under the tier, USD per token or None) for each token kind; worked out once per
    resolved prices and tier, since many rows share them."""
    prefix = f"{tier} " if tier else ""
    if resolved is None:
        return [(kind, prefix + TOKEN_LABELS[kind], None) for kind in TOKEN_LABELS]
    plan = resolved.token_plans.get(tier)
    if plan is None:
        plan = resolved.token_plans[tier] = []
        for kind in TOKEN_LABELS:
            price = token_price(resolved, kind, tier, default_tiers)
            plan.append((kind, prefix + TOKEN_LABELS[kind], None if price is None else price.scaleb(-6, EXACT)))
    return plan


IMAGE_TOKEN_KINDS = ("input", "image_input")
"""The token kinds of a gpt-image model's input priced beside its images (see :mod:`.kinds`)."""


def image_token_split(row: dict[str, Any]) -> dict[str, int]:
    """An images row's input tokens by price kind: text input (input less image input) and image input."""
    image_in = _n(row, "input_image_tokens")
    return {"input": max(_n(row, "input_tokens") - image_in, 0), "image_input": image_in}


def image_token_plan(name: str, resolved: Resolved | None) -> list[tuple[str, str, Decimal | None]]:
    """(token kind, label, USD per token or None) of an images record's input tokens: its own price,
    else the fallback (image input at the input price)."""
    plan: list[tuple[str, str, Decimal | None]] = []
    for kind in IMAGE_TOKEN_KINDS:
        price = None
        if resolved is not None:
            price = next((resolved.prices[k] for k in (kind, *FALLBACK.get(kind, ())) if k in resolved.prices), None)
        per_token = None if resolved is None or price is None else \
            EXACT.multiply(price, resolved.multiplier).scaleb(-6, EXACT)
        plan.append((kind, TOKEN_LABELS[kind], per_token))
    return plan


def _image_tokens(name: str, row: dict[str, Any], resolved: Resolved | None) -> tuple[list[Charge], list[Unpriced]]:
    """gpt-image models' input tokens, text and image, beside the price per image (see :mod:`.kinds`)."""
    split = image_token_split(row)
    charges: list[Charge] = []
    unpriced: list[Unpriced] = []
    for kind, label, per_token in image_token_plan(name, resolved):
        qty = split[kind]
        if qty <= 0:
            continue
        if per_token is None:
            unpriced.append(Unpriced("images", name, label, qty))
        else:
            charges.append(_charge(f"{name}, {label}", qty, "tokens", per_token))
    return charges, unpriced


def _image_price(resolved: Resolved, row: dict[str, Any]) -> tuple[str, str, Decimal | None]:
    """(quality, size, USD per image): the row's quality and size, else the record's defaults."""
    quality = row.get("quality")
    if not quality or quality == "auto":
        quality = resolved.default_quality or next(iter(resolved.per_image), "standard")
    size = row.get("size") or resolved.default_size or ""
    price = resolved.per_image.get(quality, {}).get(size)
    return quality, size, None if price is None else EXACT.multiply(price, resolved.multiplier)


def _measure(price_kind: PriceKind, name: str, row: dict[str, Any], resolved: Resolved | None) -> tuple[int, str, str]:
    """(quantity, line item, detail for the unpriced report) of a row not priced per token."""
    size = quality = ""
    if price_kind.rule == "per_image":
        quality, size = _image_price(resolved, row)[:2] if resolved is not None else (row.get("quality") or "",
                                                                            row.get("size") or "")
    label = price_kind.label.format(name=name, size=size) + (f" ({quality})" if quality else "")
    detail = price_kind.detail.format(size=size).strip()
    option = _option(price_kind, row)
    if option is not None:
        label, detail = f"{label} ({option})", f"{detail} ({option})"
    return _n(row, price_kind.metric or ""), label, detail


def _option(price_kind: PriceKind, row: dict[str, Any]) -> str | None:
    """The row's value of the kind's ``option`` dimension, None when it has none or the default."""
    value = row.get(price_kind.option) if price_kind.option else None
    return None if value in (None, price_kind.option_default) else str(value)


def _unit_price(price_kind: PriceKind, resolved: Resolved, row: dict[str, Any]) -> Decimal | None:
    """USD per unit of the kind's metric (a token, an image, a byte-day, a call)."""
    if price_kind.rule == "per_image":
        return _image_price(resolved, row)[2]
    option = _option(price_kind, row)
    if option is not None:  # priced by the option's value (a container size), unpriced without one
        price = resolved.options.get(option)
        return None if price is None else EXACT.divide(EXACT.multiply(price, resolved.multiplier), price_kind.per)
    if resolved.by_model:  # a price by the model that made the call (web search), first match wins
        rate = next((r for r in resolved.by_model if r.matches(str(row.get("model") or ""))), None)
        if rate is not None:
            per_unit = EXACT.multiply(rate.price(row.get("context_level")), resolved.multiplier)
            return EXACT.divide(per_unit, price_kind.per)
    price = resolved.prices.get(price_kind.price_field())
    if price is None:
        return None
    return EXACT.divide(EXACT.multiply(price, resolved.multiplier), price_kind.per)


def reported_quantity(charge: Charge) -> Decimal:
    """The quantity shown in ``quantity_unit``: storage bytes held for a day become GiB-hours."""
    if charge.unit == "gibibyte_hours":
        return EXACT.divide(EXACT.multiply(charge.quantity, Decimal(24)), Decimal(GIB))
    return charge.quantity


def utc_day(bucket_start: int) -> dt.date:
    return dt.datetime.fromtimestamp(bucket_start, dt.UTC).date()
