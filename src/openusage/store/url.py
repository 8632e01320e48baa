"""Store URLs: which engine, where, and openusage's options from the query string, parsed in one place.

Each option is checked here once (a clear error for a bad value, an unknown option, or one the engine
does not take); the engines receive typed keyword arguments and a URL free of openusage's options.
PostgreSQL URLs keep the driver's own parameters (``sslmode`` and the like): libpq checks those.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .base import redact

SCHEMES = ("duckdb", "postgresql", "postgres", "clickhouse", "chdb")
ENGINE = {"": "duckdb", "duckdb": "duckdb", "postgresql": "postgresql", "postgres": "postgresql",
          "clickhouse": "clickhouse", "chdb": "chdb"}
"""The engine behind each scheme (a bare path is a DuckDB file)."""
_BOOL = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def _boolean(key: str, value: str) -> bool:
    if value.lower() not in _BOOL:
        raise ValueError(f"{key} must be on or off, not {value!r}")
    return _BOOL[value.lower()]


def _positive(key: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{key} must be a positive whole number, not {value!r}")
    return int(value)


def _identifier(key: str, value: str) -> str:
    if not value.isidentifier():
        raise ValueError(f"{key} must be an identifier, not {value!r}")
    return value


MIN_MEMORY_LIMIT = 64 * 2**20
"""The smallest ``memory_limit`` taken: below it DuckDB cannot hold a commit's working set."""
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
"""Size units, as DuckDB reads them (``MB`` 10**6 bytes, ``MiB`` 2**20)."""
_SIZE = re.compile(r"(\d{1,15})(\.\d{1,6})?\s*([a-z]*|%)")


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def _size(key: str, value: str) -> int:
    """A memory size in bytes: ``512MB``, ``2GiB``, ``1073741824`` or ``25%`` of the machine's memory,
    between :data:`MIN_MEMORY_LIMIT` and the machine's memory (a bound past it bounds nothing)."""
    match = _SIZE.fullmatch(value.strip().lower())
    unit = match.group(3) if match else ""
    if match is None or (unit != "%" and unit not in _UNITS):
        raise ValueError(f"{key} must be a size such as 512MB, 2GiB or 25% (of this machine's memory), "
                         f"not {value!r}")
    number = float(match.group(1) + (match.group(2) or ""))
    total = machine_memory()
    size = int(number * total / 100) if unit == "%" else int(number * _UNITS[unit])
    if size < MIN_MEMORY_LIMIT:
        raise ValueError(f"{key} must be at least {MIN_MEMORY_LIMIT // 2**20} MiB, not {value!r}")
    if size > total:
        raise ValueError(f"{key} {value!r} is more than this machine's memory ({total / 2**30:.1f} GiB)")
    return size


OPTIONS: dict[str, Callable[[str, str], Any]] = {
    "rollups": _boolean, "retention_days": _positive, "pool_max": _positive, "writers": _positive,
    "schema": _identifier,
    "cluster": _identifier, "secure": _boolean, "memory_limit": _size,
}
"""Every option openusage reads from a store URL, with its parser."""
ENGINE_OPTIONS: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"rollups", "retention_days", "memory_limit"}),
    "postgresql": frozenset({"rollups", "retention_days", "schema", "pool_max", "writers"}),
    "clickhouse": frozenset({"rollups", "retention_days", "cluster", "secure"}),
    "chdb": frozenset({"rollups", "retention_days"}),
}
"""The options each engine takes."""
DRIVER_PARAMETERS = frozenset({"postgresql"})
"""Engines whose URL may carry the driver's own parameters (left in :attr:`StoreURL.base`)."""


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL."""

    engine: str
    """``duckdb``, ``postgresql``, ``clickhouse`` or ``chdb``."""
    base: str
    """The URL without openusage's options (a DuckDB file: its path, or ``:memory:``)."""
    options: dict[str, Any] = field(default_factory=dict)
    """openusage's options, typed: the engine's keyword arguments."""


def store_options(url: str) -> tuple[str, dict[str, Any]]:
    """The URL without openusage's options, and those options checked and typed (any engine's)."""
    parts = urlsplit(url)
    opts: dict[str, Any] = {}
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in OPTIONS:
            opts[key] = OPTIONS[key](key, value)
        else:
            rest.append((key, value))
    base = url.split("?", 1)[0]  # not urlunsplit, which turns chdb:///x into chdb:/x
    return (f"{base}?{urlencode(rest)}" if rest else base), opts


def parse_store_url(url: str) -> StoreURL:
    """The engine, base URL and options of ``url``; a ValueError names what is wrong with it."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ENGINE:
        raise ValueError(f"unsupported store URL {redact(url)!r}: use a file path, duckdb:///path, postgresql://..., "
                         "clickhouse://... or chdb:///path")
    engine = ENGINE[scheme]
    if not scheme:  # a bare path: no query string (a file name may hold '?')
        return StoreURL(engine, url)
    base, opts = store_options(url)
    foreign = [k for k, _ in parse_qsl(urlsplit(base).query, keep_blank_values=True)]
    if foreign and engine not in DRIVER_PARAMETERS:
        raise ValueError(f"unknown option {foreign[0]!r} in {redact(url)!r}; {engine} stores take "
                         + ", ".join(sorted(ENGINE_OPTIONS[engine])))
    bad = sorted(set(opts) - ENGINE_OPTIONS[engine])
    if bad:
        raise ValueError(f"option {bad[0]!r} does not apply to {engine} stores")
    if engine == "duckdb":
        path = base[len("duckdb://"):]  # duckdb:///abs/path.db or duckdb://relative.db
        base = ":memory:" if path in ("/:memory:", ":memory:", "") else path
    return StoreURL(engine, base, opts)


__all__ = ["ENGINE_OPTIONS", "MIN_MEMORY_LIMIT", "SCHEMES", "StoreURL", "machine_memory", "parse_store_url",
           "store_options"]
