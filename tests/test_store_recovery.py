"""PostgreSQL tables dropped under a running server are recreated, or reported by ``/readyz``.

A schema (or a database) dropped and recreated under running workers used to answer 500 to every
request from then on while ``/readyz`` said 200.  Now the first statement that misses a table runs
the migration once and is retried; if the tables cannot be recreated, ``/readyz`` answers 503.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from openusage.store import open_store
from openusage.store.postgres_store import SCHEMA_VERSION
from tests.conftest import LiveServer, start_server
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema

T0 = 1_700_000_000
DAY0 = T0 - T0 % 86400


@pytest.fixture
def live() -> Iterator[tuple[str, LiveServer]]:
    require_pg()
    schema = unique_schema()
    store = open_store(f"{PG_BASE}?schema={schema}")
    srv = start_server(store)
    try:
        yield schema, srv
    finally:
        srv.stop()
        store.close()
        drop_schema(schema)


def events(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}{i}", "type": "completions", "timestamp": T0 + i, "input_tokens": 2} for i in range(n)]


def tokens(client: object) -> int:
    r = client.get("/v1/organization/usage/completions",  # type: ignore[attr-defined]
                   params={"start_time": DAY0, "end_time": DAY0 + 86400})
    assert r.status_code == 200, r.text
    return sum(res["input_tokens"] for b in r.json()["data"] for res in b["results"])


def test_schema_dropped_under_a_running_server_is_recreated(live: tuple[str, LiveServer]) -> None:
    schema, srv = live
    with srv.client() as c:
        assert c.post("/v1/usage/events", json={"events": events("a", 10)}).json()["accepted"] == 10
        assert tokens(c) == 20
        drop_schema(schema)  # as `DROP DATABASE` + `CREATE DATABASE` would, with the workers still running
        assert c.get("/readyz").status_code == 200  # recreated on the health check's own query
        assert srv.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert tokens(c) == 0  # the data went with the schema; the server answers again
        drop_schema(schema)
        assert c.post("/v1/usage/events", json={"events": events("b", 5)}).json() == {"accepted": 5, "duplicates": 0}
        assert tokens(c) == 10
        drop_schema(schema)
        assert tokens(c) == 0  # a read finds the tables missing first
        assert c.post("/v1/usage/events", json={"events": events("b", 5)}).json()["accepted"] == 5
        assert c.get("/readyz").json() == {"status": "ok"}


def test_tables_that_cannot_be_recreated_make_readyz_say_so(live: tuple[str, LiveServer]) -> None:
    schema, srv = live
    with srv.client() as c:
        drop_schema(schema)
        with psycopg.connect(PG_BASE, autocommit=True) as conn:  # something else now holds the name
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"CREATE TABLE {schema}.openusage_meta (name INTEGER, value INTEGER)")
        r = c.get("/readyz")
        assert (r.status_code, r.json()) == (503, {"status": "unavailable"})
        r = c.get("/v1/organization/usage/completions", params={"start_time": DAY0})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        assert r.headers["retry-after"] == "2"
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {schema}.openusage_meta")
        assert c.get("/readyz").status_code == 200
        assert c.post("/v1/usage/events", json={"events": events("c", 3)}).json()["accepted"] == 3
        assert tokens(c) == 6


def test_database_dropped_and_recreated_under_a_running_server() -> None:
    """``DROP DATABASE ... WITH (FORCE)`` ends the workers' connections; the pool reconnects, to a
    database without tables, which are recreated; no answer is a 500 meanwhile."""
    require_pg()
    name = unique_schema().replace("ou_test_", "ou_db_")
    base, _, _ = PG_BASE.rpartition("/")
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    store = open_store(f"{base}/{name}")
    srv = start_server(store)
    try:
        with srv.client() as c:
            assert c.post("/v1/usage/events", json={"events": events("a", 10)}).json()["accepted"] == 10
            with psycopg.connect(PG_BASE, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {name}")
            statuses = [c.get("/readyz").status_code for _ in range(10)]
            assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
            answers = [c.post("/v1/usage/events", json={"events": events("b", 4)}) for _ in range(10)]
            assert {r.status_code for r in answers} <= {200, 503}
            assert sum(r.json().get("accepted", 0) for r in answers if r.status_code == 200) == 4
            assert tokens(c) == 8
    finally:
        srv.stop()
        store.close()
        with psycopg.connect(PG_BASE, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
