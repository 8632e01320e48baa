"""Costs pages are held to ``max_page_results`` results like usage pages: they end at a day edge,
followed to the end they equal the unbounded answer, and one day alone over the bound is a 400."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openusage.server.app import ServerSettings
from tests.conftest import ADMIN_KEY, AppServer, new_store, start_app
from tests.reference import fetch_all

DAY = 86400
T0 = 1_764_547_200 - 20 * DAY  # 2025-11-11
USERS_PER_DAY = [3, 1, 4, 2, 4, 0, 3, 5]  # the last day, alone over the bound of 4, is not in the first range


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[AppServer, AppServer]]:
    store = new_store(tmp_path / "costs.duckdb")
    events = [{"id": f"e{d}-{u}", "type": "completions", "timestamp": T0 + d * DAY + 60 * u, "model": "gpt-4o",
               "project_id": "p", "user_id": f"u{u}", "input_tokens": 1000 * (u + 1), "output_tokens": 10}
              for d, n in enumerate(USERS_PER_DAY) for u in range(n)]
    plain = start_app(store)
    with plain.client() as c:
        assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
    bounded = start_app(store, ServerSettings(admin_key=ADMIN_KEY, max_page_results=4))
    yield plain, bounded
    bounded.stop()
    plain.stop()
    store.close()


def test_costs_pages_end_at_a_day_edge_and_add_up(servers: tuple[AppServer, AppServer]) -> None:
    plain, bounded = servers
    params = {"start_time": T0, "end_time": T0 + 7 * DAY, "group_by": "user_id", "limit": 7}
    with plain.client() as a, bounded.client() as b:
        whole = a.get("/v1/organization/costs", params=params).json()
        first = b.get("/v1/organization/costs", params=params).json()
        # 3 + 1 results fit the bound of 4; the third day's 4 more start the next page
        assert [len(x["results"]) for x in first["data"]] == [3, 1]
        assert first["has_more"] is True
        pages = fetch_all(b, "/v1/organization/costs", list(params.items()))
    assert [x for p in pages for x in p["data"]] == whole["data"]
    assert all(sum(len(x["results"]) for x in p["data"]) <= 4 for p in pages)


def test_a_day_over_the_bound_is_a_400(servers: tuple[AppServer, AppServer]) -> None:
    _, bounded = servers
    with bounded.client() as c:
        r = c.get("/v1/organization/costs", params={"start_time": T0 + 7 * DAY, "end_time": T0 + 8 * DAY,
                                                    "group_by": "user_id"})
    assert r.status_code == 400
    assert "narrow the query" in r.json()["error"]["message"]
