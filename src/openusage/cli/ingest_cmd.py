"""``openusage ingest FILE``: load events from JSON, NDJSON, CSV or Parquet files.

Each chunk is validated whole, then stored (or posted to a server) before the next is read.  An
error names the file, the line or row and the field, and how many events were stored before it;
Ctrl-C finishes the chunk being stored and says how far it got.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from .common import console, db_option, err_console, open_local_store, remote_options, resolve_target


class Stop(Exception):
    """Loading stops here; ``message`` says where and why."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Loader:
    """Stores chunks locally or posts them to a server (retrying 429 and 5xx), counting what is stored."""

    def __init__(self, db: str, url: str | None, key: str | None) -> None:
        from ..client import UsageApi

        self.url = url
        self.store = None if url else open_local_store(db)
        self.api = UsageApi(url, key or "-", max_retries=4) if url else None
        self.accepted = self.duplicates = 0

    @property
    def stored(self) -> int:
        return self.accepted + self.duplicates

    def load(self, events: list[dict[str, Any]]) -> None:
        """Store one chunk whole; :class:`openusage.errors.BadRequestError` (with ``param``) when it is refused."""
        from ..errors import APIConnectionError, ApiError, BadRequestError

        if self.api is None:
            from ..ingest.events import validate_events

            assert self.store is not None
            added = self.store.insert([validate_events(events)])[0]
            self.accepted += added
            self.duplicates += len(events) - added
            return
        try:
            answer = self.api.ingest_events(events)
        except APIConnectionError as exc:
            raise Stop(f"cannot reach {self.url}: {exc.message}") from None
        except BadRequestError:
            raise
        except ApiError as exc:
            raise Stop(f"{exc.status or ''} {type(exc).__name__}: {exc.message}".strip()) from None
        self.accepted += answer["accepted"]
        self.duplicates += answer["duplicates"]

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        if self.api is not None:
            self.api.close()


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["json", "ndjson", "csv", "parquet"]),
                  help="File format (default: from the extension).")
    @click.option("--chunk-size", "chunk_size", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True,
                  help="Events validated and stored together.")
    @db_option
    @remote_options
    def ingest(files: tuple[Path, ...], fmt: str | None, chunk_size: int, db: str, url: str | None,
               key: str | None) -> None:
        """Load usage events from JSON, NDJSON, CSV or Parquet files (.gz too) into the store (or a server with --url).

        Every chunk is validated whole before anything of it is stored; events already present
        (same id) are skipped, so a file can be loaded again safely, after an error or Ctrl-C.
        """
        from ..ingest.files import FileFormatError, detect_format

        try:
            formats = [(path, fmt or detect_format(path)) for path in files]
        except FileFormatError as exc:
            raise click.BadParameter(str(exc), param_hint="FILES") from None
        url, key = resolve_target(db, url, key) or (None, None)
        loader = Loader(db, url, key)
        interrupted = False

        def on_sigint(_signum: int, _frame: Any) -> None:  # finish the chunk being stored, then stop
            nonlocal interrupted
            interrupted = True
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            _load_files(formats, loader, chunk_size, lambda: interrupted)
        except (KeyboardInterrupt, Stop) as exc:
            if isinstance(exc, Stop) and exc.exit_code != 130:
                err_console.print(f"Error: {exc.message}", highlight=False, soft_wrap=True)
                raise SystemExit(exc.exit_code) from None
            err_console.print(f"Interrupted: {loader.accepted:,} events stored, {loader.duplicates:,} already "
                              "present; run the same command again to load the rest.", highlight=False, soft_wrap=True)
            raise SystemExit(130) from None
        finally:
            signal.signal(signal.SIGINT, previous)
            loader.close()
        console.print(f"[green]{loader.accepted:,} events stored[/], {loader.duplicates:,} already present.")


def _load_files(formats: list[tuple[Path, str]], loader: Loader, chunk_size: int,
                interrupted: Any) -> None:
    """Load every file chunk by chunk; :class:`Stop` at the first bad place or on Ctrl-C."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..errors import ApiError
    from ..ingest.files import FileFormatError, count_lines, locate, read_events

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console) as progress:
        for path, fmt in formats:
            task = progress.add_task(path.name, total=count_lines(path, fmt))
            chunks = read_events(path, fmt, chunk_size)
            file_start = loader.stored
            while True:
                before = loader.stored - file_start  # of this file
                try:
                    chunk = next(chunks, None)
                except FileFormatError as exc:
                    raise Stop(f"{exc} ({_stored_note(before, path, fmt, exc.first)})") from None
                if chunk is None:
                    break
                try:
                    loader.load(chunk.events)
                except ApiError as exc:
                    place = locate(exc.message, exc.param, chunk, path, fmt)
                    first = None if _index(exc.param) == 0 else chunk.positions[0]
                    raise Stop(f"{place} ({_stored_note(before, path, fmt, first)})") from None
                except RuntimeError as exc:  # DuckDB's "Query interrupted" on Ctrl-C
                    if "interrupt" in str(exc).lower():
                        raise KeyboardInterrupt from None
                    raise
                progress.update(task, advance=len(chunk.events))
                if interrupted():
                    raise Stop("interrupted", 130)


def _stored_note(stored: int, path: Path, fmt: str, first: int | None) -> str:
    """How much of the file is in: everything before the bad place, or before the chunk holding it."""
    from ..ingest.files import where

    if first is None:
        return f"{stored:,} events before it were stored"
    place = where(path, fmt, first).removeprefix(path.name + " ")
    return f"{stored:,} events before {place} were stored; nothing of this chunk stored"


def _index(param: str | None) -> int | None:
    """The event index in ``events[i].field``."""
    if param and param.startswith("events["):
        return int(param[7:param.index("]")])
    return None
