"""The body deadline's timer (``middleware._before``): the deadline answers ``late()``, a cancellation
from elsewhere stays a cancellation, and an answer in time leaves no timer behind."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from openusage.errors import ApiError
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
            await _before(loop, start + 0.05, _never, late)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # the deadline's cancel is taken back
        return loop.time() - start

    assert 0.05 <= asyncio.run(run()) < 2


def test_outside_cancellation_passes_through() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(_before(loop, loop.time() + 60, _never, late))
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
        loop = asyncio.get_running_loop()
        assert (await _before(loop, loop.time() + 0.2, receive, late))["body"] == b"x"
        await asyncio.sleep(0.3)  # past the deadline: a timer left armed would cancel this sleep

    asyncio.run(run())
