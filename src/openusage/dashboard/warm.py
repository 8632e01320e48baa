"""The server warmed for the dashboard's first view, in the background once ``openusage serve`` listens.

A process's first answers pay costs its later ones do not: the bundled price catalog parsed (about
100 ms), the price lines of the store's models worked out, modules imported on first use (the thread
pool's, pyarrow's grouping engine), DuckDB's first statements, the dashboard's files read and gzipped.
Paid by the first visitor, they made the first dashboard load after a start well over a later one's
time.  Here they are paid once, off the request path, by asking the questions the default view
(Costs, last 30 days) asks first, through the same thread pool the routes use.  The costs of those
questions grow with the number of models and line items, not with the events stored (they read the
day summaries), so the warm-up is short on any store; it is skipped on a store that cannot answer
(logged, never fatal) and the server answers meanwhile as it would without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..spec import ENDPOINTS_BY_TYPE
from .routes import assets

log = logging.getLogger("openusage.server")

DAY = 86_400
WINDOW_DAYS = 30
"""The dashboard's default range (``frontend/src/range.ts``, ``presetRange("30d")``)."""


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


def warm(core: Any, now: int | None = None) -> float:
    """Read the dashboard's files and answer the default view's questions once; returns the seconds
    taken.  ``core`` is the app's :class:`openusage.server.app.OpenUsageApp` (``app.state.core``)."""
    t0 = time.perf_counter()
    assets()
    for name, params in first_view_queries(int(time.time()) if now is None else now):
        core.service.respond_parts(ENDPOINTS_BY_TYPE[name], params)
    return time.perf_counter() - t0


class WarmUp:
    """:func:`warm` as a task of the server's event loop, started once it listens; :meth:`wait` at
    shutdown, so that the store is not closed under it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.task: asyncio.Task[None] | None = None
        self.seconds: float | None = None

    def start(self) -> None:
        """Schedule the warm-up on the running loop (call from the loop, as uvicorn's start hook runs)."""
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            self.seconds = await run_in_threadpool(warm, self.app.state.core)
        except Exception as exc:  # a store that cannot answer yet: the requests will say why
            log.warning("warm-up for the dashboard skipped (%s: %s)", type(exc).__name__, str(exc)[:200])
            return
        log.info("warmed up for the dashboard in %.0f ms", self.seconds * 1000)

    async def wait(self) -> None:
        """Until the warm-up is over (at once when it never started or is done)."""
        if self.task is not None:
            await asyncio.wait([self.task])
