"""Deadlines checked together by one periodic timer, instead of a timer armed and cancelled per request.

A request passes several deadlines that almost never fire: its headers (slowloris), its body, the
upstream's answer when proxied.  Each armed and cancelled as its own event-loop timer costs 1.4-2.6 µs
with uvloop (measured, and more with ``asyncio.timeout``), and the loop then closes each cancelled timer.
Here arming is a dictionary store and disarming a dictionary delete; one timer runs while anything is
armed, every eighth of the shortest timeout in use (at least 5 ms, at most 1 s) and fires what is due.
So a deadline fires up to that much late: a 600 s upstream timeout within 1 s, a 1 s body timeout within
0.125 s.  Each loop's deadlines are its own and touched from its thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable

log = logging.getLogger("openusage.server")

MIN_PERIOD = 0.005
MAX_PERIOD = 1.0


class Deadlines:
    """``arm(owner, timeout, fire)``: call ``fire()`` once ``timeout`` seconds have passed, unless
    ``disarm(owner)`` comes first.  Arming an owner again replaces its deadline.

    Kept per event loop: one app (its middleware) may serve on several loops, each in its own thread
    (the tests' in-process servers do), and a loop's deadlines must fire on that loop."""

    __slots__ = ("_loops",)

    def __init__(self) -> None:
        self._loops: dict[int, LoopDeadlines] = {}

    def here(self) -> LoopDeadlines:
        """The running loop's deadlines (keep them for a connection's life: a connection has one loop)."""
        loop = asyncio.get_running_loop()
        here = self._loops.get(id(loop))
        if here is None or here.loop is not loop:  # new, or an id reused after its loop was collected
            if len(self._loops) >= 64:
                self._loops = {k: v for k, v in self._loops.items() if not v.loop.is_closed()}
            here = self._loops[id(loop)] = LoopDeadlines(loop)
        return here

    def arm(self, owner: Hashable, timeout: float, fire: Callable[[], object]) -> None:
        self.here().arm(owner, timeout, fire)

    def disarm(self, owner: Hashable) -> None:
        self.here().disarm(owner)

    def __len__(self) -> int:
        return sum(len(d.due) for d in self._loops.values())


class LoopDeadlines:
    """One event loop's deadlines, and the timer that checks them."""

    __slots__ = ("due", "loop", "period", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[Hashable, tuple[float, Callable[[], object]]] = {}
        self.period = MAX_PERIOD
        self.timer: asyncio.TimerHandle | None = None

    def arm(self, owner: Hashable, timeout: float, fire: Callable[[], object]) -> None:
        timeout = max(timeout, 0.0)  # a deadline already passed fires at the next check
        self.due[owner] = (self.loop.time() + timeout, fire)
        if timeout < 8 * self.period:
            self.period = max(MIN_PERIOD, timeout / 8)
            if self.timer is not None:  # a shorter timeout than any before: check sooner from now on
                self.timer.cancel()
                self.timer = None
        if self.timer is None:
            self.timer = self.loop.call_later(self.period, self.sweep)

    def disarm(self, owner: Hashable) -> None:
        self.due.pop(owner, None)

    def sweep(self) -> None:
        """Fire what is due; one callback that fails is logged and costs the others nothing."""
        self.timer = None
        now = self.loop.time()
        fired = [(owner, fire) for owner, (when, fire) in self.due.items() if when <= now]
        for owner, _ in fired:
            del self.due[owner]
        if self.due:
            # the period follows the deadlines armed now: one short wait (a body read near its end)
            # must not leave every later sweep at the shortest period
            nearest = min(when for when, _ in self.due.values()) - now
            self.period = min(MAX_PERIOD, max(MIN_PERIOD, nearest / 8, self.period))
            self.timer = self.loop.call_later(self.period, self.sweep)
        else:
            self.period = MAX_PERIOD
        for _, fire in fired:
            try:
                fire()
            except Exception:
                log.exception("a deadline's callback failed")
