"""Times as people type them on the command line.

``7d``, ``7days``, ``36h``, ``90m``, ``2w`` (that long before now), ``2026-11-01`` and
``2026-11-01T12:00:00Z`` (UTC unless a zone is given), ``yesterday`` and ``today`` (midnight UTC),
``now``, or Unix seconds.  Anything else is one :class:`TimeFormatError` listing these forms.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

FORMS = "7d, 36h, 90m, 2w (or 7days, 36 hours), 2026-11-01, 2026-11-01T12:00:00Z, yesterday, today, now, Unix seconds"

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
}
_REL = re.compile(r"^([0-9]{1,9})\s*([a-z]+)(?:\s+ago)?$")
_MAX_TS = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can write


class TimeFormatError(ValueError):
    """A time the parser cannot read; the message lists the accepted forms."""


def parse_time(text: str, now: int | None = None) -> int:
    """Unix seconds for a time typed on the command line (see the module's docstring)."""
    raw = text
    text = text.strip().lower()
    now = int(time.time()) if now is None else now
    midnight = now - now % 86400
    named = {"now": now, "today": midnight, "yesterday": midnight - 86400}
    if text in named:
        return named[text]
    m = _REL.match(text)
    if m and m.group(2) in _UNITS:
        ts = now - int(m.group(1)) * _UNITS[m.group(2)]
    elif text.isascii() and text.isdigit():
        ts = int(text)
    else:
        ts = _absolute(raw, text)
    if not 0 <= ts <= _MAX_TS:
        raise TimeFormatError(f"{raw!r} is out of range (1970 to 9999)")
    return ts


def _absolute(raw: str, text: str) -> int:
    """A date or an ISO 8601 time, UTC unless it names a zone."""
    try:
        dt = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise TimeFormatError(f"cannot read {raw!r} as a time; use {FORMS}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older releases cannot subscript it at run time
    _IntParamType = click.ParamType[int, object]
else:
    _IntParamType = click.ParamType


class TimeParam(_IntParamType):
    """A click option type: Unix seconds from any form :func:`parse_time` reads, else exit 2."""

    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_time(str(value))
        except TimeFormatError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")
