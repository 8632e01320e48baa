"""Parse a 1,440-bucket page of 1m completions grouped by model, project and user: openusage's client
against the official ``openai`` SDK parsing the same bytes, measured in one run.

    python bench/bench_client_parse.py            # 1,440 buckets x 20 groups = 28,800 results
    python bench/bench_client_parse.py --quick    # 240 buckets

The SDK is measured on the path its client takes by default (``construct_type``: no validation) and
on pydantic's validating paths (``model_validate_json`` / ``model_validate``); the ratio printed is
against the fastest of them.  Each figure is the best of several runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import orjson
from openai._models import construct_type
from openai.types.admin.organization import UsageCompletionsResponse

from openusage.client import loads_page
from openusage.spec import ENDPOINTS_BY_NAME

EP = ENDPOINTS_BY_NAME["completions"]
MODELS = ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "gpt-5-2025-08-07")
PROJECTS = ("proj_support", "proj_search", "proj_analytics", "proj_internal", "proj_batch")
USERS = ("user_ana", "user_ben", "user_chen")


def make_page(buckets: int, groups: int, seed: int = 3) -> bytes:
    """A page as the API writes it: every result with the fuller current fields."""
    rng = random.Random(seed)
    combos = [(m, p, u) for m in MODELS for p in PROJECTS for u in USERS][:groups]
    start = 1_767_225_600
    data = []
    for i in range(buckets):
        results = []
        for model, project, user in combos:
            n = rng.randint(1, 40)
            inp, cached = n * rng.randint(200, 2000), n * rng.randint(0, 150)
            results.append({
                "object": EP.result_object, "input_tokens": inp, "output_tokens": n * rng.randint(50, 700),
                "input_cached_tokens": cached, "input_audio_tokens": 0, "output_audio_tokens": 0,
                "num_model_requests": n, "project_id": project, "user_id": user, "api_key_id": None,
                "model": model, "batch": None, "service_tier": None, "api_source": None,
                "input_text_tokens": inp - cached, "input_image_tokens": 0, "input_uncached_tokens": inp - cached,
                "input_cached_text_tokens": cached, "input_cached_audio_tokens": 0, "input_cached_image_tokens": 0,
                "input_cache_write_tokens": 0, "input_cache_write_30m_tokens": 0, "input_cache_write_12h_tokens": 0,
                "output_text_tokens": n * 10, "output_image_tokens": 0,
            })
        data.append({"object": "bucket", "start_time": start + 60 * i, "end_time": start + 60 * (i + 1),
                     "results": results})
    return orjson.dumps({"object": "page", "data": data, "has_more": True, "next_page": "page_abc"})


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="240 buckets, fewer runs")
    ap.add_argument("--buckets", type=int, default=1440)
    ap.add_argument("--groups", type=int, default=20, help="results per bucket (model x project x user)")
    args = ap.parse_args()
    buckets = 240 if args.quick else args.buckets
    repeat = 3 if args.quick else 5
    body = make_page(buckets, args.groups)
    n = buckets * args.groups

    ours = loads_page(body, EP)  # the same answer both ways, checked once
    theirs = construct_type(type_=UsageCompletionsResponse, value=json.loads(body))
    assert ours.data[-1].results[-1].input_tokens == theirs.data[-1].results[-1].input_tokens
    assert sum(1 for _ in ours.results()) == n

    cases: dict[str, Callable[[], Any]] = {
        "openusage loads_page": lambda: loads_page(body, EP),
        "openai SDK construct_type (its client's path)":
            lambda: construct_type(type_=UsageCompletionsResponse, value=json.loads(body)),
        "openai SDK model_validate_json": lambda: UsageCompletionsResponse.model_validate_json(body),
        "openai SDK model_validate(json.loads)": lambda: UsageCompletionsResponse.model_validate(json.loads(body)),
    }
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"page: {buckets:,} buckets x {args.groups} results = {n:,} results, {len(body) / 1e6:.1f} MB; "
          f"{os.cpu_count()} cores, load {load}; best of {repeat}")
    timings = {name: best(fn, repeat) for name, fn in cases.items()}
    ours_t = timings["openusage loads_page"]
    sdk_best = min(t for name, t in timings.items() if name.startswith("openai"))
    for name, t in timings.items():
        print(f"  {name:<46} {t * 1000:9.1f} ms  {t / n * 1e6:7.2f} us/result  {t / ours_t:5.2f}x openusage")
    print(f"openusage / fastest SDK path = {ours_t / sdk_best:.2f} (target: <= 2.00; below 1 means faster)")
    df_t = best(lambda: ours.to_pandas(), max(1, repeat // 2))
    print(f"  (to_pandas of the parsed page: {df_t * 1000:.1f} ms, {df_t / n * 1e6:.2f} us/row)")


if __name__ == "__main__":
    main()
