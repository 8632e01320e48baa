"""``openusage ingest FILE``: load events from JSON, NDJSON, CSV or Parquet files."""

from __future__ import annotations

from pathlib import Path

import click

from .common import console, db_option, fail, open_local_store, remote_options, resolve_target


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["json", "ndjson", "csv", "parquet"]),
                  help="File format (default: from the extension).")
    @db_option
    @remote_options
    def ingest(files: tuple[Path, ...], fmt: str | None, db: str, url: str | None, key: str | None) -> None:
        """Load usage events from files into the store (or a running server with --url).

        Every chunk is validated whole before anything of it is stored; events already present
        (same id) are skipped, so a file can be loaded again safely.
        """
        import httpx
        import orjson
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from ..errors import ApiError
        from ..ingest.events import validate_events
        from ..ingest.files import count_lines, detect_format, read_events

        url, key = resolve_target(db, url, key) or (None, None)
        store = None if url else open_local_store(db)
        client = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"} if key else {},
                              timeout=120) if url else None
        accepted = duplicates = 0
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=console) as progress:
            for path in files:
                f = fmt or detect_format(path)
                task = progress.add_task(path.name, total=count_lines(path, f))
                seen = 0
                for chunk in read_events(path, f):
                    try:
                        if client is not None:
                            r = client.post("/v1/usage/events", content=orjson.dumps({"events": chunk}),
                                            headers={"content-type": "application/json"})
                            if r.status_code != 200:
                                err = r.json().get("error", {}) if r.headers.get("content-type", "").startswith(
                                    "application/json") else {}
                                fail(f"{path.name}: {r.status_code} {err.get('message', r.text)}"
                                     + (f" (param {err['param']}, counting from event {seen})" if err.get("param")
                                        else ""))
                            answer = r.json()
                            accepted += answer["accepted"]
                            duplicates += answer["duplicates"]
                        else:
                            batch = validate_events(chunk)
                            assert store is not None
                            added = store.insert([batch])[0]
                            accepted += added
                            duplicates += len(chunk) - added
                    except ApiError as exc:
                        fail(f"{path.name}: {exc.message} (events from {seen} on; nothing of this chunk stored)")
                    seen += len(chunk)
                    progress.update(task, advance=len(chunk))
        console.print(f"[green]{accepted:,} events stored[/], {duplicates:,} already present.")
