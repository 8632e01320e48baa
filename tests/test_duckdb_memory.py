"""The DuckDB store's memory bound: ``?memory_limit=`` (a size or a share of the machine's memory), a default
relative to the machine, every bad value refused with one clear message, and a query over the bound
still answered exactly (DuckDB spills to ``<file>.tmp``).

The reference for what DuckDB holds is DuckDB's own reading of the same size (``SET memory_limit``
on a separate connection), not our arithmetic."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.duckdb_store import DEFAULT_MEMORY_BOUNDS, DuckDBStore, default_memory_limit
from openusage.store.url import MIN_MEMORY_LIMIT, machine_memory, parse_store_url

OPENUSAGE = shutil.which("openusage") or "openusage"


def duckdb_reads(size: str) -> str:
    """How DuckDB itself shows the memory limit ``size`` (its own parser, on a separate connection)."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{size}'")
    return str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def store_limit(store: DuckDBStore) -> str:
    return str(store.execute("SELECT current_setting('memory_limit')")[0][0])


@pytest.mark.parametrize("value, size", [
    ("512MB", 512 * 10**6), ("512MiB", 512 * 2**20), ("2GiB", 2 * 2**30), ("1.5GB", 1_500_000_000),
    ("1073741824", 2**30), ("100000KB", 10**8), ("64MiB", 64 * 2**20), (" 1 GiB ", 2**30), ("1gib", 2**30),
])
def test_sizes_read_as_duckdb_reads_them(value: str, size: int) -> None:
    assert parse_store_url(f"duckdb:///x.db?memory_limit={value}").options == {"memory_limit": size}
    plain = value.strip()
    assert duckdb_reads(f"{size}B") == duckdb_reads(plain + "B" if plain.isdigit() else plain)  # bytes: B


def test_a_share_of_the_machine() -> None:
    total = machine_memory()
    assert parse_store_url("duckdb:///x.db?memory_limit=25%25").options == {"memory_limit": total // 4}
    assert parse_store_url("duckdb:///x.db?memory_limit=100%25").options == {"memory_limit": total}


@pytest.mark.parametrize("value, message", [
    ("lots", "memory_limit must be a size such as 512MB, 2GiB or 25% (of this machine's memory), not 'lots'"),
    ("", "memory_limit must be a size such as 512MB, 2GiB or 25% (of this machine's memory), not ''"),
    ("-1GB", "memory_limit must be a size such as 512MB, 2GiB or 25% (of this machine's memory), not '-1GB'"),
    ("1e9", "memory_limit must be a size such as 512MB, 2GiB or 25% (of this machine's memory), not '1e9'"),
    ("1PB", "memory_limit must be a size such as 512MB, 2GiB or 25% (of this machine's memory), not '1PB'"),
    ("9" * 40, "memory_limit must be a size such as 512MB, 2GiB or 25% (of this machine's memory), not '"
     + "9" * 40 + "'"),
    ("0", "memory_limit must be at least 64 MiB, not '0'"),
    ("63MiB", "memory_limit must be at least 64 MiB, not '63MiB'"),
    ("0%25", "memory_limit must be at least 64 MiB, not '0%'"),
])
def test_bad_sizes_refused(value: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_store_url(f"duckdb:///x.db?memory_limit={value}")
    assert str(err.value) == message


def test_more_than_the_machine_refused() -> None:
    total = machine_memory()
    for value in ("101%25", f"{total + 1}"):
        with pytest.raises(ValueError, match=r"^memory_limit '[0-9%]+' is more than this machine's memory "
                                             r"\([0-9.]+ GiB\)$"):
            parse_store_url(f"duckdb:///x.db?memory_limit={value}")


def test_other_engines_do_not_take_it() -> None:
    with pytest.raises(ValueError, match=r"^option 'memory_limit' does not apply to postgresql stores$"):
        parse_store_url("postgresql://u@h/db?memory_limit=1GB")


def test_the_store_holds_duckdb_to_the_bound(tmp_path: Path) -> None:
    store = open_store(f"duckdb://{tmp_path}/a.duckdb?memory_limit=300MiB")
    try:
        assert isinstance(store, DuckDBStore) and store.memory_limit == 300 * 2**20
        assert store_limit(store) == duckdb_reads("300MiB")
    finally:
        store.close()


def test_default_is_a_share_of_the_machine_within_bounds(tmp_path: Path) -> None:
    low, high = DEFAULT_MEMORY_BOUNDS
    assert MIN_MEMORY_LIMIT <= low < high
    assert default_memory_limit() == max(low, min(high, machine_memory() // 64))
    store = open_store(str(tmp_path / "b.duckdb"))  # a bare path takes the default too
    try:
        assert isinstance(store, DuckDBStore) and store.memory_limit == default_memory_limit()
        assert store_limit(store) == duckdb_reads(f"{default_memory_limit()}B")
    finally:
        store.close()


def test_a_query_over_the_bound_spills_and_answers_exactly(tmp_path: Path) -> None:
    """A grouping larger than the bound (300,000 distinct users under 64 MiB) is answered, not refused."""
    store = open_store(f"duckdb://{tmp_path}/c.duckdb?memory_limit=64MiB")
    assert isinstance(store, DuckDBStore)
    try:
        for k in range(6):
            events = [{"id": f"e{k}-{i}", "type": "completions", "timestamp": 1_767_225_600 + i % 3600,
                       "model": "m", "user_id": f"user-{k}-{i}-" + "x" * 40, "input_tokens": i}
                      for i in range(50_000)]
            store.insert([validate_events(events)])
        rows = store.execute("SELECT count(*), sum(t), sum(length(u)) FROM (SELECT user_id AS u, "
                             "sum(input_tokens) AS t FROM events GROUP BY user_id ORDER BY u)")
        assert rows == [(300_000, 6 * sum(range(50_000)), sum(len(f"user-{k}-{i}-") + 40
                                                              for k in range(6) for i in range(50_000)))]
    finally:
        store.close()


@pytest.mark.parametrize("command", [["keys", "list"], ["serve", "--port", "0"]])
def test_the_cli_says_it_in_one_line(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    res = subprocess.run([OPENUSAGE, *command, "--db", f"duckdb://{tmp_path}/d.duckdb?memory_limit=lots"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert "Traceback" not in res.stdout + res.stderr and res.returncode == 2, res.stdout + res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "memory_limit must be a size such as 512MB" in errors[0], res.stderr
