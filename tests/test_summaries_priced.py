"""The summaries keyed by image quality and container size: a store written before upgrades in place
and answers every costs and usage page exactly as before, on every engine.

The code before this upgrade (``git archive PREVIOUS src``) fills a store (stages of inserts,
compactions, pruned events) and answers the pages in a subprocess; the current code opens the same store
(upgrading it), answers the same pages and must agree byte for byte.  The summaries then hold the
images' qualities and the sessions' container sizes, and costs read them for every period the upgrade
could rebuild (:data:`openusage.store.sql.PRICED_FROM`)."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from openusage.store import open_store
from openusage.store.pricing_sql import UsageScan, summary_types
from openusage.store.sql import PRICED_FROM, PRICED_TYPES
from tests.storeconf import drop_schema, require_pg, store_url, unique_schema

PREVIOUS = "df69969"
"""The last commit whose summaries leave the dimensions stored for pricing only out."""
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("priced_summaries_script.py")
DAY = 86400
T0 = 1_767_225_600 - 5 * DAY  # 2025-12-27: within every catalog price's range


@pytest.fixture(scope="module")
def previous_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("previous")
    r = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS, "src"], capture_output=True)
    if r.returncode:
        pytest.fail(f"cannot read {PREVIOUS} from the git history: {r.stderr.decode().strip()}")
    tarfile.open(fileobj=io.BytesIO(r.stdout)).extractall(out, filter="data")
    return out / "src"


def run(src: Path | None, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(src or ROOT / "src")}
    r = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr


def events(n: int, seed: int, start: int, days: int) -> list[dict[str, Any]]:
    """Images of three qualities (and none), sessions of two sizes (and none), completions beside."""
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        ts = start + rnd.randrange(days * DAY * 1000) / 1000
        project = f"p{rnd.randrange(3)}"
        kind = rnd.randrange(3)
        ev: dict[str, Any]
        if kind == 0:
            ev = {"type": "images", "model": "gpt-image-1", "size": rnd.choice(["1024x1024", "1024x1536"]),
                  "source": "image.generation", "images": rnd.randrange(1, 5),
                  "api_key_id": f"k{rnd.randrange(4)}"}
            quality = rnd.choice(["low", "medium", "high", None])
            if quality:
                ev["quality"] = quality
        elif kind == 1:
            ev = {"type": "code_interpreter_sessions", "num_sessions": rnd.randrange(1, 3)}
            size = rnd.choice(["4g", "64g", None])
            if size:
                ev["memory_limit"] = size
        else:
            ev = {"type": "completions", "model": "gpt-4o", "input_tokens": rnd.randrange(1000),
                  "output_tokens": rnd.randrange(100), "api_key_id": f"k{rnd.randrange(4)}"}
        out.append({**ev, "id": f"e{seed}-{i}", "timestamp": ts, "project_id": project})
    return out


def queries() -> list[tuple[str, list[tuple[str, str]]]]:
    day = [("start_time", str(T0 - DAY)), ("end_time", str(T0 + 6 * DAY)), ("limit", "31")]
    edges = [("start_time", str(T0 + 3601 + 7)), ("end_time", str(T0 + 3 * DAY + 1801)), ("limit", "31")]
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for rng in (day, edges):
        for groups in ((), ("line_item",), ("project_id",), ("project_id", "line_item", "api_key_id")):
            out.append(("costs", [*rng, *(("group_by", g) for g in groups)]))
        out.append(("images", [*rng, ("group_by", "size"), ("group_by", "project_id")]))
        out.append(("code_interpreter_sessions", [*rng, ("group_by", "project_id")]))
    out.append(("images", [("start_time", str(T0 + DAY + 7)), ("end_time", str(T0 + DAY + 7 + 1440 * 60)),
                           ("bucket_width", "1m"), ("limit", "1440"), ("group_by", "model")]))
    out.append(("code_interpreter_sessions", [("start_time", str(T0 + 3601)), ("end_time", str(T0 + 50 * 3600)),
                                              ("bucket_width", "1h"), ("limit", "168")]))
    return out


CASES = {  # engine, URL options, compactions after stages, prune before
    "duckdb-rollups": ("duckdb", "?rollups=on", [0], T0 + DAY + 1234),
    "duckdb-fold-later": ("duckdb", "?rollups=off", [0], None),
    "duckdb-fold-later-pruned": ("duckdb", "?rollups=off", [0, 1, 2], T0 + DAY + 1234),
    "postgresql": ("postgresql", "", [0], T0 + DAY + 1234),
    "chdb": ("chdb", "", [], None),
}


@pytest.mark.parametrize("case", CASES)
def test_an_upgraded_store_answers_as_before(case: str, tmp_path: Path, previous_src: Path) -> None:
    engine, options, compact_after, prune = CASES[case]
    if engine == "postgresql":
        require_pg()
    schema = unique_schema()
    url = store_url(engine, tmp_path, schema).split("?rollups")[0] + options
    # stage 1 folds its 21,000 unfolded events into the minute summary without compaction (loose
    # minute rows), stage 2 stays an unfolded tail where compaction does not follow it
    plan = {"stages": [events(600, 1, T0, 2), events(21_000, 2, T0 + DAY, 3), events(300, 3, T0 + 2 * DAY, 3)],
            "compact_after": compact_after, "prune": prune}
    (tmp_path / "events.json").write_text(json.dumps(plan))
    (tmp_path / "queries.json").write_text(json.dumps(queries()))
    try:
        run(previous_src, "fill", url, str(tmp_path / "events.json"))
        run(previous_src, "answer", url, str(tmp_path / "queries.json"), str(tmp_path / "before.json"))
        run(None, "answer", url, str(tmp_path / "queries.json"), str(tmp_path / "after.json"))
        before = json.loads((tmp_path / "before.json").read_text())
        after = json.loads((tmp_path / "after.json").read_text())
        assert len(before) == len(queries())
        for q, b, a in zip(queries(), before, after, strict=True):
            assert a == b, q
        assert any(b["data"] for b in before)
        store: Any = open_store(url)
        try:
            qualities = {r[0] for r in store.execute("SELECT DISTINCT quality FROM summary_1d WHERE type = 'images'")}
            priced_from = int(store.get_meta(PRICED_FROM) or 0)
            if engine == "chdb" or not prune:
                assert priced_from == 0  # rebuilt whole: from the rollups, or every event kept
                assert qualities == {"low", "medium", "high", None}
            elif case == "postgresql":  # the day summary from the day rollup; pruned minutes and hours kept
                assert T0 + DAY < priced_from <= T0 + 2 * DAY
            elif case == "duckdb-rollups":
                assert priced_from == 0  # from the rollups, which count the pruned events
            else:
                assert T0 + DAY < priced_from <= T0 + 2 * DAY
        finally:
            store.close()
    finally:
        if engine == "postgresql":
            drop_schema(schema)


def test_costs_read_the_summaries_for_every_type_after_the_gap() -> None:
    scan = UsageScan(("images", "code_interpreter_sessions", "completions"), T0, T0 + DAY, DAY,
                     ("line_item", "quality", "memory_limit", "model"),
                     only={"quality": ("images",), "memory_limit": ("code_interpreter_sessions",)})
    assert summary_types(scan) == scan.event_types
    assert summary_types(scan, priced_from=T0 + 1) == ("completions",)
    assert set(PRICED_TYPES) == {"images", "code_interpreter_sessions"}
