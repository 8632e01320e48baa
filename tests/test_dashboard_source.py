"""The dashboard's breakdown by source (where usage came from) and its source filter, in Chromium,
against the API's own answers: usage sent through the events API and as OpenTelemetry spans."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from openusage.store import Store

from .conftest import start_server
from .test_dashboard import READY, browser, page, shot, sign_in  # noqa: F401 (fixtures)


def _span(i: int, now: int) -> dict:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.response.model", "value": {"stringValue": "traced-model"}},
             {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(100 + i)}},
             {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "5"}}]
    ns = str((now - 3600) * 10**9)
    return {"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "chat", "kind": 3,
            "startTimeUnixNano": ns, "endTimeUnixNano": ns, "attributes": attrs}


def _csv(pg, field: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    pg.wait_for_selector(f'table[data-table="breakdown-{field}"]')
    with pg.expect_download() as dl:
        pg.click(f'[data-export="breakdown-{field}"]')
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text(), newline="")))
    return {r[0]: r[1:] for r in rows[1:]}


def test_breakdown_and_filter_by_source(store: Store, page) -> None:  # noqa: F811
    now = int(time.time())
    srv = start_server(store)
    try:
        events = [{"id": f"e{i}", "type": "completions", "timestamp": now - 7200, "model": "sent-model",
                   "input_tokens": 10, "output_tokens": 1} for i in range(3)]
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": events}).json()["accepted"] == 3
            body = {"resourceSpans": [{"resource": {"attributes": []},
                                       "scopeSpans": [{"spans": [_span(i, now) for i in range(2)]}]}]}
            assert c.post("/v1/traces", json=body).status_code == 200
            api = c.get("/v1/organization/usage/completions",
                        params={"start_time": now - 86400, "group_by": "origin", "limit": 2}).json()
        want = {r["origin"]: r["num_model_requests"] for b in api["data"] for r in b["results"]}
        assert want == {"ingest": 3, "otlp": 2}

        sign_in(page, srv.url, hash_="#tab=breakdown&range=7d&breakdownBy=origin")
        by_source = _csv(page, "origin")
        assert {k: int(float(v[0])) for k, v in by_source.items()} == want  # requests per source
        shot(page, "breakdown-by-source")

        page.goto(f"{srv.url}/#tab=breakdown&range=7d&breakdownBy=model&source=otlp")
        page.reload()  # the same page with another hash: signed in already
        page.wait_for_selector(READY, timeout=30_000)
        assert page.input_value("#filter-source") == "otlp"
        by_model = _csv(page, "model")
        assert set(by_model) == {"traced-model"}  # the filter keeps the spans' usage only
        assert int(float(by_model["traced-model"][1])) == 100 + 101  # input tokens
    finally:
        srv.stop()
