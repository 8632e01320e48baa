"""The metering proxy: OpenAI-compatible model servers behind openusage, every request recorded.

``openusage serve --upstream http://127.0.0.1:8000/v1`` puts it in front of a model server; clients
call ``/v1/chat/completions`` (and the rest of the OpenAI API) on openusage with an openusage key of
scope ``proxy``, and the Usage API reports what they used.  See ``docs/proxy.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ApiError
from ..server.middleware import send_error
from .budget import BudgetGuard, load_budgets, parse_budget
from .forward import RESERVED, MeteringProxy, ProxySettings
from .gcpolicy import tune_for_serving
from .upstreams import Router, Upstream, parse_upstream

if TYPE_CHECKING:  # the server's modules import the proxy's settings at run time
    from ..server.app import ServerSettings
    from ..server.core import AppCore

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


def install(server_settings: ServerSettings, proxy_settings: ProxySettings) -> MeteringProxy:
    """Mount the proxy on a :class:`openusage.server.app.ServerSettings` (after openusage's routes)."""
    from starlette.middleware import Middleware

    proxy = MeteringProxy(proxy_settings)
    route = Route("/v1/{path:path}", proxy)
    server_settings.extra_routes.append(route)
    server_settings.middleware.append(Middleware(_ProxyFront, proxy=proxy, route=route))
    server_settings.on_shutdown.append(proxy.aclose)
    return proxy


class _ProxyFront:
    """The proxy's place in the server's middleware (inside request ids, rate and body limits).

    It starts the proxy once the server's writer runs and before it serves (the journals of crashed
    processes are replayed first: lifespan startup waits for it).  And it hands proxied requests to the
    proxy directly: the router would try every route of the API first (~25 regular expressions, about
    a tenth of the proxy's CPU per request) before reaching ``/v1/{path}``.  The few routes of the
    server's own below ``/v1/`` outside its reserved prefixes (OTLP's ``/v1/traces``) still go to it.
    """

    def __init__(self, app: ASGIApp, /, proxy: MeteringProxy, route: Route) -> None:
        self.app = app
        self.proxy = proxy
        self.route = route
        self.direct = False
        self.others: list[BaseRoute] = []
        self._here: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if (self.direct and path.startswith("/v1/") and not path.startswith(RESERVED, 3)
                    and not self._served_here(scope)):
                scope["route"] = self.route  # as the router would: metrics label the route
                try:
                    await self.proxy(scope, receive, send)
                except ApiError as err:  # raised before any answer started, as the router's handler has it
                    await send_error(send, err)
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def on_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                app: Starlette = scope["app"]
                core: AppCore = app.state.core
                await self.proxy.start(core)
                self.others = _other_routes_below_v1(app.routes, self.route)
                self.direct = True
                if self.proxy.settings.tune_gc:
                    tune_for_serving()
            await send(message)

        await self.app(scope, receive, on_send)

    def _served_here(self, scope: Scope) -> bool:
        """Whether one of those routes takes the path (known per path: a few paths take nearly all)."""
        path = scope["path"]
        here = self._here.get(path)
        if here is None:
            if len(self._here) >= 1024:
                self._here.clear()
            here = self._here[path] = any(r.matches(scope)[0] != Match.NONE for r in self.others)
        return here


def _other_routes_below_v1(routes: list[BaseRoute], proxy_route: Route) -> list[BaseRoute]:
    """The server's routes below /v1/ outside its reserved prefixes (the router must answer those)."""
    return [r for r in routes if r is not proxy_route and isinstance(path := getattr(r, "path", None), str)
            and path.startswith("/v1/") and not path.startswith(RESERVED, 3)]
