"""The server warmed up for the dashboard's first view as ``openusage serve`` starts, in its idle time.

A process's first answers pay costs its later ones do not: the bundled price catalog parsed (about
100 ms), the price lines of the store's models worked out, modules imported on first use (the thread
pool's, pyarrow's grouping engine), DuckDB's first statements, the dashboard's files read and gzipped.
Paid by the first visitor, they made the first dashboard load after a start much slower than later
ones.  Here they are paid once, in a thread of their own, by asking the questions the default view
(Costs, last 30 days) asks first, and the server does not wait for it: ``/healthz``, the page and
everything else are answered at once.

- The usage question is asked at once, as the server starts (a few tens of ms): a usage request
  arriving before it is done waits for it (:class:`HoldUntilWarm`, at most :data:`HOLD_S`).
- The costs question, the heavy part (mostly Python: the catalog, the price lines), is asked only
  once no usage or costs request has been answered for :data:`QUIET_S`: on a small machine it would
  otherwise take the CPU from the first requests and from a browser beside the server.  A costs
  request arriving while it runs waits for it; one arriving before it started is answered as on a
  cold server, and the warm-up leaves the costs question to it.

Those questions cost what the models and line items make them cost, not the events stored (they read
the day summaries), so the warm-up is short on any store; one that fails is logged, never fatal, and
lets every request through.
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
HOLD_S = 1.0
"""The longest a request waits for the warm-up: past it, it is answered beside it.  The warm-up's
questions take tens of milliseconds on any store (they read the day summaries); one taking longer is
not paying one-time costs, and a request (of any tenant) is not kept waiting on it."""
JOIN_S = 10.0
"""The longest shutdown waits for a warm-up still running before it closes the store anyway."""
QUIET_S = 0.2
"""How long no usage or costs request must have been answered before the costs question is asked."""
API_PREFIX = "/v1/organization/"
"""Where the usage and costs endpoints are (``/v1/organization/usage/*``, ``/v1/organization/costs``)."""
COSTS_PATH = ENDPOINTS_BY_TYPE["costs"].full_path


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
    """The warm-up of one server: put :meth:`middleware` in the app's settings before the app is made,
    :meth:`start` it with the app, :meth:`join` it before the store is closed."""

    def __init__(self) -> None:
        self.usage = threading.Event()
        """Set once usage questions are warm (or the warm-up is over, however it ended)."""
        self.costs = threading.Event()
        """Set once costs questions are warm, or left to a costs request (or the warm-up is over)."""
        self.costs_started = False
        """The warm-up is asking the costs question: costs requests wait for its answer."""
        self.costs_asked = False
        """A costs request came before the warm-up's: it warms the costs path itself."""
        self.busy = 0
        """Usage and costs requests being answered (counted on the event loop, read by the warm-up)."""
        self.last = time.monotonic()
        """When one last began or ended."""
        self.seconds: float | None = None
        """How long the warm-up took; None until it is over, and when it failed."""
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def middleware(self) -> Middleware:
        return Middleware(HoldUntilWarm, warm=self)

    def start(self, app: Any) -> None:
        """Warm ``app`` (made by :func:`openusage.server.app.create_app`) in a thread of its own."""
        self.thread = threading.Thread(target=self._run, args=(app.state.core,), name="openusage-warm-up",
                                       daemon=True)
        self.thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Until the warm-up is over; one still waiting for a quiet moment gives up at once."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def quiet(self) -> bool:
        return self.busy == 0 and time.monotonic() - self.last >= QUIET_S

    def _run(self, core: Any) -> None:
        t0 = time.perf_counter()
        try:
            (usage, usage_params), (costs, costs_params) = first_view_queries(int(time.time()))
            core.service.respond_parts(ENDPOINTS_BY_TYPE[usage], usage_params)
            self.usage.set()
            while not (self.quiet() or self.costs_asked or self.stopping.is_set()):
                time.sleep(0.02)
            if not (self.costs_asked or self.stopping.is_set()):
                self.costs_started = True
                core.service.respond_parts(ENDPOINTS_BY_TYPE[costs], costs_params)
            self.costs.set()
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
    """ASGI middleware: a usage or costs request waits for the warm-up's part it would otherwise pay
    beside it (at most :data:`HOLD_S`), and is counted while answered, so that the costs part waits
    for a quiet moment; once the warm-up is over this is one check per request."""

    def __init__(self, app: ASGIApp, /, warm: WarmUp) -> None:
        self.app = app
        self.warm = warm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        warm = self.warm
        if warm.costs.is_set() or scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        part: threading.Event | None = warm.usage
        if scope["path"] == COSTS_PATH:
            if warm.costs_started:
                part = warm.costs
            else:  # answered as on a cold server: the warm-up leaves the costs question to it
                part = None
                warm.costs_asked = True
        deadline = time.monotonic() + HOLD_S
        while part is not None and not part.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        warm.busy += 1
        warm.last = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            warm.busy -= 1
            warm.last = time.monotonic()
