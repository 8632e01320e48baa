"""``openusage migrate --from URL --to URL``: copy a store to another engine (or another place).

Events go over in ``(ts_us, id)`` order, in chunks, through the target's ordinary ``insert``, so
the copy is idempotent: run it again (after an interruption, or to catch up) and events already
there are skipped, and the target's rollups count each event once.  Keys and metadata follow
(the target keeps its own ``schema_version``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .common import console, fail, missing_store_file

if TYPE_CHECKING:  # the store's modules (and rich's progress bar) load when a command runs, not at start
    from rich.progress import Progress

    from ..store.base import Store


@dataclass
class MigrationReport:
    events_read: int = 0
    events_added: int = 0
    keys: int = 0
    meta: int = 0


def copy_store(src: Store, dst: Store, chunk: int = 50_000, progress: Progress | None = None) -> MigrationReport:
    """Copy events, keys and metadata from ``src`` to ``dst``; returns what was copied."""
    from ..ingest.events import EventBatch
    from ..store.sql import PRICED_FROM

    report = MigrationReport()
    task = progress.add_task("events", total=src.count_events()) if progress else None
    after: tuple[int, str] | None = None
    while True:
        table = src.scan(after, chunk)
        if not table.num_rows:
            break
        report.events_read += table.num_rows
        report.events_added += dst.insert([EventBatch(table, table.num_rows)])[0]
        last = table.slice(table.num_rows - 1, 1).to_pylist()[0]
        after = (last["ts_us"], last["id"])
        if progress is not None and task is not None:
            progress.advance(task, table.num_rows)
    for record in src.list_keys():
        dst.put_key(record)
        report.keys += 1
    for name, value in src.meta_items().items():
        if name not in ("schema_version", "rollups", PRICED_FROM):  # each store's own state, not settings
            dst.set_meta(name, value)
            report.meta += 1
    return report


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line + (" (in use by another process: stop it first)" if "lock" in line.lower() else "")


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--from", "source", required=True, metavar="URL",
                  help="The store to read: a DuckDB path or duckdb:///, postgresql://, clickhouse://, chdb:/// URL.")
    @click.option("--to", "target", required=True, metavar="URL", help="The store to write (created if new).")
    @click.option("--chunk", default=50_000, show_default=True, type=click.IntRange(1, 1_000_000),
                  help="Events per read and insert.")
    def migrate(source: str, target: str, chunk: int) -> None:
        """Copy every event, key and setting from one store to another (safe to re-run)."""
        from ..runtime import read_runtime
        from ..store import open_store

        if source == target:
            fail("--from and --to name the same store.")
        if missing_store_file(source):
            fail(f"--from {source}: no store there (check the path).")
        for flag, db in (("--from", source), ("--to", target)):
            running = read_runtime(db)
            if running is not None:  # a copy must not race a live writer: stop it (SIGTERM drains it) first
                fail(f"{flag} {db} is held by a running server (pid {running.pid}, {running.url}): stop it, "
                     "then run migrate again.")
        try:
            src = open_store(source, migrate=False)
        except Exception as exc:  # a bad URL or an unreachable server: say which side
            fail(f"cannot open --from {source}: {_first_line(exc)}")
        try:
            version = src.get_meta("schema_version")
        except Exception:  # no openusage tables at all
            version = None
        if version is None:
            src.close()
            fail(f"--from {source} is not an openusage store (no schema version).")
        try:
            dst = open_store(target)
        except Exception as exc:
            src.close()
            fail(f"cannot open --to {target}: {_first_line(exc)}")
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        try:
            columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn()]
            with Progress(*columns, console=console) as progress:
                report = copy_store(src, dst, chunk, progress)
        finally:
            src.close()
            dst.close()
        console.print(f"Copied {report.events_added:,} new events ({report.events_read - report.events_added:,} "
                      f"already there), {report.keys} keys and {report.meta} settings.")
