"""An imported cost line stands for the computed line of the same name, day and project: usage mirrored
beside it is not priced twice, while imported lines of other names add to the priced usage."""

from __future__ import annotations

from decimal import Decimal

import orjson

from openusage.ingest.events import validate_events
from openusage.service import UsageService
from openusage.spec import ENDPOINTS_BY_NAME
from openusage.store import Store

DAY = 86400
T0 = 1767225600  # 2026-01-01, inside the catalog's prices


def _totals(store: Store, group_by: tuple[str, ...] = ()) -> dict[tuple, Decimal]:
    items = [("start_time", str(T0)), ("end_time", str(T0 + 2 * DAY))] + [("group_by", g) for g in group_by]
    page = orjson.loads(UsageService(store).query(ENDPOINTS_BY_NAME["costs"], items))
    out: dict[tuple, Decimal] = {}
    for b in page["data"]:
        for r in b["results"]:
            key = (b["start_time"], *(r[g] for g in group_by))
            out[key] = out.get(key, Decimal(0)) + Decimal(str(r["amount"]["value"]))
    return out


def test_imported_lines_replace_computed_lines_of_the_same_name(store: Store) -> None:
    usage = [
        {"id": f"u{p}{d}", "type": "completions", "timestamp": T0 + d * DAY + 60, "project_id": p,
         "model": "gpt-4o-2024-08-06", "input_tokens": 1_000_000, "output_tokens": 0}
        for p in ("proj_openai", "proj_local") for d in (0, 1)
    ]
    store.insert([validate_events(usage)])
    priced = _totals(store, ("project_id",))
    per_day = priced[(T0, "proj_openai")]
    assert per_day > 0 and priced[(T0, "proj_local")] == per_day

    # OpenAI's own bill for proj_openai on day 0, as `openusage sync` mirrors it.
    store.insert([validate_events([
        {"id": "c0", "type": "costs", "timestamp": T0, "project_id": "proj_openai",
         "line_item": "gpt-4o-2024-08-06, input", "amount": "2.40"},
        {"id": "c1", "type": "costs", "timestamp": T0, "project_id": "proj_local",
         "line_item": "support plan", "amount": "10"},
    ])])
    after = _totals(store, ("project_id",))
    assert after[(T0, "proj_openai")] == Decimal("2.40")  # the imported line, not 2.40 + the priced usage
    assert after[(T0 + DAY, "proj_openai")] == per_day  # day 1 has no imported line: priced
    assert after[(T0, "proj_local")] == per_day + 10  # priced usage plus an imported line of another name
    ungrouped = _totals(store)
    assert ungrouped[(T0,)] == Decimal("2.40") + per_day + 10
    assert ungrouped[(T0 + DAY,)] == 2 * per_day
