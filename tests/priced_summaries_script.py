"""Run by ``tests/test_summaries_priced.py`` under a given openusage (PYTHONPATH): fill a store in
stages, or answer costs and usage pages.

    python priced_summaries_script.py fill URL EVENTS.json
    python priced_summaries_script.py answer URL QUERIES.json OUT.json

``EVENTS.json`` holds ``{"stages": [[event, ...], ...], "compact_after": [i, ...], "prune": seconds}``:
the stages are inserted in order, the store compacted after the stages listed, and the raw events before
``prune`` (when given) dropped last.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    from openusage.ingest.events import validate_events
    from openusage.service import UsageService
    from openusage.spec import ENDPOINTS_BY_NAME
    from openusage.store import open_store

    mode, url, path = sys.argv[1:4]
    store: Any = open_store(url)
    try:
        if mode == "fill":
            plan = json.loads(open(path).read())
            for i, stage in enumerate(plan["stages"]):
                for off in range(0, len(stage), 5000):
                    store.insert([validate_events(stage[off:off + 5000])])
                if i in plan["compact_after"] and hasattr(store, "compact"):
                    store.compact()
            if plan.get("prune"):
                store.prune(plan["prune"])
            return
        svc = UsageService(store)
        pages = []
        for name, items in json.loads(open(path).read()):
            body = json.loads(svc.query(ENDPOINTS_BY_NAME[name], [tuple(i) for i in items], now=1_800_000_000))
            body.pop("next_page", None)  # a signed cursor: its text may differ, the pages it leads to do not
            pages.append(body)
        with open(sys.argv[4], "w") as f:
            json.dump(pages, f, sort_keys=True)
    finally:
        store.close()


if __name__ == "__main__":
    main()
