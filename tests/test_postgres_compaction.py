"""PostgreSQL rollups: inserts merge into one row per group and period, and compaction folds the
loose rows stores of earlier versions appended per insert.

Checked before, during and after compaction, with two workers inserting (the same ids, some of
them) and compacting at once: no event is lost or counted twice, and answers from the rollups
always equal answers from raw events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from openusage.ingest.events import INT_METRICS, validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate
from openusage.store.postgres_store import COMPACTED, USERS, PostgresStore
from openusage.store.sql import POSTGRESQL, ROLLUPS, SUMMARIES, rollup_select_sql
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema

T0 = 1_700_000_000
DAY0 = T0 - T0 % 86400
AGGS = [
    Aggregate("completions", DAY0, DAY0 + 2 * 86400, 86400, group_by=("project_id", "model"),
              metrics=("input_tokens", "num_model_requests")),
    Aggregate("completions", T0 - T0 % 60 + 7, T0 + 7200, 60, group_by=("model",), metrics=("input_tokens",)),
    Aggregate("completions", DAY0, DAY0 + 2 * 86400, 3600, metrics=("input_tokens",)),
    Aggregate("vector_stores", DAY0, DAY0 + 2 * 86400, 3600, gauges=("usage_bytes",)),
    Aggregate("costs", DAY0, DAY0 + 2 * 86400, 86400, group_by=("line_item",), decimals=("amount",),
              with_quantity=True),
    # by user (the user rollup), by user within projects (it too), by key (the day rollup), by user and
    # model (raw events: no rollup keeps both)
    Aggregate("completions", DAY0, DAY0 + 2 * 86400, 86400, group_by=("user_id",), metrics=("input_tokens",)),
    Aggregate("completions", DAY0, DAY0 + 2 * 86400, 86400, group_by=("user_id",), filters={"project_id": ("p1",)},
              metrics=("input_tokens", "num_model_requests")),
    Aggregate("completions", DAY0, DAY0 + 2 * 86400, 86400, group_by=("api_key_id", "model"),
              metrics=("input_tokens",)),
    Aggregate("completions", DAY0, DAY0 + 2 * 86400, 86400, group_by=("user_id", "model"), metrics=("input_tokens",)),
]


@pytest.fixture
def url() -> Iterator[str]:
    require_pg()
    schema = unique_schema()
    yield f"{PG_BASE}?schema={schema}"
    drop_schema(schema)


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    """A new PostgreSQL store (one worker; this module's stores are PostgreSQL's)."""
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    try:
        yield store
    finally:
        store.close()


def events(r: int) -> list[dict[str, Any]]:
    """Round ``r``: 30 completions over the same two hours (ids overlapping the previous round), a
    gauge sample and a cost line."""
    out: list[dict[str, Any]] = [
        {"id": f"c{i}", "type": "completions", "timestamp": T0 + (i * 37) % 7200, "model": ["o3", "gpt-4o"][i % 2],
         "project_id": f"p{i % 3}", "api_key_id": f"k{i % 3}", "user_id": f"u{i % 4}", "input_tokens": i}
        for i in range(r * 15, r * 15 + 30)]
    out.append({"id": f"v{r}", "type": "vector_stores", "timestamp": T0 + r * 50, "usage_bytes": 1000 + r * 7 % 13,
                "project_id": f"p{r % 2}"})
    out.append({"id": f"k{r}", "type": "costs", "timestamp": T0 + r, "amount": f"{r}.000000000001",
                "line_item": "x", "quantity": r / 4, "quantity_unit": "tokens"})
    return out


def answers(store: PostgresStore) -> tuple[list[Any], list[Any]]:
    """Every query from the rollups and from raw events, in one snapshot-free pair of reads."""
    out = []
    for rollups in (True, False):
        store.rollups = rollups
        try:
            out.append([store.aggregate(a).to_pylist() for a in AGGS])
        finally:
            store.rollups = True
    return out[0], out[1]


TABLES = ("rollup_1d", "users_1d", "summary_1m", "summary_1h", "summary_1d")
DIMS = dict(COMPACTED)


def rows(store: PostgresStore) -> dict[str, int]:
    return {t: store.execute(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def groups(store: PostgresStore) -> dict[str, int]:
    """Rows a fully compacted rollup holds: one per type, period and dimension values."""
    return {t: store.execute(f"SELECT count(*) FROM (SELECT DISTINCT type, ts_us, {', '.join(DIMS[t])} "
                             f"FROM {t}) g")[0][0] for t in TABLES}


def loosen(store: PostgresStore, parts: int = 3) -> None:
    """Rebuild every rollup as the loose rows a store before merging on insert left: the events
    rolled up in ``parts`` separate inserts (by id), so a group has up to ``parts`` loose rows."""
    widths = dict((*ROLLUPS, *SUMMARIES, *USERS))
    with store._conn() as conn, conn.transaction():
        for table, dims in COMPACTED:
            conn.execute(f"DELETE FROM {table}")
            cols = ["type", "ts_us", *dims, *INT_METRICS, "amount", "quantity", "quantity_unit", "n"]
            for part in range(parts):
                source = f"(SELECT * FROM events WHERE hashtext(id) % {parts} IN ({part}, -{part})) AS e"
                conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) "
                             + rollup_select_sql(POSTGRESQL, source, widths[table], dims, nonnegative=True))


def test_inserts_merge_into_one_row_per_group(store: PostgresStore) -> None:
    for r in range(12):
        store.insert([validate_events(events(r))])
        assert rows(store) == groups(store)  # no loose rows: each group's row took the insert's sums
    assert store.execute("SELECT count(*) FROM summary_1m WHERE NOT compacted") == [(0,)]
    with_rollups, raw = answers(store)
    assert with_rollups == raw
    assert store.compact() == 0
    assert sum(r["num_model_requests"] for r in raw[0]) == 12 * 15 + 15


def test_compaction_folds_loose_rows_and_keeps_answers(store: PostgresStore) -> None:
    for r in range(12):
        store.insert([validate_events(events(r))])
    loosen(store)
    before = answers(store)
    assert before[0] == before[1]
    loose = rows(store)
    assert store.execute("SELECT count(*) FROM summary_1m WHERE compacted") == [(0,)]
    folded = store.compact()
    after = rows(store)
    assert folded == sum(loose.values()) - sum(after.values()) > 0
    # two days x project x model, a gauge row per project, one cost line
    assert after == groups(store) and after["rollup_1d"] == after["summary_1d"] == 2 * 3 * 2 + 2 + 1
    # two days x (project, user) of completions (12 pairs, i mod 12), a gauge row per project, one cost line
    assert after["users_1d"] == 2 * 12 + 2 + 1
    assert after["summary_1m"] < loose["summary_1m"]
    assert store.execute("SELECT count(*) FROM summary_1m WHERE NOT compacted") == [(0,)]
    assert answers(store) == before
    assert store.compact() == 0  # nothing loose left
    store.insert([validate_events(events(12))])  # new events merge into the compacted rows
    assert rows(store) == groups(store)
    with_rollups, raw = answers(store)
    assert with_rollups == raw
    assert raw[0][-1]["input_tokens"] is not None
    assert sum(r["num_model_requests"] for r in raw[0]) == 12 * 15 + 15 + 15


def test_workers_insert_and_compact_at_once(url: str) -> None:
    a, b = open_store(url), open_store(url)  # two workers: two connection pools
    assert isinstance(a, PostgresStore) and isinstance(b, PostgresStore)
    stop = threading.Event()
    errors: list[BaseException] = []
    compactions = [0]

    def compactor(store: PostgresStore) -> None:
        try:
            while not stop.is_set():
                store.compact(rounds=1)
                compactions[0] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    def writer(store: PostgresStore, rounds: range, barrier: threading.Barrier) -> None:
        try:
            for r in rounds:
                barrier.wait(timeout=60)
                store.insert([validate_events(events(r))])
                barrier.wait(timeout=60)  # the checker reads here, while compaction goes on
                barrier.wait(timeout=60)
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        a.insert([validate_events(events(0))])
        loosen(a)  # loose rows of an older store, folded while both workers insert into the same groups
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=compactor, args=(s,)) for s in (a, b)]
        threads += [threading.Thread(target=writer, args=(s, range(20), barrier)) for s in (a, b)]
        for t in threads:
            t.start()
        checks = 0
        for _ in range(20):
            barrier.wait(timeout=60)  # both inserted
            barrier.wait(timeout=60)
            with_rollups, raw = answers(a)  # during compaction: the same answers either way
            assert with_rollups == raw
            checks += 1
            barrier.wait(timeout=60)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert checks == 20 and compactions[0] > 0
        a.compact()
        with_rollups, raw = answers(b)
        assert with_rollups == raw
        # each round's 30 ids overlap the last one's by 15 and both workers sent them: 19 * 15 + 30 events
        assert sum(r["num_model_requests"] for r in raw[0]) == 19 * 15 + 30
        assert sum(r["input_tokens"] for r in raw[0]) == sum(range(19 * 15 + 30))
        assert a.execute("SELECT sum(n) FROM rollup_1d WHERE type = 'completions'") == [(19 * 15 + 30,)]
        assert rows(a) == groups(a)
    finally:
        stop.set()
        a.close()
        b.close()


def test_compaction_analyzes_the_tables_that_changed(store: PostgresStore) -> None:
    """After inserts added ``analyze_after_rows`` events into a table, compaction analyzes it: the
    planner then knows the table's size rather than planning its reads blind until autovacuum comes
    round."""

    def estimates() -> dict[str, float]:
        return {t: store.execute(f"SELECT reltuples FROM pg_class WHERE oid = '{t}'::regclass")[0][0] for t in TABLES}

    with store._conn() as conn:  # only compaction analyzes them here
        for t in TABLES:
            conn.execute(f"ALTER TABLE {t} SET (autovacuum_enabled = false)")
    for r in range(3):
        store.insert([validate_events(events(r))])
    assert set(estimates().values()) == {-1.0}  # never analyzed
    store.analyze_after_rows = 10**9
    store.compact(rounds=1)
    assert set(estimates().values()) == {-1.0}  # too few events to analyze
    store.insert([validate_events(events(3))])
    store.analyze_after_rows = 1
    store.compact()
    assert estimates() == {t: float(n) for t, n in rows(store).items()}


def test_groups_of_the_longest_names_merge_and_compact(store: PostgresStore) -> None:
    """A group whose names pass the 2704 bytes a btree entry holds (each at the 512-character limit,
    three bytes a character) is stored, merged on insert and folded by compaction like any other;
    a null and an empty-looking group stay apart."""
    long = {"model": "模" * 512, "service_tier": "層" * 512, "user_id": "用" * 512, "api_key_id": "鍵" * 512,
            "project_id": "項" * 512}
    for r in range(3):
        batch = [{"id": f"L{r}-{i}", "type": "completions", "timestamp": T0 + i, "input_tokens": 10 + i,
                  **long} for i in range(4)]
        batch.append({"id": f"S{r}", "type": "completions", "timestamp": T0, "model": "m", "input_tokens": 1})
        store.insert([validate_events(batch)])
    assert store.execute("SELECT count(*) FROM summary_1d WHERE model = %s", [long["model"]]) == [(1,)]
    loosen(store)
    assert store.compact() > 0
    with_rollups, raw = answers(store)
    assert with_rollups == raw
    by_model = {r["model"]: r["input_tokens"] for r in raw[1]}
    assert by_model == {long["model"]: 3 * (10 + 11 + 12 + 13), "m": 3}
    assert store.execute("SELECT count(*) FROM summary_1d WHERE model = %s", [long["model"]]) == [(1,)]


def test_compaction_keeps_the_raw_events_index_summarized(store: PostgresStore) -> None:
    """Raw events are found by a BRIN index of ``ts_us``: the page ranges inserts added are summarized by
    the next compaction round (an unsummarized one matches every query), and a partition never
    analyzed is analyzed once it holds ``analyze_after_rows`` events (the planner otherwise scans it)."""
    def partitions() -> list[tuple[str, bool]]:
        return [(name, analyzed) for name, analyzed in store.execute(
            "SELECT c.relname, s.last_analyze IS NOT NULL FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE i.inhparent = 'events'::regclass")]

    def summarize() -> list[tuple[Any, ...]]:  # how many ranges were left unsummarized (it summarizes them)
        return store.execute("SELECT brin_summarize_new_values(inhrelid) FROM pg_inherits "
                             "WHERE inhparent = 'events_ts'::regclass")

    for r in range(4):
        store.insert([validate_events(events(r))])
    store.analyze_after_rows = 10**9
    store.compact(rounds=1)
    assert partitions() == [("events_p202311", False)]  # too few events to analyze
    assert summarize() == [(0,)]  # the round summarized every range already
    store.insert([validate_events(events(5))])
    store.analyze_after_rows = 1
    deadline = time.monotonic() + 10  # the inserts' counts reach the statistics views within a second or so
    while partitions() != [("events_p202311", True)] and time.monotonic() < deadline:
        store.compact(rounds=1)
        time.sleep(0.2)
    assert partitions() == [("events_p202311", True)]
    assert summarize() == [(0,)]


def test_a_locked_partition_is_skipped_not_waited_for(url: str, store: PostgresStore) -> None:
    """A vacuum holds a partition's lock for as long as it runs: compaction skips that partition's index
    maintenance after ``MAINTAIN_LOCK_TIMEOUT`` (it still folds its rows) and does it the next round."""
    import psycopg

    from openusage.store.postgres_store import MAINTAIN_LOCK_TIMEOUT

    store.insert([validate_events(events(0))])
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_BASE, options=f"-c search_path={schema}") as holder:
        holder.execute("LOCK TABLE events_p202311 IN SHARE UPDATE EXCLUSIVE MODE")  # what VACUUM takes
        t = time.monotonic()
        store.compact()
        assert time.monotonic() - t < MAINTAIN_LOCK_TIMEOUT + 5
        holder.rollback()
    summarize = "SELECT brin_summarize_new_values(inhrelid) FROM pg_inherits WHERE inhparent = 'events_ts'::regclass"
    store.insert([validate_events(events(1))])
    store.compact()
    assert store.execute(summarize) == [(0,)]


def test_compaction_vacuums_the_rollups_inserts_merge_into(store: PostgresStore,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Every insert leaves a dead version of each rollup row it adds to; with autovacuum off or busy
    elsewhere, compaction vacuums a rollup once they pass the bound (lowered here), and only then."""
    from openusage.store import postgres_store

    def vacuumed() -> set[str]:
        return {r[0] for r in store.execute("SELECT relname FROM pg_stat_user_tables WHERE schemaname = "
                                            "current_schema() AND last_vacuum IS NOT NULL")}

    with store._conn() as conn:  # only compaction vacuums them here
        for t in TABLES:
            conn.execute(f"ALTER TABLE {t} SET (autovacuum_enabled = false)")
    for r in range(4):
        store.insert([validate_events(events(r))])
    store.compact()
    assert vacuumed() == set()  # a few dead versions: under the default bound
    monkeypatch.setattr(postgres_store, "VACUUM_DEAD_ROWS", 0)
    monkeypatch.setattr(postgres_store, "VACUUM_DEAD_SHARE", 0.0)
    deadline = time.monotonic() + 30  # the inserts' counts reach the statistics views within a second or so
    r = 4
    while vacuumed() != set(TABLES) and time.monotonic() < deadline:
        store.insert([validate_events(events(r))])  # more dead versions, in case pruning took the last ones
        r += 1
        time.sleep(0.5)
        store.compact()
    assert vacuumed() == set(TABLES)
    with_rollups, raw = answers(store)
    assert with_rollups == raw


def _waiting_on_a_lock(base: str, query: str, timeout: float = 20.0) -> None:
    """Wait until a backend running ``query...`` waits for a lock."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(base, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query LIKE %s", [query + "%"]).fetchone() != (0,):
                return
            time.sleep(0.05)
    raise AssertionError(f"no statement {query!r} waited for a lock")


def test_compaction_holds_no_partition_lock_while_it_folds(url: str, store: PostgresStore) -> None:
    """While compaction's fold waits (here on a row another transaction holds), a retention DROP of a
    partition can take its lock at once: the partition's ANALYZE and index summaries run after the fold's
    transaction, each in its own (an ANALYZE in a transaction keeps its lock until it commits).  They
    still run: the partition is analyzed and its page ranges summarized once compaction is done."""
    import psycopg

    store.analyze_after_rows = 10
    store.insert([validate_events(events(0))])
    schema = url.rsplit("schema=", 1)[1]
    deadline = time.monotonic() + 20  # the partition is analyzed once the statistics views show its rows
    while store.execute("SELECT n_live_tup >= 10 FROM pg_stat_user_tables WHERE relname = 'events_p202311' "
                        "AND schemaname = current_schema()") != [(True,)]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with store._conn() as conn:  # a loose row, as an older version left, for the fold to take
        keys = ", ".join(["type", "ts_us", *DIMS["summary_1m"]])  # a group's key, nothing to add
        conn.execute(f"INSERT INTO summary_1m ({keys}, n, compacted) SELECT {keys}, 0, false FROM summary_1m "
                     "WHERE type = 'completions' LIMIT 1")
    with psycopg.connect(PG_BASE, options=f"-c search_path={schema}") as holder:
        holder.execute("SELECT 1 FROM summary_1m WHERE NOT compacted FOR UPDATE")
        folding = threading.Thread(target=store.compact)
        folding.start()
        try:
            _waiting_on_a_lock(PG_BASE, "WITH moved AS (DELETE FROM summary_1m")
            with psycopg.connect(PG_BASE, options=f"-c search_path={schema}") as dropper:
                dropper.execute("SET lock_timeout = '2s'")
                dropper.execute("LOCK TABLE events_p202311 IN ACCESS EXCLUSIVE MODE")  # what DROP TABLE takes
                dropper.rollback()
        finally:
            holder.rollback()
            folding.join()
    assert store.execute("SELECT brin_summarize_new_values(inhrelid) FROM pg_inherits "
                         "WHERE inhparent = 'events_ts'::regclass") == [(0,)]
    assert store.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = "
                         "'events_p202311' AND schemaname = current_schema()") == [(True,)]
    with_rollups, raw = answers(store)
    assert with_rollups == raw


def test_an_insert_does_not_wait_for_the_rollups_vacuum(store: PostgresStore,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The vacuum compaction calls for runs on the store's maintenance thread: an insert whose round of
    compaction finds a rollup due returns while that vacuum waits (here for a lock, up to 3 s), and the
    vacuum is done once it gets it."""
    import psycopg

    from openusage.store import postgres_store

    monkeypatch.setattr(postgres_store, "VACUUM_DEAD_ROWS", 0)
    monkeypatch.setattr(postgres_store, "VACUUM_DEAD_SHARE", 0.0)
    monkeypatch.setattr(postgres_store, "MAINTAIN_LOCK_TIMEOUT", 3.0)
    with store._conn() as conn:
        conn.execute("ALTER TABLE summary_1d SET (autovacuum_enabled = false)")
    deadline = time.monotonic() + 20  # dead versions reach the statistics views within a second or so
    r = 0
    while store.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'summary_1d'::regclass") == [(0,)]:
        assert time.monotonic() < deadline
        store.insert([validate_events(events(r))])
        r += 1
        time.sleep(0.3)
    schema = store.schema
    with psycopg.connect(PG_BASE, options=f"-c search_path={schema}") as holder:
        holder.execute("LOCK TABLE summary_1d IN SHARE UPDATE EXCLUSIVE MODE")  # what VACUUM takes
        store._compacted_at = 0.0  # this insert's round compacts
        t = time.monotonic()
        store.insert([validate_events(events(r + 1))])
        took = time.monotonic() - t
        holder.rollback()
    assert took < 2.0
    assert store._maintenance is not None
    store._maintenance.join(30)
    assert store.execute("SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables "
                         "WHERE relid = 'summary_1d'::regclass") == [(True,)]
    with_rollups, raw = answers(store)
    assert with_rollups == raw
