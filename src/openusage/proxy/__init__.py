"""The metering proxy: OpenAI-compatible model servers behind openusage, every request recorded.

``openusage serve --upstream http://127.0.0.1:8000/v1`` puts it in front of a model server; clients
call ``/v1/chat/completions`` (and the rest of the OpenAI API) on openusage with an openusage key of
scope ``proxy``, and the Usage API reports what they used.  See ``docs/proxy.md``.
"""

from __future__ import annotations

from typing import Any

from .budget import BudgetGuard, load_budgets, parse_budget
from .forward import MeteringProxy, ProxySettings
from .upstreams import Router, Upstream, parse_upstream

__all__ = [
    "BudgetGuard",
    "MeteringProxy",
    "ProxySettings",
    "Router",
    "Upstream",
    "install",
    "load_budgets",
    "parse_budget",
    "parse_upstream",
    "settings_from_options",
]


def settings_from_options(upstreams: list[str], upstream_key: str | None = None, budgets: list[str] | None = None,
                          budgets_file: str | None = None, journal: str | bool = True) -> ProxySettings:
    """The proxy settings ``openusage serve`` options describe; ValueError names a bad option."""
    limits = load_budgets(budgets_file) if budgets_file else {}
    limits.update(parse_budget(b) for b in budgets or ())
    return ProxySettings([parse_upstream(u, upstream_key) for u in upstreams], budgets=limits, journal=journal)


def install(server_settings, proxy_settings: ProxySettings) -> MeteringProxy:  # type: ignore[no-untyped-def]
    """Mount the proxy on a :class:`openusage.server.app.ServerSettings` (after openusage's routes)."""
    from starlette.middleware import Middleware
    from starlette.routing import Route

    proxy = MeteringProxy(proxy_settings)
    server_settings.extra_routes.append(Route("/v1/{path:path}", proxy))
    server_settings.middleware.append(Middleware(_StartWithServer, proxy=proxy))
    server_settings.on_shutdown.append(proxy.aclose)
    return proxy


class _StartWithServer:
    """Starts the proxy once the server's writer runs and before it serves: the journals of crashed
    processes are replayed first (lifespan startup waits for it)."""

    def __init__(self, app: Any, proxy: MeteringProxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def on_send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                await self.proxy.start(scope["app"].state.core)
            await send(message)

        await self.app(scope, receive, on_send)
