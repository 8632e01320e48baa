"""Reading usage out of a server-sent event stream while passing it on, event by event.

The meter sees every byte the upstream sends.  When nothing is to be hidden, the proxy forwards each
chunk the moment it arrives and the meter only reads along.  When the proxy asked for a usage chunk
the client did not (``stream_options.include_usage``), only complete events are forwarded, minus that
one chunk (``"choices": []`` with a ``usage`` object); an event is useless to a client until its
blank line arrives, so holding its first half back delays nothing the client could read.
"""

from __future__ import annotations

from typing import Any

import orjson

_SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r")


def _split(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete events (each with its separator) and the unfinished rest."""
    if b"\r" not in buf:  # the usual stream: one separator to look for, not three
        *parts, rest = buf.split(b"\n\n")
        return [e + b"\n\n" for e in parts], rest
    events: list[bytes] = []
    start = 0
    while True:
        best, sep_len = -1, 0
        for sep in _SEPARATORS:
            i = buf.find(sep, start)
            if i != -1 and (best == -1 or i < best):
                best, sep_len = i, len(sep)
        if best == -1:
            return events, buf[start:]
        events.append(buf[start:best + sep_len])
        start = best + sep_len


def _data(event: bytes) -> bytes | None:
    lines = [ln[5:].lstrip(b" ") if ln.startswith(b"data:") else None for ln in event.splitlines()]
    parts = [p for p in lines if p is not None]
    return b"\n".join(parts) if parts else None


def _is_output_delta(obj: dict[str, Any]) -> bool:
    """Whether an event carries generated output (one token, as servers stream them)."""
    kind = obj.get("type")
    if isinstance(kind, str):
        return kind.endswith(".delta")
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and (delta.get("content") or delta.get("tool_calls") or delta.get("audio")
                                        or delta.get("reasoning_content") or delta.get("refusal")):
            return True
        if choice.get("text"):
            return True
    return False


class StreamMeter:
    """Follows one SSE stream: usage, model, service tier, output events seen, and a clean end."""

    def __init__(self, hide_usage_chunk: bool = False) -> None:
        self.hide = hide_usage_chunk
        self.usage: dict[str, Any] | None = None
        """The last ``usage`` object seen, as the upstream wrote it."""
        self.model: str | None = None
        self.service_tier: str | None = None
        self.output_events = 0
        self.finished = False
        """True once ``[DONE]`` or a terminal Responses event arrived."""
        self._rest = b""

    def feed(self, chunk: bytes) -> bytes:
        """Read a chunk; return the bytes to forward now."""
        events, self._rest = _split(self._rest + chunk)
        if not self.hide:
            for event in events:
                self._read(event)
            return chunk
        return b"".join(e for e in events if not self._read(event=e))

    def tail(self) -> bytes:
        """What is left once the upstream ended: an unterminated last event, passed on as it was."""
        rest, self._rest = self._rest, b""
        if rest.strip():
            self._read(rest)
        return rest if self.hide else b""

    def _read(self, event: bytes) -> bool:
        """Take what the event tells; True if it is the usage chunk to hide."""
        data = _data(event)
        if data is None:
            return False
        if data.strip() == b"[DONE]":
            self.finished = True
            return False
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict):
            return False
        response = obj.get("response")
        body: dict[str, Any] = response if isinstance(response, dict) else obj
        if self.model is None and isinstance(body.get("model"), str):
            self.model = body["model"]
        if isinstance(body.get("service_tier"), str):
            self.service_tier = body["service_tier"]
        if obj.get("type") in ("response.completed", "response.incomplete", "response.failed"):
            self.finished = True
            if isinstance(body.get("model"), str):
                self.model = body["model"]
        usage = body.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
            if self.hide and obj.get("choices") == []:
                return True
        elif _is_output_delta(obj):
            self.output_events += 1
        return False
