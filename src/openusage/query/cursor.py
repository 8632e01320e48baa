"""Opaque page cursors bound to the query that produced them.

A cursor is ``page_`` followed by URL-safe base64 of a small JSON object: where the next page starts,
the resolved ``end_time`` (so that a query without ``end_time`` pages over a fixed range), and a
fingerprint of every other parameter.  A cursor presented with different parameters is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import orjson

from ..errors import invalid

PREFIX = "page_"
VERSION = 1


def fingerprint(parts: object) -> str:
    """A short stable hash of the canonical query parameters."""
    return hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=9).hexdigest()


def encode_cursor(next_start: int, end_time: int, fp: str) -> str:
    raw = orjson.dumps({"v": VERSION, "n": next_start, "e": end_time, "q": fp})
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(page: str, fp: str) -> tuple[int, int]:
    """(next_start, end_time) of a cursor, or a 400 naming ``page``."""
    bad = invalid("page", "Invalid page cursor: use the `next_page` value of a previous response.")
    if not page.startswith(PREFIX):
        raise bad
    body = page[len(PREFIX):]
    try:
        data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise bad from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise bad
    n, e, q = data.get("n"), data.get("e"), data.get("q")
    if not (isinstance(n, int) and isinstance(e, int) and isinstance(q, str)) or isinstance(n, bool):
        raise bad
    if q != fp:
        raise invalid("page", "This page cursor belongs to a query with different parameters; "
                              "repeat the original parameters with `page`, or drop `page`.")
    return n, e
