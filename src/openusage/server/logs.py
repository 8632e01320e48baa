"""Logging setup: one JSON object per line (for log shippers) or plain text.

The access log (logger ``openusage.access``) writes one line per request with the fields the
request middleware attaches (``request_id``, ``method``, ``path``, ``status``, ...).  Nothing here
ever sees an API key: the middleware passes only the key's public id.

Logged values come from clients (a path may hold ``%0d%0a``), so control characters are escaped in
both formats: one record is always one line, and no client can forge another.  Passwords inside
URLs (``scheme://user:secret@host``) are replaced by ``***``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from types import TracebackType
from typing import Any

import orjson

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

ACCESS_LOGGER = "openusage.access"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)[^\s/@]*@")


def clean(text: str) -> str:
    """``text`` fit for one log line: control characters escaped, URL passwords hidden."""
    text = _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)
    return _URL_PASSWORD.sub(r"\1***@", text) if "://" in text else text


def _clean_value(value: Any) -> Any:
    return clean(value) if isinstance(value, str) else value


# uvicorn adds "color_message", the message again with ANSI colours: noise in a JSON line
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": clean(record.getMessage()),
        }
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k] = _clean_value(v)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = clean(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: ExcInfo) -> str:
        """A traceback keeps its lines, each indented: none can pass for a record of its own."""
        return "\n".join("    " + clean(line) for line in super().formatException(ei).splitlines())


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    """Route openusage's and uvicorn's loggers to stderr in ``fmt`` (``json`` or ``text``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # uvicorn's own access line would repeat ours (and carries the query string): keep it quiet.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
