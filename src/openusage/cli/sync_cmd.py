"""``openusage sync``: mirror a remote Usage API (OpenAI or an openusage server) into the store.

Every usage endpoint and costs, grouped by all of their fields, one event per bucket and group with
a deterministic id: a second run adds nothing.  See :mod:`openusage.client.mirror` for the choices
(complete buckets only, one grain per source, checkpoints).

The command is a row of small steps, each of which either returns what the next needs or stops
with one line: the key, the time window, where the events go, the source, the store, the
checkpoints, then the copy itself and its report.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from ..spec import ENDPOINTS, ENDPOINTS_BY_NAME
from ..timeparse import TIME, iso
from .common import bad_input, console, db_option, err_console, fail, open_local_store, resolve_target

if TYPE_CHECKING:
    import httpx

    from ..client import UsageApi
    from ..client.mirror import Checkpoints, Stats, UsageSource
    from ..spec import Endpoint
    from ..store import Store

OPENAI = "https://api.openai.com/v1"
DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RETRIES = 5
"""Retries of a refused or unanswered request (429, 5xx, connection errors) before the run stops, unless
``--retries`` says otherwise."""
MAX_RETRIES = 20
"""The most ``--retries`` takes (the backoff is capped at 8 s, so 20 retries wait under three minutes)."""


def _seconds(text: str) -> int:
    """``--settle`` as seconds: plain seconds or a duration such as 90s, 30m, 1h, 2d."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text[:-1].isdigit() and text[-1:] in DURATION:
        return int(text[:-1]) * DURATION[text[-1]]
    raise click.BadParameter(f"{text!r}: use seconds or a duration such as 90s, 30m, 1h", param_hint="--settle")


def _source_key(anthropic: bool, key: str | None, base_url: str | None) -> str:
    """The key for the source.  An OpenAI key that came from the environment is not Anthropic's,
    so with ``--from anthropic`` ``ANTHROPIC_ADMIN_KEY`` takes its place."""
    from_openai_env = key is not None and key == os.environ.get("OPENAI_ADMIN_KEY")
    if anthropic and (not key or from_openai_env) and os.environ.get("ANTHROPIC_ADMIN_KEY"):
        key = os.environ["ANTHROPIC_ADMIN_KEY"]
    elif not anthropic and base_url:
        fail("--base-url goes with --from anthropic; for other sources, give the URL to --from.")
    if not key:
        fail("--key is required (or set OPENAI_ADMIN_KEY / OPENUSAGE_SYNC_KEY"
             + (" / ANTHROPIC_ADMIN_KEY)." if anthropic else ")."))
    return key


def _window(since: int, until: int | None, settle: str) -> tuple[int, int]:
    """``[start, end)`` to copy: never past now, since the bucket still filling is not taken (the
    end is rounded down to a bucket edge later), and by default ``--settle`` short of now, since
    usage is reported late."""
    now = int(time.time())
    end = min(until, now) if until is not None else now - _seconds(settle)
    if end <= since:
        fail("nothing to copy: --until is not after --since.")
    return since, end


def _destination(db: str, to_url: str | None, to_key: str | None) -> tuple[str | None, str | None]:
    """``--to-url`` and its key; without it, the server running on ``--db`` (it holds the store
    file, so the events must go through it)."""
    if not to_url:
        running = resolve_target(db, None, None)
        if running is not None:
            to_url, to_key = running
    if to_url and not to_key:
        fail("--to-key is required with --to-url (an ingest key of that server; env OPENUSAGE_API_KEY).")
    return to_url, to_key


def _api(url: str, key: str | None, flag: str, **kw: Any) -> UsageApi:
    """A Usage API client for ``url``, or one line naming the flag whose URL it cannot use."""
    from ..client import UsageApi

    try:
        return UsageApi(url, key, **kw)
    except ValueError as exc:
        bad_input(f"{flag} {url}: {exc}")


def _open_source(source_url: str, anthropic: bool, key: str, base_url: str | None,
                 http: httpx.Client, retries: int = RETRIES) -> UsageSource:
    """The API to copy from, reading through ``http`` (whose answers are bounded in size)."""
    if anthropic:
        from ..client.anthropic import AnthropicUsageSource

        if base_url is not None and not base_url.lower().startswith(("http://", "https://")):
            bad_input(f"--base-url takes the Admin API's base URL, http(s)://HOST[:PORT]; got {base_url!r}")
        return AnthropicUsageSource(key, base_url, max_retries=retries, http=http)
    if not source_url.strip():  # the client would fall back to OpenAI's URL
        bad_input("--from takes a Usage API's base URL, or `anthropic`; got an empty one.")
    return _api(source_url, key, "--from", max_retries=retries, http_client=http)


def _open_target(to_url: str | None, to_key: str | None, source: UsageSource,
                 retries: int = RETRIES) -> UsageApi | None:
    """The server to post the events to, if any; never the source itself, whose every bucket would
    then count twice."""
    if not to_url:
        return None
    target = _api(to_url, to_key, "--to-url", max_retries=retries)
    if target.base_url == source.base_url:
        target.close()
        fail("--from and --to-url name the same server: mirroring it into itself would count everything twice.")
    return target


def _open_store(db: str) -> Store:
    """The store file, or one line pointing to ``--to-url`` when a running server holds it."""
    try:
        return open_local_store(db)
    except click.ClickException as exc:
        if "in use" in exc.message:
            fail(f"{db} is held by a running server: send the events through it with "
                 "--to-url http://HOST:PORT --to-key KEY (an ingest key).")
        raise


def _checkpoints(restart: bool, store: Store | None, state: str | None) -> Checkpoints:
    """Where the run resumes from: the store's own metadata, else ``--state``, else nowhere."""
    from ..client.mirror import FileCheckpoints, NoCheckpoints, StoreCheckpoints

    if restart:
        return NoCheckpoints()
    if store is not None:
        return StoreCheckpoints(store)
    if not state:
        return NoCheckpoints()
    checkpoints = FileCheckpoints(state)
    try:
        checkpoints.check()
    except ValueError as exc:
        bad_input(f"--state {state}: {exc}")
    return checkpoints


def _origin(anthropic: bool, source: UsageSource) -> str:
    """The ``origin`` of the copied events.  Events sent on to another server through its events
    API become that server's ``ingest``."""
    if anthropic:
        return "anthropic"
    return "openai" if urlsplit(source.base_url).hostname == "api.openai.com" else "openusage"


@dataclass
class _Run:
    """One sync's open ends: what it reads, where it writes, and how it resumes."""

    source: UsageSource
    http: httpx.Client
    """The source's connections (a client the source does not close itself)."""
    target: UsageApi | None
    store: Store | None
    checkpoints: Checkpoints
    origin: str

    def sink(self, events: list[dict[str, Any]]) -> tuple[int, int]:
        """Store one chunk durably, in the store or through the target; (accepted, duplicates)."""
        if self.target is not None:
            answer = self.target.ingest_events(events)
            return answer["accepted"], answer["duplicates"]
        from ..ingest.events import validate_events

        assert self.store is not None
        added = self.store.insert([validate_events(events, origin=self.origin)])[0]
        return added, len(events) - added

    def close(self) -> None:
        self.source.close()
        self.http.close()
        if self.target is not None:
            self.target.close()
        if self.store is not None:
            self.store.close()


def _open_run(source_url: str, anthropic: bool, key: str, base_url: str | None, to_url: str | None,
              to_key: str | None, db: str, restart: bool, state: str | None, retries: int = RETRIES) -> _Run:
    """Open the source, the destination and the checkpoints, in that order; when one cannot be
    opened, those opened before it are closed again."""
    from ..client.mirror import bounded_http

    with ExitStack() as opened:
        http = opened.enter_context(bounded_http())
        source = _open_source(source_url, anthropic, key, base_url, http, retries)
        target = _open_target(to_url, to_key, source, retries)
        if target is not None:
            opened.callback(target.close)
        store = None if target else _open_store(db)
        if store is not None:
            opened.callback(store.close)
        run = _Run(source, http, target, store, _checkpoints(restart, store, state), _origin(anthropic, source))
        opened.pop_all()
    return run


def _endpoints(names: tuple[str, ...], anthropic: bool) -> list[Endpoint]:
    """The endpoints asked for (default all, costs included) that the source has."""
    chosen = [ENDPOINTS_BY_NAME[n] for n in names] if names else list(ENDPOINTS)
    if anthropic:
        from ..client.anthropic import AnthropicUsageSource

        chosen = [ep for ep in chosen if ep.name in AnthropicUsageSource.endpoints]
    return chosen


def _copy(run: _Run, chosen: list[Endpoint], bucket_width: str, start: int, end: int,
          host: str) -> list[tuple[str, Stats]]:
    """Mirror each endpoint in turn with a progress bar; every failure is one line, and Ctrl-C
    keeps what was copied (exit 130)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..client.mirror import GrainMismatch, mirror_endpoint
    from ..errors import ApiError

    results: list[tuple[str, Stats]] = []
    columns = [TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            for ep in chosen:
                width = bucket_width if bucket_width in ep.limits else "1d"
                task = progress.add_task(ep.name, total=None)

                def report(done: int, total: int, task: Any = task) -> None:
                    progress.update(task, completed=done, total=total)

                stats = mirror_endpoint(run.source, ep, width, start, end, host, run.sink, run.checkpoints, report)
                results.append((ep.name, stats))
    except GrainMismatch as exc:
        fail(str(exc))
    except ApiError as exc:
        fail(f"{type(exc).__name__}: {re.sub(r'[?][^ ]*', '', exc.message)}")  # the URL without its query
    except (KeyboardInterrupt, RuntimeError) as exc:  # DuckDB turns Ctrl-C into "Query interrupted"
        if isinstance(exc, RuntimeError) and "interrupt" not in str(exc).lower():
            raise
        copied = sum(s.accepted for _, s in results)
        err_console.print(f"Interrupted: {copied:,} new events from the endpoints finished; every page copied "
                          "is kept, so the same command continues where this one stopped.", highlight=False)
        raise SystemExit(130) from None
    finally:
        run.close()
    return results


def _span(first: int | None, last: int | None) -> str | None:
    """``first to last`` in UTC, or None when nothing was copied."""
    return f"{iso(first)} to {iso(last)}" if first is not None and last is not None else None


def _report(host: str, results: list[tuple[str, Stats]]) -> None:
    """A table of what each endpoint copied, then the totals."""
    from rich.table import Table

    span = _span(min((s.first for _, s in results if s.first is not None), default=None),
                 max((s.last for _, s in results if s.last is not None), default=None))
    table = Table(title=f"sync from {host}: {f'{span} UTC' if span else 'nothing new to copy'}", title_justify="left")
    for col in ("endpoint", "copied (UTC)", "buckets", "events", "new", "already there"):
        table.add_column(col, justify="left" if col in ("endpoint", "copied (UTC)") else "right")
    for name, s in results:
        table.add_row(name, _span(s.first, s.last) or "up to date", f"{s.buckets:,}", f"{s.events:,}",
                      f"{s.accepted:,}", f"{s.duplicates:,}")
    console.print(table)
    dropped = sum(s.dropped_values for _, s in results)
    skipped = sum(s.skipped_results for _, s in results)
    if dropped or skipped:
        console.print(f"[yellow]{dropped:,} dimension values unknown to this version were left out; "
                      f"{skipped:,} results with unusable numbers were skipped.[/]")
    total_new = sum(s.accepted for _, s in results)
    console.print(f"[green]{total_new:,} new events[/] ({sum(s.duplicates for _, s in results):,} already there).")


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--from", "source_url", show_default=OPENAI,
                  default=lambda: os.environ.get("OPENUSAGE_SYNC_URL", OPENAI),
                  help="The Usage API to copy from: OpenAI, an openusage server, or `anthropic` (Anthropic's "
                       "Usage & Cost Admin API) (env OPENUSAGE_SYNC_URL).")
    @click.option("--base-url", "base_url", help="With --from anthropic: the Admin API's base URL "
                                               "(default https://api.anthropic.com).")
    @click.option("--key", default=lambda: os.environ.get("OPENUSAGE_SYNC_KEY") or os.environ.get(
                      "OPENAI_ADMIN_KEY"),
                  help="Key for --from: an OpenAI admin key (env OPENUSAGE_SYNC_KEY or OPENAI_ADMIN_KEY), or an "
                       "Anthropic admin key with --from anthropic (env ANTHROPIC_ADMIN_KEY).")
    @click.option("--since", type=TIME, default="30d", show_default=True,
                  help="Start: 30d, 36h, 2w, 2026-11-01, 2026-11-01T12:00:00Z, yesterday, today, Unix seconds.")
    @click.option("--until", type=TIME, help="End (exclusive, rounded down to a bucket edge), in the same forms; "
                                             "default now minus --settle.")
    @click.option("--bucket-width", "bucket_width", type=click.Choice(["1d", "1m"]), default="1d", show_default=True,
                  help="Grain of the copy (costs are always 1d).")
    @click.option("--settle", default="1h", show_default=True,
                  help="Take a bucket only this long after it ends (late-reported usage).")
    @click.option("--endpoint", "endpoints", multiple=True, type=click.Choice([e.name for e in ENDPOINTS]),
                  help="Only these endpoints (repeat); default all, costs included.")
    @db_option
    @click.option("--to-url", "to_url", help="Post the events to this openusage server instead of --db "
                                             "(when a server holds the store file).")
    @click.option("--to-key", "to_key", default=lambda: os.environ.get("OPENUSAGE_API_KEY"),
                  help="Ingest key for --to-url (env OPENUSAGE_API_KEY).")
    @click.option("--state", type=click.Path(dir_okay=False),
                  help="With --to-url: a JSON file for the checkpoints (without it every run starts at --since).")
    @click.option("--restart", is_flag=True, help="Ignore checkpoints: copy the whole range again (adds nothing "
                                                  "already there).")
    @click.option("--retries", type=click.IntRange(0, MAX_RETRIES), default=RETRIES, show_default=True,
                  help="Retries of a request the source or destination refused (429, 5xx) or left unanswered, "
                       "with exponential backoff, before the run stops.")
    def sync(source_url: str, base_url: str | None, key: str | None, since: int, until: int | None,
             bucket_width: str, settle: str, endpoints: tuple[str, ...], db: str, to_url: str | None,
             to_key: str | None, state: str | None, restart: bool, retries: int) -> None:
        """Mirror usage and costs from OpenAI (or another openusage server) into the local store.

        Example: `openusage sync --key $OPENAI_ADMIN_KEY --since 90d`.  Only complete buckets are
        copied, each as one event per group with a deterministic id, so running it again (or after an
        interruption) continues where it stopped and never counts anything twice.
        """
        from ..client.mirror import source_name

        anthropic = source_url.strip().lower() == "anthropic"
        key = _source_key(anthropic, key, base_url)
        start, end = _window(since, until, settle)
        to_url, to_key = _destination(db, to_url, to_key)
        run = _open_run(source_url, anthropic, key, base_url, to_url, to_key, db, restart, state, retries)
        host = source_name(run.source.base_url)
        _report(host, _copy(run, _endpoints(endpoints, anthropic), bucket_width, start, end, host))
