"""Costs from usage: a dated price catalog (data), custom prices, and exact cost line items.

* :mod:`.kinds`    the priced kinds of usage, one row each: dimensions, metric, unit, line item, fields;
* :mod:`.catalog`  the bundled ``catalog.yaml`` and the record format, validated;
* :mod:`.book`     custom prices (kept in the store) layered over it, and the lookup by day;
* :mod:`.compute`  one aggregated usage row -> charges, in exact decimals;
* :mod:`.costs`    the ``/v1/organization/costs`` page and the unpriced-usage report.
"""

from __future__ import annotations

from .book import CustomPrice, PriceBook, load_custom, parse_custom, save_custom
from .catalog import Catalog, CatalogError, bundled_catalog, load_text, parse_catalog
from .costs import UNPRICED_HEADER, compute_costs, costs_response, unpriced_usage

__all__ = [
    "UNPRICED_HEADER",
    "Catalog",
    "CatalogError",
    "CustomPrice",
    "PriceBook",
    "bundled_catalog",
    "compute_costs",
    "costs_response",
    "load_custom",
    "load_text",
    "parse_catalog",
    "parse_custom",
    "save_custom",
    "unpriced_usage",
]
