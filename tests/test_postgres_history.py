"""PostgreSQL retention: pruned events move into ``history_1d`` and every answer keeps counting them once.

The day rollup leaves ``user_id`` out; a day query by user and another dimension reads raw events and
the history of what retention pruned.  Checked against sums worked out here from the events themselves:
after prunes at minute and month boundaries, with late events arriving for pruned days, with two workers
pruning and compacting at once, and after upgrading a store whose day rollup kept every dimension.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openusage.ingest.events import validate_events
from openusage.spec import DIMENSIONS
from openusage.store import open_store
from openusage.store.base import Aggregate
from openusage.store.postgres_store import MIGRATIONS, SCHEMA_VERSION, PostgresStore, month_bounds
from openusage.store.sql import POSTGRESQL, rollup_select_sql
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema

DAY = 86400
T0 = 1_700_000_000  # 2023-11-14
DAY0 = T0 - T0 % DAY
START = DAY0 - 40 * DAY  # October's partition too
END = DAY0 + 5 * DAY
Event = dict[str, Any]
SHAPES: list[tuple[str, ...]] = [("user_id", "model"), ("user_id", "api_key_id"), ("model",), ("user_id",),
                                 ("api_key_id", "model"), ("project_id", "user_id")]


def completion(i: int, ts: int, tag: str = "c") -> Event:
    return {"id": f"{tag}{i}", "type": "completions", "timestamp": ts, "model": ("gpt-4o", "o3")[i % 2],
            "project_id": f"p{i % 3}", "user_id": f"u{i % 5}", "api_key_id": f"k{i % 4}",
            "input_tokens": 10 + i, "output_tokens": i % 7}


def spread(n: int, tag: str = "c", lo: int = START, hi: int = END) -> list[Event]:
    """``n`` completions spread over [lo, hi) (every 37th second or so, not aligned on minutes)."""
    step = (hi - lo) // n
    return [completion(i, lo + i * step + i % 37, tag) for i in range(n)]


def reference(events: list[Event], group_by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Per day and group: input tokens and the count, summed here from the events."""
    tokens: Counter[tuple[Any, ...]] = Counter()
    count: Counter[tuple[Any, ...]] = Counter()
    for e in events:
        key = (e["timestamp"] - e["timestamp"] % DAY, *(e.get(g) for g in group_by))
        tokens[key] += e["input_tokens"]
        count[key] += 1
    return sorted((*k, tokens[k], count[k]) for k in tokens)


def answer(store: PostgresStore, group_by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    agg = Aggregate("completions", START - START % DAY, END, DAY, group_by=group_by,
                    metrics=("input_tokens", "num_model_requests"))
    rows = store.aggregate(agg).to_pylist()
    return sorted((r["bucket"], *(r[g] for g in group_by), r["input_tokens"], r["num_model_requests"]) for r in rows)


def check(store: PostgresStore, events: list[Event]) -> None:
    for shape in SHAPES:
        assert answer(store, shape) == reference(events, shape), shape


def run_together(*targets: Callable[[], object], timeout: float = 60) -> None:
    """Run each target on a thread of its own, all at once, and wait for them."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


def moved(store: PostgresStore) -> int:
    """Events in the history (its rows' counts)."""
    return int(store.execute("SELECT coalesce(sum(n), 0) FROM history_1d")[0][0])


@pytest.fixture
def url() -> Iterator[str]:
    require_pg()
    schema = unique_schema()
    yield f"{PG_BASE}?schema={schema}"
    drop_schema(schema)


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    try:
        yield store
    finally:
        store.close()


def test_pruned_events_move_into_the_history_once(store: PostgresStore) -> None:
    """A prune dropping October's partition and part of a November day; late events for pruned days, then
    another prune: every grouping by day equals the reference each time, and each event is raw or in the
    history (never both)."""
    events = spread(600)
    store.insert([validate_events(events)])
    check(store, events)
    assert store.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                         "AND table_name = 'rollup_1d' AND column_name = 'user_id'") == [(0,)]
    cutoff = DAY0 + DAY + 5000  # rounded down to a minute: 4980
    deleted = store.prune(cutoff)
    pruned = [e for e in events if e["timestamp"] < cutoff - cutoff % 60]
    october = [e for e in events if e["timestamp"] < month_bounds(DAY0 * 1_000_000)[0] // 1_000_000]
    assert deleted == len(pruned) - len(october) > 0 and october  # October's went with its partition
    assert store.count_events() == len(events) - len(pruned)
    assert moved(store) == len(pruned)
    check(store, events)
    late = [completion(i, DAY0 + i * 97, "late") for i in range(40)]  # pruned days, arriving after the prune
    store.insert([validate_events(late)])
    check(store, events + late)
    assert store.prune(cutoff) == sum(1 for e in late if e["timestamp"] < cutoff - cutoff % 60) > 0
    assert moved(store) + store.count_events() == len(events) + len(late)
    check(store, events + late)
    store.compact()
    check(store, events + late)


def test_inserts_go_on_while_a_month_is_folded_into_the_history(url: str, store: PostgresStore) -> None:
    """A month partition's fold into the history holds only that partition's lock: while the fold waits
    (another session holds ``history_1d``'s SHARE lock), a second worker's insert of current events
    returns; once the fold goes on, the month is dropped and every event is counted once."""
    events = spread(300)
    store.insert([validate_events(events)])
    cutoff = DAY0 + DAY
    october = [e for e in events if e["timestamp"] < month_bounds(DAY0 * 1_000_000)[0] // 1_000_000]
    assert october
    blocker = psycopg.connect(PG_BASE, autocommit=False)
    other = open_store(url)
    pruned: list[int] = []
    try:
        blocker.execute(f"SET search_path TO {store.schema}")
        blocker.execute("LOCK TABLE history_1d IN SHARE MODE")
        pruner = threading.Thread(target=lambda: pruned.append(store.prune(cutoff)))
        pruner.start()
        deadline = time.monotonic() + 10
        while not store.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                "WHERE c.relname = 'history_1d' AND NOT l.granted")[0][0]:
            assert time.monotonic() < deadline, "the fold never reached the history"
            time.sleep(0.02)
        current = [completion(i, END - 3600 + i, "now") for i in range(5)]
        inserter = threading.Thread(target=lambda: other.insert([validate_events(current)]))
        inserter.start()
        inserter.join(5)
        assert not inserter.is_alive(), "an insert of current events waited for the month's fold"
    finally:
        blocker.rollback()
        blocker.close()
        pruner.join(30)
        other.close()
    assert not pruner.is_alive() and pruned
    assert moved(store) == sum(1 for e in events if e["timestamp"] < cutoff)
    check(store, events + current)
    assert store.count_events() == len(events) + len(current) - moved(store)


def test_usage_scans_by_user_and_model_read_the_history(store: PostgresStore) -> None:
    """The scan costs are priced from (store/pricing_sql.py) picks its rollups as aggregations do: by user
    and model after a prune it reads the history and the raw events, and sums what it did before."""
    from openusage.store.pricing_sql import UsageScan, scan_usage

    events = spread(300, lo=DAY0, hi=DAY0 + 3 * DAY)
    store.insert([validate_events(events)])
    assert store.rollups_for({"user_id", "model"})[0][0].startswith("(SELECT")
    scan = UsageScan(("completions",), DAY0, DAY0 + 3 * DAY, DAY, ("user_id", "model"), metrics=("input_tokens",))

    def rows() -> list[tuple[Any, ...]]:
        return sorted((r["bucket"], r["user_id"], r["model"], r["input_tokens"]) for r in scan_usage(store, scan))

    before = rows()
    assert before == [r[:-1] for r in reference(events, ("user_id", "model"))]
    store.prune(DAY0 + 2 * DAY)
    assert store.count_events() < len(events)
    assert rows() == before


def test_two_workers_prune_compact_and_insert_at_once(url: str, store: PostgresStore) -> None:
    """Two stores on one schema prune (to different cutoffs), compact and insert (some ids both) at the
    same moment, twice: no event is lost or counted twice."""
    other = open_store(url)
    assert isinstance(other, PostgresStore)
    try:
        events = spread(800)
        store.insert([validate_events(events)])
        fresh = spread(200, "n", DAY0 + 3 * DAY, END)
        errors: list[tuple[str, BaseException]] = []
        for round_ in range(2):
            gate = threading.Barrier(4)

            def run(fn: Any, *args: Any, gate: threading.Barrier = gate) -> None:
                try:
                    gate.wait()
                    fn(*args)
                except BaseException as exc:  # reported below
                    errors.append((fn.__name__, exc))

            cut = DAY0 + round_ * DAY
            jobs = [(store.prune, cut + 3600), (other.prune, cut + 7 * 3600),
                    (store.compact,), (other.insert, [validate_events(fresh[:150])])]
            threads = [threading.Thread(target=run, args=job) for job in jobs]
            for t in threads:
                t.start()
            store.insert([validate_events(fresh[100:])])  # ids 100-149 both workers insert
            for t in threads:
                t.join()
            assert errors == []
            other.compact()
            check(store, events + fresh)
            check(other, events + fresh)
            assert moved(store) + store.count_events() == len(events) + len(fresh)
    finally:
        other.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 5 * DAY), st.integers(0, 40)), min_size=1, max_size=4))
def test_prunes_and_late_events_property(url: str, steps: list[tuple[int, int]]) -> None:
    """Any sequence of prunes (cutoff anywhere in five days) each followed by late events for any of those
    days: every grouping equals the reference and each event is raw or in the history."""
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    try:
        with store._conn() as conn:  # a clean store per example (the schema is the test's)
            conn.execute("TRUNCATE events, event_ids, history_1d, rollup_1d, users_1d, summary_1m, summary_1h, "
                         "summary_1d")
        events = spread(200, "e", DAY0, DAY0 + 5 * DAY)
        store.insert([validate_events(events)])
        for k, (offset, late) in enumerate(steps):
            store.prune(DAY0 + offset)
            extra = [completion(i, DAY0 + (offset + i * 7919) % (5 * DAY), f"l{k}_") for i in range(late)]
            store.insert([validate_events(extra)])
            events += extra
            assert moved(store) + store.count_events() == len(events)
        for shape in SHAPES[:3]:
            assert answer(store, shape) == reference(events, shape), shape
    finally:
        store.close()


# -- upgrade -----------------------------------------------------------------------------------------
EVERY = tuple(DIMENSIONS)


BEFORE_HISTORY = 17
"""The schema version before ``history_1d`` (version 18)."""


def _old_store(schema: str, events: list[Event], cutoff: int) -> None:
    """A store at the version before the history (its day rollup by every dimension), holding ``events``
    in every table as its inserts left them, then pruned before ``cutoff`` as its retention did (the raw
    events deleted, October's partition dropped, the rollups kept)."""
    rows = validate_events(events).to_arrow()
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE openusage_meta (name TEXT PRIMARY KEY, value TEXT)")
        for stmts in MIGRATIONS[:BEFORE_HISTORY]:
            for stmt in stmts:
                conn.execute(stmt)
        conn.execute("INSERT INTO openusage_meta VALUES ('schema_version', %s)", [str(BEFORE_HISTORY)])
        for suffix, (lo, hi) in {month_bounds(ts)[2]: month_bounds(ts)[:2]
                                 for ts in rows.column("ts_us").to_pylist()}.items():
            conn.execute(f"CREATE TABLE events_p{suffix} PARTITION OF events FOR VALUES FROM ({lo}) TO ({hi})")
        names = [n for n in rows.column_names if n in ("id", "type", "ts_us", "input_tokens", "output_tokens",
                                                        "num_model_requests", *EVERY)]
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                            [[r[n] for n in names] for r in rows.to_pylist()])
        conn.execute("INSERT INTO event_ids (project_key, id) SELECT coalesce(project_id, ''), id FROM events")
        tail = ["characters", "num_model_requests", "seconds", "num_sessions", "input_tokens", "output_tokens",
                "input_cached_tokens", "input_audio_tokens", "output_audio_tokens", "input_text_tokens",
                "input_image_tokens", "input_uncached_tokens", "input_cached_text_tokens",
                "input_cached_audio_tokens", "input_cached_image_tokens", "input_cache_write_tokens",
                "input_cache_write_30m_tokens", "input_cache_write_12h_tokens", "output_text_tokens",
                "output_image_tokens", "images", "usage_bytes", "num_requests", "amount", "quantity",
                "quantity_unit", "n"]
        for table, width, dims in (("rollup_1d", DAY, EVERY), ("users_1d", DAY, ("project_id", "user_id")),
                                   ("summary_1m", 60, None), ("summary_1h", 3600, None), ("summary_1d", DAY, None)):
            if dims is None:
                dims = tuple(r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                    "AND column_name = ANY(%s) ORDER BY ordinal_position", [schema, table, list(EVERY)]).fetchall())
            select = rollup_select_sql(POSTGRESQL, "events", width, dims, "count(*)", nonnegative=True)
            conn.execute(f"INSERT INTO {table} ({', '.join(['type', 'ts_us', *dims, *tail])}, compacted) "
                         f"SELECT s.*, true FROM ({select}) AS s")
        conn.execute("DROP TABLE events_p202310")  # the old prune: October's partition, then November's rows
        conn.execute("DELETE FROM events WHERE ts_us < %s", [cutoff * 1_000_000])


def test_upgrade_moves_pruned_days_into_the_history() -> None:
    """A store pruned under the day rollup by every dimension: after the upgrade every grouping by day,
    by user and model included, answers what the old rollup did for the pruned days (the reference),
    the history holding exactly the pruned events; inserts and prunes then go on counting once."""
    require_pg()
    schema = unique_schema()
    events = spread(500)
    cutoff = DAY0 + DAY + 4980
    try:
        _old_store(schema, events, cutoff)
        with psycopg.connect(PG_BASE, options=f"-c search_path={schema}") as conn:  # what the old rollup answered
            old = conn.execute("SELECT ts_us / 1000000, user_id, model, sum(input_tokens)::bigint, sum(n)::bigint "
                               "FROM rollup_1d WHERE type = 'completions' GROUP BY 1, 2, 3").fetchall()
        assert sorted(old) == reference(events, ("user_id", "model"))
        store = open_store(f"{PG_BASE}?schema={schema}")
        assert isinstance(store, PostgresStore)
        try:
            assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
            pruned = [e for e in events if e["timestamp"] < cutoff]
            assert moved(store) == len(pruned) and store.count_events() == len(events) - len(pruned)
            check(store, events)
            store.rollups = False  # the raw events alone: only what was not pruned
            assert answer(store, ("model",)) == reference([e for e in events if e["timestamp"] >= cutoff], ("model",))
            store.rollups = True
            late = [completion(i, DAY0 + i * 97, "late") for i in range(30)]
            store.insert([validate_events(late)])
            store.prune(cutoff + DAY)
            assert moved(store) + store.count_events() == len(events) + len(late)
            check(store, events + late)
        finally:
            store.close()
    finally:
        drop_schema(schema)
