"""``UsageApi``: the synchronous client, a thin I/O shell over :mod:`._base`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from ..spec import Endpoint
from ._base import BaseClient, Outcome, SendStep, Sleep, ingest_answer, next_step, pages_flow, parse_response, send_flow
from ._generated import SyncMethods
from .types import ApiResponse, Bucket, Page


class UsageApi(SyncMethods, BaseClient[httpx.Client]):
    """OpenAI's organization Usage & Costs API (or an openusage server), synchronously.

    ``UsageApi()`` reads ``OPENUSAGE_BASE_URL`` / ``OPENUSAGE_API_KEY`` when set, else talks to
    ``https://api.openai.com/v1`` with ``OPENAI_ADMIN_KEY``.  Use it as a context manager (or call
    :meth:`close`) to release its connections.  Methods: ``usage_<endpoint>(...)`` (one page, or all
    with ``paginate=True``), ``usage_<endpoint>_with_http_info(...)`` and ``iter_<endpoint>(...)``.
    """

    def _new_http(self) -> httpx.Client:
        return httpx.Client()

    # -- I/O -----------------------------------------------------------------------------------
    def _send(self, request: httpx.Request) -> httpx.Response:
        flow = send_flow(request, self._config.max_retries)
        step: SendStep | httpx.Response = next(flow)
        while not isinstance(step, httpx.Response):
            step = next_step(flow, self._step(step))
        return step

    def _step(self, step: SendStep) -> Outcome | None:
        """Carry out one step of the retry flow: a pause, or a request (whose transport error is its outcome)."""
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        try:
            return self._http.send(step)
        except httpx.TransportError as exc:
            return exc

    def _get(self, endpoint: Endpoint, items: list[tuple[str, str]]) -> ApiResponse[Any]:
        response = self._send(self._request("GET", endpoint.path, params=items))
        return parse_response(endpoint, response)

    def _pages(self, endpoint: Endpoint, items: list[tuple[str, str]]) -> Iterator[Page[Any]]:
        flow = pages_flow(items)
        query = next(flow)
        while True:
            page = self._get(endpoint, query).data
            yield page
            try:
                query = flow.send(page)
            except StopIteration:
                return

    # -- the one implementation of every endpoint method (generated in _generated.py) --------
    def _page(self, endpoint: Endpoint, args: Mapping[str, Any], paginate: bool) -> Page[Any]:
        items = self._items(endpoint, args)
        if paginate:
            return self._concat(list(self._pages(endpoint, items)), endpoint)
        return self._get(endpoint, items).data

    def _http_info(self, endpoint: Endpoint, args: Mapping[str, Any]) -> ApiResponse[Any]:
        return self._get(endpoint, self._items(endpoint, args))

    def _iter(self, endpoint: Endpoint, args: Mapping[str, Any]) -> Iterator[Bucket[Any]]:
        items = self._items(endpoint, args)  # bad arguments fail at the call, not at the first bucket
        return (bucket for page in self._pages(endpoint, items) for bucket in page.data)

    # -- openusage extension -------------------------------------------------------------------
    def ingest_events(self, events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Send usage events to an openusage server (``POST /v1/usage/events``; not an OpenAI endpoint).

        Returns ``{"accepted": n, "duplicates": m}`` once every accepted event is durable.
        """
        return ingest_answer(self._send(self._events_request(events)))

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connections (an ``http_client`` passed in is left to its owner)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> UsageApi:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"UsageApi(base_url={self.base_url!r})"

