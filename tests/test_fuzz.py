"""Fuzzing: schemathesis generates requests from the server's own OpenAPI document, for every
operation in it, and sends them to the real server over loopback.

Checked on every answer: no 5xx, the status code is one the document lists, the content type and
the body match the documented schema.  Semantic rules the schema cannot state (``end_time`` after
``start_time``, ``limit`` per bucket width) make valid-looking requests fail with a 400, so the
"valid data must be accepted" check is not used; the 400 must still be a documented error body.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from openusage.server.app import ServerSettings
from openusage.server.openapi import openapi_document
from tests.conftest import ADMIN_KEY, LiveServer, new_store, start_server, tls

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

FULL = os.environ.get("OPENUSAGE_FUZZ_FULL") == "1"
"""Set OPENUSAGE_FUZZ_FULL=1 for the deep run: the coverage phase too (every boundary value of every
parameter, ~3,500 requests, about two minutes) and more random examples."""
EXAMPLES = 200 if FULL else 20  # per operation; CI's run stays well under a minute on a busy 2-core machine
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": FULL}}})
UNFUZZED = ("/v1/openusage/backup",)
"""Documented but not fuzzed: each backup request snapshots the whole store into a temporary folder
and streams a tar archive, too heavy to repeat dozens of times in CI's budget; tests/test_backup.py
covers it against the server."""
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG).exclude(path=list(UNFUZZED))
CASES = {"n": 0}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = new_store(tmp_path_factory.mktemp("fuzz") / "usage.duckdb")
    srv = start_server(store, ServerSettings(admin_key=ADMIN_KEY, ingest_min_time=0))  # times from 0 on
    # Some usage of every type at times the generator likes (0, small numbers, today), so that
    # non-empty results are checked against their schemas too.
    from openusage.spec import ENDPOINTS

    events = [{"id": f"{ep.event_type}-{t}", "type": ep.event_type, "timestamp": t, "project_id": "p1",
               **({"amount": "1.25", "line_item": "gpt-4o, input"} if ep.name == "costs" else {})}
              for ep in ENDPOINTS for t in (0, 1, 59, 86399, 1_000_000_000, int(time.time()) - 60)]
    with srv.client() as c:
        assert c.post("/v1/usage/events", json={"events": events}).status_code == 200
    yield srv
    srv.stop()
    store.close()
    print(f"\nschemathesis: {CASES['n']} requests over {len(list(schema.get_all_operations()))} operations")


def test_served_document_is_the_generated_one(fuzz_server: LiveServer) -> None:
    assert httpx.get(f"{fuzz_server.url}/openapi.json", verify=tls()).json() == openapi_document()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: schemathesis.Case, fuzz_server: LiveServer) -> None:
    CASES["n"] += 1
    case.call_and_validate(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {fuzz_server.admin_key}"},
                           checks=CHECKS, timeout=30)
