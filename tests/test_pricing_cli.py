"""``openusage prices ...`` and ``openusage costs`` through click's runner, on a real store file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from openusage.cli import cli
from openusage.ingest.events import validate_events
from openusage.pricing import load_custom
from openusage.store import open_store

DAY = 86400
M = 1_000_000


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "usage.duckdb")
    today = int(time.time()) // DAY * DAY
    store = open_store(path)
    store.insert([validate_events([
        {"id": "a", "type": "completions", "timestamp": today - 2 * DAY + 60, "model": "gpt-4o", "project_id": "p",
         "input_tokens": M, "output_tokens": M},
        {"id": "b", "type": "completions", "timestamp": today - 2 * DAY + 60, "model": "local-llm", "project_id": "p",
         "input_tokens": 2 * M, "output_tokens": M},
    ])])
    store.close()
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_costs_by_line_item_prints_a_table_with_totals(db: str) -> None:
    code, out = run("costs", "--since", "30d", "--group-by", "line_item", "--db", db)
    assert code == 0, out
    assert "gpt-4o, input" in out and "gpt-4o, output" in out
    assert "$2.5000" in out and "$10.0000" in out and "1,000,000" in out and "tokens" in out
    assert "total" in out and "$12.5000" in out
    assert "local-llm" in out  # the warning: usage no price covers


def test_prices_set_then_costs_include_the_model_and_missing_is_empty(db: str) -> None:
    code, out = run("prices", "missing", "--db", db)
    assert code == 0 and "local-llm" in out and "2,000,000" in out
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 40 * DAY))
    code, out = run("prices", "set", "local-llm", "--input", "0.5", "--output", "1.5", "--from", since,
                    "--source", "GPU cost", "--db", db)
    assert code == 0, out
    assert "local-llm from" in out
    code, out = run("prices", "missing", "--db", db)
    assert code == 0 and "Every usage in the range is priced." in out
    code, out = run("costs", "--since", "30d", "--db", db)
    assert "$15.0000" in out  # 12.50 + 2M x 0.5 + 1M x 1.5 per 1M
    code, out = run("prices", "list", "--custom", "--db", db)
    assert "local-llm" in out and "input 0.5, output 1.5" in out and "GPU cost" in out
    code, out = run("prices", "remove", "local-llm", "--from", since, "--db", db)
    assert code == 0 and load_custom(open_store(db)) == []


def test_prices_from_a_file_and_per_project(db: str, tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("prices:\n"
                 "  - model: gpt-4o\n    project_id: p\n    effective_from: 2020-01-01\n    multiplier: 0.5\n"
                 "  - model: web_search\n    effective_from: 2026-01-01\n    per_1k_calls: 25\n")
    code, out = run("prices", "set", "--file", str(f), "--db", db)
    assert code == 0, out
    stored = load_custom(open_store(db))
    assert [(p.model, p.project_id) for p in stored] == [("gpt-4o", "p"), ("web_search", None)]
    code, out = run("costs", "--since", "30d", "--group-by", "line_item", "--db", db)
    assert "$6.2500" in out  # gpt-4o at half price for project p


def test_prices_list_shows_the_catalog_with_sources(db: str) -> None:
    code, out = run("prices", "list", "--model", "gpt-4o-2024-08-06", "--db", db)
    assert code == 0
    assert "gpt-4o" in out and "2.50" in out and "platform.openai.com" in out and "gpt-4o-mini" not in out


@pytest.mark.parametrize("args,message", [
    (["local-llm", "--input", "0.5"], "--from YYYY-MM-DD is required"),
    (["--input", "0.5", "--from", "2026-01-01"], "name a MODEL"),
    (["local-llm", "--input", "cheap", "--from", "2026-01-01"], "--input: expected a number"),
    (["local-llm", "--input", "-1", "--from", "2026-01-01"], "0 or more"),
    (["local-llm", "--from", "2026-01-01"], "at least one price"),
    (["local-llm", "--input", "1", "--from", "Jan 1"], "expected a date"),
    (["local-llm", "--price", "audio_inpt=3", "--from", "2026-01-01"], "audio_inpt: not a price field"),
    (["local-llm", "--price", "oops", "--from", "2026-01-01"], "FIELD=USD"),
    (["gpt-4o", "--kind", "images", "--input", "1", "--from", "2026-01-01"], "completions model"),
])
def test_prices_set_refuses_bad_input(db: str, args: list[str], message: str) -> None:
    code, out = run("prices", "set", *args, "--db", db)
    assert code != 0
    assert message in out
    assert load_custom(open_store(db)) == []


def test_prices_set_file_errors(db: str, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("prices:\n  - model: x\n    effective_from: 2026-01-01\n    input: free\n")
    code, out = run("prices", "set", "--file", str(f), "--db", db)
    assert code != 0 and "bad.yaml[0].input" in out
    code, out = run("prices", "set", "x", "--file", str(f), "--db", db)
    assert code != 0 and "--file takes the prices from the file" in out


def test_prices_remove_and_missing_errors(db: str) -> None:
    code, out = run("prices", "remove", "nothing", "--from", "2026-01-01", "--db", db)
    assert code != 0 and "no custom price for nothing" in out
    code, out = run("prices", "remove", "nothing", "--from", "soon", "--db", db)
    assert code != 0 and "expected YYYY-MM-DD" in out
    code, out = run("prices", "missing", "--since", "yesterday-ish", "--db", db)
    assert code != 0 and "cannot read" in out
    code, out = run("prices", "missing", "--since", "1d", "--until", "2d", "--db", db)
    assert code != 0 and "--until must be later" in out
