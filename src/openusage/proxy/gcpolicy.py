"""The cyclic garbage collector's settings for a process that serves the proxy.

Why: timed under 32 connections, CPython's collector cost a proxied request 14-16 µs (of 150-170):
every 700 net container allocations it walks the youngest objects, and the in-flight requests' objects
it finds alive are promoted until they trigger full collections, each walking the ~95,000 objects the
server holds from its start (modules, classes, the app; about 35 ms each, 1-2 a second at 3,000-6,000
requests/s).  Two changes, once the server has started:

* :func:`gc.freeze` after one full collection: what the start left alive moves to the permanent
  generation, which collections no longer walk (what is garbage then is freed first; only an object
  alive at start that later becomes part of a reference cycle would be kept, once);
* the youngest generation collected every :data:`YOUNG_THRESHOLD` net allocations instead of 700,
  above what the requests in flight hold, so their objects are seldom caught alive and promoted.
  Reference cycles are still collected; a collection then walks at most about that many objects
  (a millisecond or two).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Net container allocations between collections of the youngest generation (CPython's default: 700)."""


def tune_for_serving() -> None:
    """Collect, freeze what the server's start left alive, and collect the youngest generation less often.

    Called once the server has started (:class:`openusage.proxy._ProxyFront`); only for a process that
    serves (``openusage serve``), never for one that embeds the app, whose objects it would freeze."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
