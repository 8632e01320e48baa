"""The SSE splitter's shortcut for streams without ``\\r`` gives exactly what the general scan gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openusage.proxy.sse import _SEPARATORS, _split


def _scan(buf: bytes) -> tuple[list[bytes], bytes]:
    """The general scan: the earliest of the three separators, again and again."""
    events: list[bytes] = []
    start = 0
    while True:
        found = [(i, len(sep)) for sep in _SEPARATORS if (i := buf.find(sep, start)) != -1]
        if not found:
            return events, buf[start:]
        i, n = min(found)
        events.append(buf[start:i + n])
        start = i + n


@given(st.lists(st.sampled_from([b"a", b"data: x", b"\n", b"\r", b"\r\n", b"\n\n", b":"]), max_size=40))
def test_split_equals_the_general_scan(parts: list[bytes]) -> None:
    buf = b"".join(parts)
    assert _split(buf) == _scan(buf)


def test_split_without_carriage_returns() -> None:
    assert _split(b"data: 1\n\n\n\ndata: 2\n\ndata: 3") == ([b"data: 1\n\n", b"\n\n", b"data: 2\n\n"], b"data: 3")
    assert _split(b"") == ([], b"")
