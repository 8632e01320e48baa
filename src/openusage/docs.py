"""Documentation generated from the endpoint table.

``python -m openusage.docs`` rewrites the endpoints table in README.md (between its markers);
``tests/test_docs.py`` fails when the README and the table disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .spec import ENDPOINTS

START = "<!-- endpoints-table: generated from openusage.spec by `python -m openusage.docs`; a test checks it -->"
END = "<!-- /endpoints-table -->"


def endpoints_table() -> str:
    rows = ["| path | filters | `group_by` | result fields | `limit` default/max |", "|---|---|---|---|---|"]
    for ep in ENDPOINTS:
        filters = ", ".join(f.param for f in ep.filters)
        groups = ", ".join(ep.group_by)
        fields = ", ".join(m.name for m in ep.metrics)
        limits = ", ".join(f"{w}: {d}/{m}" for w, (d, m) in ep.limits.items())
        path = f"`{ep.full_path}`" + ("" if ep.since_seed else " ¹")
        rows.append(f"| {path} | {filters} | {groups} | {fields} | {limits} |")
    rows.append("")
    rows.append("¹ in the current OpenAI API, beyond the seed document.")
    return "\n".join(rows)


def render_readme(text: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{endpoints_table()}\n{END}", text)


def main(path: str = "README.md") -> None:
    p = Path(path)
    p.write_text(render_readme(p.read_text()))


if __name__ == "__main__":
    main(*sys.argv[1:])
