"""``openusage migrate``: DuckDB -> PostgreSQL -> chdb, through the CLI, answers unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from openusage.cli import cli
from openusage.ingest.events import validate_events
from openusage.store import open_store
from openusage.store.base import Aggregate, ApiKeyRecord
from tests.storeconf import PG_BASE, drop_schema, require_pg, unique_schema


@pytest.fixture(autouse=True)
def _postgres_is_up() -> None:
    require_pg()


T0 = 1_700_000_000
QUERIES = [
    Aggregate("completions", T0 - T0 % 86400, T0 - T0 % 86400 + 5 * 86400, 86400, group_by=("model", "project_id"),
              metrics=("input_tokens", "num_model_requests")),
    Aggregate("completions", T0 + 7, T0 + 7207, 60, metrics=("input_tokens",)),
    Aggregate("costs", T0 - T0 % 86400, T0 - T0 % 86400 + 5 * 86400, 86400, group_by=("line_item",),
              decimals=("amount",), with_quantity=True),
    Aggregate("vector_stores", T0 - 3600, T0 + 86400, 3600, gauges=("usage_bytes",)),
]


@pytest.fixture
def schema() -> Iterator[str]:
    name = unique_schema()
    yield name
    drop_schema(name)


def fill(url: str) -> None:
    store = open_store(url)
    evs = [{"id": f"c{i}", "type": "completions", "timestamp": T0 + i * 37.25, "model": ["gpt-4o", "o3"][i % 2],
            "project_id": f"p{i % 3}", "input_tokens": i} for i in range(1500)]
    evs += [{"id": f"k{i}", "type": "costs", "timestamp": T0 + i * 600, "amount": f"{i}.000000000001",
             "line_item": "gpt-4o, input", "quantity": i / 2, "quantity_unit": "tokens"} for i in range(40)]
    evs += [{"id": f"v{i}", "type": "vector_stores", "timestamp": T0 + i * 900, "usage_bytes": 1000 + i,
             "project_id": f"p{i % 2}"} for i in range(50)]
    store.insert([validate_events(evs)])
    store.put_key(ApiKeyRecord("key1", "ci", "read", ["p1"], "salt", "hash", 1700000000))
    store.set_meta("org_name", "Acme")
    store.close()


def answers(url: str) -> list[list[dict]]:
    store = open_store(url)
    try:
        return [store.aggregate(q).to_pylist() for q in QUERIES]
    finally:
        store.close()


def test_migrate_between_engines(tmp_path: Path, schema: str) -> None:
    duck = f"duckdb:///{tmp_path / 'a.duckdb'}"
    pg = f"{PG_BASE}?schema={schema}"
    ch = f"chdb:///{tmp_path / 'ch'}"
    fill(duck)
    want = answers(duck)
    runner = CliRunner()
    r = runner.invoke(cli, ["migrate", "--from", duck, "--to", pg, "--chunk", "400"])
    assert r.exit_code == 0, r.output
    assert "Copied 1,590 new events (0 already there), 1 keys and 1 settings." in r.output
    assert answers(pg) == want
    r = runner.invoke(cli, ["migrate", "--from", duck, "--to", pg])  # again: nothing new
    assert r.exit_code == 0, r.output
    assert "Copied 0 new events (1,590 already there)" in r.output
    r = runner.invoke(cli, ["migrate", "--from", pg, "--to", ch, "--chunk", "1000"])
    assert r.exit_code == 0, r.output
    assert answers(ch) == want
    store = open_store(ch)
    try:
        assert store.count_events() == 1590
        assert store.get_meta("org_name") == "Acme"
        key = store.get_key("key1")
        assert key is not None and key.projects == ["p1"] and key.scope == "read"
    finally:
        store.close()


def test_migrate_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    same = f"duckdb:///{tmp_path / 'x.duckdb'}"
    r = runner.invoke(cli, ["migrate", "--from", same, "--to", same])
    assert r.exit_code == 1 and "--from and --to name the same store" in r.output
    r = runner.invoke(cli, ["migrate", "--from", "mysql://h/db", "--to", same])
    assert r.exit_code == 1 and "cannot open --from mysql://h/db: unsupported store URL" in r.output
    r = runner.invoke(cli, ["migrate", "--from", str(tmp_path / "missing.duckdb"), "--to", same])
    assert r.exit_code == 1 and "no store there" in r.output  # never an empty store made by the attempt
    assert not (tmp_path / "missing.duckdb").exists()
    fill(same)
    r = runner.invoke(cli, ["migrate", "--from", same, "--to", "chdb:///x?rollups=maybe"])
    assert r.exit_code == 1 and "cannot open --to chdb:///x?rollups=maybe: rollups must be on or off" in r.output
    r = runner.invoke(cli, ["migrate", "--from", same, "--to", same + "2", "--chunk", "0"])
    assert r.exit_code == 2 and "Invalid value for '--chunk'" in r.output
    r = runner.invoke(cli, ["migrate", "--to", same])
    assert r.exit_code == 2 and "Missing option '--from'" in r.output


@pytest.mark.parametrize("engine", ["postgresql", "chdb"])
def test_cli_db_takes_store_urls(engine: str, tmp_path: Path, schema: str) -> None:
    """``ingest``, ``usage`` and ``keys`` work on any store URL given to ``--db``."""
    import json

    url = f"{PG_BASE}?schema={schema}" if engine == "postgresql" else f"chdb:///{tmp_path / 'ch'}"
    day = T0 - T0 % 86400
    events = [{"id": f"e{i}", "type": "completions", "timestamp": day + 3600 + i, "model": "o3",
               "input_tokens": 5} for i in range(20)]
    (tmp_path / "ev.ndjson").write_text("\n".join(json.dumps(e) for e in events))
    runner = CliRunner()
    r = runner.invoke(cli, ["ingest", str(tmp_path / "ev.ndjson"), "--db", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["usage", "completions", "--db", url, "--since", str(day), "--until", str(day + 86400),
                            "--json"])
    assert r.exit_code == 0, r.output
    page = json.loads(r.output)
    assert [res["input_tokens"] for b in page["data"] for res in b["results"]] == [100]
    r = runner.invoke(cli, ["keys", "create", "--db", url, "--name", "ci", "--scope", "read"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["keys", "list", "--db", url])
    assert r.exit_code == 0 and "ci" in r.output
