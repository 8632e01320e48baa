"""The docs derive from the endpoint table: the README's table is the generated one."""

from __future__ import annotations

from pathlib import Path

from openusage.docs import END, START, endpoints_table, render_readme
from openusage.spec import ENDPOINTS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_endpoints_table_is_generated() -> None:
    text = README.read_text()
    assert START in text and END in text
    assert render_readme(text) == text, "run `python -m openusage.docs` to regenerate the README table"


def test_table_names_every_endpoint_and_group() -> None:
    table = endpoints_table()
    for ep in ENDPOINTS:
        assert ep.full_path in table
        for g in ep.group_by:
            assert g in table
