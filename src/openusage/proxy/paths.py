"""Which request paths may be forwarded: canonical ones that stay below the upstream's base path.

A proxy that forwards ``/v1/../admin`` (or ``/v1/%2e%2e/admin``, ``/v1/..%2fadmin``) lets a client
reach any path of the upstream's host with the upstream's key, because the URL layer, or the
upstream itself, resolves the dots.  So the path a client sent, exactly as it came on the wire, must
be canonical: only ``/``-separated segments of printable ASCII, none of them empty or made of dots
and spaces only (``..``, ``..;x``, ``..%20``), and no percent-encoding of what needs none (letters,
digits, ``-._~``) nor of ``/``, ``\\``, ``%`` or control characters.  Decoding such a path once gives
the same segments as the raw path, and decoding it again changes nothing, so no layer can find a way
out in it.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote_to_bytes

from ..errors import ApiError, invalid

_ALLOWED = re.compile(rb"^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$")
"""Printable ASCII a path may hold (RFC 3986 ``pchar`` and ``/``): no backslash, space or control."""
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_MUST_STAY_ENCODED = frozenset(b"!$&'()*+,;=:@ \"<>[]^`{|}#?")
"""Bytes whose percent-encoding is meaningful; anything else encoded is either pointless (``%41``) or
an attempt to hide a separator, a dot, a backslash, a NUL, a second round of decoding (``%25``) or a
non-ASCII look-alike (``%c0%ae``, an overlong dot; OpenAI's paths are ASCII)."""


def _refuse(path: bytes, why: str) -> ApiError:
    shown = path.decode("ascii", "backslashreplace")[:200]
    return invalid(None, f"The request path {shown!r} is not allowed ({why}); send a canonical path below /v1.")


@functools.lru_cache(maxsize=256)  # a few paths take nearly every request; a refused one is never kept
def check_path(raw: bytes) -> str:
    """The decoded path below ``/v1`` for a raw request target below ``/v1/``; a 400 if not canonical."""
    if not _ALLOWED.match(raw):
        raise _refuse(raw, "only printable ASCII is allowed, without backslashes")
    for m in _ESCAPE.finditer(raw):
        if int(m.group(1), 16) not in _MUST_STAY_ENCODED:
            raise _refuse(raw, f"%{m.group(1).decode()} may not be percent-encoded here")
    if re.search(rb"%(?![0-9A-Fa-f]{2})", raw):
        raise _refuse(raw, "a stray %")
    below = raw[3:]  # after /v1
    segments = below.split(b"/")[1:]
    for i, seg in enumerate(segments):
        if not seg and i != len(segments) - 1:
            raise _refuse(raw, "empty segment")
        name = unquote_to_bytes(seg.split(b";", 1)[0])
        if name and not name.strip(b" ."):  # "..", but also "...", ".. " (some servers trim those)
            raise _refuse(raw, "dot segment")
    return unquote_to_bytes(below).decode("ascii")
