"""API keys: creation, hashing and verification, with scopes.

A key reads ``ouk_<id>_<secret>``.  The store keeps the id, a random salt and
``sha256(salt + secret)``; the secret itself is shown once, at creation, and never stored or
logged.  Verification compares digests in constant time.

Scopes:

* ``admin``: everything, including managing keys;
* ``read``: the usage and costs endpoints, optionally limited to some projects;
* ``ingest``: writing events only, optionally only events of some projects;
* ``proxy``: calling models through the metering proxy (its usage is attributed to the key).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from .errors import AuthenticationError, PermissionDeniedError
from .store.base import ApiKeyRecord, Store

SCOPES = ("admin", "read", "ingest", "proxy")
PROJECT_SCOPES = ("read", "ingest", "proxy")
"""Scopes a key may hold limited to projects (a proxy key always is, to exactly one)."""
PREFIX = "ouk_"
ID_LEN = 12
ENV_ADMIN_KEY = "OPENUSAGE_ADMIN_KEY"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its scope and the projects it is limited to (None: all)."""

    key_id: str
    scope: str
    projects: tuple[str, ...] | None = None
    project_id: str | None = None
    """For proxy keys: the project their usage is attributed to."""

    def allows(self, scope: str) -> bool:
        if self.scope == "admin":
            return True
        if scope == "read":
            return self.scope == "read"
        return self.scope == scope


@dataclass(frozen=True)
class NewKey:
    record: ApiKeyRecord
    secret: str
    """The full key, to show once."""


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def create_key(store: Store, name: str, scope: str, projects: list[str] | None = None) -> NewKey:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    if projects is not None and scope not in PROJECT_SCOPES:
        raise ValueError("only read, ingest and proxy keys can be limited to projects")
    if scope == "proxy" and (not projects or len(projects) != 1):
        raise ValueError("a proxy key belongs to exactly one project (--project)")
    key_id = secrets.token_hex(ID_LEN // 2)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_hex(16)
    record = ApiKeyRecord(key_id, name, scope, projects, salt, _digest(salt, secret), int(time.time()))
    store.put_key(record)
    return NewKey(record, f"{PREFIX}{key_id}_{secret}")


class KeyRing:
    """Verifies bearer keys against the store, with a short cache so a request costs no query."""

    def __init__(self, store: Store, env_admin_key: str | None = None, ttl: float = 5.0,
                 local_key: str | None = None, revalidate: bool = False) -> None:
        self.store = store
        self.env_admin_key = env_admin_key if env_admin_key is not None else os.environ.get(ENV_ADMIN_KEY)
        self.local_key = local_key
        """The running server's own admin key for local commands (see :mod:`openusage.runtime`)."""
        self.ttl = ttl
        self.revalidate = revalidate
        """Read a valid key's record on every request: when several workers share the store, a key
        revoked through any of them must be refused by all at once.  Refusals stay cached (an
        unknown or revoked key never becomes valid)."""
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    def forget(self) -> None:
        self._cache.clear()

    def is_cached(self, token: str | None) -> bool:
        """Whether :meth:`verify` would answer without asking the store (callers on an event loop
        send the other case to a thread)."""
        if not token or (self.env_admin_key and hmac.compare_digest(token.encode(), self.env_admin_key.encode())):
            return True
        if self.local_key and hmac.compare_digest(token.encode(), self.local_key.encode()):
            return True
        hit = self._cache.get(hashlib.sha256(token.encode()).hexdigest())
        return hit is not None and hit[1] > time.monotonic() and not (self.revalidate and hit[0] is not None)

    def known_valid(self, token: str) -> bool:
        """Whether ``token`` was a valid key when last verified here, however long ago (callers let
        such keys through a block of unknown ones; they are still checked against the store)."""
        hit = self._cache.get(hashlib.sha256(token.encode()).hexdigest())
        return hit is not None and hit[0] is not None

    def verify(self, token: str | None) -> Principal:
        if not token:
            raise AuthenticationError(
                "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'.",
                code="invalid_api_key",
            )
        if self.env_admin_key and hmac.compare_digest(token.encode(), self.env_admin_key.encode()):
            return Principal("env", "admin")
        if self.local_key and hmac.compare_digest(token.encode(), self.local_key.encode()):
            return Principal("local", "admin")
        now = time.monotonic()
        fingerprint = hashlib.sha256(token.encode()).hexdigest()
        hit = self._cache.get(fingerprint)
        if hit is not None and hit[1] > now and not (self.revalidate and hit[0] is not None):
            principal = hit[0]
        else:
            principal = self._lookup(token)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[fingerprint] = (principal, now + self.ttl)
        if principal is None:
            raise AuthenticationError("Incorrect API key provided.", code="invalid_api_key")
        return principal

    def _lookup(self, token: str) -> Principal | None:
        if not token.startswith(PREFIX) or len(token) < len(PREFIX) + ID_LEN + 2:
            return None
        key_id = token[len(PREFIX):len(PREFIX) + ID_LEN]
        secret = token[len(PREFIX) + ID_LEN + 1:]
        record = self.store.get_key(key_id)
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(_digest(record.salt, secret), record.hash):
            return None
        projects = tuple(record.projects) if record.projects is not None else None
        project_id = projects[0] if record.scope == "proxy" and projects else None
        limited = projects if record.scope in ("read", "ingest") else None
        return Principal(record.key_id, record.scope, limited, project_id)


def require(principal: Principal, scope: str) -> Principal:
    if not principal.allows(scope):
        raise PermissionDeniedError(
            f"This key has the '{principal.scope}' scope; this request needs '{scope}'.",
            code="insufficient_scope",
        )
    return principal
