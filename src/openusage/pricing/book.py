"""Custom prices layered over the catalog, and the lookup: which prices apply to a name on a day.

Custom prices (``openusage prices set``, an operator's prices file) are kept in the store's metadata as
JSON, so every engine keeps them the same way.  Lookup order for a model (or tool) on a UTC day, for a
project: the catalog record in force, then the organization-wide custom record in force on top of it,
then the project's own custom record on top of that.  A custom record replaces only the fields it
gives (a record with ``multiplier: 0.8`` alone is a 20% discount on the catalog price).

Names are resolved through the catalog's aliases first, so a custom price for ``gpt-4o`` also
prices ``gpt-4o-2024-08-06``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .catalog import (
    PRICE_FIELDS,
    TOOL_NAMES,
    Catalog,
    CatalogError,
    Entry,
    ModelRate,
    PriceRecord,
    bundled_catalog,
    parse_record,
)

META_KEY = "pricing.custom"


@dataclass(frozen=True)
class CustomPrice:
    """An operator's price for a model or tool, from a date, optionally for one project."""

    model: str
    kind: str
    record: PriceRecord
    project_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "kind": self.kind}
        if self.project_id is not None:
            out["project_id"] = self.project_id
        out.update(self.record.to_json())
        return out

    @property
    def key(self) -> tuple[str, str | None, dt.date]:
        return (self.model, self.project_id, self.record.effective_from)


def kind_for(catalog: Catalog, model: str, kind: str | None = None) -> str:
    """The usage kind a custom price is for: given, else the catalog entry's, else completions."""
    if kind is not None:
        if not isinstance(kind, str) or kind not in PRICE_FIELDS:
            raise CatalogError(f"kind: expected one of {', '.join(PRICE_FIELDS)}, got {kind!r}")
        return kind
    entry = catalog.entry(model)
    if entry is not None:
        return entry.kind
    for k, name in TOOL_NAMES.items():
        if name == model:
            return k
    return "completions"


def parse_custom(raw: Any, catalog: Catalog | None = None, where: str = "prices") -> list[CustomPrice]:
    """Custom prices from a document: ``{"prices": [...]}`` or a bare list of records with ``model``."""
    catalog = catalog or bundled_catalog()
    items = raw.get("prices") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise CatalogError(f"{where}: expected a list of price records (or a mapping with 'prices')")
    out: list[CustomPrice] = []
    for i, item in enumerate(items):
        item_where = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise CatalogError(f"{item_where}: expected a mapping")
        data = {str(k): v for k, v in item.items()}
        model = data.pop("model", None)
        if not isinstance(model, str) or not model.strip():
            raise CatalogError(f"{item_where}.model: the model (or tool) name is required")
        project = data.pop("project_id", None)
        if project is not None and (not isinstance(project, str) or not project):
            raise CatalogError(f"{item_where}.project_id: expected a project id")
        kind = kind_for(catalog, model.strip(), data.pop("kind", None))
        if kind in TOOL_NAMES and model.strip() != TOOL_NAMES[kind]:
            raise CatalogError(f"{item_where}.model: {kind} usage is priced by the tool entry {TOOL_NAMES[kind]!r}")
        entry = catalog.entry(model.strip())
        if entry is not None and entry.kind != kind:
            raise CatalogError(f"{item_where}.kind: {model} is a {entry.kind} model in the catalog, not {kind}")
        record = parse_record(data, kind, item_where)
        given = (record.prices or record.tiers or record.per_image or record.by_model or record.options
                 or record.multiplier is not None)
        if not given:
            raise CatalogError(f"{item_where}: give at least one price (or a multiplier)")
        out.append(CustomPrice(model.strip(), kind, record, project))
    return out


def merge(existing: list[CustomPrice], new: list[CustomPrice]) -> list[CustomPrice]:
    """``existing`` with ``new`` added; a record for the same model, project and date is replaced."""
    by_key = {p.key: p for p in existing}
    for p in new:
        by_key[p.key] = p
    return sorted(by_key.values(), key=lambda p: (p.model, p.project_id or "", p.record.effective_from))


def load_custom(store: Any, catalog: Catalog | None = None) -> list[CustomPrice]:
    text = store.get_meta(META_KEY)
    if not text:
        return []
    return parse_custom(json.loads(text), catalog, where="stored prices")


def save_custom(store: Any, prices: list[CustomPrice]) -> None:
    store.set_meta(META_KEY, json.dumps({"version": 1, "prices": [p.to_json() for p in prices]}))


# -- lookup ------------------------------------------------------------------------------------


@dataclass
class Resolved:
    """The prices in force for one name on one day (and project), every layer applied."""

    kind: str
    prices: dict[str, Decimal] = field(default_factory=dict)
    tiers: dict[str, Decimal | dict[str, Decimal]] = field(default_factory=dict)
    per_image: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    default_quality: str | None = None
    default_size: str | None = None
    multiplier: Decimal = Decimal(1)
    by_model: tuple[ModelRate, ...] = ()
    options: dict[str, Decimal] = field(default_factory=dict)
    """Prices by the value of the kind's ``option`` dimension (code interpreter: by container size)."""
    token_plans: dict[str | None, list[tuple[str, str, Decimal | None]]] = field(default_factory=dict, repr=False,
                                                                               compare=False)
    """Per-token prices already worked out, by tier, since many rows share them (see ``compute``)."""

    def overlay(self, record: PriceRecord) -> None:
        self.prices.update(record.prices)
        self.tiers.update(record.tiers)
        for quality, sizes in record.per_image.items():
            self.per_image[quality] = {**self.per_image.get(quality, {}), **sizes}
        self.default_quality = record.default_quality or self.default_quality
        self.default_size = record.default_size or self.default_size
        if record.multiplier is not None:
            self.multiplier = record.multiplier
        if record.by_model:
            self.by_model = record.by_model
        self.options.update(record.options)


class PriceBook:
    """The catalog plus custom prices; answers :meth:`resolve` for (name, kind, day, project)."""

    def __init__(self, catalog: Catalog | None = None, custom: list[CustomPrice] | None = None) -> None:
        self.catalog = catalog or bundled_catalog()
        self.custom = custom or []
        self._custom: dict[tuple[str, str | None], list[CustomPrice]] = {}
        for p in self.custom:
            key = (self.catalog.canonical(p.model), p.project_id)
            self._custom.setdefault(key, []).append(p)
        for lst in self._custom.values():
            lst.sort(key=lambda p: p.record.effective_from)
        self.project_specific = any(p.project_id is not None for p in self.custom)
        self._cache: dict[tuple[str, str, dt.date, str | None], Resolved | None] = {}
        self._merged: dict[tuple[Any, ...], Resolved] = {}

    @classmethod
    def for_store(cls, store: Any) -> PriceBook:
        catalog = bundled_catalog()
        return cls(catalog, load_custom(store, catalog))

    def _custom_in_force(self, name: str, project: str | None, kind: str, day: dt.date) -> PriceRecord | None:
        found = None
        for p in self._custom.get((name, project), ()):
            if p.kind == kind and p.record.effective_from <= day:
                found = p.record
        return found

    def _fine_tuned_entry(self, name: str) -> Entry | None:
        """``ft:BASE:ORG:SUFFIX:ID`` is priced at the fine-tuning rates of BASE (the entry ``ft:`` + its name)."""
        if not name.startswith("ft:"):
            return None
        base = name.split(":")[1]
        return self.catalog.entries.get("ft:" + self.catalog.canonical(base))

    def resolve(self, name: str, kind: str, day: dt.date, project: str | None = None) -> Resolved | None:
        """Prices for usage of ``kind`` named ``name`` on ``day``; None when nothing prices it."""
        key = (name, kind, day, project if self.project_specific else None)
        if key in self._cache:
            return self._cache[key]
        canonical = self.catalog.canonical(name)
        layers: list[PriceRecord] = []
        entry = self.catalog.entries.get(canonical) or self._fine_tuned_entry(name)
        if entry is not None and entry.kind == kind:
            rec = entry.in_force(day)
            if rec is not None:
                layers.append(rec)
        for proj in (None, project) if project is not None else (None,):
            rec = self._custom_in_force(canonical, proj, kind, day)
            if rec is not None:
                layers.append(rec)
        out: Resolved | None = None
        if layers:  # days under the same records share one Resolved (and its worked-out unit prices)
            shared = (kind, *(id(r) for r in layers))
            out = self._merged.get(shared)
            if out is None:
                out = self._merged[shared] = Resolved(kind)
                for rec in layers:
                    out.overlay(rec)
        self._cache[key] = out
        return out
