"""``openusage serve``: the API server (and, with ``--demo``, a filled store to explore)."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from .common import DEFAULT_PORT, bad_input, console, db_option, fail, open_local_store

if TYPE_CHECKING:  # the store's modules load when a command runs, not when the CLI starts
    from ..store.base import Store


def ensure_admin_key(store: Store, env_key: str | None) -> str | None:
    """With no key anywhere, create an admin key and return it (shown once, never stored in clear)."""
    from ..auth import create_key

    if env_key or store.list_keys():
        return None
    return create_key(store, "first admin key", "admin").secret


def holds_store(db: str) -> bool:
    """Whether another process holds the store file ``db`` (DuckDB's lock), tried without waiting."""
    from ..store import open_store

    try:
        open_store(db, migrate=False).close()
    except Exception as exc:
        return "lock" in str(exc).lower()
    return False


def fill_demo(store: Store, now: int | None = None) -> int:
    """Fill an empty store with the demo organization; returns the number of events added."""
    from rich.progress import Progress

    from ..demo import demo_events
    from ..ingest.events import validate_events

    if store.count_events():
        return 0
    events = list(demo_events(int(time.time()) if now is None else now))
    added = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Generating 90 days of demo usage", total=len(events))
        for i in range(0, len(events), 20_000):
            chunk = events[i:i + 20_000]
            added += store.insert([validate_events(chunk, origin="demo")])[0]
            progress.advance(task, len(chunk))
    return added


def _otlp_attributes(values: tuple[str, ...]) -> dict[str, tuple[str, ...]] | None:
    """``--otlp-attribute project_id=a,b``: the defaults, with the fields given replaced."""
    if not values:
        return None
    from ..ingest.otlp import DEFAULT_ATTRIBUTES

    out = dict(DEFAULT_ATTRIBUTES)
    for value in values:
        field, _, attrs = value.partition("=")
        names = tuple(a.strip() for a in attrs.split(",") if a.strip())
        if field not in DEFAULT_ATTRIBUTES or not names:
            raise click.BadParameter(f"{value!r}: use FIELD=ATTR[,ATTR...] with FIELD one of "
                                     f"{', '.join(DEFAULT_ATTRIBUTES)}", param_hint="--otlp-attribute")
        out[field] = names
    return out


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
    @click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
                  help="Port to listen on (0: any free port).")
    @db_option
    @click.option("--demo", is_flag=True, help="Fill an empty store with 90 days of a synthetic organization.")
    @click.option("--log-level", default="warning", show_default=True,
                  type=click.Choice(["critical", "error", "warning", "info", "debug"]))
    @click.option("--log-format", default="text", show_default=True, type=click.Choice(["text", "json"]),
                  help="Log lines as text or one JSON object per line (with --log-level info: one per request).")
    @click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
                  help="Requests per second allowed per API key (429 with retry-after beyond).")
    @click.option("--rate-burst", type=click.IntRange(min=1), default=None,
                  help="Requests a key may send at once before --rate-limit applies.")
    @click.option("--cors-origin", "cors_origins", multiple=True,
                  help="A browser origin allowed to call the API (repeat); none by default.")
    @click.option("--max-body", type=click.IntRange(min=1), default=32 * 1024 * 1024, show_default=True,
                  help="Largest request body in bytes (413 beyond).")
    @click.option("--metrics-public", is_flag=True, help="Serve /metrics without a key (default: admin key).")
    @click.option("--shutdown-timeout", type=click.FloatRange(min=0), default=None,
                  help="On SIGTERM, seconds to wait for in-flight requests (default: until they finish).")
    @click.option("--upstream", "upstreams", multiple=True, metavar="[MODEL_GLOB=]URL",
                  help="Also serve as a metering proxy to this OpenAI-compatible model server, e.g. "
                       "http://127.0.0.1:8000/v1; repeat with 'llama-*=URL' to route by model.")
    @click.option("--upstream-key", default=lambda: os.environ.get("OPENUSAGE_UPSTREAM_KEY"),
                  help="API key sent to the upstreams (env OPENUSAGE_UPSTREAM_KEY); clients never see it.")
    @click.option("--budget", "budgets", multiple=True, metavar="PROJECT=DOLLARS",
                  help="Monthly spending limit for a project's proxied requests (repeat); 429 beyond.")
    @click.option("--budgets-file", type=click.Path(exists=True, dir_okay=False),
                  help="YAML/JSON mapping of project id to monthly dollars.")
    @click.option("--journal", type=click.Path(file_okay=False), default=None,
                  help="Directory of the proxy's usage journal (default: beside the store file).")
    @click.option("--header-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
                  help="Seconds a client has to send a request's line and headers; the connection is closed after.")
    @click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
                  help="Seconds a client has to send a whole request body (408 after).")
    @click.option("--keep-alive", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
                  help="Seconds an idle kept-alive connection stays open between requests.")
    @click.option("--max-connections", type=click.IntRange(min=1), default=4096, show_default=True,
                  help="Open connections at most; beyond it the one waiting longest for its headers is closed.")
    # -- request limits (see ServerSettings) --
    @click.option("--redis", "redis_url", default=None, metavar="URL",
                  help="Keep rate-limit and failed-auth buckets in this Redis, shared by every worker (redis://host:6379/0).")
    @click.option("--auth-failures-per-minute", type=click.IntRange(min=1), default=30, show_default=True,
                  help="Failed authentications allowed per client address a minute (429 beyond).")
    @click.option("--max-concurrent-queries", type=click.IntRange(min=1), default=4, show_default=True,
                  help="Usage and costs queries one key may run at once (429 beyond).")
    @click.option("--max-page-results", type=click.IntRange(min=1), default=100_000, show_default=True,
                  help="Results one page may hold; longer answers continue on the next page.")
    @click.option("--gzip-min-bytes", type=click.IntRange(min=0), default=4096, show_default=True,
                  help="Usage and costs pages at least this long are gzip-compressed for clients that accept it "
                       "(0: never).")
    @click.option("--ingest-since", type=click.DateTime(["%Y-%m-%d"]), default="2015-01-01", show_default=True,
                  help="Earliest event timestamp (UTC date) ingestion accepts.")
    @click.option("--ingest-max-future", type=click.IntRange(min=0), default=86_400, show_default=True,
                  help="Seconds past now an ingested event's timestamp may be.")
    @click.option("--ingest-max-months", type=click.IntRange(min=1), default=24, show_default=True,
                  help="Distinct calendar months one ingest request may hold.")
    @click.option("--otlp-attribute", "otlp_attributes", multiple=True, metavar="FIELD=ATTR[,ATTR...]",
                  callback=lambda ctx, param, value: _otlp_attributes(value),
                  help="Where POST /v1/traces reads project_id, user_id or api_key_id: span or resource "
                       "attributes, first present wins (repeat per field), e.g. project_id=team,service.name.")
    def serve(host: str, port: int, db: str, demo: bool, log_level: str, log_format: str,
              rate_limit: float | None, rate_burst: int | None, cors_origins: tuple[str, ...], max_body: int,
              metrics_public: bool, shutdown_timeout: float | None, upstreams: tuple[str, ...],
              upstream_key: str | None, budgets: tuple[str, ...], budgets_file: str | None,
              journal: str | None, header_timeout: float, body_timeout: float, keep_alive: float,
              max_connections: int, redis_url: str | None, auth_failures_per_minute: int,
              max_concurrent_queries: int, max_page_results: int, gzip_min_bytes: int, ingest_since: datetime,
              ingest_max_future: int,
              ingest_max_months: int, otlp_attributes: dict[str, tuple[str, ...]] | None) -> None:
        """Serve the Usage & Costs API (and ingestion) over the store."""
        import uvicorn

        from ..dashboard.warm import JOIN_S, WarmUp
        from ..runtime import new_local_key, read_runtime, remove_runtime, write_runtime
        from ..server.app import ServerSettings, create_app
        from ..server.logs import clean, configure_logging
        from ..server.serving import PortInUse, Server, bind, connection_budget, guarded_protocol
        from ..store.base import redact

        if redis_url and not redis_url.lower().startswith(("redis://", "rediss://", "unix://")):
            bad_input(f"--redis takes redis://HOST:6379/0 (or rediss://, unix://); got {redis_url!r}")
        env_key = os.environ.get("OPENUSAGE_ADMIN_KEY")
        local_key = new_local_key()
        settings = ServerSettings(
            admin_key=env_key, max_body_bytes=max_body, rate_limit=rate_limit, rate_burst=rate_burst,
            cors_origins=cors_origins, access_log=log_level in ("info", "debug"), metrics_public=metrics_public,
            local_admin_key=local_key, body_timeout=body_timeout,
            redis_url=redis_url, auth_failures_per_minute=auth_failures_per_minute,
            max_concurrent_queries=max_concurrent_queries, max_page_results=max_page_results,
            gzip_min_bytes=gzip_min_bytes,
            ingest_min_time=int(ingest_since.replace(tzinfo=UTC).timestamp()),
            ingest_max_future_s=ingest_max_future, ingest_max_months=ingest_max_months,
            otlp_attributes=otlp_attributes,
        )
        proxy = None
        if upstreams:
            from ..proxy import install, settings_from_options

            if journal:  # checked here: a journal that cannot be made would stop the server mid-start
                try:
                    os.makedirs(journal, exist_ok=True)
                except OSError as exc:
                    raise click.BadParameter(f"cannot use {journal} as the journal directory: {exc.strerror}.",
                                             param_hint="--journal") from None
            try:
                proxy = settings_from_options(list(upstreams), upstream_key, list(budgets), budgets_file,
                                              journal or True)
                proxy.tune_gc = True  # this process only serves: its GC may be tuned for it (proxy/gcpolicy.py)
            except ValueError as exc:
                raise click.BadParameter(clean(str(exc)), param_hint="--upstream/--budget") from None
            install(settings, proxy)
        elif budgets or budgets_file:
            raise click.BadParameter("budgets apply to proxied requests: add --upstream", param_hint="--budget")
        # Listen first: a port in use must cost nothing (no store change, no key shown).
        try:
            sock = bind(host, port)
        except PortInUse:
            fail(f"port {port} on {host} is in use: stop what listens there, or pick another with --port.")
        except socket.gaierror as exc:
            bad_input(f"--host {host}: not an address of this machine ({exc.strerror or exc}).")
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        port = sock.getsockname()[1]
        base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        cap, fd_limit = connection_budget(max_connections)
        try:
            running = read_runtime(db)
            if running is not None and not holds_store(db):  # a file left by a killed server is stale
                running = None
            if running is not None:
                fail(f"a server (pid {running.pid}) already serves {db} at {running.url}: stop it, "
                     "or use another --db.")
            store = open_local_store(db, serving=True)
            if demo:
                added = fill_demo(store)
                if added:
                    console.print(f"[green]Demo data:[/] {added:,} events over 90 days.")
        except BaseException:
            sock.close()
            raise
        configure_logging(log_format, log_level)

        def started() -> None:
            """Once the socket serves: make the first key if needed, tell local commands where, then
            the operator (a server that did not start has spent and shown nothing)."""
            new_key = ensure_admin_key(store, env_key)
            local = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host)  # wildcard: loopback
            write_runtime(db, base if local is None else f"http://{local}:{port}", local_key)
            console.print(f"[bold]openusage[/] serving [cyan]{redact(store.url)}[/] at [link]{base}[/link]",
                          highlight=False)
            if proxy is not None:
                console.print(f"Metering proxy to {', '.join(u.shown for u in proxy.upstreams)} at "
                              f"{base}/v1 (clients use keys of scope proxy).", highlight=False)
            if new_key:
                console.print("[yellow]An admin key was created. It is shown this once; keep it:[/]")
                console.print(f"  [bold]{new_key}[/]")
            elif env_key:
                console.print("Admin key: from OPENUSAGE_ADMIN_KEY.")
            shown_key = new_key or ("$OPENUSAGE_ADMIN_KEY" if env_key else "$KEY")
            console.print(f"Dashboard: [link]{base}/[/link] (sign in with the key)")
            console.print("Try:", soft_wrap=True)
            console.print(f'  curl -H "Authorization: Bearer {shown_key}" '
                          f'"{base}/v1/organization/usage/completions?start_time='
                          f'{int(time.time()) - 7 * 86400}&group_by=model&limit=8"', soft_wrap=True, highlight=False)
            if cap < max_connections:
                console.print(f"[yellow]At most {cap} connections: the descriptor limit is {fd_limit} "
                              "(raise it with ulimit -n).[/]")

        warm_up = WarmUp()  # the default view's first questions, answered beside the server's start
        settings.middleware.append(warm_up.middleware())
        app = create_app(store, settings)
        warm_up.start(app)
        # uvicorn declares both timeouts int but only hands them to asyncio's call_later and wait_for,
        # which take fractional seconds: rounding --keep-alive 0.5 to 0 would be the bug.
        config = uvicorn.Config(
            app, log_level=log_level, log_config=None, access_log=False,
            timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]  # uvicorn: int, used as float
            http=guarded_protocol(header_timeout, cap),
            timeout_keep_alive=keep_alive,  # type: ignore[arg-type]  # uvicorn: int, used as float
            lifespan="on",
        )
        server = Server(config, on_started=started)
        # Uvicorn's graceful shutdown stops accepting, waits for in-flight requests (an ingest answers
        # only once durable), then runs the lifespan shutdown, which drains the writer's queue; then
        # the store is closed (DuckDB checkpoints its write-ahead log into the file).
        try:
            server.run(sockets=[sock])
        finally:
            remove_runtime(db)
            sock.close()
            warm_up.join(JOIN_S)  # not the store closed under it (a hung one: bounded)
            store.close()
        if not server.started:
            raise SystemExit(1)
