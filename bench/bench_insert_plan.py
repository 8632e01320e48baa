"""What the DuckDB store's insert of new events costs, by the shape of its statement and table.

Inserts pre-validated 1000-event completions batches (the ingest benchmark's events) into a new
DuckDB file, ``--group`` batches per commit, as ``DuckDBStore`` does, and prints CPU per 1000 events
for each variant next to the store's own statement (the floor is ``none``: the same process without
inserting; the checkpoint when the file closes is left out).  CPU on a shared machine moves with the
load; for a figure it does not skew, run one variant under callgrind and subtract ``none``:

    python bench/bench_insert_plan.py                               # every variant, CPU per 1000 events
    valgrind --tool=callgrind python bench/bench_insert_plan.py --only returning --batches 32
    valgrind --tool=callgrind python bench/bench_insert_plan.py --only none --batches 32

Variants: ``plain`` (``INSERT ... SELECT``: with more than one thread DuckDB plans a parallel batch
insert), ``returning`` (the store's statement, :data:`~openusage.store.duckdb_store.INSERT_NEW`),
``one-thread`` (``plain`` with ``SET threads = 1``), ``unordered`` (``plain`` with
``preserve_insertion_order = false``), ``no-key`` (``returning`` without the primary key),
``hash-key`` (``returning`` keyed by a 64-bit hash of project and id instead of the two strings: not
exact, a collision would refuse a new event as a duplicate; measured to size the index's part).
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb
import pyarrow as pa
from bench_ingest import bodies
from common import DATA, machine, remove_store

from openusage.ingest.events import decode_json
from openusage.store.duckdb_store import CHECKPOINT_THRESHOLD, INSERT_NEW, events_ddl

PLAIN = INSERT_NEW.removesuffix(" RETURNING NULL")
KEY = ", project_key VARCHAR NOT NULL, PRIMARY KEY (project_key, id)"
VARIANTS: dict[str, tuple[str, str, str]] = {
    # name: (settings, table DDL change as "old|new", statement)
    "none": ("", "", ""),
    "plain": ("", "", PLAIN),
    "returning": ("", "", INSERT_NEW),
    "one-thread": ("SET threads = 1", "", PLAIN),
    "unordered": ("SET preserve_insertion_order = false", "", PLAIN),
    "no-key": ("", f"{KEY}|, project_key VARCHAR NOT NULL", INSERT_NEW),
    "hash-key": ("", f"{KEY}|, k UBIGINT PRIMARY KEY",
                 INSERT_NEW.replace("coalesce(project_id, '') AS project_key",
                                    "hash(coalesce(project_id, ''), id) AS k")),
}


LEFT_OPEN: list[duckdb.DuckDBPyConnection] = []
"""Connections ``run(close=False)`` keeps referenced: a dropped connection closes its file."""


def run(variant: str, batches: list[pa.Table], group: int, close: bool = True) -> float:
    """CPU seconds of the process for inserting every batch, ``group`` per commit.  ``close=False``
    leaves the file open: closing checkpoints it, which a server does once per 256 MB of log, not
    per commit (and which the CPU figure leaves out too)."""
    settings, change, statement = VARIANTS[variant]
    db = DATA / f"insert-plan-{os.getpid()}.duckdb"
    remove_store(db)
    con = duckdb.connect(str(db))
    try:
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}B'")
        if settings:
            con.execute(settings)
        old, _, new = change.partition("|")
        con.execute(events_ddl().replace(old, new) if old else events_ddl())
        cpu = time.process_time()
        for k in range(0, len(batches), group):
            tbl = pa.concat_tables(batches[k:k + group])  # noqa: F841 - the statement reads ``tbl`` by name
            if statement:
                con.execute("BEGIN")
                con.execute(statement)
                con.execute("COMMIT")
        return time.process_time() - cpu
    finally:
        if close:
            con.close()
        else:
            LEFT_OPEN.append(con)
        remove_store(db)  # an open file is unlinked all the same (Linux)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=200, help="1000-event batches to insert (default 200)")
    ap.add_argument("--group", type=int, default=4, help="batches per commit (default 4)")
    ap.add_argument("--only", choices=sorted(VARIANTS), help="run one variant (for callgrind)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each variant, alternating (default 3)")
    args = ap.parse_args()
    batches = [decode_json(b).to_arrow() for b in bodies(0, args.batches * 1000, 1000, "plan")]
    events = sum(b.num_rows for b in batches)
    if args.only:
        run(args.only, batches, args.group, close=False)
        os._exit(0)  # without the interpreter's teardown either: both runs count the same work
    print(f"machine: {machine()}")
    print(f"{events:,} events, {args.group} batches of 1000 per commit; CPU per 1000 events, best of {args.repeat}")
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for variant in VARIANTS:
            if variant != "none":
                best[variant] = min(best.get(variant, float("inf")), run(variant, batches, args.group))
    floor = best["returning"]
    for variant, cpu in best.items():
        print(f"{variant:>11}  {cpu / events * 1e6:6.2f} ms  ({cpu / floor:.2f}x the store's statement)")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
