"""Typed results of the Usage & Costs API: :class:`Page`, :class:`Bucket`, one result class per
endpoint (generated from :data:`openusage.spec.ENDPOINTS` into ``_generated.py``), and
:class:`ApiResponse`.

Every object is a thin, slotted view over the JSON it was parsed from, so fields a newer API sends
are kept and ``to_dict()`` returns exactly the JSON received.  Results are discriminated on
``object``; one whose ``object`` this version does not know becomes a plain :class:`Result`.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..spec import ENDPOINTS, Endpoint
from ._generated import (
    RESULT_CLASSES,
    AudioSpeechesResult,
    AudioTranscriptionsResult,
    CodeInterpreterSessionsResult,
    CompletionsResult,
    CostsResult,
    DecisionsResult,
    EmbeddingsResult,
    FileSearchCallsResult,
    ImagesResult,
    ModerationsResult,
    VectorStoresResult,
    WebSearchCallsResult,
)
from ._views import Amount, ApiResponse, Bucket, Page, Result, concat_pages

if set(RESULT_CLASSES) != {ep.name for ep in ENDPOINTS}:  # pragma: no cover (a test checks the file)
    raise ImportError("the generated client is out of date: run `python src/openusage/client/_gen.py`")
RESULT_BY_OBJECT: dict[str, type[Result]] = {ep.result_object: RESULT_CLASSES[ep.name] for ep in ENDPOINTS}


def parse_page(raw: dict[str, Any], endpoint: Endpoint | None = None) -> Page[Any]:
    """Wrap a decoded page: one :class:`Bucket` per bucket, one typed result per result."""
    get = RESULT_BY_OBJECT.get
    default = RESULT_CLASSES[endpoint.name] if endpoint is not None else Result
    buckets = []
    for b in raw.get("data") or ():
        results = []
        for r in b.get("results") or ():
            obj = r.get("object")
            results.append((get(obj) or (default if obj is None else Result))(r))
        buckets.append(Bucket(b, results))
    return Page(raw, buckets, endpoint)


def loads_page(body: bytes | str, endpoint: Endpoint | None = None) -> Page[Any]:
    """Parse a page from the JSON text of an answer."""
    return parse_page(orjson.loads(body), endpoint)


__all__ = [
    "Amount",
    "ApiResponse",
    "AudioSpeechesResult",
    "AudioTranscriptionsResult",
    "Bucket",
    "CodeInterpreterSessionsResult",
    "CompletionsResult",
    "CostsResult",
    "DecisionsResult",
    "EmbeddingsResult",
    "FileSearchCallsResult",
    "ImagesResult",
    "ModerationsResult",
    "Page",
    "Result",
    "VectorStoresResult",
    "WebSearchCallsResult",
    "concat_pages",
    "loads_page",
    "parse_page",
]
