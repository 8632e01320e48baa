"""Run by ``tests/test_upgrade.py`` under a given openusage (PYTHONPATH): fill a store, or answer queries.

Only APIs that exist in every released version are used, so the released code can write a store
that the current code then reads back.

    python upgrade_script.py endpoints - OUT.json
    python upgrade_script.py fill URL EVENTS.json
    python upgrade_script.py answer URL QUERIES.json OUT.json
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from openusage.ingest.events import validate_events
    from openusage.store import open_store
    from openusage.store.base import ApiKeyRecord

    mode, url, path = sys.argv[1:4]
    if mode == "endpoints":  # what this version accepts and serves: a newer one may have more
        from openusage.spec import ENDPOINTS, event_dimensions

        with open(path, "w") as f:
            json.dump({ep.name: {"type": ep.event_type, "dimensions": list(event_dimensions(ep.event_type)),
                                 "metrics": [m.name for m in ep.metrics if m.agg in ("sum", "gauge")],
                                 "group_by": list(ep.group_by), "widths": list(ep.bucket_widths)}
                       for ep in ENDPOINTS}, f)
        return
    store = open_store(url)
    try:
        if mode == "fill":
            events = json.loads(open(path).read())
            for i in range(0, len(events), 150):  # several inserts: several rollup rows per minute
                store.insert([validate_events(events[i:i + 150])])
            store.put_key(ApiKeyRecord("key1", "ci", "read", ["p1"], "salt", "hash", 1700000000))
            store.set_meta("org_name", "Acme")
            return
        from openusage.query.params import parse_params, resolve
        from openusage.query.render import render_parts
        from openusage.service import aggregate_for
        from openusage.spec import ENDPOINTS

        by_name = {ep.name: ep for ep in ENDPOINTS}
        out: dict[str, object] = {"count": store.count_events(), "keys": [k.public() for k in store.list_keys()],
                                  "org_name": store.get_meta("org_name"), "pages": []}
        for rollups in (True, False):
            store.rollups = rollups  # type: ignore[attr-defined]
            for name, items in json.loads(open(path).read()):
                q = resolve(parse_params(by_name[name], [tuple(i) for i in items]), 0)
                out["pages"].append(json.loads(b"".join(render_parts(q, store.aggregate(aggregate_for(q))))))  # type: ignore
        with open(sys.argv[4], "w") as f:
            json.dump(out, f)
    finally:
        store.close()


if __name__ == "__main__":
    main()
