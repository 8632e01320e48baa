"""Values a proxy client chooses (``user``) never lose its usage: control characters, refused by
ingestion, are dropped from them before the event is recorded."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import new_store, tls
from tests.fake_upstream import start_proxy_rig


def test_control_characters_in_user_are_refused_before_forwarding(tmp_path: Path) -> None:
    """A ``user`` the store could not hold is refused before anything reaches the upstream (a request
    answered but never metered would be lost billing), and nothing is recorded."""
    store = new_store(tmp_path / "proxy.duckdb")
    rig = start_proxy_rig(store)
    try:
        tag = uuid.uuid4().hex[:8]
        before = len(rig.upstream.app.requests)
        r = httpx.post(rig.base_url + "/chat/completions", headers={"Authorization": f"Bearer {rig.key}"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                             "user": f"bob\x00\n\t{tag}\x7f"}, verify=tls())
        assert r.status_code == 400 and r.json()["error"]["param"] == "user", r.text
        assert len(rig.upstream.app.requests) == before
        time.sleep(0.5)
        assert store.count_events() == 0
    finally:
        rig.stop()
        store.close()
