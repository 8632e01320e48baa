"""The HTTP server: routes generated from the endpoint table (see :mod:`openusage.server.app`)."""

from .app import create_app

__all__ = ["create_app"]
