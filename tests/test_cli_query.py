"""``openusage usage`` and ``openusage costs``: tables that fit the terminal, costs with subtotals, and
exports (csv, json, ndjson, parquet) whose CSV cannot be read as spreadsheet formulas.

Layout cases run through click's CliRunner at COLUMNS=80 and 250; each behaviour also runs once
through the real console script."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from openusage.cli import cli
from openusage.cli.query_cmd import neutralise

NOW = int(time.time())
DAY0 = NOW - NOW % 86400 - 3 * 86400
LONG_MODEL = "meta-llama/Llama-3.1-405B-Instruct-Turbo-2024"
NASTY = ["=HYPERLINK(\"http://x\")", "+SUM(1)", "-2+3", "@cmd", "[red]markup[/red]"]
"""Names an ingest key may send (control characters such as a leading tab are refused at ingestion)."""


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    models = [LONG_MODEL, "gpt-4o", "o3"]
    for i in range(30):
        out.append({"id": f"u{i}", "type": "completions", "timestamp": DAY0 + i * 3600, "model": models[i % 3],
                    "user_id": NASTY[i % len(NASTY)], "input_tokens": 1000 + i, "output_tokens": 10 * i,
                    "input_cached_tokens": i, "input_audio_tokens": 2 * i, "output_audio_tokens": 3 * i,
                    "input_image_tokens": 4 * i, "output_text_tokens": 5 * i})
    return out


def cost_lines() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(12):
        out.append({"id": f"c{i}", "type": "costs", "timestamp": DAY0 + (i % 3) * 86400, "amount": "0.25",
                    "line_item": ["gpt-4o, input", "=1+1, output", "images, 1024x1024"][i % 3],
                    "project_id": "proj_a", "quantity": 4, "quantity_unit": "images" if i % 3 == 2 else "tokens"})
    return out


def store_of(d: Path, rows: list[dict[str, Any]]) -> str:
    path = d / "events.json"
    path.write_bytes(orjson.dumps({"events": rows}))
    db = str(d / "q.duckdb")
    result = CliRunner().invoke(cli, ["ingest", str(path), "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_of(tmp_path_factory.mktemp("usage"), events())


@pytest.fixture(scope="module")
def costs_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Cost lines alone (usage in the store would be priced into costs too)."""
    return store_of(tmp_path_factory.mktemp("costs"), cost_lines())


def run(*args: str, columns: int = 80) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def openusage(*args: str, columns: int = 80, text: bool = True) -> subprocess.CompletedProcess[Any]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}, "COLUMNS": str(columns)}
    done = subprocess.run(["openusage", *args], capture_output=True, text=text, timeout=120, env=env)
    assert done.returncode == 0 and "Traceback" not in str(done.stderr), done.stderr
    return done


def table_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln[:1] in "┏┃┡│├└"]


@pytest.mark.parametrize("columns", [80, 250])
def test_usage_fits_the_terminal_without_cutting(db: str, columns: int) -> None:
    result = run("usage", "completions", "--group-by", "model", "--db", db, columns=columns)
    lines = table_lines(result.stdout)
    assert lines and all(len(ln) <= columns for ln in lines)
    assert "…" not in result.stdout
    assert LONG_MODEL in result.stdout and "start (UTC)" in result.stdout
    assert (DAY0 and time.strftime("%Y-%m-%d", time.gmtime(DAY0))) in result.stdout
    header = lines[1]
    if columns == 80:  # what does not fit is left out whole and named
        assert "input_tokens" in header and "output_text_tokens" not in header
        assert "Left out to fit 80 columns:" in result.stderr and "output_text_tokens" in result.stderr
    else:
        for name in ("input_tokens", "output_tokens", "input_cached_tokens", "num_model_requests"):
            assert name in header


def test_a_narrow_terminal_keeps_the_metrics_always_reported(db: str) -> None:
    header = table_lines(run("usage", "completions", "--db", db, columns=80).stdout)[1]
    assert "input_tokens" in header and "output_tokens" in header and "num_model_requests" in header


def test_all_zero_columns_are_left_out_and_columns_chooses(db: str) -> None:
    wide = run("usage", "completions", "--db", db, columns=250).stdout
    assert "input_image_tokens" in wide and "output_image_tokens" not in wide  # never used: all zero
    assert "input_cache_write_tokens" not in wide
    chosen = run("usage", "completions", "--columns", "output_image_tokens,num_model_requests", "--db", db).stdout
    header = table_lines(chosen)[1]
    assert "output_image_tokens" in header and "num_model_requests" in header and "input_tokens" not in header
    assert "30" in chosen  # 30 requests in total


def test_dimension_values_are_shown_as_text(db: str) -> None:
    out = run("usage", "completions", "--group-by", "user_id", "--db", db, columns=250).stdout
    assert "[red]markup[/red]" in out


def test_costs_one_row_per_group_with_integer_quantities(costs_db: str) -> None:
    out = run("costs", "--since", "30d", "--group-by", "line_item", "--db", costs_db).stdout
    lines = table_lines(out)
    assert len(lines) == 3 + 3 + 3  # header box, three line items, the total
    assert "$1.0000" in out and "$3.0000" in out  # four lines of $0.25 each; the total
    assert " 16 " in out and "16.0000" not in out and "4.0000" not in out
    assert "images" in out and "tokens" in out


def test_costs_per_bucket_with_subtotals(costs_db: str) -> None:
    out = run("costs", "--since", "30d", "--group-by", "line_item,project_id", "--per-bucket", "--db", costs_db,
              columns=120).stdout
    assert out.count("subtotal") == 3 and "total" in out
    first = [ln for ln in table_lines(out) if "gpt-4o, input" in ln]
    assert len(first) == 2 and "subtotal" in first[-1] and "$1.0000" in first[-1]  # one bucket, then its subtotal


def test_costs_without_groups_per_bucket_and_total(costs_db: str) -> None:
    out = run("costs", "--since", "30d", "--db", costs_db).stdout
    assert "$3.0000" in out and "subtotal" not in out and "quantity" not in out


def test_costs_help_offers_only_its_filters() -> None:
    from openusage.spec import ENDPOINTS, ENDPOINTS_BY_NAME

    text = openusage("costs", "--help", columns=200).stdout
    own = {f.param for f in ENDPOINTS_BY_NAME["costs"].filters}
    for ep in ENDPOINTS:
        for f in ep.filters:
            flag = "--" + f.param.replace("_", "-")
            assert (flag in text) == (f.param in own), flag
    usage = run("usage", "--help").stdout
    assert "--line-items" not in usage and "--models" in usage


def test_csv_neutralises_formulas_and_keeps_numbers(db: str, costs_db: str, tmp_path: Path) -> None:
    done = openusage("usage", "completions", "--group-by", "user_id", "--format", "csv", "--db", db, text=False)
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode(), newline="")))
    users = {r["user_id"] for r in rows}
    assert {"'=HYPERLINK(\"http://x\")", "'+SUM(1)", "'-2+3", "'@cmd", "[red]markup[/red]"} == users
    assert all(r["input_tokens"].isdigit() for r in rows)
    assert sum(int(r["num_model_requests"]) for r in rows) == 30
    out = tmp_path / "costs.csv"
    openusage("costs", "--since", "30d", "--group-by", "line_item", "--output", str(out), "--db", costs_db)
    text = out.read_text()
    assert "'=1+1, output" in text and "\n=" not in text and ",=" not in text
    costs = list(csv.DictReader(io.StringIO(text)))
    assert {r["amount"] for r in costs} == {"1"} and {r["quantity"] for r in costs} == {"16"}  # four lines a day


def test_neutralise_rule() -> None:
    for bad in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert neutralise(bad) == "'" + bad
    assert neutralise("gpt-4o") == "gpt-4o" and neutralise(-5) == -5 and neutralise(1.5) == 1.5
    assert neutralise(None) is None and neutralise("") == ""


def test_json_ndjson_and_parquet(db: str, costs_db: str, tmp_path: Path) -> None:
    page = orjson.loads(openusage("usage", "completions", "--format", "json", "--db", db).stdout)
    assert page["object"] == "page" and sum(len(b["results"]) for b in page["data"]) > 0
    lines = openusage("costs", "--since", "30d", "--group-by", "line_item", "--format", "ndjson",
                      "--db", costs_db).stdout.splitlines()
    rows = [orjson.loads(ln) for ln in lines]
    assert len(rows) == 3 and {r["amount"] for r in rows} == {1.0} and rows[0]["currency"] == "usd"
    assert set(rows[0]) == {"start_time", "end_time", "line_item", "amount", "quantity", "currency", "quantity_unit"}
    target = tmp_path / "usage.parquet"
    done = openusage("usage", "completions", "--group-by", "model", "--output", str(target), "--db", db)
    assert "rows written" in done.stderr
    table = pq.read_table(target)
    assert sum(table.column("input_tokens").to_pylist()) == sum(1000 + i for i in range(30))
    assert set(table.column("model").to_pylist()) == {LONG_MODEL, "gpt-4o", "o3"}
    chosen = orjson.loads(run("usage", "completions", "--format", "ndjson", "--columns", "output_tokens",
                              "--db", db).stdout.splitlines()[0])
    assert set(chosen) == {"start_time", "end_time", "output_tokens"}


def test_the_console_script_fits_80_columns(db: str, costs_db: str) -> None:
    done = openusage("usage", "completions", "--group-by", "model", "--db", db, columns=80)
    assert all(len(ln) <= 80 for ln in table_lines(done.stdout)) and LONG_MODEL in done.stdout
    wide = openusage("costs", "--since", "30d", "--group-by", "line_item", "--db", costs_db, columns=250)
    assert "$3.0000" in wide.stdout and len(table_lines(wide.stdout)) == 9


def test_number_and_money_formats() -> None:
    from decimal import Decimal

    from openusage.cli.query_cmd import fit_columns, fmt_money, fmt_number

    assert [fmt_number(v) for v in (4.0, 5000.0, 1234567, 12.34567, 0.00001, None, True)] == [
        "4", "5,000", "1,234,567", "12.3457", "1e-05", "", "true"]
    assert fmt_money(Decimal("1234.5")) == "$1,234.5000" and fmt_money(Decimal("-0.25")) == "-$0.2500"
    # rich's default box: 1 + (width + 3) per column
    assert fit_columns([10, 20, 12, 13], keep=2, total=1 + 13 + 23 + 15) == 3
    assert fit_columns([10, 20, 12, 13], keep=2, total=10) == 2
