"""Monthly spending limits per project, checked before a request is forwarded.

A project's spend is the sum of its costs since the start of the current UTC month, computed as the
costs endpoint computes them (priced usage and imported cost lines), exactly (decimal), from the store:
several workers on one shared store (PostgreSQL) all see the same spend.  The sum is cached for
``ttl`` seconds per project, so the check on the request path is a dictionary look-up; one refresh at
a time runs on a worker thread.  A request made while
the spend is at or over the limit is refused with OpenAI's own 429 ``insufficient_quota`` error.
Spend moves in steps of at most ``ttl``: a burst can go over the limit by what it costs in that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..errors import RateLimitError
from ..service import UsageService

SpendFn = Callable[[str, int, int], Decimal]
"""(project_id, month_start, now) -> dollars spent."""


def month_start(now: float) -> int:
    d = datetime.fromtimestamp(now, UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp())


def parse_budget(spec: str) -> tuple[str, Decimal]:
    """``proj_x=100`` (dollars per month)."""
    project, sep, amount = spec.partition("=")
    if not sep or not project.strip():
        raise ValueError(f"budget {spec!r} should read PROJECT=DOLLARS, e.g. proj_x=100")
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        raise ValueError(f"budget {spec!r}: {amount!r} is not a number of dollars") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"budget {spec!r}: the limit must be a non-negative number of dollars")
    return project.strip(), value


def load_budgets(path: str) -> dict[str, Decimal]:
    """A YAML or JSON file mapping project ids to monthly dollars: ``{proj_x: 100}``."""
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of project id to monthly dollars")
    return dict(parse_budget(f"{k}={v}") for k, v in data.items())


def costs_endpoint_spend(service: UsageService) -> SpendFn:
    """Spend as the costs endpoint computes it (priced usage plus imported cost lines), as its exact
    decimal total: the page's amounts are JSON numbers, rounded, so summing them could let a project
    through at its limit."""
    from ..pricing.costs import DAY, compute_costs
    from ..store.base import Aggregate

    def spend(project: str, start: int, now: int) -> Decimal:
        filters: dict[str, tuple[str, ...] | bool] = {"project_id": (project,)}
        imported = Aggregate(event_type="costs", start_s=start, end_s=now + 1, width_s=DAY, filters=filters,
                             decimals=("amount",))
        return compute_costs(service.store, start, now + 1, (), dict(filters), imported=imported).total()

    return spend


@dataclass
class _Cached:
    spend: Decimal
    expires: float


class BudgetGuard:
    def __init__(self, limits: dict[str, Decimal], spend: SpendFn, ttl: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._spend = spend
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._refreshing: dict[str, asyncio.Future[Decimal]] = {}

    async def check(self, project: str | None) -> None:
        """Raise a 429 when the project has a limit and has reached it this month."""
        if project is None or project not in self.limits:
            return
        spent = await self.spent(project)
        limit = self.limits[project]
        if spent >= limit:
            raise RateLimitError(
                f"Project {project} has reached its monthly budget of ${limit} (spent ${spent:.2f} this month).",
                type="insufficient_quota", code="insufficient_quota",
            )

    async def spent(self, project: str) -> Decimal:
        now = self._clock()
        hit = self._cache.get(project)
        if hit is not None and hit.expires > now:
            return hit.spend
        running = self._refreshing.get(project)
        if running is None:
            running = asyncio.ensure_future(asyncio.to_thread(self._spend, project, month_start(now), int(now)))
            self._refreshing[project] = running
            try:
                value = await running
            finally:
                del self._refreshing[project]
            self._cache[project] = _Cached(value, self._clock() + self.ttl)
            return value
        return await asyncio.shield(running)
