"""The costs renderer's runs of text fields (each made once per distinct combination of its values)
give the reference's bytes whether coded together or, too varied to code in 64 bits, field by field."""

from __future__ import annotations

import random

import orjson
import pytest

from openusage.pricing import render
from openusage.pricing.costs import page_dict
from openusage.pricing.render import render_costs
from openusage.spec import ENDPOINTS_BY_NAME
from tests.test_costs_render import _query, _result

COSTS = ENDPOINTS_BY_NAME["costs"]


@pytest.mark.parametrize("codes", [2**62, 1])
@pytest.mark.parametrize("seed", range(20))
def test_runs_coded_together_or_apart_render_the_reference(seed: int, codes: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RUN_CODES", codes)  # 1: every run of several fields too varied
    rng = random.Random(1000 + seed)
    group_by = ["line_item", "project_id", "api_key_id", *(g for g in COSTS.group_by if rng.random() < 0.5)]
    q = _query(rng, list(dict.fromkeys(group_by)))
    result = _result(rng, q, tuple(q.params.group_by))
    assert render_costs(q, result.group_by, result.lines) == orjson.dumps(page_dict(q, result))
