"""Operations: health and readiness, Prometheus metrics, JSON logs, graceful shutdown, backups."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from openusage.cli import cli
from openusage.ingest.events import validate_events
from openusage.store import open_store
from tests.conftest import AppServer
from tests.procserver import ServerProcess

DAY = 86400
T0 = 1_700_006_400 // DAY * DAY
RANGE = {"start_time": T0, "end_time": T0 + DAY}


def events(tag: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{tag}-{i}", "type": "completions", "timestamp": T0 + i % DAY, "model": "gpt-4o",
             "input_tokens": 3} for i in range(n)]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_health_and_readiness(app_server: AppServer) -> None:
    with app_server.http() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ok"}
        app_server.store.close()  # the store goes away under the server
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "unavailable"}
        assert c.get("/healthz").status_code == 200  # alive, not ready


def test_metrics(app_server: AppServer) -> None:
    with app_server.client() as c:
        assert c.post("/v1/usage/events", json={"events": events("m", 50)}).json()["accepted"] == 50
        assert c.post("/v1/usage/events", json={"events": events("m", 60)}).json() == {"accepted": 10,
                                                                                        "duplicates": 50}
        for _ in range(3):
            assert c.get("/v1/organization/usage/completions", params=RANGE).status_code == 200
        c.get("/v1/organization/usage/completions", params={"start_time": "soon"})
        c.get("/no/such/path")
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    assert got[("openusage_ingest_events_total", (("outcome", "accepted"),))] == 60
    assert got[("openusage_ingest_events_total", (("outcome", "duplicate"),))] == 50
    assert got[("openusage_ingest_requests_total", ())] == 2
    route = "/v1/organization/usage/completions"
    assert got[("openusage_http_requests_total", (("method", "GET"), ("route", route), ("status", "200")))] == 3
    assert got[("openusage_http_requests_total", (("method", "GET"), ("route", route), ("status", "400")))] == 1
    assert got[("openusage_http_requests_total", (("method", "GET"), ("route", "other"), ("status", "404")))] == 1
    assert got[("openusage_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))] == 4
    assert got[("openusage_http_request_duration_seconds_bucket", (("le", "+Inf"), ("method", "GET"),
                                                                   ("route", route)))] == 4
    assert got[("openusage_store_events", ())] == 60
    assert got[("openusage_store_up", ())] == 1
    assert got[("openusage_store_size_bytes", ())] > 0
    assert got[("openusage_http_requests_in_flight", ())] == 1  # this scrape
    with app_server.http() as anon:
        assert anon.get("/metrics").status_code == 401


def test_metrics_can_be_public(make_app: Callable[..., AppServer]) -> None:
    with make_app(metrics_public=True).http() as anon:
        r = anon.get("/metrics")
    assert r.status_code == 200 and "openusage_store_events 0.0" in r.text


def test_json_logs_one_line_per_request(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    with ServerProcess(db, tmp_path, args=("--log-format", "json", "--log-level", "info")) as srv:
        ids = []
        with srv.client() as c:
            ids.append(c.post("/v1/usage/events", json={"events": events("j", 5)}).headers["x-request-id"])
            ids.append(c.get("/v1/organization/usage/completions", params=RANGE).headers["x-request-id"])
            ids.append(c.get("/v1/organization/costs", params={"start_time": "x"}).headers["x-request-id"])
            ids.append(c.get("/healthz", headers={"x-request-id": "probe-1"}).headers["x-request-id"])
        with srv.client("ouk_0123456789ab_not-a-real-secret") as c:
            ids.append(c.get("/v1/organization/costs", params=RANGE).headers["x-request-id"])
        # The store belongs to the running server: backup says so instead of copying a moving file.
        res = CliRunner().invoke(cli, ["backup", "--db", db, str(tmp_path / "bk")])
        assert res.exit_code == 1 and "in use by a running server" in res.output
        srv.terminate()
        lines = [json.loads(line) for line in srv.log_text().splitlines() if line.startswith("{")]
    # (the readiness probes of the test harness are logged too)
    access = [x for x in lines if x["logger"] == "openusage.access" and x["path"] != "/readyz"]
    assert [x["request_id"] for x in access] == ids
    assert [(x["method"], x["path"], x["status"]) for x in access] == [
        ("POST", "/v1/usage/events", 200), ("GET", "/v1/organization/usage/completions", 200),
        ("GET", "/v1/organization/costs", 400), ("GET", "/healthz", 200), ("GET", "/v1/organization/costs", 401)]
    assert access[0]["key_id"] == "env" and access[-1]["key_id"] is None
    assert all(x["duration_ms"] >= 0 and x["level"] == "info" and x["ts"].endswith("Z") for x in access)
    text = srv.log_text()
    assert "sk-proc-admin" not in text and "not-a-real-secret" not in text


def in_flight(srv: ServerProcess) -> float:
    with srv.client() as c:
        text = c.get("/metrics").text
    return samples(text)[("openusage_http_requests_in_flight", ())] - 1  # less this scrape


def test_graceful_shutdown_drains_inflight_ingest(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.duckdb")
    srv = ServerProcess(db, tmp_path)
    srv.start()
    results: dict[int, int | str] = {}
    bodies = [json.dumps({"events": events(f"g{k}", 15_000)}).encode() for k in range(6)]

    def slowly(body: bytes) -> Iterator[bytes]:
        """Upload in pieces over about two seconds: the request is in flight the whole time."""
        step = len(body) // 40 + 1
        for i in range(0, len(body), step):
            yield body[i:i + step]
            time.sleep(0.05)

    def send(k: int) -> None:
        with srv.client(timeout=120) as c:
            try:
                r = c.post("/v1/usage/events", content=slowly(bodies[k]), headers={"content-type": "application/json"})
                results[k] = r.status_code
            except httpx.HTTPError as exc:  # an in-flight request cut off would be a failure
                results[k] = type(exc).__name__

    threads = [threading.Thread(target=send, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while in_flight(srv) < 6 and time.monotonic() < deadline:  # all six are uploading
        time.sleep(0.01)
    assert in_flight(srv) == 6
    code = srv.terminate(timeout=120)
    for t in threads:
        t.join(timeout=120)
    assert code in (0, -15)
    assert results == dict.fromkeys(range(6), 200), results
    store = open_store(db)
    try:
        sql = "SELECT split_part(id, '-', 1), count(*) FROM events GROUP BY 1"
        rows = dict(store.execute(sql))  # type: ignore[attr-defined]
    finally:
        store.close()
    assert rows == {f"g{k}": 15_000 for k in range(6)}
    print("\nSIGTERM with six 15,000-event requests mid-upload: all six answered 200 and stored")


def test_backup_and_restore_round_trip(tmp_path: Path) -> None:
    db, out, back = tmp_path / "a.duckdb", tmp_path / "bk", tmp_path / "b.duckdb"
    store = open_store(str(db))
    store.insert([validate_events(events("b", 5000))])
    from openusage.auth import create_key

    key = create_key(store, "reader", "read", ["p1"])
    store.close()
    runner = CliRunner()
    res = runner.invoke(cli, ["backup", "--db", str(db), str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["events"] == 5000 and manifest["counts"]["api_keys"] == 1
    res = runner.invoke(cli, ["restore", str(out), "--db", str(back)])
    assert res.exit_code == 0, res.output
    restored = open_store(str(back))
    try:
        assert restored.count_events() == 5000
        assert restored.get_key(key.record.key_id) == key.record
        assert restored.insert([validate_events(events("b", 5001))]) == [1]  # ids still unique after restore
    finally:
        restored.close()
    # Restoring over a store, or from a damaged backup, is refused with a clear message.
    res = runner.invoke(cli, ["restore", str(out), "--db", str(back)])
    assert res.exit_code == 1 and "--force" in res.output
    parquet = out / "events.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-10] + b"0123456789")
    res = runner.invoke(cli, ["restore", str(out), "--db", str(tmp_path / "c.duckdb"), "--force"])
    assert res.exit_code == 1 and "damaged" in res.output
    assert not (tmp_path / "c.duckdb").exists()
    res = runner.invoke(cli, ["backup", "--db", str(db), str(out)])
    assert res.exit_code == 1 and "not empty" in res.output


@pytest.mark.parametrize("flag", [["--rate-limit", "0"], ["--max-body", "0"], ["--log-format", "xml"]])
def test_serve_rejects_bad_flags(flag: list[str]) -> None:
    res = CliRunner().invoke(cli, ["serve", *flag])
    assert res.exit_code == 2
