"""Ingest keys limited to projects, over HTTP: events of other projects (or of none) are a 403 that
names the event, and nothing of the request is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from openusage.auth import create_key
from openusage.cli import cli
from openusage.store import open_store
from tests.conftest import AppServer, start_app

T0 = 1_767_225_600  # 2026-01-01
EVENTS = "/v1/usage/events"


def ev(n: int, project: str | None, event_type: str = "completions") -> dict[str, Any]:
    e: dict[str, Any] = {"id": f"k{n}", "type": event_type, "timestamp": T0 + n, "input_tokens": 5}
    if event_type == "vector_stores":
        e = {"id": f"k{n}", "type": event_type, "timestamp": T0 + n, "usage_bytes": 5}
    return e if project is None else {**e, "project_id": project}


def make_key(srv: AppServer, scope: str, projects: list[str] | None) -> str:
    with srv.client() as c:
        r = c.post("/v1/openusage/keys", json={"name": "t", "scope": scope, "projects": projects})
    assert r.status_code == 201, r.text
    assert r.json()["projects"] == projects
    return str(r.json()["key"])


def test_limited_ingest_key_writes_only_its_projects(app_server: AppServer) -> None:
    key = make_key(app_server, "ingest", ["proj_a", "proj_b"])
    with app_server.client(key) as c:
        good = [ev(0, "proj_a"), ev(1, "proj_b"), ev(2, "proj_a", "vector_stores")]
        assert c.post(EVENTS, json={"events": good}).json() == {"accepted": 3, "duplicates": 0}
        for bad, param, words in [(ev(12, "proj_c"), "events[2].project_id", "project 'proj_c'"),
                                  (ev(13, None), "events[2].project_id", "no project"),
                                  (ev(14, None, "vector_stores"), "events[2].project_id", "no project")]:
            for ndjson in (False, True):
                events = [ev(10, "proj_a"), ev(11, "proj_b"), bad]
                if ndjson:
                    r = c.post(EVENTS, content=b"\n".join(orjson.dumps(e) for e in events),
                               headers={"content-type": "application/x-ndjson"})
                else:
                    r = c.post(EVENTS, json={"events": events})
                assert r.status_code == 403, r.text
                err = r.json()["error"]
                assert (err["param"], err["type"], err["code"]) == (param, "invalid_request_error",
                                                                    "project_not_allowed")
                assert words in err["message"]
        r = c.get("/v1/organization/usage/completions", params={"start_time": T0})
        assert r.status_code == 403  # an ingest key still reads nothing
    assert app_server.store.count_events() == 3  # nothing of the refused requests


def test_unlimited_keys_write_any_project(app_server: AppServer) -> None:
    key = make_key(app_server, "ingest", None)
    events = [ev(0, "proj_x"), ev(1, None)]
    with app_server.client(key) as c:
        assert c.post(EVENTS, json={"events": events}).json() == {"accepted": 2, "duplicates": 0}
    with app_server.client() as c:  # admin
        assert c.post(EVENTS, json={"events": [ev(2, "proj_y")]}).json() == {"accepted": 1, "duplicates": 0}


def test_limited_read_key_cannot_ingest(app_server: AppServer) -> None:
    key = make_key(app_server, "read", ["proj_a"])
    with app_server.client(key) as c:
        r = c.post(EVENTS, json={"events": [ev(0, "proj_a")]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"


def test_admin_key_cannot_be_limited(app_server: AppServer) -> None:
    with app_server.client() as c:
        r = c.post("/v1/openusage/keys", json={"scope": "admin", "projects": ["proj_a"]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "scope"
    with pytest.raises(ValueError, match="read, ingest and proxy"):
        create_key(app_server.store, "x", "admin", ["proj_a"])


def test_cli_creates_a_limited_ingest_key(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.duckdb")
    result = CliRunner().invoke(cli, ["keys", "create", "--scope", "ingest", "--project", "proj_a", "--db", db],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    store = open_store(db)
    srv = start_app(store)
    try:
        with srv.client(key) as c:
            assert c.post(EVENTS, json={"events": [ev(0, "proj_a")]}).json() == {"accepted": 1, "duplicates": 0}
            r = c.post(EVENTS, json={"events": [ev(1, "proj_b")]})
            assert r.status_code == 403 and r.json()["error"]["param"] == "events[0].project_id"
        assert store.count_events() == 1
    finally:
        srv.stop()
        store.close()
