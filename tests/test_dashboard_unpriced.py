"""Usage no price covers is named on the costs view, with the command that sets a price; running
that command (against the live server) makes the amounts whole."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from openusage.cli import cli
from openusage.store import Store

from .conftest import ADMIN_KEY, start_server
from .test_dashboard import READY, browser, nice_step, open_tab, page, shot, shown_range, sign_in  # noqa: F401 (fixtures)

LOCAL = "acme-local-llm-7b"  # in no catalog


def test_costs_view_names_unpriced_models_and_how_to_price_them(store: Store, page) -> None:  # noqa: F811
    srv = start_server(store)
    try:
        now = int(time.time())
        events = [
            {"id": "local", "type": "completions", "timestamp": now - 3 * 86400, "model": LOCAL,
             "project_id": "proj_a", "input_tokens": 4_000_000, "output_tokens": 1_000_000, "num_model_requests": 9},
            {"id": "priced", "type": "completions", "timestamp": now - 3 * 86400, "model": "gpt-4o-2024-08-06",
             "project_id": "proj_a", "input_tokens": 1_000_000, "output_tokens": 100_000, "num_model_requests": 2},
        ]
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
        sign_in(page, srv.url, hash_="#tab=costs&range=7d")
        start, _, _ = shown_range(page)
        day = time.strftime("%Y-%m-%d", time.gmtime(start))

        note = page.locator('[data-card="cost-summary"] [data-unpriced]')
        assert note.get_attribute("data-unpriced") == LOCAL
        assert f"No price is set for 1 model: {LOCAL}." in note.inner_text()
        command = note.locator("code").inner_text()
        assert command == f"openusage prices set {LOCAL} --input IN --output OUT --from {day}"
        before = float(page.locator('[data-kpi="cost-total"]').get_attribute("data-value"))
        assert before > 0  # the priced model alone
        shot(page, "costs-unpriced")

        # The breakdown, where costs are also shown, says the same.
        open_tab(page, "breakdown")
        assert page.locator('[data-card="breakdown"] [data-unpriced]').get_attribute("data-unpriced") == LOCAL

        # The command as shown, prices filled in, against this server: the note goes, the cost comes.
        args = command.split()[1:]
        args[args.index("IN")], args[args.index("OUT")] = "0.5", "1.5"
        result = CliRunner().invoke(cli, [*args, "--url", srv.url, "--key", ADMIN_KEY])
        assert result.exit_code == 0, result.output
        open_tab(page, "costs")
        page.click("#refresh")
        page.wait_for_selector(READY)
        assert page.locator("[data-unpriced]").count() == 0
        after = float(page.locator('[data-kpi="cost-total"]').get_attribute("data-value"))
        assert after - before == pytest.approx(4 * 0.5 + 1 * 1.5)
    finally:
        srv.stop()


def test_no_note_when_everything_is_priced(store: Store, page) -> None:  # noqa: F811
    srv = start_server(store)
    try:
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": [
                {"id": "priced", "type": "completions", "timestamp": int(time.time()) - 86400,
                 "model": "gpt-4o-2024-08-06", "input_tokens": 1000, "output_tokens": 100}]}).status_code == 200
        sign_in(page, srv.url, hash_="#tab=costs&range=7d")
        assert 0 < float(page.locator('[data-kpi="cost-total"]').get_attribute("data-value")) < 0.01
        assert page.locator("[data-unpriced]").count() == 0
        # A third of a cent: the axis steps in fractions of a cent, each label its own.
        chart = next(c for c in page.evaluate("window.openusage.charts()") if c["card"] == "cost-chart")
        nice_step(chart["ticks"])
    finally:
        srv.stop()
