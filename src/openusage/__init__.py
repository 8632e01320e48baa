"""openusage: OpenAI's organization Usage & Costs API, as a client and as a self-hosted server.

The client's names load on first use (PEP 562): ``import openusage`` alone, as every ``openusage``
command does, leaves httpx, asyncio and the generated result classes unloaded.  Type checkers see
every name through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from .errors import (
    APIConnectionError,
    ApiError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)

if TYPE_CHECKING:
    from .client import Amount, ApiResponse, ArgumentError, AsyncUsageApi, Bucket, Page, Result, UsageApi
    from .client._generated import (
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

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "Amount",
    "ApiError",
    "ApiResponse",
    "ArgumentError",
    "AsyncUsageApi",
    "AudioSpeechesResult",
    "AudioTranscriptionsResult",
    "AuthenticationError",
    "BadRequestError",
    "Bucket",
    "CodeInterpreterSessionsResult",
    "CompletionsResult",
    "CostsResult",
    "DecisionsResult",
    "EmbeddingsResult",
    "FileSearchCallsResult",
    "ImagesResult",
    "InternalServerError",
    "MethodNotAllowedError",
    "ModerationsResult",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "Result",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "UsageApi",
    "VectorStoresResult",
    "WebSearchCallsResult",
    "__version__",
]

# Every exported name not defined above (the errors and __version__ are) comes from the client.
_LAZY = frozenset({*(n for n in __all__ if n not in globals()), "_generated", "client"})


if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any name of the module

    def __getattr__(name: str) -> object:
        """A client name (or ``client`` itself), imported from :mod:`openusage.client` when first asked for."""
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib  # not `from . import client`: that asks this function for `client` first

        client = importlib.import_module(f"{__name__}.client")
        value = client if name == "client" else getattr(client, name)
        globals()[name] = value  # later look-ups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        """The loaded names and the ones :func:`__getattr__` would load."""
        return sorted({*globals(), *_LAZY})
