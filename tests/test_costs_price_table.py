"""The price rows a costs statement joins live in the store (``price_rows``, per price set), on every engine.

A set is loaded key by key as usage of new keys appears, a changed price (set by another process) makes
a new set, sets beyond the newest few are deleted, and loading the same keys from several workers at once
leaves each row once.  Every page is compared with the Python reference
(:func:`openusage.pricing.costs.compute_costs_reference`).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openusage.ingest.events import validate_events
from openusage.pricing import PriceBook, compute_costs, parse_custom
from openusage.pricing import price_table as pt
from openusage.pricing.costs import CostResult, compute_costs_reference, sql_store
from openusage.store import Store, open_store
from openusage.store.common import PRICE_SETS_KEPT
from tests.conftest import errors_in_threads
from tests.storeconf import ENGINES, drop_schema, fresh_store, require_pg, store_url, unique_schema

DAY = 86400
DAY0 = int(dt.datetime(2025, 6, 2, tzinfo=dt.UTC).timestamp())
START, END = DAY0, DAY0 + 3 * DAY
GROUPINGS: tuple[tuple[str, ...], ...] = ((), ("line_item",), ("project_id", "line_item", "api_key_id"))


def _events(model: str, n: int, first: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"{model}-{first + i}", "type": "completions", "timestamp": DAY0 + (i % 3) * DAY + 60 + i,
             "model": model, "project_id": f"proj_{i % 2}", "api_key_id": f"key_{i % 3}",
             "input_tokens": 1000 + i, "input_cached_tokens": i % 7, "output_tokens": 100 + i} for i in range(n)]


def _same(res: CostResult, ref: CostResult) -> None:
    assert {k: (v.amount, v.quantity, v.unit) for k, v in res.lines.items()} == \
        {k: (v.amount, v.quantity, v.unit) for k, v in ref.lines.items()}
    assert res.unpriced == ref.unpriced


def _check(store: Store, book: PriceBook) -> None:
    for group_by in GROUPINGS:
        _same(compute_costs(store, START, END, group_by, {}, book),
              compute_costs_reference(store, START, END, group_by, {}, book))


def _forget_sets() -> None:
    """This process's price tables dropped: the next page prices as a newly started worker would."""
    with pt._TABLES_LOCK:
        pt._TABLES.clear()


def _sets(store: Store) -> dict[str, int]:
    """Rows per price set in the store's ``price_rows``, each row counted as stored."""
    rows = sql_store(store).execute("SELECT set_id, count(*) FROM price_rows GROUP BY set_id")
    return {str(s): int(n) for s, n in rows}


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with fresh_store(request.param, tmp_path) as s:
        yield s


def test_price_rows_are_loaded_into_the_store_per_price_set(store: Store) -> None:
    store.insert([validate_events(_events("gpt-4o", 30))])
    book = PriceBook()
    _check(store, book)
    version = pt.book_version(book)
    assert list(_sets(store)) == [version]
    key = pt.key_text("completions", "", {"model": "gpt-4o", "service_tier": "default"})
    assert sql_store(store).price_keys(version) == {key}


def test_a_model_ingested_after_the_set_was_loaded_is_priced(store: Store) -> None:
    store.insert([validate_events(_events("gpt-4o", 30))])
    book = PriceBook()
    _check(store, book)
    before = _sets(store)[pt.book_version(book)]
    store.insert([validate_events(_events("gpt-4.1-mini", 20) + _events("no-such-model", 5))])
    _check(store, book)
    assert _sets(store)[pt.book_version(book)] > before


def test_rows_loaded_by_another_worker_are_read_with_their_lines(store: Store) -> None:
    store.insert([validate_events(_events("gpt-4o", 30) + _events("o3", 10))])
    book = PriceBook()
    _check(store, book)
    _forget_sets()  # a new worker: the store holds rows whose lines it has not made
    res = compute_costs(store, START, END, ("line_item",), {}, book)
    _same(res, compute_costs_reference(store, START, END, ("line_item",), {}, book))


def test_a_changed_price_is_a_new_set_and_old_sets_are_deleted(store: Store) -> None:
    store.insert([validate_events(_events("my-llama", 12))])
    versions = []
    for i in range(PRICE_SETS_KEPT + 2):
        book = PriceBook(custom=parse_custom([{"model": "my-llama", "input": f"0.{i + 1}", "output": "1",
                                               "effective_from": "2025-01-01"}]))
        _check(store, book)
        versions.append(pt.book_version(book))
    assert len(set(versions)) == len(versions)
    kept = _sets(store)
    assert set(kept) == set(versions[-PRICE_SETS_KEPT:])
    stored = sql_store(store).execute("SELECT DISTINCT set_id FROM price_sets")
    assert {str(r[0]) for r in stored} == set(versions[-PRICE_SETS_KEPT:])
    # a worker still pricing with a deleted set loads its keys again
    first = PriceBook(custom=parse_custom([{"model": "my-llama", "input": "0.1", "output": "1",
                                            "effective_from": "2025-01-01"}]))
    _check(store, first)
    assert versions[0] in _sets(store)


def test_concurrent_loads_of_the_same_keys_leave_each_row_once(store: Store) -> None:
    store.insert([validate_events(_events("gpt-4o", 6) + _events("gpt-4o-mini", 6) + _events("o3", 6))])
    book = PriceBook()
    table = pt.PriceTable(book)
    keys = {pt.key_text("completions", "", {"model": m}) for m in ("gpt-4o", "gpt-4o-mini", "o3")}
    rows = table.rows_of(keys)
    sql = sql_store(store)
    assert not errors_in_threads(lambda: sql.add_price_rows(table.version, rows), 4)
    read = sql.execute("SELECT DISTINCT key, lo, hi, line_id, q FROM price_rows WHERE set_id = "
                       f"{sql.dialect.placeholder}", [table.version])
    assert sorted(tuple(r) for r in read) == sorted(rows)
    if not type(store).__name__.startswith("ClickHouse"):  # unique keys: no row twice
        assert _sets(store)[table.version] == len(rows)
    _check(store, book)


def _cli(url: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-c", "from openusage.cli import cli; cli()", *args, "--db", url],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_price_set_by_another_process_reprices_the_next_page(tmp_path: Path) -> None:
    """Two processes on one PostgreSQL store: prices set and costs read by the CLI in one, pages here."""
    require_pg()
    schema = unique_schema()
    url = store_url("postgresql", tmp_path, schema)
    store = open_store(url)
    try:
        store.insert([validate_events(_events("my-llama", 12) + _events("gpt-4o", 6))])
        _check(store, PriceBook.for_store(store))
        _cli(url, "costs", "--since", str(START), "--until", str(END), "--group-by", "line_item")
        _cli(url, "prices", "set", "my-llama", "--input", "0.5", "--output", "1.5", "--from", "2025-01-01")
        book = PriceBook.for_store(store)
        assert book.custom  # the other process's price is read here
        res = compute_costs(store, START, END, ("line_item",), {}, book)
        _same(res, compute_costs_reference(store, START, END, ("line_item",), {}, book))
        assert any(k[1] == "my-llama, input" for k in res.lines)
        assert pt.book_version(book) in _sets(store)
    finally:
        store.close()
        drop_schema(schema)


def test_prices_of_many_decimals_are_exact(store: Store) -> None:
    """Prices of many decimals, and a price per minute / 60 that does not divide, equal the reference."""
    store.insert([validate_events(_events("my-llama", 20) + [
        {"id": f"tr{i}", "type": "audio_transcriptions", "timestamp": DAY0 + i * 3600, "model": "whisper-1",
         "project_id": "proj_0", "seconds": 61 + i} for i in range(6)])])
    book = PriceBook(custom=parse_custom([
        {"model": "my-llama", "input": "0.123456789012345678901234567", "output": "0.1234567890123456789012",
         "cached_input": "3", "effective_from": "2025-01-01"},
        {"model": "whisper-1", "per_minute": "0.007", "effective_from": "2025-01-01"}]))
    _check(store, book)


def test_a_read_only_duckdb_store_answers_costs(tmp_path: Path) -> None:
    """A store opened read-only cannot load price rows: keys the store holds rows of and keys new to it
    are priced with rows bound to the statement, as the reference prices them."""
    from openusage.store.duckdb_store import DuckDBStore

    path = tmp_path / "ro.duckdb"
    writer = DuckDBStore(path)
    writer.migrate()
    writer.insert([validate_events(_events("gpt-4o", 30))])
    _check(writer, PriceBook())  # gpt-4o's rows loaded
    writer.insert([validate_events(_events("o3", 10) + _events("no-such-model", 5))])
    writer.close()
    _forget_sets()
    reader = DuckDBStore(path, read_only=True)
    try:
        _check(reader, PriceBook())
        _check(reader, PriceBook(custom=parse_custom([{"model": "o3", "input": "0.5", "output": "1",
                                                       "effective_from": "2025-01-01"}])))
    finally:
        reader.close()


def test_a_postgres_role_that_may_only_read_answers_costs(tmp_path: Path) -> None:
    """A worker connected as a role without write privileges (as on a replica) prices every page with
    rows bound to the statement, as the reference prices them."""
    import psycopg

    from openusage.store.postgres_store import PostgresStore
    from tests.storeconf import PG_BASE

    require_pg()
    schema, role = unique_schema(), f"reader_{unique_schema()}"
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        writer = open_store(store_url("postgresql", tmp_path, schema))
        try:
            writer.insert([validate_events(_events("gpt-4o", 30))])
            _check(writer, PriceBook())
            writer.insert([validate_events(_events("o3", 10))])
            admin.execute(f"CREATE ROLE {role} LOGIN")
            admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
            admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
            _forget_sets()
            reader = PostgresStore(PG_BASE.replace("postgres@", f"{role}@", 1), schema=schema)  # no migration
            try:
                _check(reader, PriceBook())
            finally:
                reader.close()
        finally:
            writer.close()
            drop_schema(schema)
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_workers_loading_the_same_rows_in_other_orders_do_not_deadlock() -> None:
    """Every worker inserts a set's rows in one order (the primary key's): a worker given the rows in
    another order (materialised in another process, whose set order differs) waits for the first and
    then skips them, where inserting in its own order would deadlock with it."""
    import psycopg

    from openusage.store.postgres_store import PostgresStore
    from tests.storeconf import PG_BASE

    require_pg()
    schema = unique_schema()
    store = PostgresStore(PG_BASE, schema=schema)
    try:
        store.migrate()
        table = pt.PriceTable(PriceBook())
        keys = {pt.key_text("completions", "", {"model": m}) for m in ("gpt-4o", "o3")}
        rows = sorted(table.rows_of(keys), key=lambda r: (r[0], r[1], r[3]))
        store.add_price_rows(table.version, [])  # the set registered
        errors: list[BaseException] = []
        with psycopg.connect(PG_BASE, options=f"-c search_path={schema}") as other:
            insert = "INSERT INTO price_rows (set_id, key, lo, hi, line_id, q) VALUES (%s, %s, %s, %s, %s, %s)"
            other.execute(insert, [table.version, *rows[0]])  # the other worker's first row, uncommitted

            def load() -> None:
                try:
                    store.add_price_rows(table.version, rows[::-1])
                except BaseException as exc:  # reported below
                    errors.append(exc)

            worker = threading.Thread(target=load)
            worker.start()
            with psycopg.connect(PG_BASE, autocommit=True) as watch:
                for _ in range(500):  # until the worker waits for the other's row
                    if watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND query LIKE 'INSERT INTO price_rows%%'").fetchone() != (0,):
                        break
                    threading.Event().wait(0.01)
            for row in rows[1:]:
                other.execute(insert, [table.version, *row])
            other.commit()
            worker.join(timeout=30)
        assert not errors
        assert sorted(store.execute("SELECT key, lo, hi, line_id, q FROM price_rows")) == rows
    finally:
        store.close()
        drop_schema(schema)


def test_keys_of_the_longest_names_are_loaded_into_the_store(store: Store) -> None:
    """A key of parts at the 512-character limit, in characters of three UTF-8 bytes each (past what a
    btree entry may hold, and not compressible), is loaded like any other and priced as the reference."""
    import random

    pick = random.Random(7)

    def name() -> str:
        return "".join(chr(pick.randint(0x4E00, 0x9FFF)) for _ in range(512))

    model, tier = name(), name()
    events = [{**e, "id": f"long-{i}", "service_tier": tier} for i, e in enumerate(_events(model, 6))]
    events += _events("gpt-4o", 6)
    store.insert([validate_events(events)])
    book = PriceBook()
    _check(store, book)
    key = pt.key_text("completions", "", {"model": model, "service_tier": tier})
    assert key in sql_store(store).price_keys(pt.book_version(book))


def test_rows_gone_before_they_are_read_are_bound_instead() -> None:
    """Rows a worker loads may be gone by its next statement (another worker's newer sets deleted the
    set meanwhile; a replica not caught up): the page is still priced, with the rows bound instead.
    Here a rule drops every insert into ``price_rows``, as if each were deleted at once."""
    import psycopg

    from openusage.store.postgres_store import PostgresStore
    from tests.storeconf import PG_BASE

    require_pg()
    schema = unique_schema()
    store = PostgresStore(PG_BASE, schema=schema)
    try:
        store.migrate()
        store.insert([validate_events(_events("gpt-4o", 12) + _events("o3", 6))])
        with psycopg.connect(PG_BASE, autocommit=True) as admin:
            admin.execute(f"CREATE RULE price_rows_gone AS ON INSERT TO {schema}.price_rows DO INSTEAD NOTHING")
        _forget_sets()
        _check(store, PriceBook())
        assert _sets(store) == {}
    finally:
        store.close()
        drop_schema(schema)
