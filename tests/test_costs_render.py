"""The columnar costs page renderer gives byte for byte the JSON of the plain reference (dicts + orjson)."""

from __future__ import annotations

import random
from decimal import Decimal

import orjson
import pytest

from openusage.pricing.costs import CostResult, Line, page_dict
from openusage.pricing.render import render_costs
from openusage.query.params import UsageQuery, parse_query
from openusage.spec import ENDPOINTS_BY_NAME

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86400
COSTS = ENDPOINTS_BY_NAME["costs"]
# stored text holds no control characters; quotes, backslashes and any other character may be in it
TRICKY = ["", "a", "gpt-4o, input", 'quo"te', "back\\slash", "é", "日本語", "emoji 🎉", "</script>",
          "\u2028\u2029", "x" * 300, "ab", "abc", "unlabeled"]
AMOUNTS = [Decimal(0), Decimal("0.1"), Decimal("1e-12"), Decimal("-0.000013"), Decimal("123456789.123456789"),
           Decimal("1e-7") / 3, Decimal(10) ** 20]


def _query(rng: random.Random, group_by: list[str]) -> UsageQuery:
    limit = rng.randint(1, 10)
    start = NOW - rng.randint(1, 3 * limit) * DAY - rng.randint(0, DAY - 1)
    items = [("start_time", str(start)), ("limit", str(limit))]
    if group_by:
        items.append(("group_by", ",".join(group_by)))
    return parse_query(COSTS, items, now=NOW)


def _result(rng: random.Random, q: UsageQuery, group_by: tuple[str, ...]) -> CostResult:
    result = CostResult(group_by)
    days = [(b.start // DAY) * DAY for b in q.buckets] + [q.buckets[0].start - DAY] if q.buckets else [0]
    for _ in range(rng.randint(0, 60)):
        key = (rng.choice(days), *(None if rng.random() < 0.2 else rng.choice(TRICKY) for _ in group_by))
        line = Line(amount=rng.choice(AMOUNTS) * rng.randint(-3, 1000))
        if "line_item" in group_by and rng.random() < 0.8:
            line.quantity = Decimal(rng.randint(0, 10**15)) / rng.choice([1, 3, 1000])
            line.has_quantity = True
            line.unit = rng.choice([None, "tokens", "images", "gibibyte_hours"])
        result.lines[key] = line
    return result


@pytest.mark.parametrize("seed", range(60))
def test_columnar_costs_page_equals_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    group_by = [g for g in COSTS.group_by if rng.random() < 0.5]
    q = _query(rng, group_by)
    result = _result(rng, q, tuple(q.params.group_by))
    assert render_costs(q, result.group_by, result.lines) == orjson.dumps(page_dict(q, result))


def test_a_group_value_not_text_is_left_to_the_reference() -> None:
    q = _query(random.Random(1), ["project_id"])
    result = CostResult(("project_id",), {(q.buckets[0].start // DAY * DAY, 7): Line(amount=Decimal(1))})
    assert render_costs(q, result.group_by, result.lines) is None
