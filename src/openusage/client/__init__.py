"""The Python client of the Usage & Costs API: :class:`UsageApi` and :class:`AsyncUsageApi`.

One method per endpoint of :data:`openusage.spec.ENDPOINTS` (``usage_completions``,
``usage_costs`` ...), each with a ``..._with_http_info`` twin and an ``iter_...`` form; they work
unchanged against ``https://api.openai.com/v1`` and against an openusage server.
"""

from __future__ import annotations

from ._async import AsyncUsageApi
from ._base import ArgumentError
from ._sync import UsageApi
from .types import (
    Amount,
    ApiResponse,
    AudioSpeechesResult,
    AudioTranscriptionsResult,
    Bucket,
    CodeInterpreterSessionsResult,
    CompletionsResult,
    CostsResult,
    DecisionsResult,
    EmbeddingsResult,
    FileSearchCallsResult,
    ImagesResult,
    ModerationsResult,
    Page,
    Result,
    VectorStoresResult,
    WebSearchCallsResult,
    loads_page,
    parse_page,
)

__all__ = [
    "Amount",
    "ApiResponse",
    "ArgumentError",
    "AsyncUsageApi",
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
    "UsageApi",
    "VectorStoresResult",
    "WebSearchCallsResult",
    "loads_page",
    "parse_page",
]
