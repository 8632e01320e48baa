"""The bundled catalog is parsed by libyaml's parser (when PyYAML has it) for speed, operators' files by
the pure-Python one: both must read the same text into the same values, exact decimals included."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

import yaml

from openusage.pricing.catalog import bundled_catalog, load_text, parse_catalog


def test_the_bundled_catalog_reads_the_same_through_either_parser() -> None:
    text = resources.files("openusage.pricing").joinpath("catalog.yaml").read_text(encoding="utf-8")
    fast, plain = load_text(text, bundled=True), load_text(text)
    assert fast == plain
    assert parse_catalog(fast) == parse_catalog(plain) == bundled_catalog()


def test_floats_stay_exact_decimals_through_either_parser() -> None:
    text = "a: 0.1\nb: 1_000.5\nc: [2.50, 1.0e-7]\nd: 3\n"
    for bundled in (True, False):
        assert load_text(text, bundled=bundled) == {"a": Decimal("0.1"), "b": Decimal("1000.5"),
                                                    "c": [Decimal("2.50"), Decimal("1.0e-7")], "d": 3}


def test_libyaml_is_the_bundled_catalogs_parser_where_pyyaml_has_it() -> None:
    from openusage.pricing import catalog

    if hasattr(yaml, "CSafeLoader"):
        assert issubclass(catalog._FastDecimalLoader, yaml.CSafeLoader)
    assert issubclass(catalog._DecimalLoader, yaml.SafeLoader)  # operators' files: the pure-Python parser
