"""Times as people type them on the command line: ``7d``, ``24h``, ``2026-01-31``, or Unix seconds."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_REL = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: int | None = None) -> int:
    """Unix seconds for ``7d`` (7 days ago), ``2026-01-31`` / ISO 8601 (UTC if no zone), or ``1700000000``."""
    text = text.strip()
    now = int(time.time()) if now is None else now
    if text == "now":
        return now
    m = _REL.match(text)
    if m:
        return now - int(m.group(1)) * _UNIT[m.group(2)]
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use 7d, 24h, 2026-01-31, an ISO time or Unix seconds"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")
