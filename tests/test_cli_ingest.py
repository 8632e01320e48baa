"""``openusage ingest``: errors name the file, line or row, and field, with how much was stored before
them; Ctrl-C stops after the chunk being stored and says how many events are in.  The real console
script runs in a subprocess, against a store file or a live server."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from openusage.store import open_store
from tests.conftest import LiveServer
from tests.procserver import default_sigint

TS = 1_795_000_000


def line(i: int, **extra: object) -> bytes:
    return orjson.dumps({"id": f"e{i}", "type": "completions", "timestamp": TS + i, "model": "gpt-4o",
                         "input_tokens": 10, "output_tokens": 2, **extra})


def openusage(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    return subprocess.run(["openusage", *args], capture_output=True, text=True, timeout=timeout, env=env)


def stored(db: Path) -> int:
    store = open_store(str(db))
    try:
        return store.count_events()
    finally:
        store.close()


def test_a_bad_value_deep_in_a_big_file(tmp_path: Path) -> None:
    """500,000 lines, a bad value on line 300,001: named there, the 300,000 before it stored."""
    path = tmp_path / "usage.ndjson"
    template = b'{"id":"e%d","type":"completions","timestamp":%d,"model":"gpt-4o","input_tokens":%d}'
    lines = [template % (i, TS + i % 86400, -1 if i == 300_000 else 7) for i in range(500_000)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "big.duckdb"
    started = time.monotonic()
    done = openusage("ingest", str(path), "--db", str(db))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "usage.ndjson line 300001: input_tokens: Expected int >= 0 (300,000 events before it were stored)" \
        in done.stderr, done.stderr
    assert "events[0]" not in done.stderr and "from 300000 on" not in done.stderr
    assert stored(db) == 300_000
    assert time.monotonic() - started < 120


@pytest.mark.parametrize(("chunk", "note"), [
    ("10000", "0 events before row 1 were stored; nothing of this chunk stored"),
    ("5", "5 events before row 6 were stored; nothing of this chunk stored"),
    ("7", "7 events before it were stored"),
])
def test_a_csv_error_names_its_row(tmp_path: Path, chunk: str, note: str) -> None:
    path = tmp_path / "usage.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "type", "timestamp", "model", "input_tokens"])
        for i in range(10):
            w.writerow([f"c{i}", "completions", TS + i, "gpt-4o", -3 if i == 7 else 5])
    db = tmp_path / "csv.duckdb"
    done = openusage("ingest", str(path), "--chunk-size", chunk, "--db", str(db))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"usage.csv row 8: input_tokens: Expected int >= 0 ({note})" in done.stderr, done.stderr
    assert stored(db) == int(note.split()[0])


def test_json_and_ndjson_places(tmp_path: Path) -> None:
    events = [orjson.loads(line(i)) for i in range(6)]
    events[4]["type"] = "completion"
    (tmp_path / "e.json").write_bytes(orjson.dumps(events))
    done = openusage("ingest", str(tmp_path / "e.json"), "--db", str(tmp_path / "j.duckdb"))
    assert "e.json events[4]: type: Invalid value 'completion'" in done.stderr, done.stderr
    # blank lines count as lines; an unreadable line says its column
    (tmp_path / "e.ndjson").write_bytes(line(0) + b"\n\n" + line(1) + b"\n" + b'{"id": nope}\n')
    done = openusage("ingest", str(tmp_path / "e.ndjson"), "--chunk-size", "1", "--db", str(tmp_path / "n.duckdb"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "e.ndjson line 4 column 8: not JSON" in done.stderr and "(2 events before it were stored)" in done.stderr


def test_the_same_place_through_a_server_and_the_http_answer(live_server: LiveServer, tmp_path: Path) -> None:
    body = line(0) + b"\n\n" + b"\n".join(line(i) for i in range(1, 6)) + b"\n" + line(6, output_tokens=-2) + b"\n"
    path = tmp_path / "remote.ndjson"
    path.write_bytes(body)
    done = openusage("ingest", str(path), "--chunk-size", "3", "--url", live_server.url, "--key",
                     live_server.admin_key)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ("remote.ndjson line 8: output_tokens: Expected int >= 0 (6 events before it were stored)"
            in done.stderr), done.stderr
    with live_server.client() as c:  # the API itself keeps naming the event by its index
        r = c.post("/v1/usage/events", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "events[6].output_tokens"


def test_ctrl_c_stops_after_the_chunk_and_says_how_many(tmp_path: Path) -> None:
    fifo = tmp_path / "events.ndjson"
    os.mkfifo(fifo)
    db = tmp_path / "int.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    proc = subprocess.Popen(["openusage", "ingest", str(fifo), "--chunk-size", "100", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=default_sigint)
    try:
        with fifo.open("wb") as w:  # opens once ingest reads the file: its Ctrl-C handling is in place
            w.write(b"\n".join(line(i) for i in range(250)) + b"\n")
            w.flush()
            time.sleep(2)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.5)
            try:
                w.write(b"\n".join(line(i) for i in range(250, 400)) + b"\n")
                w.flush()
            except BrokenPipeError:  # it had already stopped
                pass
            _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    n = stored(db)
    assert n in (100, 200, 300)
    assert f"Interrupted: {n:,} events stored, 0 already present; run the same command again" in err, err


def test_a_file_is_loaded_again_after_an_error(tmp_path: Path) -> None:
    path = tmp_path / "again.ndjson"
    rows = [line(i) for i in range(30)]
    path.write_bytes(b"\n".join([*rows[:20], b"{", *rows[20:]]) + b"\n")
    db = tmp_path / "again.duckdb"
    first = openusage("ingest", str(path), "--chunk-size", "10", "--db", str(db))
    assert "again.ndjson line 21" in first.stderr and "(20 events before it were stored)" in first.stderr
    path.write_bytes(b"\n".join(rows) + b"\n")
    second = openusage("ingest", str(path), "--db", str(db))
    assert second.returncode == 0 and "10 events stored, 20 already present" in second.stdout
    assert stored(db) == 30


@pytest.mark.parametrize("name", ["bom.ndjson", "bom.json", "bom.csv", "packed.ndjson.gz", "packed.json.gz",
                                  "packed.csv.gz"])
def test_a_byte_order_mark_and_gzip_are_read(tmp_path: Path, name: str) -> None:
    import gzip

    rows = [orjson.loads(line(i)) for i in range(5)]
    if ".csv" in name:
        text = "id,type,timestamp,model,input_tokens\n" + "".join(
            f"{r['id']},completions,{r['timestamp']},gpt-4o,10\n" for r in rows)
        body = text.encode()
    elif ".ndjson" in name:
        body = b"\n".join(orjson.dumps(r) for r in rows) + b"\n"
    else:
        body = orjson.dumps({"events": rows})
    if name.startswith("bom"):
        body = b"\xef\xbb\xbf" + body
    path = tmp_path / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    done = openusage("ingest", str(path), "--db", str(tmp_path / "b.duckdb"))
    assert done.returncode == 0 and "5 events stored" in done.stdout, done.stderr


def test_a_broken_gzip_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.ndjson.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    done = openusage("ingest", str(path), "--db", str(tmp_path / "g.duckdb"))
    assert done.returncode == 1 and "Traceback" not in done.stderr and "broken.ndjson.gz" in done.stderr


def test_counts_are_of_the_file_that_failed(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.ndjson", tmp_path / "bad.ndjson"
    good.write_bytes(b"\n".join(line(i) for i in range(5)) + b"\n")
    bad.write_bytes(b"\n".join([line(10), line(11), b"[1, 2"]) + b"\n")
    done = openusage("ingest", str(good), str(bad), "--chunk-size", "2", "--db", str(tmp_path / "two.duckdb"))
    assert done.returncode == 1
    assert "bad.ndjson line 3: not JSON: unexpected end of data" in done.stderr
    assert "(2 events before it were stored)" in done.stderr  # of bad.ndjson: good.ndjson's 5 are not counted


def test_csv_texts_spelled_like_null_or_numbers_stay_texts(tmp_path: Path) -> None:
    """A CSV cell is null only when empty: names such as ``NA``, ``NULL``, ``nan`` or ``N/A`` and ids
    made of digits are stored as written, as the events API stores them."""
    names = ["NA", "NULL", "nan", "N/A", "#N/A", "null", "None", "1234", "007", "true"]
    path = tmp_path / "usage.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "type", "timestamp", "model", "user_id", "project_id", "api_key_id", "input_tokens"])
        for i, name in enumerate(names):
            w.writerow([f"n{i}", "completions", TS + i, name, name, name, "", 5])
    db = tmp_path / "names.duckdb"
    done = openusage("ingest", str(path), "--db", str(db))
    assert done.returncode == 0, done.stderr
    store = open_store(str(db))
    try:
        table = store.scan(None, 100)
        rows = {r["id"]: r for r in table.to_pylist()}
    finally:
        store.close()
    for i, name in enumerate(names):
        row = rows[f"n{i}"]
        assert (row["model"], row["user_id"], row["project_id"]) == (name, name, name), row
        assert row["api_key_id"] is None  # an empty cell is null
