"""Upgrades lose nothing: a store written by the released 0.1.0 answers exactly as before.

The released code (``git archive 3de7301 src``) fills a store and answers every endpoint in a
subprocess; the current code opens the same store (upgrading it in place), answers the same
queries and must agree, from the rollups and from raw events.  Then the upgraded store is used:
resent old events stay duplicates, ids are per project, and sums are wide.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from openusage.ingest.events import validate_events
from openusage.spec import DIMENSIONS
from openusage.store import open_store
from openusage.store.base import Aggregate, StoreUpgradeError
from openusage.store.clickhouse_store import SCHEMA_VERSION as CH_VERSION
from openusage.store.duckdb_store import SCHEMA_VERSION as DUCKDB_VERSION
from openusage.store.postgres_store import SCHEMA_VERSION as PG_VERSION
from tests.conftest import errors_in_threads
from tests.reference import consistent_tokens
from tests.storeconf import ENGINES, PG_BASE, drop_schema, require_pg, store_url, unique_schema
from tests.test_store_overflow import huge_batch

RELEASED = "3de7301"
SEED = {"completions": {"type": "completions", "dimensions": ["project_id", "user_id", "api_key_id", "model",
                                                             "batch"], "metrics": ["input_tokens"]},
        "costs": {"type": "costs", "dimensions": ["project_id", "line_item"], "metrics": []}}
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("upgrade_script.py")
DAY = 86400
T0 = 1_700_000_000 - 1_700_000_000 % DAY


@pytest.fixture(scope="module")
def released_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The released 0.1.0 sources, from the repository's history."""
    out = tmp_path_factory.mktemp("released")
    r = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", RELEASED, "src"], capture_output=True)
    if r.returncode:
        pytest.fail(f"cannot read {RELEASED} from the git history (a shallow clone? git fetch --unshallow): "
                    f"{r.stderr.decode().strip()}")
    tarfile.open(fileobj=io.BytesIO(r.stdout)).extractall(out, filter="data")
    return out / "src"


@pytest.fixture(scope="module")
def released_endpoints(released_src: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The endpoints the released code serves, with the dimensions and metrics its events take."""
    out = tmp_path_factory.mktemp("endpoints") / "names.json"
    run(released_src, "endpoints", "-", str(out))
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def run(src: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    r = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr


def sample_events(endpoints: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event type, every dimension, over three days; some ids repeated, in and across projects.

    ``endpoints`` says what the released version accepts (its types, dimensions and metrics).
    """
    rnd = random.Random(7)
    events: list[dict[str, Any]] = []
    for ep in endpoints.values():
        t = ep["type"]
        for i in range(120):
            ev: dict[str, Any] = {"id": f"{t}-{i % 100}", "type": t,
                                  "timestamp": T0 + rnd.randrange(3 * DAY * 1000) / 1000}
            for d in ep["dimensions"]:
                spec = DIMENSIONS[d]
                if rnd.random() < 0.8:
                    ev[d] = rnd.random() < 0.5 if spec.kind == "bool" else rnd.choice(spec.enum or ("a", "b", "c"))
            if "project_id" in ev:
                ev["project_id"] = f"p{rnd.randrange(3)}"
            for m in ep["metrics"]:
                ev[m] = rnd.randrange(10**6)
            if t == "costs":
                ev["amount"] = f"{rnd.randrange(10**6)}.{rnd.randrange(10**12):012d}"
                ev["quantity"] = rnd.randrange(1000) / 4
                ev["quantity_unit"] = "tokens"
            events.append(ev)
    return events


def without_cursors(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers with each ``next_page`` reduced to whether there is one: this version signs its cursors,
    so their text differs from the released one's while the pages they lead to are the same."""
    for page in answers.get("pages", ()):
        if isinstance(page, dict) and "next_page" in page:
            page["next_page"] = page["next_page"] is not None
    return answers


def sample_queries(endpoints: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per endpoint: days by each grouping and all of them, hours, and minutes from an unaligned start."""
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for name, ep in endpoints.items():
        day = [("start_time", str(T0 - DAY)), ("end_time", str(T0 + 4 * DAY)), ("limit", "31")]
        out += [(name, [*day, ("group_by", g)]) for g in ep["group_by"]]
        out.append((name, day + [("group_by", g) for g in ep["group_by"]]))
        if "1h" in ep["widths"]:
            out.append((name, [("start_time", str(T0 + 3601)), ("end_time", str(T0 + 50 * 3600)),
                               ("bucket_width", "1h"), ("limit", "168")]))
        if "1m" in ep["widths"]:
            out.append((name, [("start_time", str(T0 + DAY + 7)), ("end_time", str(T0 + DAY + 7 + 1440 * 60)),
                                  ("bucket_width", "1m"), ("limit", "1440")]))
    return out


@pytest.fixture(params=ENGINES)
def old_store(request: pytest.FixtureRequest, tmp_path: Path, released_src: Path,
              released_endpoints: dict[str, Any]) -> Iterator[tuple[str, dict]]:
    """A store written by the released code, and its answers then."""
    if request.param == "postgresql":
        require_pg()
    schema = unique_schema()
    url = store_url(request.param, tmp_path, schema)
    (tmp_path / "events.json").write_text(json.dumps(sample_events(released_endpoints)))
    (tmp_path / "queries.json").write_text(json.dumps(sample_queries(released_endpoints)))
    run(released_src, "fill", url, str(tmp_path / "events.json"))
    run(released_src, "answer", url, str(tmp_path / "queries.json"), str(tmp_path / "before.json"))
    try:
        yield url, json.loads((tmp_path / "before.json").read_text())
    finally:
        if request.param == "postgresql":
            drop_schema(schema)


def test_released_store_answers_the_same_after_upgrade(old_store: tuple[str, dict], tmp_path: Path,
                                                       released_endpoints: dict[str, Any]) -> None:
    url, before = old_store
    assert before["count"] == 100 * len(released_endpoints)  # 0.1.0 kept the first event of each id
    if url.startswith("postgresql"):  # several workers starting together: one upgrades, all open
        assert errors_in_threads(lambda: open_store(url).close(), 4) == []
    run(ROOT / "src", "answer", url, str(tmp_path / "queries.json"), str(tmp_path / "after.json"))
    after = json.loads((tmp_path / "after.json").read_text())
    assert without_cursors(after) == without_cursors(before)
    assert sum(len(b["results"]) for p in before["pages"] for b in p["data"]) > 1000

    store = open_store(url)
    try:
        assert store.get_meta("schema_version") == str(_version(store))
        # first of each; the token parts made consistent, as this version refuses parts above their totals
        firsts = {e["id"]: e for e in reversed(sample_events(released_endpoints))}
        stored = [consistent_tokens(e) for e in firsts.values()]
        assert sum(store.insert([validate_events(stored[i:i + 300])])[0] for i in range(0, len(stored), 300)) == 0
        first = next(e for e in stored if e.get("project_id") == "p0" and e["type"] == "completions")
        again = {**first, "project_id": "p-new"}
        assert store.insert([validate_events([again])]) == [1]  # the same id in another project is another event
        # the migrated rollup columns are wide: three events of 2**62 in one minute overflowed them before
        huge = [{"id": f"h{i}", "type": "moderations", "timestamp": T0 + 5 * DAY + i, "input_tokens": 1}
                for i in range(3)]
        assert store.insert([huge_batch(huge)]) == [3]
        agg = Aggregate("moderations", T0 + 5 * DAY, T0 + 6 * DAY, DAY, metrics=("input_tokens",))
        for rollups in (True, False):
            store.rollups = rollups  # type: ignore[attr-defined]
            assert store.aggregate(agg).column("input_tokens").to_pylist() == [3 * 2**62]
    finally:
        store.close()


def _version(store: Any) -> int:
    import importlib

    return importlib.import_module(type(store).__module__).SCHEMA_VERSION  # type: ignore[no-any-return]


def test_duckdb_upgrade_that_cannot_run_changes_nothing(tmp_path: Path, released_src: Path) -> None:
    url = store_url("duckdb", tmp_path)
    (tmp_path / "events.json").write_text(json.dumps(sample_events(SEED)[:200]))
    run(released_src, "fill", url, str(tmp_path / "events.json"))
    path = tmp_path / "usage.duckdb"
    with duckdb.connect(str(path)) as con:  # a table in the way of the upgrade
        con.execute("CREATE TABLE events_v5 (x INTEGER)")
    with pytest.raises(StoreUpgradeError, match=rf"from schema version 3 to {DUCKDB_VERSION} \(nothing was changed\)"):
        open_store(url)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT value FROM openusage_meta WHERE name = 'schema_version'").fetchall() == [("3",)]
        assert con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'rollup_1m' "
                           "AND column_name = 'input_tokens'").fetchall() == [("BIGINT",)]
        con.execute("DROP TABLE events_v5")
    from click.testing import CliRunner

    from openusage.cli import cli

    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE events_v5 (x INTEGER)")
    r = CliRunner().invoke(cli, ["keys", "list", "--db", str(path)])
    assert r.exit_code == 1 and "nothing was changed" in r.output and "Traceback" not in r.output
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE events_v5")
    store = open_store(url)
    try:
        assert store.count_events() == 180 and store.get_meta("schema_version") == str(DUCKDB_VERSION)
    finally:
        store.close()


def test_postgres_upgrade_that_cannot_run_changes_nothing(tmp_path: Path, released_src: Path) -> None:
    require_pg()
    schema = unique_schema()
    url = f"{PG_BASE}?schema={schema}"
    try:
        (tmp_path / "events.json").write_text(json.dumps(sample_events(SEED)[:200]))
        run(released_src, "fill", url, str(tmp_path / "events.json"))
        with psycopg.connect(PG_BASE, autocommit=True) as conn:  # a report's view on a rollup column
            conn.execute(f"CREATE VIEW {schema}.report AS SELECT input_tokens FROM {schema}.rollup_1d")
        with pytest.raises(StoreUpgradeError, match=rf"cannot upgrade the store in schema {schema} from schema "
                                                    rf"version 3 to {PG_VERSION} \(nothing was changed\): "
                                                    "cannot alter type"):
            open_store(url)
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            assert conn.execute(f"SELECT value FROM {schema}.openusage_meta WHERE name = 'schema_version'"
                                ).fetchall() == [("3",)]
            assert conn.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = %s AND "
                                "table_name = 'rollup_1m' AND column_name = 'input_tokens'", [schema]
                                ).fetchall() == [("bigint",)]
            conn.execute(f"DROP VIEW {schema}.report")
        store = open_store(url)
        try:
            assert store.count_events() == 180 and store.get_meta("schema_version") == str(PG_VERSION)
        finally:
            store.close()
    finally:
        drop_schema(schema)


def test_chdb_upgrade_that_cannot_run_changes_nothing(tmp_path: Path, released_src: Path) -> None:
    from openusage.store.clickhouse_store import _Chdb

    url = store_url("chdb", tmp_path)
    (tmp_path / "events.json").write_text(json.dumps(sample_events(SEED)[:200]))
    run(released_src, "fill", url, str(tmp_path / "events.json"))
    db = _Chdb(str(tmp_path / "chdb"))
    db.command("ALTER TABLE events ADD COLUMN note String DEFAULT ''")  # an operator's column: no longer a copy
    db.close()
    with pytest.raises(StoreUpgradeError, match=rf"from schema version 1 to {CH_VERSION} \(nothing was changed\)"):
        open_store(url)
    db = _Chdb(str(tmp_path / "chdb"))
    try:
        tables = db.arrow("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        assert tables.column(0).to_pylist() == ["api_keys", "events", "openusage_meta", "rollup_1d", "rollup_1d_mv",
                                                "rollup_1h", "rollup_1h_mv", "rollup_1m", "rollup_1m_mv"]
        assert db.arrow("SELECT argMax(value, version) FROM openusage_meta WHERE name = 'schema_version'"
                        ).column(0).to_pylist() == ["1"]
        db.command("ALTER TABLE events DROP COLUMN note")
    finally:
        db.close()
    store = open_store(url)
    try:
        assert store.count_events() == 180 and store.get_meta("schema_version") == str(CH_VERSION)
    finally:
        store.close()
