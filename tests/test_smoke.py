"""The server answers over real HTTP: ingest, query, health."""

from __future__ import annotations

from tests.conftest import AppServer


def test_ingest_then_query(app_server: AppServer) -> None:
    with app_server.client() as c:
        events = [{"id": f"e{i}", "type": "completions", "timestamp": 1700000000 + i * 3600, "model": "gpt-4o",
                   "input_tokens": 10, "output_tokens": 2} for i in range(30)]
        r = c.post("/v1/usage/events", json={"events": events})
        assert r.json() == {"accepted": 30, "duplicates": 0}
        r = c.get("/v1/organization/usage/completions",
                  params={"start_time": 1700000000, "end_time": 1700000000 + 2 * 86400, "group_by": "model"})
        assert r.status_code == 200
        total = sum(res["input_tokens"] for b in r.json()["data"] for res in b["results"])
        assert total == 10 * 30 - 10 * max(0, 30 - 48)
        assert c.get("/healthz").status_code == 200
