"""Bucket arithmetic: UTC-aligned edges, clipped to the query range.

A bucket of width ``w`` seconds starts on a multiple of ``w``.  The first bucket of a query runs
from ``start_time`` to the next edge and the last from its edge to ``end_time``, as OpenAI answers a
``start_time`` that is not aligned.
"""

from __future__ import annotations

from typing import NamedTuple


class Bucket(NamedTuple):
    start: int
    end: int


def next_edge(t: int, width: int) -> int:
    """The first bucket edge strictly after ``t``."""
    return (t // width + 1) * width


def page_buckets(page_start: int, end_time: int, width: int, limit: int) -> list[Bucket]:
    """At most ``limit`` consecutive buckets from ``page_start``, never past ``end_time``."""
    out: list[Bucket] = []
    s = page_start
    while s < end_time and len(out) < limit:
        e = min(next_edge(s, width), end_time)
        out.append(Bucket(s, e))
        s = e
    return out
