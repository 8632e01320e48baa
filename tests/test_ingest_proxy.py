"""Values a proxy client chooses (``user``) never lose its usage: control characters, refused by
ingestion, are dropped from them before the event is recorded."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from openusage.store import open_store
from tests.fake_upstream import start_proxy_rig


def test_control_characters_in_user_are_dropped_not_the_usage(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "proxy.duckdb"))
    rig = start_proxy_rig(store)
    try:
        tag = uuid.uuid4().hex[:8]
        sent = f"bob\x00\n\t{tag}\x7f"
        r = httpx.post(rig.base_url + "/chat/completions", headers={"Authorization": f"Bearer {rig.key}"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "user": sent})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        with rig.server.client() as c:
            while True:
                page = c.get("/v1/organization/usage/completions",
                             params={"start_time": int(time.time()) - 3600, "bucket_width": "1h",
                                     "group_by": "user_id"}).json()
                users = [res["user_id"] for b in page["data"] for res in b["results"]]
                if users or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert users == [f"bob{tag}"]
    finally:
        rig.stop()
        store.close()
