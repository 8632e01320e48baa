"""``openusage sync`` from one real openusage server into another store: the mirrored answers equal
the source's for every endpoint, and running it again changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from openusage import UsageApi
from openusage.cli import cli
from openusage.client.mirror import Checkpoint, Stats, event_id, plan, result_event, source_name
from openusage.client.types import Bucket
from openusage.spec import DIMENSIONS, ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint
from openusage.store import Store, open_store
from tests.conftest import LiveServer, start_server
from tests.test_client import EVENTS, T0
from tests.test_client_retry import ScriptedServer, Step

DAY = 86400
SINCE, UNTIL = T0 - DAY, T0 + 6 * DAY


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = open_store(str(tmp_path_factory.mktemp("source") / "source.duckdb"))
    srv = start_server(store)
    with UsageApi(srv.url, srv.admin_key) as api:
        assert api.ingest_events(EVENTS)["accepted"] == len(EVENTS)
    yield srv
    srv.stop()
    store.close()


def run_sync(source: LiveServer, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", source.admin_key, *args],
                                catch_exceptions=False)
    return result


def answers(api: UsageApi, ep: Endpoint, start: int, end: int, width: str = "1d") -> list[Any]:
    """Every grouping that must survive the copy: none, each field alone, all fields.

    Costs: the grouping copied (all fields).  Coarser cost answers of a source that prices usage at
    query time are not always the sums of its finer ones (seen with the pricing of issue 5), and a
    copy can only hold the finest.
    """
    groupings: list[list[str]] = [[], list(ep.openai_group_by), *([g] for g in ep.openai_group_by)]
    if ep.name == "costs":
        groupings = [list(ep.openai_group_by)]
    out = []
    for g in groupings:
        page = getattr(api, ep.method_name)(start, end_time=end, bucket_width=width, group_by=g, paginate=True,
                                            limit=ep.limits[width][1])
        data = page.to_dict()["data"]
        out.append(comparable_costs(data, g) if ep.name == "costs" else data)
    return out


def comparable_costs(data: list[dict[str, Any]], group_by: list[str]) -> list[dict[str, Any]]:
    """Cost answers as a copy can keep them: amounts travel as JSON floats, so a sum of the copied
    floats may differ from the source's exact sum in the 16th digit; and a line without an
    ``api_source`` is stored as the store's default, ``unlabeled``."""
    for b in data:
        for r in b["results"]:
            r["amount"]["value"] = round(r["amount"]["value"], 9)
            if "api_source" in group_by and r["api_source"] is None:
                r["api_source"] = DIMENSIONS["api_source"].default
        b["results"].sort(key=lambda r: [(v is not None, v or "") for v in (r.get(g) for g in group_by)])
    return data


def assert_same_answers(source: LiveServer, target_url: str, key: str, endpoints: list[Endpoint],
                        start: int, end: int, width: str = "1d") -> None:
    with UsageApi(source.url, source.admin_key) as a, UsageApi(target_url, key) as b:
        for ep in endpoints:
            w = width if width in ep.limits else "1d"
            want = answers(a, ep, start, end, w)
            assert any(r for grouping in want for bucket in grouping for r in bucket["results"]), ep.name
            assert answers(b, ep, start, end, w) == want, ep.name


USAGE = [ep for ep in ENDPOINTS if ep.name != "costs"]
COSTS = ENDPOINTS_BY_NAME["costs"]


def assert_same_cost_lines(source: LiveServer, store: Store, start: int, end: int) -> None:
    """The store holds the source's cost results as cost lines, one per bucket and full group.

    (The target's ``/costs`` answer also prices the mirrored usage with its own catalog, so it is
    compared only where no usage was mirrored: see test_costs_alone_answer_as_the_source.)
    """
    from openusage.store.duckdb_store import DuckDBStore

    assert isinstance(store, DuckDBStore)  # the cost lines are read back in SQL
    dims = list(COSTS.openai_group_by)
    rows = store.execute(f"SELECT ts_us // 1000000, {', '.join(dims)}, amount, quantity, quantity_unit FROM events "
                         "WHERE type = 'costs'")
    got = {(r[0], *r[1:1 + len(dims)]): (Decimal(r[-3]), r[-2], r[-1]) for r in rows}
    with UsageApi(source.url, source.admin_key) as api:
        page = api.usage_costs(start, end_time=end, group_by=dims, paginate=True, limit=180)
    default = {d: DIMENSIONS[d].default for d in dims}  # a line without api_source is stored as "unlabeled"
    want = {(b.start_time, *(default[d] if r.get(d) is None else r.get(d) for d in dims)): (
        Decimal(repr(r.amount.value if r.amount else 0.0)).quantize(Decimal("1e-12")), r.quantity, r.quantity_unit)
        for b in page.data for r in b.results}
    assert want and got == want


def target_server(path: Path) -> tuple[Store, LiveServer]:
    store = open_store(str(path))
    return store, start_server(store)


def test_sync_into_a_store_file_equals_the_source_and_is_idempotent(source: LiveServer, tmp_path: Path) -> None:
    db = tmp_path / "mirror.duckdb"
    first = run_sync(source, "--since", str(SINCE), "--until", str(UNTIL), "--db", str(db))
    assert first.exit_code == 0, first.output
    assert "new events" in first.output
    store = open_store(str(db))
    count = store.count_events()
    assert count > 0
    cp = Checkpoint(**json.loads(store.get_meta(f"sync:{source_name(source.url)}:completions") or "{}"))
    assert (cp.start, cp.through, cp.bucket_width) == (SINCE, UNTIL, "1d")
    assert cp.group_by == list(ENDPOINTS_BY_NAME["completions"].openai_group_by)
    store.close()

    again = run_sync(source, "--since", str(SINCE), "--until", str(UNTIL), "--db", str(db))
    assert again.exit_code == 0 and "0 new events" in again.output, again.output
    everything = run_sync(source, "--since", str(SINCE), "--until", str(UNTIL), "--db", str(db), "--restart")
    assert everything.exit_code == 0 and "0 new events" in everything.output, everything.output
    assert f"({count:,} already there)" in everything.output

    store, srv = target_server(db)
    try:
        assert store.count_events() == count
        assert_same_answers(source, srv.url, srv.admin_key, USAGE, SINCE, UNTIL)
        assert_same_cost_lines(source, store, SINCE, UNTIL)
    finally:
        srv.stop()
        store.close()


def test_resume_backfill_and_grain(source: LiveServer, tmp_path: Path) -> None:
    db = tmp_path / "mirror.duckdb"
    key = f"sync:{source_name(source.url)}:embeddings"
    base = ["--db", str(db), "--endpoint", "embeddings", "--endpoint", "costs"]
    assert run_sync(source, "--since", str(T0 + DAY), "--until", str(T0 + 3 * DAY), *base).exit_code == 0
    store = open_store(str(db))
    assert json.loads(store.get_meta(key) or "")["through"] == T0 + 3 * DAY
    store.close()
    later = run_sync(source, "--since", str(T0 + DAY), "--until", str(UNTIL), *base)
    assert "embeddings" in later.output
    back = run_sync(source, "--since", str(SINCE), "--until", str(UNTIL), *base)
    assert back.exit_code == 0
    store = open_store(str(db))
    cp = json.loads(store.get_meta(key) or "")
    assert (cp["start"], cp["through"]) == (SINCE, UNTIL)
    store.close()
    apart = run_sync(source, "--since", str(SINCE - 3 * DAY), "--until", str(SINCE - DAY), *base)
    assert apart.exit_code == 0  # copied, but not contiguous with the rest: the checkpoint stays
    store = open_store(str(db))
    assert (json.loads(store.get_meta(key) or "")["start"], json.loads(store.get_meta(key) or "")["through"]) == (
        SINCE, UNTIL)
    store.close()
    refused = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", source.admin_key, "--since",
                                       str(SINCE), "--until", str(UNTIL), "--bucket-width", "1m", *base])
    assert refused.exit_code != 0 and "already mirrored at bucket width 1d" in refused.output
    store, srv = target_server(db)
    try:
        assert_same_answers(source, srv.url, srv.admin_key, [ENDPOINTS_BY_NAME["embeddings"]], SINCE, UNTIL)
        assert_same_cost_lines(source, store, SINCE, UNTIL)
    finally:
        srv.stop()
        store.close()


def test_costs_alone_answer_as_the_source(source: LiveServer, tmp_path: Path) -> None:
    db = tmp_path / "costs.duckdb"
    assert run_sync(source, "--since", str(SINCE), "--until", str(UNTIL), "--db", str(db),
                    "--endpoint", "costs").exit_code == 0
    store, srv = target_server(db)
    try:
        assert_same_answers(source, srv.url, srv.admin_key, [COSTS], SINCE, UNTIL)
    finally:
        srv.stop()
        store.close()


def test_sync_by_the_minute_into_a_running_server(source: LiveServer, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "target.duckdb"))
    target = start_server(store)
    state = tmp_path / "state.json"
    start, end = T0 + 10 * 3600, T0 + 14 * 3600 + 30
    args = ["--since", str(start), "--until", str(end), "--bucket-width", "1m", "--endpoint", "completions",
            "--endpoint", "vector_stores", "--to-url", target.url, "--to-key", target.admin_key, "--state", str(state)]
    try:
        first = run_sync(source, *args)
        assert first.exit_code == 0, first.output
        assert json.loads(state.read_text())[f"sync:{source_name(source.url)}:completions"]["through"] == T0 + 14 * 3600
        n = store.count_events()
        assert n > 0
        again = run_sync(source, *args, "--restart")
        assert again.exit_code == 0 and "0 new events" in again.output
        assert store.count_events() == n
        assert_same_answers(source, target.url, target.admin_key, [ENDPOINTS_BY_NAME["completions"],
                                                                   ENDPOINTS_BY_NAME["vector_stores"]],
                            start, T0 + 14 * 3600, "1m")
    finally:
        target.stop()
        store.close()


def test_bad_invocations(source: LiveServer, tmp_path: Path) -> None:
    db = str(tmp_path / "x.duckdb")
    r = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", "wrong", "--since", str(SINCE), "--until",
                                 str(UNTIL), "--db", db, "--endpoint", "images"])
    assert r.exit_code != 0 and "AuthenticationError" in r.output
    r = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", "k", "--since", "2d", "--until", "3d",
                                 "--db", db])
    assert r.exit_code != 0 and "not after --since" in r.output
    r = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", "k", "--to-url", source.url, "--db", db],
                           env={"OPENUSAGE_API_KEY": ""})
    assert r.exit_code != 0 and "--to-key is required" in r.output
    r = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", "k", "--settle", "soon", "--db", db])
    assert r.exit_code != 0 and "duration" in r.output


def test_events_of_results_and_ranges() -> None:
    ep = ENDPOINTS_BY_NAME["images"]
    stats = Stats()
    raw = {"object": ep.result_object, "images": 3, "num_model_requests": None, "size": "1536x1024",
           "source": "image.upscale", "model": "gpt-image-1", "project_id": None, "user_id": None,
           "api_key_id": None}
    bucket: Bucket[Any] = Bucket({"start_time": 60, "end_time": 120, "results": [raw]}, [])
    ev = result_event(ep, "1m", "api.openai.com", bucket, raw, ep.openai_group_by, stats)
    assert ev == {"id": event_id("api.openai.com", ep, "1m", 60, [None, None, None, "gpt-image-1", "1536x1024",
                                                                  "image.upscale"]),
                  "type": "images", "timestamp": 60, "model": "gpt-image-1", "size": "1536x1024",
                  "images": 3, "num_model_requests": 0}
    assert stats.dropped_values == 1  # a source newer than this version's list; any WxH size is kept
    assert ev["id"].startswith("sync:api.openai.com:images:1m:60:")
    assert result_event(ep, "1m", "h", bucket, {**raw, "images": -1}, ep.openai_group_by, stats) is None
    costs = ENDPOINTS_BY_NAME["costs"]
    raw_cost = {"object": costs.result_object, "amount": {"value": 0.1 + 0.2, "currency": "usd"},
                "line_item": "x", "quantity": 5.0, "quantity_unit": "furlongs"}
    ev = result_event(costs, "1d", "h", bucket, raw_cost, costs.openai_group_by, stats)
    assert ev is not None and ev["amount"] == "0.30000000000000004" and "quantity_unit" not in ev
    assert plan(ep, "1d", 100, 3 * DAY + 5, None) == [(0, 3 * DAY)]
    cp = Checkpoint(2 * DAY, 4 * DAY, "1d")
    assert plan(ep, "1d", 0, 6 * DAY, cp) == [(0, 2 * DAY), (4 * DAY, 6 * DAY)]
    assert plan(ep, "1d", 3 * DAY, 4 * DAY + 10, cp) == []


def test_a_refused_grouping_drops_user_id_and_is_remembered() -> None:
    from openusage.client.mirror import mirror_endpoint

    page = {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": T0, "end_time": T0 + DAY, "results": [
            {"object": COSTS.result_object, "amount": {"value": 1.5, "currency": "usd"}, "line_item": "x",
             "project_id": "p", "api_key_id": None, "user_id": None, "api_source": "unlabeled", "quantity": None,
             "quantity_unit": None}]}]}
    refusal = {"error": {"message": "Grouping by user_id together with project_id is not supported for this "
                                    "organization.", "type": "invalid_request_error", "param": None, "code": None}}
    srv = ScriptedServer([Step(400, {}, refusal), Step(200, {}, page)])
    saved: dict[str, Checkpoint] = {}

    class Memory:
        def get(self, key: str) -> Checkpoint | None:
            return saved.get(key)

        def put(self, key: str, cp: Checkpoint) -> None:
            saved[key] = cp

    stored: list[dict[str, Any]] = []

    def sink(events: list[dict[str, Any]]) -> tuple[int, int]:
        stored.extend(events)
        return len(events), 0

    try:
        with UsageApi(srv.url, "sk-x") as api:
            stats = mirror_endpoint(api, COSTS, "1d", T0, T0 + DAY, "api.openai.com", sink, Memory())
    finally:
        srv.close()
    assert [r.path.count("group_by=user_id") for r in srv.requests] == [1, 0]
    kept = [g for g in COSTS.openai_group_by if g != "user_id"]
    assert saved["sync:api.openai.com:costs"].group_by == kept
    assert stats.events == 1 and stored[0]["amount"] == "1.5" and stored[0]["project_id"] == "p"
    assert stored[0]["id"] == event_id("api.openai.com", COSTS, "1d", T0, ["p", "x", None, "unlabeled"])


def test_a_store_held_by_another_process_points_to_to_url(source: LiveServer, tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); sys.stdin.read()", str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", source.admin_key, "--since",
                                     str(SINCE), "--until", str(UNTIL), "--db", str(db)])
        assert r.exit_code != 0 and "--to-url http://HOST:PORT" in r.output, r.output
    finally:
        holder.communicate("", timeout=30)


def test_a_server_is_not_mirrored_into_itself(source: LiveServer) -> None:
    r = CliRunner().invoke(cli, ["sync", "--from", source.url, "--key", source.admin_key, "--to-url",
                                 source.url + "/v1/", "--to-key", source.admin_key])
    assert r.exit_code != 0 and "into itself" in r.output


def test_sync_prints_the_range_it_copied(source: LiveServer, tmp_path: Path) -> None:
    """The range asked for is rounded to bucket edges, and a second run copies nothing: both are said."""
    import os

    from openusage.timeparse import iso

    env = {**os.environ, "COLUMNS": "200"}
    args = ["openusage", "sync", "--from", source.url, "--key", source.admin_key, "--since", str(SINCE + 5000),
            "--until", str(UNTIL + 100), "--endpoint", "completions", "--endpoint", "costs",
            "--db", str(tmp_path / "range.duckdb")]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    assert f"{iso(SINCE)} to {iso(UNTIL)} UTC" in first.stdout  # whole days: from SINCE's midnight on
    assert first.stdout.count(f"{iso(SINCE)} to {iso(UNTIL)}") == 3  # the title and each endpoint
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "nothing new to copy" in again.stdout and again.stdout.count("up to date") == 2
