"""The ``openusage`` command, run with click's CliRunner: ingest files of every format (twice),
query usage and costs from a store file and from a live server, and manage keys."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from openusage.auth import KeyRing
from openusage.cli import cli
from openusage.errors import AuthenticationError
from openusage.store import open_store
from tests.conftest import LiveServer

NOW = int(time.time())
DAY0 = NOW - NOW % 86400 - 3 * 86400  # midnight three days ago: inside --since 7d


def events(prefix: str, n: int = 6) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "type": "completions", "timestamp": DAY0 + i * 3600 + 0.5,
             "model": ("gpt-4o", "o3")[i % 2], "project_id": "proj_a", "input_tokens": 10 * (i + 1),
             "output_tokens": i, "batch": i % 3 == 0} for i in range(n)]


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def write(path: Path, fmt: str, rows: list[dict[str, Any]]) -> Path:
    if fmt == "json":
        path.write_bytes(orjson.dumps({"events": rows}))
    elif fmt == "ndjson":
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    elif fmt == "csv":
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows([{k: (str(v).lower() if isinstance(v, bool) else v) for k, v in r.items()} for r in rows])
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def as_json(*args: str) -> list[dict[str, Any]]:
    return orjson.loads(ok(*args, "--json").output)["data"]


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "parquet"])
def test_ingest_each_format_idempotently(tmp_path: Path, fmt: str) -> None:
    db = str(tmp_path / "cli.duckdb")
    suffix = {"ndjson": "jsonl"}.get(fmt, fmt)
    path = write(tmp_path / f"events.{suffix}", fmt, events(fmt))
    first = ok("ingest", str(path), "--db", db)
    assert "6 events stored" in first.output and "0 already present" in first.output
    second = ok("ingest", str(path), "--db", db)
    assert "0 events stored" in second.output and "6 already present" in second.output
    data = as_json("usage", "completions", "--since", "7d", "--group-by", "model", "--db", db)
    results = [r for b in data for r in b["results"]]
    assert {r["model"]: r["input_tokens"] for r in results} == {"gpt-4o": 10 + 30 + 50, "o3": 20 + 40 + 60}
    assert sum(r["num_model_requests"] for r in results) == 6
    batch = as_json("usage", "completions", "--since", "7d", "--batch", "--db", db)
    assert sum(r["input_tokens"] for b in batch for r in b["results"]) == 10 + 40


def test_ingest_rejects_a_bad_file_whole(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    rows = events("bad")
    rows[3]["input_tokens"] = -1
    path = write(tmp_path / "bad.json", "json", rows)
    result = run("ingest", str(path), "--db", db)
    assert result.exit_code != 0 and "nothing of this chunk stored" in result.output
    store = open_store(db)
    assert store.count_events() == 0
    store.close()


def test_usage_table_and_costs(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    costs = [{"id": f"cost-{i}", "type": "costs", "timestamp": DAY0 + i, "amount": "0.1",
              "line_item": ("gpt-4o, input", "o3, output")[i % 2], "quantity": 1000, "quantity_unit": "tokens"}
             for i in range(10)]
    ok("ingest", str(write(tmp_path / "e.json", "json", events("t"))), "--db", db)
    costs_db = str(tmp_path / "costs.duckdb")  # cost lines alone: usage would be priced into costs too
    ok("ingest", str(write(tmp_path / "c.json", "json", costs)), "--db", costs_db)
    table = ok("usage", "completions", "--since", "7d", "--group-by", "model", "--db", db).output
    assert "gpt-4o" in table and "o3" in table and "total" in table and "/v1/organization/usage/completions" in table
    assert "210" in table  # the input_tokens total
    data = as_json("costs", "--since", "7d", "--group-by", "line_item", "--db", costs_db)
    results = [r for b in data for r in b["results"]]
    assert [(r["line_item"], r["amount"], r["quantity"], r["quantity_unit"]) for r in results] == [
        ("gpt-4o, input", {"value": 0.5, "currency": "usd"}, 5000.0, "tokens"),
        ("o3, output", {"value": 0.5, "currency": "usd"}, 5000.0, "tokens")]
    assert "$1.0000" in ok("costs", "--since", "7d", "--db", costs_db).output  # 10 x 0.1 summed exactly
    assert len(as_json("usage", "embeddings", "--since", "7d", "--db", db)) == 8  # every bucket, even empty
    bad = run("usage", "completions", "--since", "7d", "--group-by", "line_item", "--db", db)
    assert bad.exit_code != 0 and "group_by" in bad.output


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.duckdb")
    created = ok("keys", "create", "--name", "reader", "--scope", "read", "--project", "proj_a", "--db", db)
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("ouk_")
    key_id = secret.split("_")[1]
    listed = ok("keys", "list", "--db", db).output
    assert key_id in listed and "reader" in listed and "proj_a" in listed and secret.split("_", 2)[2] not in listed
    store = open_store(db)
    principal = KeyRing(store, env_admin_key="").verify(secret)
    assert (principal.scope, principal.projects) == ("read", ("proj_a",))
    store.close()
    ok("keys", "revoke", key_id, "--db", db)
    again = run("keys", "revoke", key_id, "--db", db)
    assert again.exit_code != 0 and "no active key" in again.output
    store = open_store(db)
    with pytest.raises(AuthenticationError):
        KeyRing(store, env_admin_key="").verify(secret)
    assert store.get_key(key_id).revoked_at is not None  # type: ignore[union-attr]
    store.close()
    bad = run("keys", "create", "--scope", "admin", "--project", "p", "--db", db)
    assert bad.exit_code != 0


def test_usage_and_ingest_through_a_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    url, key = live_server.url, live_server.admin_key
    path = write(tmp_path / "remote.ndjson", "ndjson", events("remote"))
    assert "6 events stored" in ok("ingest", str(path), "--url", url, "--key", key).output
    assert "6 already present" in ok("ingest", str(path), "--url", url, "--key", key).output
    data = as_json("usage", "completions", "--since", "7d", "--bucket-width", "1h", "--limit", "50",
                   "--group-by", "model,project_id", "--url", url, "--key", key)
    assert len(data) > 50  # every page was fetched
    results = [r for b in data for r in b["results"]]
    assert [(r["model"], r["project_id"], r["input_tokens"]) for r in results] == [
        (("gpt-4o", "o3")[i % 2], "proj_a", 10 * (i + 1)) for i in range(6)]
    denied = run("usage", "completions", "--url", url, "--key", "sk-nope")
    assert denied.exit_code != 0 and "401" in denied.output
    created = ok("keys", "create", "--scope", "ingest", "--url", url, "--key", key)
    assert created.output.strip().splitlines()[-1].startswith("ouk_")
