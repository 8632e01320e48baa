"""``openusage repair``: find events a ClickHouse store counted twice in its rollups, and fix them.

On ClickHouse the id check and the insert are two statements.  Within one process a lock makes
them one step; writers in several processes given the same new id at the same instant can still
both store it.  Raw-event answers stay exact (``FINAL``), the rollups count it twice: this command
finds such events, takes their extra copies out of the rollups and merges them away in ``events``.
DuckDB and PostgreSQL deduplicate inside the insert's transaction and never need it.
"""

from __future__ import annotations

import click

from .common import console, db_option, fail, open_local_store


def register(cli: click.Group) -> None:
    @cli.command()
    @db_option
    @click.option("--check", is_flag=True, help="Only report what would be repaired (exit status 1 if anything).")
    def repair(db: str, check: bool) -> None:
        """Take events stored twice by concurrent ClickHouse writers out of the rollups."""
        from ..store.base import redact  # the store's modules load when the command runs (they import pyarrow)

        if not db.lower().startswith(("clickhouse://", "chdb://")):  # without opening it: a server may hold it
            console.print(f"Nothing to repair: {redact(db)} deduplicates every insert in one transaction.")
            return
        store = open_local_store(db)
        try:
            repairer = store.duplicate_repair()
            if repairer is None:
                console.print(f"Nothing to repair: {store.url} deduplicates every insert in one transaction.")
                return
            found, extra = repairer.duplicates()
            if not extra:
                console.print("No event is stored twice: the rollups agree with the raw events.")
                return
            if check:
                console.print(f"{found:,} events are stored more than once ({extra:,} extra copies counted by the "
                              "rollups): run `openusage repair` to fix them.")
                raise SystemExit(1)
            try:
                repairer.repair()
            except RuntimeError as exc:
                fail(str(exc))
            console.print(f"Repaired {found:,} events stored more than once: {extra:,} extra copies taken out of "
                          "the rollups and merged away.")
        finally:
            store.close()
