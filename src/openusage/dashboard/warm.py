"""The server warmed up for the dashboard's first view as ``openusage serve`` starts, beside its start.

A process's first answers pay costs its later ones do not: the bundled price catalog parsed (about
100 ms), the price lines of the store's models worked out, modules imported on first use (the thread
pool's, pyarrow's grouping engine), DuckDB's first statements, the dashboard's files read and gzipped.
Paid by the first visitor, they made the first dashboard load after a start much slower than later
ones.  Here they are paid once, in a thread started before the server takes connections, by asking
the questions the default view (Costs, last 30 days) asks first: usage, then costs.

The server does not wait for it: it answers ``/healthz``, the page and everything else at once.  A
usage or costs request that arrives while the warm-up is still on its part waits for that part
(:class:`HoldUntilWarm`, at most :data:`HOLD_S`) instead of paying the same first-use costs beside it,
then is answered by a warm server.  Those questions cost what the models and line items make them
cost, not the events stored (they read the day summaries), so the warm-up is short on any store; one
that fails is logged, never fatal, and lets every request through.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..spec import ENDPOINTS_BY_TYPE
from .routes import assets

log = logging.getLogger("openusage.server")

DAY = 86_400
WINDOW_DAYS = 30
"""The dashboard's default range (``frontend/src/range.ts``, ``presetRange("30d")``)."""
HOLD_S = 10.0
"""The longest a request waits for the warm-up: past it, it is answered beside it."""
COSTS_PATH = ENDPOINTS_BY_TYPE["costs"].full_path
USAGE_PREFIX = "/v1/organization/"


def first_view_queries(now: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(event type, parameters) of the default view's requests at ``now``, as the page sends them:
    daily buckets over the last 30 days to the end of today (UTC), ungrouped usage then costs by line
    item, each with its endpoint's largest daily page."""
    end = (now // DAY + 1) * DAY
    out = []
    for name, group_by in (("completions", ()), ("costs", ("line_item",))):
        ep = ENDPOINTS_BY_TYPE[name]
        params = [("start_time", str(end - WINDOW_DAYS * DAY)), ("end_time", str(end)), ("bucket_width", "1d"),
                  ("limit", str(ep.limits["1d"][1])), *(("group_by", g) for g in group_by)]
        out.append((name, params))
    return out


class WarmUp:
    """The warm-up of one server: :meth:`start` it with the app, put :meth:`middleware` in the app's
    settings before the app is made, :meth:`join` it before the store is closed."""

    def __init__(self) -> None:
        self.usage = threading.Event()
        """Set once usage questions are warm (or the warm-up is over, however it ended)."""
        self.costs = threading.Event()
        """Set once costs questions are warm (or the warm-up is over, however it ended)."""
        self.seconds: float | None = None
        """How long it took; None until it is over, and when it failed."""
        self.thread: threading.Thread | None = None

    def middleware(self) -> Middleware:
        return Middleware(HoldUntilWarm, warm=self)

    def start(self, app: Any) -> None:
        """Warm ``app`` (made by :func:`openusage.server.app.create_app`) in a thread of its own."""
        self.thread = threading.Thread(target=self._run, args=(app.state.core,), name="openusage-warm-up",
                                       daemon=True)
        self.thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self, core: Any) -> None:
        t0 = time.perf_counter()
        try:
            for name, params in first_view_queries(int(time.time())):  # usage first: the first view's
                core.service.respond_parts(ENDPOINTS_BY_TYPE[name], params)
                (self.costs if name == "costs" else self.usage).set()
            assets()
            asyncio.run(run_in_threadpool(int))  # the routes' thread pool: its machinery loads on first use
            self.seconds = time.perf_counter() - t0
            log.info("warmed up for the dashboard in %.0f ms", self.seconds * 1000)
        except Exception as exc:  # the requests will meet the same failure and say why
            log.warning("warm-up for the dashboard skipped (%s: %s)", type(exc).__name__, str(exc)[:200])
        finally:
            self.usage.set()
            self.costs.set()


class HoldUntilWarm:
    """ASGI middleware: a usage or costs request waits for its part of the warm-up while it runs (at
    most :data:`HOLD_S`); once the warm-up is over this is one check per request."""

    def __init__(self, app: ASGIApp, /, warm: WarmUp) -> None:
        self.app = app
        self.warm = warm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.warm.costs.is_set() and scope["type"] == "http":
            path: str = scope["path"]
            part = self.warm.costs if path == COSTS_PATH else self.warm.usage if path.startswith(USAGE_PREFIX) else None
            deadline = time.monotonic() + HOLD_S
            while part is not None and not part.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
        await self.app(scope, receive, send)
