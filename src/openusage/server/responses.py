"""Responses of the server: the JSON ones of :mod:`openusage.responses`, and pages sent in pieces."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..responses import JSONBytes, error_response, json_response

__all__ = ["JSONBytes", "PartsResponse", "error_response", "json_response"]


class PartsResponse(Response):
    """A JSON body sent in pieces, with its length known up front.

    Small pieces are gathered into writes of about 64 KiB; a large piece (a slice of the page's
    Arrow text buffer) is copied out 1 MiB at a time, so the page is never held twice.
    """

    media_type = "application/json"
    CHUNK = 1 << 20
    GATHER = 1 << 16

    def __init__(self, parts: list[bytes | memoryview], headers: dict[str, str] | None = None) -> None:
        super().__init__(None, headers=headers)
        self.parts = parts
        self.headers["content-length"] = str(sum(len(p) for p in parts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        buf = bytearray()
        for part in self.parts:
            if len(part) < self.GATHER:
                buf += part
                if len(buf) >= self.GATHER:
                    await send({"type": "http.response.body", "body": bytes(buf), "more_body": True})
                    buf.clear()
                continue
            if buf:
                await send({"type": "http.response.body", "body": bytes(buf), "more_body": True})
                buf.clear()
            view = memoryview(part)
            for i in range(0, len(view), self.CHUNK):
                await send({"type": "http.response.body", "body": bytes(view[i:i + self.CHUNK]), "more_body": True})
        await send({"type": "http.response.body", "body": bytes(buf), "more_body": False})
