"""``openusage sync --from anthropic``: Anthropic's usage and cost reports copied into the store,
checked against totals computed straight from the fake server's data."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from openusage.service import UsageService
from openusage.spec import ENDPOINTS_BY_NAME
from openusage.store import open_store
from tests import fake_anthropic as fake
from tests.fake_anthropic import RunningAnthropic, start_fake_anthropic

DAY = 86400
T0 = 1_767_225_600  # 2026-01-01
DAYS = 40  # more than one page of 31 days


@pytest.fixture
def anthropic() -> Iterator[RunningAnthropic]:
    srv = start_fake_anthropic()
    yield srv
    srv.stop()


def sync(anthropic: RunningAnthropic, db: Path, key: str = fake.KEY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from openusage.cli import main; main()", "sync", "--from", "anthropic",
         "--base-url", anthropic.url, "--key", key, "--since", str(T0), "--until", str(T0 + DAYS * DAY),
         "--db", str(db)], capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", **_env()})


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "ANTHROPIC_ADMIN_KEY"}


def _totals(db: Path, endpoint: str, group_by: str) -> dict[Any, dict[str, int]]:
    """Each metric summed by the values of ``group_by`` (strings, or True/False for ``batch``)."""
    store = open_store(str(db))
    try:
        body = UsageService(store).query(ENDPOINTS_BY_NAME[endpoint], [
            ("start_time", str(T0)), ("end_time", str(T0 + DAYS * DAY)), ("limit", "31"), ("group_by", group_by)])
    finally:
        store.close()
    import orjson

    page = orjson.loads(body)
    out: dict[Any, dict[str, int]] = {}
    for b in page["data"]:
        for r in b["results"]:
            row = out.setdefault(r[group_by], {})
            for k, v in r.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    row[k] = row.get(k, 0) + v
    return out


def test_usage_and_costs_are_copied_exactly_and_once(anthropic: RunningAnthropic, tmp_path: Path) -> None:
    db = tmp_path / "usage.duckdb"
    first = sync(anthropic, db)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr

    days = [T0 + d * DAY for d in range(DAYS)]
    sonnet = [fake.usage_rows(d)[0] for d in days]
    haiku = [fake.usage_rows(d)[1] for d in days]

    def all_input(r: dict[str, Any]) -> int:
        cache = r["cache_creation"] or {}
        return int(r["uncached_input_tokens"] + r["cache_read_input_tokens"] + cache.get("ephemeral_1h_input_tokens", 0)
                + cache.get("ephemeral_5m_input_tokens", 0))

    by_model = _totals(db, "completions", "model")
    # only the first page of 31 days is read by this query (limit 31): compare on those days
    assert by_model["claude-sonnet-4-20250514"]["input_tokens"] == sum(all_input(r) for r in sonnet[:31])
    assert by_model["claude-sonnet-4-20250514"]["input_cached_tokens"] == sum(
        r["cache_read_input_tokens"] for r in sonnet[:31])
    assert by_model["claude-sonnet-4-20250514"]["input_cache_write_tokens"] == sum(
        r["cache_creation"]["ephemeral_1h_input_tokens"] + r["cache_creation"]["ephemeral_5m_input_tokens"]
        for r in sonnet[:31])
    assert by_model["claude-sonnet-4-20250514"]["output_tokens"] == sum(r["output_tokens"] for r in sonnet[:31])
    assert by_model["claude-3-5-haiku-20241022"]["input_tokens"] == sum(all_input(r) for r in haiku[:31])

    by_project = _totals(db, "completions", "project_id")
    assert set(by_project) == {"wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", "default"}  # the null workspace is "default"
    batch = _totals(db, "completions", "batch")
    assert batch[True]["output_tokens"] == sum(r["output_tokens"] for r in haiku[:31])  # service_tier batch

    searches = _totals(db, "web_search_calls", "model")
    assert searches["claude-sonnet-4-20250514"]["num_requests"] == sum(
        r["server_tool_use"]["web_search_requests"] for r in sonnet[:31])

    store = open_store(str(db))
    try:
        rows = [r for r in store.scan(None, 100_000).to_pylist() if r["type"] == "costs"]
    finally:
        store.close()
    cents = sum(Decimal(row["amount"]) for d in days for row in fake.cost_rows(d))
    assert sum(Decimal(str(r["amount"])) for r in rows) == cents / 100
    lines = {r["line_item"] for r in rows}
    assert lines == {"claude-sonnet-4-20250514, uncached input tokens", "Web Search Usage"}

    # the 429 was retried, every request carried the admin key and the version header
    assert all(h.get("anthropic-version") == "2023-06-01" for _, _, h in anthropic.app.requests)
    messages = [q for p, q, _ in anthropic.app.requests if p.endswith("usage_report/messages")]
    assert all(("group_by[]", "workspace_id") in q and ("group_by[]", "api_key_id") in q for q in messages)

    again = sync(anthropic, db)
    assert again.returncode == 0, again.stderr
    assert "0 new events" in again.stdout  # deterministic ids: nothing counted twice


def test_a_wrong_key_is_one_clear_line(anthropic: RunningAnthropic, tmp_path: Path) -> None:
    anthropic.app.throttle_first = 0
    out = sync(anthropic, tmp_path / "x.duckdb", key="sk-ant-wrong")
    assert out.returncode == 1
    assert "authentication_error" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
