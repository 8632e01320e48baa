"""Where a request goes: upstream model servers, chosen by the model a request names.

``--upstream URL`` names the default upstream; ``--upstream 'llama-*=URL'`` sends the models matching
the glob there.  Globs are tried in the order given, the default last.  A URL is a base URL as the
OpenAI SDK takes it (``http://host:8000/v1``); one without a path gets ``/v1``.
"""

from __future__ import annotations

import base64
import fnmatch
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Upstream:
    base_url: str
    """Scheme, host, port and path prefix, without a trailing slash (``http://h:8000/v1``)."""
    pattern: str | None = None
    """A model glob (``llama-*``); None for the default upstream."""
    key: str | None = None
    """The upstream's own API key; it is sent upstream and never shown to clients."""

    @cached_property
    def authorization(self) -> bytes | None:
        """The ``Authorization`` header sent upstream: the upstream key, else credentials in the URL."""
        if self.key:
            return f"Bearer {self.key}".encode()
        parts = urlsplit(self.base_url)
        if parts.username is None and parts.password is None:
            return None
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        return b"Basic " + base64.b64encode(pair)

    @property
    def shown(self) -> str:
        """The base URL fit to print or log: credentials in it (``user:secret@``) replaced by ``***``."""
        return redact_url(self.base_url)

    def url_for(self, path: str) -> str:
        """The upstream URL for a client path below ``/v1`` (``/chat/completions``)."""
        return self.base_url + path

    def matches(self, model: str | None) -> bool:
        return self.pattern is None or (model is not None and fnmatch.fnmatchcase(model, self.pattern))


def parse_upstream(spec: str, key: str | None = None) -> Upstream:
    """``URL`` or ``MODEL_GLOB=URL``; raises ValueError with a message fit for the command line."""
    pattern: str | None = None
    url = spec.strip()
    if "=" in url and not url.split("=", 1)[0].startswith(("http://", "https://")):
        pattern, url = (p.strip() for p in url.split("=", 1))
        if not pattern:
            raise ValueError(f"empty model glob in upstream {redact_url(url)!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"upstream {redact_url(url)!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    if parts.query or parts.fragment:
        raise ValueError(f"upstream {redact_url(url)!r} must not carry a query or fragment")
    path = parts.path.rstrip("/") or "/v1"
    return Upstream(f"{parts.scheme}://{parts.netloc}{path}", pattern, key)


def redact_url(url: str) -> str:
    """``http://user:secret@host/v1?key=x`` as ``http://***@host/v1?***``: a user name may be a token,
    and so may a query (which no upstream URL may have)."""
    parts = urlsplit(url)
    netloc = "***@" + parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "",
                       "***" if parts.fragment else ""))


class Router:
    """Picks the upstream for a model: the first matching glob, else the default."""

    def __init__(self, upstreams: list[Upstream]) -> None:
        if not upstreams:
            raise ValueError("at least one upstream is needed")
        defaults = [u for u in upstreams if u.pattern is None]
        if len(defaults) > 1:
            raise ValueError("only one upstream may be the default (without MODEL_GLOB=)")
        self.routed = [u for u in upstreams if u.pattern is not None]
        self.default = defaults[0] if defaults else None

    def choose(self, model: str | None) -> Upstream | None:
        for u in self.routed:
            if u.matches(model):
                return u
        return self.default

    @property
    def upstreams(self) -> list[Upstream]:
        return [*self.routed, *([self.default] if self.default else [])]
