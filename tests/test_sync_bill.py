"""A store mirrored with its bill: usage of a model no price covers, billed by the source's cost lines,
is not reported as unpriced; usage no cost line bills still is."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from openusage import UsageApi
from openusage.pricing.costs import UNPRICED_HEADER
from openusage.store import open_store
from tests.conftest import LiveServer, start_server

DAY = 86400


def test_a_mirrored_bill_covers_its_unpriced_models(live_server: LiveServer, tmp_path: Path) -> None:
    now = int(time.time())
    day = now - now % DAY - 3 * DAY
    events = [
        {"id": "u1", "type": "completions", "timestamp": day + 60, "model": "gpt-9-preview", "project_id": "proj_a",
         "input_tokens": 1000, "output_tokens": 100},
        {"id": "u2", "type": "completions", "timestamp": day + 60, "model": "house-model", "project_id": "proj_a",
         "input_tokens": 500, "output_tokens": 50},
        {"id": "b1", "type": "costs", "timestamp": day, "line_item": "gpt-9-preview, input", "project_id": "proj_a",
         "amount": "0.02", "quantity": 1000, "quantity_unit": "tokens"},
        {"id": "b2", "type": "costs", "timestamp": day, "line_item": "gpt-9-preview, output", "project_id": "proj_a",
         "amount": "0.01", "quantity": 100, "quantity_unit": "tokens"},
    ]
    with UsageApi(live_server.url, live_server.admin_key) as api:
        api.ingest_events(events)
    db = tmp_path / "mirror.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    done = subprocess.run(["openusage", "sync", "--from", live_server.url, "--key", live_server.admin_key, "--since",
                           str(day - DAY), "--until", str(day + 2 * DAY), "--endpoint", "completions", "--endpoint",
                           "costs", "--db", str(db)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr

    store = open_store(str(db))
    target = start_server(store)
    try:
        with target.client() as c:
            r = c.get("/v1/organization/costs", params={"start_time": day - DAY, "end_time": day + 2 * DAY,
                                                        "group_by": "line_item"})
        assert r.status_code == 200
        assert r.headers.get(UNPRICED_HEADER) == "house-model"  # gpt-9-preview is billed by its imported lines
        lines = {res["line_item"]: res["amount"]["value"] for b in r.json()["data"] for res in b["results"]}
        assert lines == {"gpt-9-preview, input": 0.02, "gpt-9-preview, output": 0.01}
    finally:
        target.stop()
        store.close()
    costs = subprocess.run(["openusage", "costs", "--since", str(day - DAY), "--db", str(db)], capture_output=True,
                           text=True, timeout=120, env=env)
    assert costs.returncode == 0 and "$0.0300" in costs.stdout
    assert "house-model" in costs.stderr and "gpt-9-preview" not in costs.stderr
