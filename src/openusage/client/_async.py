"""``AsyncUsageApi``: the asynchronous twin of :class:`UsageApi`, a thin I/O shell over :mod:`._base`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx

from ..spec import Endpoint
from ._base import BaseClient, Outcome, SendStep, Sleep, ingest_answer, next_step, pages_flow, parse_response, send_flow
from ._generated import AsyncMethods
from .types import ApiResponse, Bucket, Page


class AsyncUsageApi(AsyncMethods, BaseClient[httpx.AsyncClient]):
    """The Usage & Costs API with ``async``/``await``: the same methods as :class:`UsageApi`.

    ``await api.usage_completions(...)``, ``await api.usage_completions_with_http_info(...)`` and
    ``async for bucket in api.iter_completions(...)``.  Use ``async with`` (or ``await aclose()``).
    """

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient()

    # -- I/O -----------------------------------------------------------------------------------
    async def _send(self, request: httpx.Request) -> httpx.Response:
        flow = send_flow(request, self._config.max_retries)
        step: SendStep | httpx.Response = next(flow)
        while not isinstance(step, httpx.Response):
            step = next_step(flow, await self._step(step))
        return step

    async def _step(self, step: SendStep) -> Outcome | None:
        """Carry out one step of the retry flow: a pause, or a request (whose transport error is its outcome)."""
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        try:
            return await self._http.send(step)
        except httpx.TransportError as exc:
            return exc

    async def _get(self, endpoint: Endpoint, items: list[tuple[str, str]]) -> ApiResponse[Any]:
        response = await self._send(self._request("GET", endpoint.path, params=items))
        return parse_response(endpoint, response)

    async def _pages(self, endpoint: Endpoint, items: list[tuple[str, str]]) -> AsyncIterator[Page[Any]]:
        flow = pages_flow(items)
        query = next(flow)
        while True:
            page = (await self._get(endpoint, query)).data
            yield page
            try:
                query = flow.send(page)
            except StopIteration:
                return

    # -- the one implementation of every endpoint method (generated in _generated.py) --------
    async def _page(self, endpoint: Endpoint, args: Mapping[str, Any], paginate: bool) -> Page[Any]:
        items = self._items(endpoint, args)
        if paginate:
            return self._concat([p async for p in self._pages(endpoint, items)], endpoint)
        return (await self._get(endpoint, items)).data

    async def _http_info(self, endpoint: Endpoint, args: Mapping[str, Any]) -> ApiResponse[Any]:
        return await self._get(endpoint, self._items(endpoint, args))

    def _iter(self, endpoint: Endpoint, args: Mapping[str, Any]) -> AsyncIterator[Bucket[Any]]:
        items = self._items(endpoint, args)  # bad arguments fail at the call, not at the first bucket

        async def buckets() -> AsyncIterator[Bucket[Any]]:
            async for page in self._pages(endpoint, items):
                for bucket in page.data:
                    yield bucket

        return buckets()

    # -- openusage extension -------------------------------------------------------------------
    async def ingest_events(self, events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Send usage events to an openusage server (``POST /v1/usage/events``; not an OpenAI endpoint)."""
        return ingest_answer(await self._send(self._events_request(events)))

    # -- lifecycle -----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connections (an ``http_client`` passed in is left to its owner)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncUsageApi:
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncUsageApi(base_url={self.base_url!r})"

