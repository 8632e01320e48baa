"""The web dashboard served at ``/``: a static page that charts the server's own public API.

The page is built from ``frontend/`` (``scripts/build_dashboard.sh``) and its bundle is kept in
``static/`` inside the package, so an installed server serves it with no npm and no network.
"""

from .routes import SECURITY_HEADERS, dashboard_routes

__all__ = ["SECURITY_HEADERS", "dashboard_routes"]
