"""The docs derive from the endpoint table: the README's table is the generated one."""

from __future__ import annotations

import re
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


def test_readme_names_every_command_and_serve_flag() -> None:
    """The README's command table names every sub-command, and the README or the operations guide
    every `openusage serve` flag, so a new command or flag cannot ship undocumented."""
    from openusage.cli import cli

    text = README.read_text()
    for name in cli.commands:
        assert f"`openusage {name}" in text, f"README's command table lacks `openusage {name}`"
    ops = (README.parent / "docs" / "operations.md").read_text() + (README.parent / "docs" / "proxy.md").read_text()
    for param in cli.commands["serve"].params:
        for flag in param.opts:
            if flag.startswith("--") and flag != "--help":
                assert re.search(rf"{re.escape(flag)}(?![\w-])", text + ops), \
                    f"{flag} is described neither in README.md nor docs/operations.md nor docs/proxy.md"
