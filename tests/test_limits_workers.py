"""Several workers on one PostgreSQL store behave as one server: a key revoked through one is
refused by the others at once, and per-key rate limits (kept in Redis) hold across them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openusage.auth import create_key
from openusage.store import Store, open_store
from tests.conftest import tls
from tests.procserver import ServerProcess
from tests.storeconf import drop_schema, require_pg, store_url, unique_schema

REDIS = "redis://127.0.0.1:6379/0"
USAGE = "/v1/organization/usage/completions?start_time=1700000000&end_time=1700086400"


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    require_pg()
    schema = unique_schema()
    url = store_url("postgresql", tmp_path, schema)
    store = open_store(url)
    try:
        yield url, store
    finally:
        store.close()
        drop_schema(schema)


def fresh_redis(db: int) -> str:
    """A Redis database of its own for one test, emptied first: budgets spent by another test (the
    failed-authentication budget is per address, and every test comes from 127.0.0.1) or by an earlier
    run never carry over."""
    import redis

    url = f"redis://127.0.0.1:6379/{db}"
    redis.Redis.from_url(url, socket_timeout=2).flushdb()
    return url


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def logs(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir(exist_ok=True)
    return tmp_path / name


def code(server: ServerProcess, key: str) -> int:
    r = httpx.get(server.url + USAGE, headers={"Authorization": f"Bearer {key}"}, timeout=30, verify=tls())
    return r.status_code


def test_a_revoked_key_is_refused_by_every_worker_at_once(pg: tuple[str, Store], tmp_path: Path) -> None:
    url, store = pg
    keys = [create_key(store, f"k{i}", "read").secret for i in range(2)]
    with ServerProcess(url, logs(tmp_path, 'a')) as a, ServerProcess(url, logs(tmp_path, 'b')) as b:
        for key in keys:
            assert [code(a, key), code(b, key), code(a, key), code(b, key)] == [200] * 4  # in both caches
        with a.client() as admin:  # revoked through worker a ...
            assert admin.delete(f"/v1/openusage/keys/{keys[0].split('_')[1]}").status_code == 200
        assert code(b, keys[0]) == 401  # ... worker b refuses it on the very next request
        assert code(a, keys[0]) == 401
        store.revoke_key(keys[1].split("_")[1], 0)  # revoked in the store directly (openusage keys revoke)
        assert [code(b, keys[1]), code(a, keys[1])] == [401, 401]


@pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")
def test_rate_limits_hold_across_workers_through_redis(pg: tuple[str, Store], tmp_path: Path) -> None:
    url, store = pg
    key, other = (create_key(store, n, "read").secret for n in ("mine", "other"))
    args = ("--rate-limit", "0.1", "--rate-burst", "4", "--redis", fresh_redis(1))
    with ServerProcess(url, logs(tmp_path, 'a'), args) as a, ServerProcess(url, logs(tmp_path, 'b'), args) as b:
        codes = [code(server, key) for server in (a, b, a, b, a, b)]
        assert codes == [200, 200, 200, 200, 429, 429]
        r = httpx.get(b.url + USAGE, headers={"Authorization": f"bearer  {key}"}, timeout=30, verify=tls())
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(r.headers["retry-after"]) <= 10
        assert [code(b, other), code(a, other)] == [200, 200]  # another key, its own budget


def test_without_redis_each_worker_limits_on_its_own(pg: tuple[str, Store], tmp_path: Path) -> None:
    """What the shared buckets change: per worker, two workers allow twice the burst."""
    url, store = pg
    key = create_key(store, "mine", "read").secret
    args = ("--rate-limit", "0.1", "--rate-burst", "2")
    with ServerProcess(url, logs(tmp_path, 'a'), args) as a, ServerProcess(url, logs(tmp_path, 'b'), args) as b:
        assert [code(server, key) for server in (a, b, a, b, a, b)] == [200, 200, 200, 200, 429, 429]


@pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")
def test_failed_authentications_are_counted_across_workers_through_redis(pg: tuple[str, Store],
                                                                          tmp_path: Path) -> None:
    url, _ = pg
    args = ("--auth-failures-per-minute", "2", "--redis", fresh_redis(2))
    with ServerProcess(url, logs(tmp_path, "a"), args) as a, ServerProcess(url, logs(tmp_path, "b"), args) as b:
        codes = [code(server, f"ouk_{i:012d}_{'s' * 32}") for i, server in enumerate((a, b, a, b))]
        assert codes == [401, 401, 429, 429]
