"""Prices are read from YAML as exact decimals; a float tag on anything but a number is one clear error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from openusage.pricing.catalog import CatalogError, load_text


def test_floats_are_exact_decimals() -> None:
    assert load_text("input: 0.1\nbig: 1_000.25\n") == {"input": Decimal("0.1"), "big": Decimal("1000.25")}


@pytest.mark.parametrize("text", ["input: !!float [1]\n", "input: !!float {a: 1}\n"])
def test_a_float_tag_on_a_list_or_mapping_is_refused(text: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_text(text)
    assert str(caught.value).startswith("not valid YAML or JSON: expected a number\n  in \"<unicode string>\", line 1")
