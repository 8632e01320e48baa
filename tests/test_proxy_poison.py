"""A hostile proxy client cannot make others lose their metering.

Strings a client chooses become dimensions of its usage event (``user``, ``model``, the
``OpenAI-Project`` of an admin key).  One the store cannot hold (PostgreSQL refuses NUL in text) used to
fail the recorder's whole commit, everybody's usage in it.  Now such a request is refused with a 400
before anything is forwarded, strings from the upstream's answer are cleaned, and a batch the store
refuses is split down to the event at fault.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openusage.auth import create_key
from openusage.proxy.recorder import Recorder
from openusage.store import Store, open_store
from openusage.store.writer import Writer
from tests.conftest import tls
from tests.fake_upstream import ProxyRig, start_proxy_rig
from tests.storeconf import drop_schema, require_pg, store_url, unique_schema

CHAT = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    schema = unique_schema()
    if request.param == "postgresql":
        require_pg()
    s = open_store(store_url(request.param, tmp_path, schema))
    yield s
    s.close()
    if request.param == "postgresql":
        drop_schema(schema)


@pytest.fixture
def rig(store: Store) -> Iterator[ProxyRig]:
    r = start_proxy_rig(store, project="proj_normal")
    yield r
    r.stop()


HOSTILE_BODIES: list[dict[str, Any]] = [
    {"model": "gpt-4o", "messages": CHAT, "user": "x\u0000y"},
    {"model": "gpt-4o", "messages": CHAT, "user": "tab\there"},
    {"model": "gpt-4o", "messages": CHAT, "user": "bell\u0007\u009b"},
    {"model": "gpt-4o", "messages": CHAT, "user": "u" * 10_000},
    {"model": "m" * 10_240, "messages": CHAT, "user": "long-model"},
    {"model": "gpt\u00004o", "messages": CHAT},
    {"model": "gpt-4o", "input": "x", "user": "emb\u0000"},
]


def per_user(rig: ProxyRig, project: str, expected: int, endpoint: str = "completions") -> dict[str, int]:
    """num_model_requests by user of one project, once ``expected`` are recorded (bounded wait)."""
    deadline = time.monotonic() + 20
    with rig.server.client() as c:
        while True:
            r = c.get(f"/v1/organization/usage/{endpoint}", params={
                "start_time": int(time.time()) - 3600, "bucket_width": "1d", "project_ids": project,
                "group_by": "user_id"})
            assert r.status_code == 200, r.text
            got: dict[str, int] = {}
            for b in r.json()["data"]:
                for res in b["results"]:
                    got[res["user_id"]] = got.get(res["user_id"], 0) + res["num_model_requests"]
            if sum(got.values()) >= expected or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


def test_hostile_client_refused_normal_client_fully_recorded(rig: ProxyRig) -> None:
    hostile_key = create_key(rig.server.store, "hostile", "proxy", ["proj_hostile"]).secret
    normal_users = [f"alice-{i}" for i in range(120)]
    refusals: list[tuple[int, Any]] = []
    failures: list[str] = []
    start = threading.Barrier(2)

    def hostile() -> None:
        start.wait()
        with httpx.Client(base_url=rig.base_url, headers={"Authorization": f"Bearer {hostile_key}"},
                          timeout=30, verify=tls()) as c:
            for i in range(120):
                body = HOSTILE_BODIES[i % len(HOSTILE_BODIES)]
                path = "/embeddings" if "input" in body else "/chat/completions"
                r = c.post(path, json=body)
                refusals.append((r.status_code, r.json()["error"]))
            r = c.post("/chat/completions", json={"model": "gpt-4o", "messages": CHAT},
                       headers={"OpenAI-User": "a\u009bb".encode()})
            refusals.append((r.status_code, r.json()["error"]))
            r = c.post("/chat/completions", json={"model": "gpt-4o", "messages": CHAT},
                       headers={"OpenAI-Project": "p\u0085".encode(),
                                "Authorization": f"Bearer {rig.server.admin_key}"})
            refusals.append((r.status_code, r.json()["error"]))

    def normal() -> None:
        client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
        start.wait()
        for u in normal_users:
            try:
                client.chat.completions.create(model="gpt-4o", messages=CHAT, user=u)
            except openai.OpenAIError as exc:  # pragma: no cover - reported below
                failures.append(f"{u}: {exc!r}")

    threads = [threading.Thread(target=hostile), threading.Thread(target=normal)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures
    assert len(refusals) == 122
    assert all(status == 400 and err["type"] == "invalid_request_error" for status, err in refusals), refusals[:3]
    assert {err["param"] for _, err in refusals} == {"user", "model", "OpenAI-User", "OpenAI-Project"}
    seen = rig.upstream.app.requests
    assert len(seen) == len(normal_users)  # nothing hostile was forwarded
    got = per_user(rig, "proj_normal", len(normal_users))
    assert got == {u: 1 for u in normal_users}
    assert per_user(rig, "proj_hostile", 0) == {}


def test_upstream_strings_cleaned_before_recording(rig: ProxyRig) -> None:
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    for i, model in enumerate(["bad\u0000model\u0001", "x" * 9000]):
        client.chat.completions.create(model="gpt-4o", messages=CHAT, user=f"clean-{i}",
                                       extra_headers={"x-fake-model-json": json.dumps(model)})
    client.chat.completions.create(model="gpt-4o", messages=CHAT, user="clean-ok")
    assert per_user(rig, "proj_normal", 3) == {"clean-0": 1, "clean-1": 1, "clean-ok": 1}
    with rig.server.client() as c:
        r = c.get("/v1/organization/usage/completions", params={
            "start_time": int(time.time()) - 3600, "bucket_width": "1d", "group_by": ["model", "service_tier"]})
    models = {res["model"] for b in r.json()["data"] for res in b["results"]}
    assert models == {"badmodel", "x" * 512, "gpt-4o-2024-08-06"}


def test_recorder_isolates_an_event_the_store_refuses(tmp_path: Path) -> None:
    """Against real PostgreSQL (which refuses NUL in text): one bad event among many costs only itself."""
    require_pg()
    schema = unique_schema()
    store = open_store(store_url("postgresql", tmp_path, schema))
    writer = Writer(store.insert)
    try:
        recorder = Recorder(lambda: writer, flush_after=0.01)
        now = time.time()
        good = [{"id": f"ok-{uuid.uuid4().hex}", "type": "completions", "timestamp": now, "project_id": "p",
                 "input_tokens": 1} for _ in range(200)]
        bad = {"id": "bad-\u0000-id", "type": "completions", "timestamp": now, "project_id": "p", "input_tokens": 1}

        async def run() -> None:
            for i, ev in enumerate(good):
                recorder.record(ev)
                if i == 77:
                    recorder.record(bad)
            await recorder.aclose()

        asyncio.run(run())
        assert (recorder.recorded, recorder.failed) == (200, 1)
        assert store.count_events() == 200
    finally:
        writer.close()
        store.close()
        drop_schema(schema)
