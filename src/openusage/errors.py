"""Errors of the Usage API, shared by the server (which raises them) and the client (which
receives them).

Every error travels as OpenAI's envelope::

    {"error": {"message": str, "type": str, "param": str | None, "code": str | None}}

The tree::

    ApiError                          any failed call
    ├── APIConnectionError            no answer at all (connection refused, timeout)
    └── APIStatusError                an answer with an error status
        ├── BadRequestError           400
        ├── AuthenticationError       401
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── MethodNotAllowedError     405
        ├── RequestTooLargeError      413
        ├── UnprocessableEntityError  422
        ├── RateLimitError            429 (carries ``retry_after``)
        └── InternalServerError       500 and any other 5xx without a class of its own
            └── ServiceUnavailableError   503

The 4xx classes have ``type`` ``invalid_request_error``, except RateLimitError (``rate_limit_error``);
the 5xx ones ``server_error``; APIConnectionError ``connection_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """Base of every error this package raises for a failed API call."""

    status: int | None = None
    type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if type is not None:
            self.type = type
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body

    def to_envelope(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r}, param={self.param!r})"


class APIConnectionError(ApiError):
    """The server could not be reached or did not answer in time."""

    type = "connection_error"


STATUS_ERRORS: dict[int, type[APIStatusError]] = {}
"""The error class of each HTTP status that has one: every subclass that declares its own ``status``."""


class APIStatusError(ApiError):
    """The server answered with an error status."""

    status = 500

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register a class declaring its own ``status``; a class that inherits no ``type`` of its own
        gets OpenAI's: ``server_error`` for a 5xx, ``invalid_request_error`` for a 4xx."""
        super().__init_subclass__(**kwargs)
        if cls.type == ApiError.type:
            cls.type = "server_error" if cls.status >= 500 else "invalid_request_error"
        if "status" in vars(cls):
            STATUS_ERRORS.setdefault(cls.status, cls)

    @property
    def status_code(self) -> int | None:
        return self.status

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


class BadRequestError(APIStatusError):
    status = 400


class AuthenticationError(APIStatusError):
    status = 401


class PermissionDeniedError(APIStatusError):
    status = 403


class NotFoundError(APIStatusError):
    status = 404


class MethodNotAllowedError(APIStatusError):
    status = 405


class RequestTooLargeError(APIStatusError):
    status = 413


class UnprocessableEntityError(APIStatusError):
    status = 422


class RateLimitError(APIStatusError):
    status = 429
    type = "rate_limit_error"

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class InternalServerError(APIStatusError):
    status = 500


class ServiceUnavailableError(InternalServerError):
    status = 503


def error_for_status(status: int) -> type[APIStatusError]:
    """The error class for an HTTP status (5xx without its own class map to InternalServerError)."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return InternalServerError if status >= 500 else APIStatusError


def invalid(param: str | None, message: str) -> BadRequestError:
    """A 400 naming the offending parameter."""
    return BadRequestError(message, param=param)
