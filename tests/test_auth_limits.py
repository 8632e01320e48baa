"""Rate limits follow the authenticated key, however the header is spelled, and failed
authentications are limited per client address before any store lookup."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openusage.auth import create_key
from openusage.server.app import ServerSettings
from openusage.server.limits import TokenBuckets, bearer_token
from tests.conftest import ADMIN_KEY, AppServer, WrappedStore, new_store, start_app

USAGE = "/v1/organization/usage/completions?start_time=1700000000&end_time=1700086400"


class CountingStore(WrappedStore):
    """A real store that counts its key lookups."""

    lookups = 0

    def get_key(self, key_id: str) -> Any:
        self.lookups += 1
        return self._store.get_key(key_id)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[CountingStore]:
    real = new_store(tmp_path / "u.duckdb")
    yield CountingStore(real)
    real.close()


def serve(store: CountingStore, **settings: Any) -> AppServer:
    return start_app(store, ServerSettings(admin_key=ADMIN_KEY, **settings))  # type: ignore[arg-type]


def get(server: AppServer, authorization: str) -> httpx.Response:
    with server.http() as h:
        return h.get(USAGE, headers={"Authorization": authorization})


def test_bearer_scheme_is_case_insensitive_and_spacing_free() -> None:
    for header in (b"Bearer k", b"bearer k", b"BEARER k", b"Bearer    k", b"bEaReR k  ", b"Bearer\tk"):
        assert bearer_token([(b"authorization", header)]) == "k"
    for header in (b"Basic k", b"Bearer", b"Bearer   ", b"k"):
        assert bearer_token([(b"authorization", header)]) is None


def test_spellings_of_the_header_share_the_key_rate_limit(counted: CountingStore) -> None:
    key = create_key(counted._store, "r", "read").secret
    server = serve(counted, rate_limit=0.25, rate_burst=3)  # a token every 4 s: no refill mid-test
    try:
        spellings = [f"Bearer {key}", f"bearer {key}", f"BEARER {key}", f"Bearer    {key}", f"bEaReR {key}"]
        codes = [get(server, s).status_code for s in spellings]
        assert codes == [200, 200, 200, 429, 429]
        r = get(server, f"BeArEr  {key}")
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        # The wait is under 4 s however long the requests took, and retry-after is that wait
        # rounded up to whole seconds.
        wait = float(r.headers["x-ratelimit-reset-requests"].removesuffix("s"))
        assert 0 < wait <= 4 and r.headers["retry-after"] == str(max(1, math.ceil(wait)))
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert get(server, f"Bearer {ADMIN_KEY}").status_code == 200  # another key: its own budget
    finally:
        server.stop()


@pytest.mark.parametrize("revalidate", [False, True])
def test_random_keys_are_limited_per_address_without_store_lookups(counted: CountingStore, revalidate: bool) -> None:
    """Shared stores re-read a valid key's record each request (``revalidate``); a key once valid is
    let through a block all the same."""
    good = create_key(counted._store, "r", "read").secret
    server = serve(counted, auth_failures_per_minute=5, revalidate_keys=revalidate)
    try:
        assert get(server, f"Bearer {good}").status_code == 200  # known to the key ring from now on
        assert counted.lookups == 1
        def attempt() -> httpx.Response:
            return get(server, f"Bearer ouk_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}")

        answers = [attempt() for _ in range(6)]
        assert get(server, f"Bearer {good}").status_code == 200  # a key the ring holds still works
        answers += [attempt() for _ in range(44)]
        assert [r.status_code for r in answers] == [401] * 5 + [429] * 45
        assert counted.lookups == 1 + 5 + revalidate
        r = answers[5]
        assert r.json()["error"] == {
            "message": "Too many failed authentications from this address: at most 5 a minute. "
                       "Retry after 12 s with a valid key.",
            "type": "rate_limit_error", "param": None, "code": "too_many_failed_authentications"}
        assert r.headers["retry-after"] == "12"
        assert get(server, "Bearer nonsense").status_code == 429  # malformed keys too
        assert counted.lookups == 6 + revalidate
    finally:
        server.stop()


def test_random_keys_were_each_a_lookup_and_never_rate_limited_before(counted: CountingStore) -> None:
    """With a rate limit, unknown keys spend the address's budget, not a fresh one each."""
    server = serve(counted, rate_limit=0.25, rate_burst=2, auth_failures_per_minute=1000)
    try:
        codes = [get(server, f"Bearer ouk_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}").status_code
                 for _ in range(4)]
        assert codes == [401, 401, 429, 429]
    finally:
        server.stop()


def test_failure_buckets_refill_and_stay_bounded() -> None:
    now = [0.0]
    b = TokenBuckets(5 / 60, 5, clock=lambda: now[0], max_buckets=3)
    assert [b.take("a")[0] for _ in range(6)] == [True] * 5 + [False]
    assert b.wait("a") == pytest.approx(12.0)
    now[0] = 12.0
    assert b.wait("a") == 0.0 and b.take("a")[0]
    for k in "bcdef":
        b.take(k)
    assert len(b) == 3


def test_an_unreachable_redis_falls_back_to_per_worker_buckets(counted: CountingStore) -> None:
    key = create_key(counted._store, "r", "read").secret
    server = serve(counted, rate_limit=0.25, rate_burst=2, redis_url="redis://127.0.0.1:1/0")
    try:
        assert [get(server, f"Bearer {key}").status_code for _ in range(3)] == [200, 200, 429]
        buckets = server.app.state.core.gate.buckets
        assert buckets._down_until > 0  # Redis is not asked again on every request meanwhile
    finally:
        server.stop()
