"""The collector's settings for a serving process: applied by ``openusage serve`` only, once started."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from openusage.proxy import settings_from_options
from openusage.proxy.gcpolicy import YOUNG_THRESHOLD, tune_for_serving


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Whatever a test does to the collector is undone after it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_freezes_what_is_alive_and_collects_young_objects_less_often(restored_gc: None) -> None:
    middle, old = gc.get_threshold()[1:]
    alive = [[]]  # a container alive at the call: frozen with the rest
    garbage: list[object] = []
    garbage.append(garbage)  # a reference cycle nothing else refers to: collected, not frozen
    del garbage
    collected_before = gc.get_stats()[2]["collections"]
    tune_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_stats()[2]["collections"] == collected_before + 1  # one full collection first
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert not any(o is alive for o in gc.get_objects())  # frozen objects are walked no more
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1  # cycles made afterwards are still collected


def test_only_serve_asks_for_it() -> None:
    assert settings_from_options(["http://127.0.0.1:9/v1"]).tune_gc is False  # embedded apps and tests


def test_the_proxy_applies_it_once_started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from openusage.proxy import install
    from openusage.server.app import ServerSettings
    from tests.conftest import ADMIN_KEY, new_store, start_server

    calls: list[int] = []
    monkeypatch.setattr("openusage.proxy.tune_for_serving", lambda: calls.append(1))
    for tune in (False, True):
        store = new_store(tmp_path / f"u{tune}.duckdb")
        settings = ServerSettings(admin_key=ADMIN_KEY)
        proxy = settings_from_options(["http://127.0.0.1:9/v1"], journal=False)
        proxy.tune_gc = tune
        install(settings, proxy)
        srv = start_server(store, settings)
        try:
            assert srv.client().get("/healthz").status_code == 200
        finally:
            srv.stop()
            store.close()
        assert calls == ([1] if tune else [])
