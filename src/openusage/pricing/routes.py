"""``/v1/openusage/prices``: custom prices through a running server (admin keys only).

The server holds the store (DuckDB allows one writing process), so ``openusage prices set --url``
comes through here.  ``GET`` lists the custom prices, ``POST`` adds records (the prices-file format,
``{"prices": [...]}``), ``DELETE ?model=&effective_from=[&project_id=]`` removes one.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import NotFoundError, invalid
from ..query.params import MAX_TIME
from ..responses import json_response
from .book import CustomPrice, load_custom, merge, parse_custom, save_custom
from .catalog import CatalogError

if TYPE_CHECKING:  # the server imports these routes: the interface only when type checking
    from ..server.core import AppCore

_LOCK = threading.Lock()  # one read-modify-write of the stored prices at a time


def _listing(prices: list[CustomPrice]) -> dict[str, Any]:
    return {"object": "list", "data": [p.to_json() for p in prices]}


def price_routes(core: AppCore) -> list[Route]:
    """The routes, bound to the app core (its ``store``, ``principal`` and ``read_body``)."""

    async def list_prices(request: Request) -> Response:
        core.principal(request, "admin")
        return json_response(_listing(await run_in_threadpool(load_custom, core.store)))

    async def add_prices(request: Request) -> Response:
        core.principal(request, "admin")
        try:
            doc = orjson.loads(await core.read_body(request) or b"null")
        except orjson.JSONDecodeError:
            raise invalid(None, "The body is not valid JSON.") from None
        try:
            new = parse_custom(_exact(doc))
        except CatalogError as exc:
            raise invalid("prices", str(exc)) from None

        def save() -> None:
            with _LOCK:
                save_custom(core.store, merge(load_custom(core.store), new))

        await run_in_threadpool(save)
        return json_response(_listing(new), status=201)

    async def remove_price(request: Request) -> Response:
        core.principal(request, "admin")
        q = request.query_params
        model, project = q.get("model"), q.get("project_id") or None
        if not model:
            raise invalid("model", "Name the model whose price to remove.")
        try:
            day = dt.date.fromisoformat(q.get("effective_from", ""))
        except ValueError:
            raise invalid("effective_from", "'effective_from' must be a date YYYY-MM-DD.") from None

        def remove() -> bool:
            with _LOCK:
                current = load_custom(core.store)
                kept = [p for p in current if p.key != (model, project, day)]
                if len(kept) != len(current):
                    save_custom(core.store, kept)
                return len(kept) != len(current)

        if not await run_in_threadpool(remove):
            raise NotFoundError(f"No custom price for {model!r} from {day}.", param="model")
        return json_response({"object": "openusage.price.deleted", "model": model, "effective_from": str(day),
                              "project_id": project, "deleted": True})

    async def missing_prices(request: Request) -> Response:
        """Usage no price covers in ``[start_time, end_time)`` (``openusage prices missing``)."""
        from .costs import unpriced_usage

        core.principal(request, "admin")
        try:
            start, end = int(request.query_params["start_time"]), int(request.query_params["end_time"])
        except (KeyError, ValueError):
            start = end = -1
        if not 0 <= start <= MAX_TIME or not 0 <= end <= MAX_TIME:
            raise invalid("start_time", f"'start_time' and 'end_time' must be Unix seconds between 0 and {MAX_TIME}.")
        rows = await run_in_threadpool(unpriced_usage, core.store, start, end)
        return json_response({"object": "list", "data": [
            {**r, "first_day": r["first_day"].isoformat(), "last_day": r["last_day"].isoformat()} for r in rows]})

    return [
        Route("/v1/openusage/prices/missing", missing_prices, methods=["GET"]),
        Route("/v1/openusage/prices", list_prices, methods=["GET"]),
        Route("/v1/openusage/prices", add_prices, methods=["POST"]),
        Route("/v1/openusage/prices", remove_price, methods=["DELETE"]),
    ]


def _exact(doc: Any) -> Any:
    """JSON numbers arrive as floats: take them back through their shortest text, which is exact."""
    if isinstance(doc, float):
        return str(doc)
    if isinstance(doc, list):
        return [_exact(v) for v in doc]
    if isinstance(doc, dict):
        return {k: _exact(v) for k, v in doc.items()}
    return doc
