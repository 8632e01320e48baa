"""JSON responses, and errors in OpenAI's envelope.

Its own module, outside :mod:`openusage.server`, so that route modules the server imports (the
prices routes) can use it without importing the server package, which would be a cycle.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from .errors import ApiError


class JSONBytes(Response):
    media_type = "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONBytes(orjson.dumps(data), status_code=status, headers=headers)


def error_response(exc: ApiError) -> Response:
    return JSONBytes(orjson.dumps(exc.to_envelope()), status_code=exc.status or 500, headers=exc.headers or None)
