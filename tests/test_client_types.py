"""The client's typed results keep their promises: a property declared ``int`` returns an int or
raises one clear :class:`ApiError` naming the field, and an answer that is not a page of buckets is
one clear error too, never an AttributeError or a wrong value passed on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from openusage import ApiError, UsageApi
from openusage.client import Result, loads_page
from openusage.client.types import CostsResult, EmbeddingsResult
from openusage.spec import ENDPOINTS_BY_NAME

from .test_client_retry import PAGE, ScriptedServer, Step

EMBEDDINGS = ENDPOINTS_BY_NAME["embeddings"]
COSTS = ENDPOINTS_BY_NAME["costs"]


def page_with(result: dict[str, Any]) -> dict[str, Any]:
    return {**PAGE, "data": [{**PAGE["data"][0], "results": [result]}]}


def embeddings(**fields: Any) -> EmbeddingsResult:
    base = {"object": "organization.usage.embeddings.result", "input_tokens": 16, "num_model_requests": 2}
    page = loads_page(orjson.dumps(page_with({**base, **fields})), EMBEDDINGS)
    result = page.data[0].results[0]
    assert isinstance(result, EmbeddingsResult)
    return result


def message(read: Callable[[], object]) -> str:
    with pytest.raises(ApiError) as caught:
        read()
    assert caught.value.status == 200
    return caught.value.message


def test_well_typed_values_are_returned_as_declared() -> None:
    r = embeddings(model="text-embedding-3-small", project_id=None)
    assert (r.input_tokens, r.num_model_requests, r.model, r.project_id, r.user_id) == \
        (16, 2, "text-embedding-3-small", None, None)


def test_a_value_of_another_type_is_one_error_naming_the_field() -> None:
    r = embeddings(input_tokens="16", model=7, num_model_requests=True)
    assert message(lambda: r.input_tokens) == "The answer's EmbeddingsResult has input_tokens = '16', not an integer."
    assert message(lambda: r.model) == "The answer's EmbeddingsResult has model = 7, not a string or null."
    assert message(lambda: r.num_model_requests) == \
        "The answer's EmbeddingsResult has num_model_requests = True, not an integer."
    assert r.to_dict()["input_tokens"] == "16"  # the JSON is still exactly as received


def test_a_required_metric_left_out_is_one_error() -> None:
    r = loads_page(orjson.dumps(page_with({"object": "organization.usage.embeddings.result", "input_tokens": 3})),
                   EMBEDDINGS).data[0].results[0]
    assert isinstance(r, EmbeddingsResult)
    assert message(lambda: r.num_model_requests) == \
        "The answer's EmbeddingsResult has num_model_requests = absent, not an integer."


def test_json_integers_are_floats_where_a_float_is_declared() -> None:
    raw = {"object": "organization.costs.result", "amount": {"value": 0, "currency": "usd"}, "quantity": 3,
           "line_item": None, "project_id": None}
    r = loads_page(orjson.dumps(page_with(raw)), COSTS).data[0].results[0]
    assert isinstance(r, CostsResult) and r.amount is not None
    assert (r.quantity, type(r.quantity), r.amount.value, type(r.amount.value)) == (3.0, float, 0.0, float)
    assert r.amount.currency == "usd"


@pytest.mark.parametrize(("data", "why"), [
    ([1], "data[0] is not a bucket with a list of results"),
    ([{"start_time": 0, "end_time": 1, "results": {"a": 1}}], "data[0] is not a bucket with a list of results"),
    ([{"start_time": 0, "end_time": 1, "results": [None]}], "data[0].results[0] is not an object"),
    ({"a": 1}, "data is not a list"),
])
def test_an_answer_not_shaped_as_a_page_is_one_error(data: Any, why: str) -> None:
    assert message(lambda: loads_page(orjson.dumps({**PAGE, "data": data}), EMBEDDINGS)) == \
        f"The answer is not a page of buckets: {why}."


def test_a_result_whose_object_is_not_a_name_is_a_plain_result() -> None:
    page = loads_page(orjson.dumps(page_with({"object": ["x"], "input_tokens": 1})), EMBEDDINGS)
    assert type(page.data[0].results[0]) is Result


def test_the_client_reports_a_malformed_page_over_http() -> None:
    srv = ScriptedServer([Step(body={**PAGE, "data": [{"start_time": 0, "end_time": 1, "results": [None]}]})])
    try:
        with UsageApi(srv.url, "sk-x", max_retries=0) as api:
            assert message(lambda: api.usage_embeddings(1730419200)) == \
                "The answer is not a page of buckets: data[0].results[0] is not an object."
            srv.steps = [Step(body=page_with({"object": "organization.usage.embeddings.result", "input_tokens": 1.5,
                                              "num_model_requests": 1}))]
            result = api.usage_embeddings(1730419200).data[0].results[0]
            assert message(lambda: result.input_tokens) == \
                "The answer's EmbeddingsResult has input_tokens = 1.5, not an integer."
    finally:
        srv.close()
