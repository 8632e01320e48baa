"""Opaque page cursors bound to the query that produced them, and signed by the server.

A cursor is ``page_``, URL-safe base64 of a small JSON object (where the next page starts, the
resolved ``end_time`` so that a query without ``end_time`` pages over a fixed range, and a
fingerprint of every other parameter), then the base64 of an HMAC-SHA256 of that object under the
store's cursor secret (its last :data:`SIG_CHARS` characters; the secret lives in store metadata,
see :mod:`openusage.service`).  A cursor the server did not make, or presented with different
parameters, is refused with a 400 naming ``page``: only the server picks where a page starts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import orjson

from ..errors import invalid

PREFIX = "page_"
VERSION = 2
SIG_BYTES = 16
SIG_CHARS = 22  # base64 of SIG_BYTES, unpadded


def fingerprint(parts: object) -> str:
    """A short stable hash of the canonical query parameters."""
    return hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=9).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _sign(key: bytes, raw: bytes) -> bytes:
    return hmac.digest(key, raw, "sha256")[:SIG_BYTES]


def encode_cursor(next_start: int, end_time: int, fp: str, key: bytes = b"") -> str:
    raw = orjson.dumps({"v": VERSION, "n": next_start, "e": end_time, "q": fp})
    return f"{PREFIX}{_b64(raw)}{_b64(_sign(key, raw))}"


def decode_cursor(page: str, fp: str, key: bytes = b"") -> tuple[int, int]:
    """(next_start, end_time) of a cursor, or a 400 naming ``page``."""
    bad = invalid("page", "Invalid page cursor: use the `next_page` value of a previous response.")
    if not page.startswith(PREFIX) or not len(PREFIX) + SIG_CHARS < len(page) <= 512:
        raise bad
    body, sig = page[len(PREFIX):-SIG_CHARS], page[-SIG_CHARS:]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    # compared as text: base64 has several spellings of the same bytes, only the server's is valid
    if not hmac.compare_digest(sig.encode("utf-8", "replace"), _b64(_sign(key, raw)).encode()):
        raise bad
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
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
