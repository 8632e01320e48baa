"""``GET /v1/organization/usage/decisions``: ingested, served, read by our client, the official SDK
and the CLI, all from the one endpoint table."""

from __future__ import annotations

import json
import subprocess
import sys

import openai

from openusage import DecisionsResult, UsageApi
from tests.conftest import LiveServer

T0 = 1_767_225_600


def test_decisions_end_to_end(live_server: LiveServer) -> None:
    events = [{"id": f"d{i}", "type": "decisions", "timestamp": T0 + i * 3600, "model": "gpt-5", "project_id": "p",
               "input_tokens": 100 + i, "output_tokens": 10, "input_cached_tokens": 50} for i in range(3)]
    with live_server.client() as c:
        assert c.post("/v1/usage/events", json={"events": events}).json() == {"accepted": 3, "duplicates": 0}
    with UsageApi(live_server.url, live_server.admin_key) as api:
        page = api.usage_decisions(T0, T0 + 86400, group_by=["model"])
        [result] = page.data[0].results
        assert isinstance(result, DecisionsResult)
        assert (result.model, result.input_tokens, result.output_tokens, result.num_model_requests,
                result.input_cached_tokens) == ("gpt-5", 303, 30, 3, 150)
    sdk = openai.OpenAI(base_url=live_server.url + "/v1", admin_api_key=live_server.admin_key)
    got = sdk.admin.organization.usage.decisions(start_time=T0, end_time=T0 + 86400, bucket_width="1h", limit=3)
    assert [sum(r.input_tokens for r in b.results) for b in got.data] == [100, 101, 102]
    out = subprocess.run([sys.executable, "-c", "from openusage.cli import main; main()", "usage", "decisions",
                          "--url", live_server.url, "--key", live_server.admin_key, "--since", "2026-01-01",
                          "--until", "2026-01-02", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    buckets = json.loads(out.stdout)["data"]
    assert sum(r["input_tokens"] for b in buckets for r in b["results"]) == 303
