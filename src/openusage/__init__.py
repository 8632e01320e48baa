"""openusage: OpenAI's organization Usage & Costs API, as a client and as a self-hosted server."""

from __future__ import annotations

__version__ = "0.1.0"

from .client import Amount, ApiResponse, ArgumentError, AsyncUsageApi, Bucket, Page, Result, UsageApi, _generated
from .client._generated import *  # noqa: F403  (the result classes, listed once: in _generated.__all__)
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

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "Amount",
    "ApiError",
    "ApiResponse",
    "ArgumentError",
    "AsyncUsageApi",
    "AuthenticationError",
    "BadRequestError",
    "Bucket",
    "InternalServerError",
    "MethodNotAllowedError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "Result",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "UsageApi",
    "__version__",
]
__all__ += _generated.__all__
