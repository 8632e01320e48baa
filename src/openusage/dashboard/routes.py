"""Starlette routes for the dashboard: ``/`` (the page) and ``/dashboard/<asset>``.

Assets carry a content hash in their names, so they are cached for a year; the page itself is
revalidated on every load (ETag) and carries the endpoint table, derived from
:mod:`openusage.spec` when the server starts, so the page needs no extra request to learn it.
Every answer carries a strict Content-Security-Policy: scripts and styles from this origin only,
requests to this origin only, no framing.  The page's one inline script (``#openusage-boot``, which
sends the first view's requests while the app's script is still on its way) is allowed by its
SHA-256 alone, computed from the page when the server starts.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import NotFoundError
from ..server.compress import accepts_gzip
from ..spec import ENDPOINTS

STATIC = Path(__file__).parent / "static"
SPEC_MARK = "<!--openusage:spec-->"
BOOT = re.compile(r'<script id="openusage-boot">(.*?)</script>', re.DOTALL)

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
         ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    """A file held in memory, with its gzip form when that is smaller, and its CSP."""

    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str
    cache_control: str
    csp: str = CSP


def _asset(body: bytes, name: str, cache_control: str, csp: str = CSP) -> Asset:
    media = TYPES.get(Path(name).suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    packed = gzip.compress(body, 6, mtime=0) if len(body) > 1024 else None
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, packed if packed and len(packed) < len(body) else None, media, etag, cache_control, csp)


def page_csp(html: str) -> str:
    """The page's CSP: :data:`CSP` with the inline boot script allowed by its hash (the page has one)."""
    found = BOOT.findall(html)
    if len(found) != 1:
        raise RuntimeError(f"the dashboard's page must hold one boot script, not {len(found)}: rebuild it")
    digest = base64.b64encode(hashlib.sha256(found[0].encode()).digest()).decode()
    return CSP.replace("script-src 'self'", f"script-src 'self' 'sha256-{digest}'")


def spec_document() -> dict[str, object]:
    """What the page needs of the endpoint table: paths, filters, groupings, metrics, page limits."""
    return {
        "endpoints": [
            {
                "name": ep.name,
                "path": ep.full_path,
                "filters": [{"param": f.param, "dimension": f.dimension, "kind": f.kind} for f in ep.filters],
                "group_by": list(ep.group_by),
                "metrics": [{"name": m.name, "agg": m.agg} for m in ep.metrics],
                "limits": {w: list(v) for w, v in ep.limits.items()},
            }
            for ep in ENDPOINTS
        ]
    }


@cache
def assets() -> dict[str, Asset]:
    """Every static file by name, and the page (``""``) with the endpoint table inserted; read once."""
    if not (STATIC / "index.html").is_file():
        raise RuntimeError(f"the dashboard is not built: {STATIC} has no index.html (run scripts/build_dashboard.sh)")
    out = {p.name: _asset(p.read_bytes(), p.name, IMMUTABLE) for p in STATIC.iterdir()
           if p.is_file() and p.name != "index.html" and p.suffix in TYPES}
    # Inside <script type="application/json"> a "</" could close the element early: escape it.
    data = json.dumps(spec_document(), separators=(",", ":")).replace("</", "<\\/")
    html = (STATIC / "index.html").read_text("utf-8").replace(
        SPEC_MARK, f'<script type="application/json" id="openusage-spec">{data}</script>')
    out[""] = _asset(html.encode(), "index.html", REVALIDATE, page_csp(html))
    return out


def _serve(request: Request, asset: Asset) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": asset.csp, "Cache-Control": asset.cache_control,
               "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding", "")):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=asset.media_type)
    return Response(body, headers=headers, media_type=asset.media_type)


async def index(request: Request) -> Response:
    return _serve(request, assets()[""])


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    found = assets().get(name) if name else None
    if found is None:
        raise NotFoundError(f"Invalid URL ({request.method} {request.url.path})")
    return _serve(request, found)


def dashboard_routes() -> list[Route]:
    """The dashboard's routes, for :class:`openusage.server.app.ServerSettings` or ``create_app``."""
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/dashboard/{name}", asset, methods=["GET", "HEAD"]),
    ]
