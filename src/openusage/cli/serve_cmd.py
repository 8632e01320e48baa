"""``openusage serve``: the API server (and, with ``--demo``, a filled store to explore)."""

from __future__ import annotations

import os
import time

import click

from .common import DEFAULT_PORT, console, db_option, open_local_store


def ensure_admin_key(store, env_key: str | None) -> str | None:  # type: ignore[no-untyped-def]
    """With no key anywhere, create an admin key and return it (shown once, never stored in clear)."""
    from ..auth import create_key

    if env_key or store.list_keys():
        return None
    return create_key(store, "first admin key", "admin").secret


def fill_demo(store, now: int | None = None) -> int:  # type: ignore[no-untyped-def]
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
            added += store.insert([validate_events(chunk)])[0]
            progress.advance(task, len(chunk))
    return added


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
    @click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
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
    def serve(host: str, port: int, db: str, demo: bool, log_level: str, log_format: str,
              rate_limit: float | None, rate_burst: int | None, cors_origins: tuple[str, ...], max_body: int,
              metrics_public: bool, shutdown_timeout: float | None, upstreams: tuple[str, ...],
              upstream_key: str | None, budgets: tuple[str, ...], budgets_file: str | None,
              journal: str | None) -> None:
        """Serve the Usage & Costs API (and ingestion) over the store."""
        import uvicorn

        from ..server.app import ServerSettings, create_app

        store = open_local_store(db)
        env_key = os.environ.get("OPENUSAGE_ADMIN_KEY")
        if demo:
            added = fill_demo(store)
            if added:
                console.print(f"[green]Demo data:[/] {added:,} events over 90 days.")
        new_key = ensure_admin_key(store, env_key)
        console.print(f"[bold]openusage[/] serving [cyan]{store.url}[/] at [link]http://{host}:{port}[/link]")
        if new_key:
            console.print("[yellow]An admin key was created. It is shown this once; keep it:[/]")
            console.print(f"  [bold]{new_key}[/]")
        elif env_key:
            console.print("Admin key: from OPENUSAGE_ADMIN_KEY.")
        shown_key = new_key or ("$OPENUSAGE_ADMIN_KEY" if env_key else "$KEY")
        console.print(f"Dashboard: [link]http://{host}:{port}/[/link] (sign in with the key)")
        console.print("Try:", soft_wrap=True)
        console.print(f'  curl -H "Authorization: Bearer {shown_key}" '
                      f'"http://{host}:{port}/v1/organization/usage/completions?start_time='
                      f'{int(time.time()) - 7 * 86400}&group_by=model"', soft_wrap=True, highlight=False)
        from ..server.logs import configure_logging

        configure_logging(log_format, log_level)
        settings = ServerSettings(
            admin_key=env_key, max_body_bytes=max_body, rate_limit=rate_limit, rate_burst=rate_burst,
            cors_origins=cors_origins, access_log=log_level in ("info", "debug"), metrics_public=metrics_public,
        )
        if upstreams:
            from ..proxy import install, settings_from_options

            try:
                proxy = settings_from_options(list(upstreams), upstream_key, list(budgets), budgets_file,
                                              journal or True)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--upstream/--budget") from None
            install(settings, proxy)
            console.print(f"Metering proxy to {', '.join(u.shown for u in proxy.upstreams)} at "
                          f"http://{host}:{port}/v1 (clients use keys of scope proxy).")
        elif budgets or budgets_file:
            raise click.BadParameter("budgets apply to proxied requests: add --upstream", param_hint="--budget")
        app = create_app(store, settings)
        # Uvicorn's graceful shutdown stops accepting, waits for in-flight requests (an ingest answers
        # only once durable), then runs the lifespan shutdown, which drains the writer's queue.
        uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=None, access_log=False,
                    timeout_graceful_shutdown=shutdown_timeout)
