"""What the optional parts of the server (prices, backup, OTLP, the metering proxy) may use of the
app core, as one typed interface.

:class:`openusage.server.app.OpenUsageApp` is the one implementation; the parts take an
:class:`AppCore` instead, so they depend on these members only and never import the app (which
imports them to list its routes).  Members are read-only: a part never replaces the store, the
writer or the settings of a running server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..auth import KeyRing, Principal
    from ..ingest.events import EventBatch
    from ..service import UsageService
    from ..store.base import Store
    from ..store.writer import Writer
    from .app import ServerSettings
    from .limits import Gate
    from .metrics import Metrics


class AppCore(Protocol):
    """The running server: its store and services, and the checks every route makes."""

    @property
    def store(self) -> Store:
        """The store every route reads and the writer commits to."""

    @property
    def settings(self) -> ServerSettings:
        """The settings the server was started with."""

    @property
    def keys(self) -> KeyRing:
        """The API keys (stored, from the environment, and the local one)."""

    @property
    def service(self) -> UsageService:
        """Usage and costs queries, as the ``/v1/organization/*`` routes answer them."""

    @property
    def metrics(self) -> Metrics:
        """The Prometheus counters of ``/metrics``."""

    @property
    def gate(self) -> Gate:
        """Authentication and rate limits, run once per request before any route."""

    @property
    def writer(self) -> Writer | None:
        """The group-commit writer while the server runs (None before start and after stop)."""

    def principal(self, request: Request, scope: str) -> Principal:
        """The caller, if its key has ``scope``; otherwise the 401/403 error to answer."""
        ...

    async def read_body(self, request: Request) -> bytes:
        """The request body, within the size limit (decompressed when gzip-compressed)."""
        ...

    async def write_batch(self, batch: EventBatch) -> int:
        """Commit ``batch`` durably; the number of events that were new (not duplicates)."""
        ...


__all__ = ["AppCore"]
