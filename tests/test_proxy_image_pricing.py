"""The metering proxy records an image's quality and a gpt-image model's tokens, and costs price them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import openai
import pytest

from openusage.proxy.metering import answer_fields
from openusage.store import open_store
from tests.fake_upstream import ProxyRig, start_proxy_rig


def test_answer_fields_of_images() -> None:
    answer = {"data": [{}], "size": "1024x1024", "quality": "high",
              "usage": {"input_tokens": 50, "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
                        "output_tokens": 4160, "total_tokens": 4210}}
    assert answer_fields("/images/generations", {"quality": "low"}, answer) == {
        "images": 1, "size": "1024x1024", "source": "image.generation", "quality": "high",
        "input_tokens": 50, "input_image_tokens": 10, "output_tokens": 4160}
    # the request's quality when the answer has none; a quality the Usage API does not know is left out
    assert answer_fields("/images/generations", {"quality": "hd"}, {"data": [{}]})["quality"] == "hd"
    assert "quality" not in answer_fields("/images/generations", {"quality": "premium"}, {"data": [{}]})
    # details never above their total
    tokens = answer_fields("/images/edits", {}, {"usage": {"input_tokens": 5, "input_tokens_details":
                                                           {"image_tokens": 9}}})
    assert (tokens["input_tokens"], tokens["input_image_tokens"], tokens["output_tokens"]) == (5, 5, 0)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyRig]:
    store = open_store(str(tmp_path_factory.mktemp("proxy-images") / "usage.duckdb"))
    r = start_proxy_rig(store)
    yield r
    r.stop()
    store.close()


def test_proxied_images_are_priced_by_quality_and_tokens(rig: ProxyRig) -> None:
    u = f"user-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=rig.base_url, api_key=rig.key, max_retries=0)
    client.images.generate(model="dall-e-3", prompt="a cat", size="1024x1024", quality="hd", user=u)
    client.images.generate(model="gpt-image-1", prompt="a cat", size="1024x1024", quality="high", user=u)
    now = int(time.time())
    day = now - now % 86400
    params = {"start_time": day, "end_time": day + 86400, "group_by": "line_item"}
    deadline = time.monotonic() + 10
    lines: dict[str, Decimal] = {}
    with rig.server.client() as c:
        while time.monotonic() < deadline:  # the proxy records in the background
            r = c.get("/v1/organization/costs", params=params)
            assert r.status_code == 200, r.text
            lines = {x["line_item"]: Decimal(str(x["amount"]["value"])) for b in r.json()["data"] for x in b["results"]}
            if len(lines) >= 4:
                break
            time.sleep(0.05)
    assert lines == {
        "dall-e-3, images 1024x1024 (hd)": Decimal("0.08"),
        "gpt-image-1, images 1024x1024 (high)": Decimal("0.167"),
        "gpt-image-1, input": Decimal("0.0002"),  # 40 text tokens at $5 / 1M
        "gpt-image-1, image input": Decimal("0.0001"),  # 10 image tokens at $10 / 1M
    }
