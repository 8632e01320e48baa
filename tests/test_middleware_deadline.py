"""The body deadline (``middleware._before`` on :class:`Deadlines`): the deadline answers ``late()``, a
cancellation from elsewhere stays a cancellation, and an answer in time leaves no deadline behind."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from openusage.errors import ApiError
from openusage.server.deadlines import Deadlines
from openusage.server.middleware import _before


class Late(ApiError):
    pass


def late() -> ApiError:
    return Late("late", status=408, type="invalid_request_error", code="request_timeout")


async def _never() -> Message:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def test_deadline_raises_late() -> None:
    async def run() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(Late):
            await _before(Deadlines(), 0.05, _never, late)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # the deadline's cancel is taken back
        return loop.time() - start

    assert 0.05 <= asyncio.run(run()) < 0.05 + 0.05 / 8 + 0.5  # fires within an eighth of the timeout (+ noise)


def test_outside_cancellation_passes_through() -> None:
    async def run() -> None:
        task = asyncio.ensure_future(_before(Deadlines(), 60, _never, late))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())


def test_in_time_answer_and_no_timer_left() -> None:
    async def receive() -> Message:
        await asyncio.sleep(0.01)
        return {"type": "http.request", "body": b"x", "more_body": False}

    async def run() -> None:
        deadlines = Deadlines()
        assert (await _before(deadlines, 0.2, receive, late))["body"] == b"x"
        assert len(deadlines) == 0
        await asyncio.sleep(0.3)  # past the deadline: one left armed would cancel this sleep

    asyncio.run(run())


def test_deadlines_fire_late_by_at_most_an_eighth_and_only_once() -> None:
    """Hostile mix: 1,000 armed and disarmed, one short timeout among long ones, one re-armed."""
    fired: list[tuple[str, float]] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        d = Deadlines()
        start = loop.time()
        for i in range(1000):
            d.arm(i, 600, lambda: fired.append(("never", 0)))
            d.disarm(i)
        d.arm("long", 600, lambda: fired.append(("long", loop.time() - start)))
        d.arm("short", 0.4, lambda: fired.append(("short", loop.time() - start)))
        d.arm("again", 0.1, lambda: fired.append(("first arming", 0)))
        d.arm("again", 0.2, lambda: fired.append(("again", loop.time() - start)))
        await asyncio.sleep(0.8)
        assert len(d) == 1  # "long" only
        d.disarm("long")

    asyncio.run(run())
    names = [n for n, _ in fired]
    assert names == ["again", "short"]
    times = dict(fired)
    assert 0.2 <= times["again"] < 0.2 + 0.05 + 0.3
    assert 0.4 <= times["short"] < 0.4 + 0.05 + 0.3


def test_each_event_loop_keeps_its_own_deadlines() -> None:
    """One instance (as one app's middleware) used from two loops in two threads: each deadline fires
    on the loop that armed it."""
    import threading

    d = Deadlines()
    fired: dict[str, int] = {}

    def serve(name: str) -> None:
        async def run() -> None:
            me = threading.get_ident()
            d.arm(name, 0.05, lambda: fired.__setitem__(name, threading.get_ident() - me))
            d.arm(name + "-disarmed", 0.05, lambda: fired.__setitem__(name + "-disarmed", 1))
            d.disarm(name + "-disarmed")
            await asyncio.sleep(0.3)

        asyncio.run(run())

    threads = [threading.Thread(target=serve, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fired == {"a": 0, "b": 0}  # fired once each, on its own loop's thread
    assert len(d) == 0


def test_a_failing_callback_costs_the_others_nothing(caplog: pytest.LogCaptureFixture) -> None:
    fired: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    async def run() -> None:
        d = Deadlines()
        d.arm("boom", 0.05, boom)
        d.arm("ok", 0.05, lambda: fired.append("ok"))
        d.arm("later", 0.2, lambda: fired.append("later"))
        await asyncio.sleep(0.5)

    asyncio.run(run())
    assert fired == ["ok", "later"]
    assert "a deadline's callback failed" in caplog.text
