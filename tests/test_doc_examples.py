"""The examples in README.md and docs/pricing.md work as written: pasted, run, loaded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from openusage.pricing.book import parse_custom
from openusage.pricing.catalog import PRICE_FIELDS, load_text
from tests.conftest import LiveServer, tls

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PRICING = (ROOT / "docs" / "pricing.md").read_text()


def block_after(text: str, heading: str, lang: str) -> str:
    """The first fenced block of ``lang`` after ``heading``."""
    rest = text[text.index(heading):]
    m = re.search(rf"```{lang}\n(.*?)```", rest, re.S)
    assert m, f"no {lang} block after {heading!r}"
    return m.group(1)


@pytest.fixture
def filled(live_server: LiveServer) -> LiveServer:
    now = int(time.time())
    events = [{"id": f"doc-{i}", "type": t, "timestamp": now - 60 - i * 7200, "model": "gpt-4o", "project_id": "proj_a",
               "input_tokens": 100 + i, "output_tokens": 5} for i in range(40) for t in ("completions", "embeddings")]
    for e in events:
        if e["type"] == "embeddings":
            e.pop("output_tokens")
            e["id"] += "-e"
    with live_server.client() as c:
        assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
    return live_server


def test_readme_python_snippet_runs_when_pasted(filled: LiveServer, tmp_path: Path) -> None:
    code = block_after(README, "## Python client", "python")
    assert "\nasync with" not in code  # no await outside a function
    script = tmp_path / "snippet.py"
    script.write_text(code)
    env = {**os.environ, "OPENUSAGE_BASE_URL": filled.url, "OPENUSAGE_API_KEY": filled.admin_key}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "gpt-4o" in done.stdout and "200 application/json" in done.stdout


def test_readme_curl_line_gets_today_in_one_page(filled: LiveServer) -> None:
    shell = block_after(README, "prints an admin key, once", "bash")
    url = re.search(r'curl -H "Authorization: Bearer \$KEY" \\\n\s*"([^"]+)"', shell)
    assert url, shell
    now = int(time.time())
    target = url.group(1).replace("$(( $(date +%s) - 7*86400 ))", str(now - 7 * 86400))
    target = target.replace("http://127.0.0.1:8787", filled.url)
    assert "$" not in target
    page = httpx.get(target, headers={"Authorization": f"Bearer {filled.admin_key}"}, verify=tls()).json()
    assert page["has_more"] is False
    assert page["data"][-1]["start_time"] <= now < page["data"][-1]["end_time"] or page["data"][-1]["end_time"] == now
    assert sum(r["input_tokens"] for b in page["data"] for r in b["results"]) == sum(100 + i for i in range(40))
    assert "next page" in shell


def test_pricing_docs_example_is_what_prices_set_file_accepts(tmp_path: Path) -> None:
    example = block_after(PRICING, "A prices file, YAML or JSON", "yaml")
    records = parse_custom(load_text(example), where="docs")
    assert [r.model for r in records] == ["llama-3.1-70b", "gpt-4o", "my-embedder", "my-image-model", "web_search"]
    path = tmp_path / "prices.yaml"
    path.write_text(example)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    done = subprocess.run(["openusage", "prices", "set", "--file", str(path), "--db", str(tmp_path / "p.duckdb")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(["openusage", "prices", "list", "--db", str(tmp_path / "p.duckdb")],
                            capture_output=True, text=True, timeout=120, env={**env, "COLUMNS": "200"})
    assert "my-image-model" in listed.stdout and "llama-3.1-70b" in listed.stdout


def test_pricing_docs_name_every_price_field_by_kind() -> None:
    paragraph = PRICING[PRICING.index("Price fields by kind:"):]
    paragraph = paragraph[:paragraph.index("\n\n")].replace("\n", " ")
    for kind, fields in PRICE_FIELDS.items():
        assert kind in paragraph, kind
        for f in fields:
            assert f"`{f}" in paragraph or f" {f}," in paragraph or f" {f}`" in paragraph, (kind, f)
