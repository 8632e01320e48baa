"""The price catalog: dated price records per model or tool, loaded from data and validated.

A :class:`Catalog` holds :class:`Entry` objects by canonical name, with an alias map (``gpt-4o-2024-08-06``
-> ``gpt-4o``).  Each entry has records sorted by ``effective_from``; the record in force on a UTC day is
the latest one that starts on or before it.  Numbers are read as :class:`~decimal.Decimal` straight from
the text (never through binary floats), so ``0.075`` is exactly 0.075.

The same record format serves the bundled ``catalog.yaml``, an operator's prices file and the custom
prices kept in the store (see :mod:`openusage.pricing.custom`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ..spec import DIMENSIONS
from .kinds import KINDS, PRICE_KINDS, TOKEN_KINDS

PRICE_FIELDS: dict[str, tuple[str, ...]] = {k.event_type: k.fields for k in PRICE_KINDS}
"""The price fields each usage kind (event type) takes; all are plain USD amounts (images: per_image)."""

TOOL_NAMES: dict[str, str] = {k.event_type: k.tool for k in PRICE_KINDS if k.tool}
"""Usage kinds priced by one tool entry, whatever the model; the entry's name."""

TIERS = ("batch", "flex", "priority", "scale")
_RECORD_KEYS = {"effective_from", "source", "multiplier", "tiers", "per_image", "default_quality", "default_size",
                "by_model"}
CONTEXT_LEVELS = ("low", "medium", "high")
DEFAULT_CONTEXT_LEVEL = "medium"
"""A web search whose usage names no context level is priced at OpenAI's default ``search_context_size``."""


@dataclass(frozen=True)
class ModelRate:
    """A web search price for the models matching ``models`` (names or globs): flat or per context level."""

    models: tuple[str, ...]
    per_1k_calls: Decimal | dict[str, Decimal]

    def matches(self, *names: str) -> bool:
        return any(fnmatch.fnmatchcase(n, pattern) for n in names if n for pattern in self.models)

    def price(self, context_level: str | None) -> Decimal:
        if isinstance(self.per_1k_calls, Decimal):
            return self.per_1k_calls
        return self.per_1k_calls[context_level if context_level in CONTEXT_LEVELS else DEFAULT_CONTEXT_LEVEL]

    def to_json(self) -> dict[str, Any]:
        rate = self.per_1k_calls
        return {"models": list(self.models),
                "per_1k_calls": str(rate) if isinstance(rate, Decimal) else {k: str(v) for k, v in rate.items()}}


class CatalogError(ValueError):
    """A price file that cannot be used; the message names the place (``models.gpt-4o.prices[0].input``)."""


class _DecimalLoader(yaml.SafeLoader):
    """YAML with every float read as an exact Decimal."""


def _decimal_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    """A YAML float as the exact Decimal it spells (``1_000.5`` too)."""
    if not isinstance(node, yaml.ScalarNode):  # an explicit !!float on a list or mapping
        raise yaml.constructor.ConstructorError(None, None, "expected a number", node.start_mark)
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal_float)


class _FastDecimalLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same rules over libyaml's parser, when PyYAML was built with it: for the bundled catalog, a
    text of the package's own (parsed in about a fifth of the time: 11 against 57 ms).  Files from
    operators keep the pure-Python parser, whose error messages quote the line at fault."""


_FastDecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal_float)


def load_text(text: str, *, bundled: bool = False) -> Any:
    """Parse YAML (or JSON, a subset of it) with exact decimals; ``bundled``: the package's own text."""
    try:  # SafeLoader subclasses: no arbitrary objects
        return yaml.load(text, Loader=_FastDecimalLoader if bundled else _DecimalLoader)
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML or JSON: {exc}") from None


@dataclass(frozen=True)
class PriceRecord:
    """The prices of one entry from ``effective_from`` on (until the entry's next record)."""

    effective_from: dt.date
    prices: dict[str, Decimal] = field(default_factory=dict)
    tiers: dict[str, Decimal | dict[str, Decimal]] = field(default_factory=dict)
    per_image: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    default_quality: str | None = None
    default_size: str | None = None
    multiplier: Decimal | None = None
    """A factor on every price (a negotiated discount: 0.8); custom records only, in practice."""
    source: str = ""
    by_model: tuple[ModelRate, ...] = ()
    """Web search: prices by the searching model (first match wins), else ``per_1k_calls``."""
    options: dict[str, Decimal] = field(default_factory=dict)
    """Prices by the value of the kind's ``option`` dimension (code interpreter: by container size)."""
    options_key: str = ""
    """The record key ``options`` are written under (``per_memory_limit``)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"effective_from": self.effective_from.isoformat()}
        out.update({k: str(v) for k, v in self.prices.items()})
        if self.tiers:
            out["tiers"] = {t: (str(v) if isinstance(v, Decimal) else {k: str(x) for k, x in v.items()})
                            for t, v in self.tiers.items()}
        if self.per_image:
            out["per_image"] = {q: {s: str(p) for s, p in sizes.items()} for q, sizes in self.per_image.items()}
        if self.default_quality:
            out["default_quality"] = self.default_quality
        if self.default_size:
            out["default_size"] = self.default_size
        if self.multiplier is not None:
            out["multiplier"] = str(self.multiplier)
        if self.by_model:
            out["by_model"] = [rate.to_json() for rate in self.by_model]
        if self.options:
            out[self.options_key] = {k: str(v) for k, v in self.options.items()}
        if self.source:
            out["source"] = self.source
        return out


@dataclass
class Entry:
    """A priced model or tool: its usage kind, aliases and dated records (ascending)."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    records: list[PriceRecord] = field(default_factory=list)

    def in_force(self, day: dt.date) -> PriceRecord | None:
        found = None
        for r in self.records:
            if r.effective_from <= day:
                found = r
            else:
                break
        return found


@dataclass
class Catalog:
    entries: dict[str, Entry]
    aliases: dict[str, str]
    default_tiers: dict[str, Decimal]

    def canonical(self, name: str) -> str:
        return self.aliases.get(name, name)

    def entry(self, name: str) -> Entry | None:
        return self.entries.get(self.canonical(name))


# -- validation --------------------------------------------------------------------------------


def _money(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str, float)):
        raise CatalogError(f"{where}: expected a number, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(f"{where}: expected a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise CatalogError(f"{where}: a price must be a finite number, 0 or more, below 1e12; got {value}")
    return amount


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CatalogError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def parse_record(raw: Any, kind: str, where: str, require_date: bool = True) -> PriceRecord:
    """One price record of an entry of ``kind``; unknown fields are errors (a typo must not price 0)."""
    data = _mapping(raw, where)
    option_field = KINDS[kind].option_field
    allowed = set(PRICE_FIELDS[kind]) | _RECORD_KEYS | ({option_field} if option_field else set())
    for key in data:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise CatalogError(f"{where}.{key}: not a price field of a {kind} entry (known: {known})")
    if "effective_from" not in data and require_date:
        raise CatalogError(f"{where}: effective_from (YYYY-MM-DD) is required")
    day = _date(data.get("effective_from", "1970-01-01"), f"{where}.effective_from")
    prices = {k: _money(data[k], f"{where}.{k}") for k in PRICE_FIELDS[kind] if k in data}
    tiers: dict[str, Decimal | dict[str, Decimal]] = {}
    if "tiers" in data:
        if kind != "completions":
            raise CatalogError(f"{where}.tiers: only completions have batch and service tiers")
        for tier, spec in _mapping(data["tiers"], f"{where}.tiers").items():
            tier_where = f"{where}.tiers.{tier}"
            if tier not in TIERS:
                raise CatalogError(f"{tier_where}: unknown tier (known: {', '.join(TIERS)})")
            if isinstance(spec, dict):
                by_kind: dict[str, Decimal] = {}
                for token_kind, value in _mapping(spec, tier_where).items():
                    if token_kind not in TOKEN_KINDS:
                        raise CatalogError(f"{tier_where}.{token_kind}: not a token kind "
                                           f"(known: {', '.join(TOKEN_KINDS)})")
                    by_kind[token_kind] = _money(value, f"{tier_where}.{token_kind}")
                tiers[tier] = by_kind
            else:
                tiers[tier] = _money(spec, tier_where)
    per_image: dict[str, dict[str, Decimal]] = {}
    if "per_image" in data:
        if kind != "images":
            raise CatalogError(f"{where}.per_image: only images are priced per image")
        for quality, sizes in _mapping(data["per_image"], f"{where}.per_image").items():
            quality_where = f"{where}.per_image.{quality}"
            per_image[quality] = {size: _money(price, f"{quality_where}.{size}")
                                  for size, price in _mapping(sizes, quality_where).items()}
    for key in ("default_quality", "default_size"):
        if key in data and (kind != "images" or not isinstance(data[key], str)):
            raise CatalogError(f"{where}.{key}: a text value, for images only")
    if kind == "images" and data.get("default_quality") and per_image and data["default_quality"] not in per_image:
        raise CatalogError(f"{where}.default_quality: {data['default_quality']!r} has no per_image prices")
    multiplier = _money(data["multiplier"], f"{where}.multiplier") if "multiplier" in data else None
    by_model = _model_rates(data["by_model"], kind, f"{where}.by_model") if "by_model" in data else ()
    options: dict[str, Decimal] = {}
    if option_field and option_field in data:
        values = DIMENSIONS[KINDS[kind].option or ""].enum or ()
        for value, price in _mapping(data[option_field], f"{where}.{option_field}").items():
            if value not in values:
                raise CatalogError(f"{where}.{option_field}.{value}: unknown value (known: {', '.join(values)})")
            if value == KINDS[kind].option_default:
                raise CatalogError(f"{where}.{option_field}.{value}: the {value} price is "
                                   f"{PRICE_FIELDS[kind][0]}, which also prices usage that names none")
            options[value] = _money(price, f"{where}.{option_field}.{value}")
    source = data.get("source", "")
    if not isinstance(source, str):
        raise CatalogError(f"{where}.source: expected text")
    return PriceRecord(day, prices, tiers, per_image, data.get("default_quality"), data.get("default_size"),
                       multiplier, source, by_model, options, option_field or "")


def _model_rates(raw: Any, kind: str, where: str) -> tuple[ModelRate, ...]:
    """``by_model``: a list of ``{models: [names or globs], per_1k_calls: number | {low, medium, high}}``."""
    if kind != "web_searches":
        raise CatalogError(f"{where}: only web searches are priced by the searching model")
    if not isinstance(raw, list):
        raise CatalogError(f"{where}: expected a list of {{models, per_1k_calls}}")
    rates = []
    for i, item in enumerate(raw):
        item_where = f"{where}[{i}]"
        data = _mapping(item, item_where)
        unknown = set(data) - {"models", "per_1k_calls"}
        if unknown:
            raise CatalogError(f"{item_where}.{sorted(unknown)[0]}: unknown field (known: models, per_1k_calls)")
        models = data.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
            raise CatalogError(f"{item_where}.models: expected a non-empty list of model names or globs")
        if "per_1k_calls" not in data:
            raise CatalogError(f"{item_where}.per_1k_calls: required")
        rate = data["per_1k_calls"]
        if isinstance(rate, dict):
            levels = _mapping(rate, f"{item_where}.per_1k_calls")
            if set(levels) != set(CONTEXT_LEVELS):
                raise CatalogError(f"{item_where}.per_1k_calls: give a price for each context level "
                                   f"({', '.join(CONTEXT_LEVELS)}) or one number")
            per: Decimal | dict[str, Decimal] = {level: _money(price, f"{item_where}.per_1k_calls.{level}")
                                                 for level, price in levels.items()}
        else:
            per = _money(rate, f"{item_where}.per_1k_calls")
        rates.append(ModelRate(tuple(models), per))
    return tuple(rates)


def _entry(name: str, raw: Any, where: str, tool: bool) -> Entry:
    data = _mapping(raw, where)
    for key in data:
        if key not in ("kind", "aliases", "prices"):
            raise CatalogError(f"{where}.{key}: unknown field (an entry has kind, aliases, prices)")
    kind = data.get("kind")
    if kind not in PRICE_FIELDS:
        raise CatalogError(f"{where}.kind: expected one of {', '.join(PRICE_FIELDS)}, got {kind!r}")
    if tool != (kind in TOOL_NAMES) or (tool and TOOL_NAMES[kind] != name):
        expected = "tools: " + ", ".join(f"{n} ({k})" for k, n in TOOL_NAMES.items())
        raise CatalogError(f"{where}: {kind} is priced by a tool entry, and tools price only their own kind "
                           f"({expected})")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise CatalogError(f"{where}.aliases: expected a list of names")
    records_raw = data.get("prices")
    if not isinstance(records_raw, list) or not records_raw:
        raise CatalogError(f"{where}.prices: expected a non-empty list of dated price records")
    records = [parse_record(r, kind, f"{where}.prices[{i}]") for i, r in enumerate(records_raw)]
    days = [r.effective_from for r in records]
    if days != sorted(days) or len(set(days)) != len(days):
        raise CatalogError(f"{where}.prices: records must be in ascending effective_from order, one per date")
    return Entry(name, kind, tuple(aliases), records)


def parse_catalog(doc: Any) -> Catalog:
    """Validate a catalog document (the parsed YAML) and index it."""
    data = _mapping(doc, "catalog")
    if data.get("version") != 1:
        raise CatalogError("catalog.version: expected 1")
    if data.get("currency", "usd") != "usd":
        raise CatalogError("catalog.currency: only usd is supported")
    entries: dict[str, Entry] = {}
    aliases: dict[str, str] = {}
    for section, tool in (("models", False), ("tools", True)):
        for name, raw in _mapping(data.get(section, {}), section).items():
            where = f"{section}.{name}"
            if name in entries or name in aliases:
                raise CatalogError(f"{where}: the name is already used")
            entries[name] = _entry(name, raw, where, tool)
            for alias in entries[name].aliases:
                if alias in entries or alias in aliases:
                    raise CatalogError(f"{where}.aliases: {alias!r} is already used")
                aliases[alias] = name
    for name in aliases:
        if name in entries:
            raise CatalogError(f"{name!r} is both an entry and an alias")
    defaults = _mapping(data.get("defaults", {}), "defaults")
    tiers_raw = _mapping(defaults.get("tiers", {}), "defaults.tiers")
    default_tiers: dict[str, Decimal] = {}
    for tier, value in tiers_raw.items():
        if tier not in TIERS:
            raise CatalogError(f"defaults.tiers.{tier}: unknown tier (known: {', '.join(TIERS)})")
        default_tiers[tier] = _money(value, f"defaults.tiers.{tier}")
    return Catalog(entries, aliases, default_tiers)


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The catalog shipped in the package (parsed once)."""
    text = resources.files("openusage.pricing").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return parse_catalog(load_text(text, bundled=True))
