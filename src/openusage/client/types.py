"""Typed results of the Usage & Costs API: :class:`Page`, :class:`Bucket`, one result class per
endpoint (generated from :data:`openusage.spec.ENDPOINTS` into ``_generated.py``), and
:class:`ApiResponse`.

Every object is a thin, slotted view over the JSON it was parsed from, so fields a newer API sends
are kept and ``to_dict()`` returns exactly the JSON received.  Results are discriminated on
``object``; one whose ``object`` this version does not know becomes a plain :class:`Result`.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import ApiError
from ..spec import ENDPOINTS, Endpoint
from . import _generated
from ._generated import *  # noqa: F403  (the result classes, listed once: in _generated.__all__)
from ._generated import RESULT_CLASSES
from ._views import Amount, ApiResponse, Bucket, Page, Result, concat_pages

if set(RESULT_CLASSES) != {ep.name for ep in ENDPOINTS}:  # pragma: no cover (a test checks the file)
    raise ImportError("the generated client is out of date: run `python src/openusage/client/_gen.py`")
RESULT_BY_OBJECT: dict[str, type[Result]] = {ep.result_object: RESULT_CLASSES[ep.name] for ep in ENDPOINTS}


def parse_page(raw: object, endpoint: Endpoint | None = None) -> Page[Any]:
    """Wrap a decoded page: one :class:`Bucket` per bucket, one typed result per result.

    JSON of another shape is one :class:`ApiError` saying where, never an error of Python's."""
    if not isinstance(raw, dict):
        raise _not_a_page(raw, "not a JSON object")
    data = raw.get("data") or []
    if not isinstance(data, list):
        raise _not_a_page(raw, "data is not a list")
    get = RESULT_BY_OBJECT.get
    default = RESULT_CLASSES[endpoint.name] if endpoint is not None else Result
    buckets: list[Bucket[Any]] = []
    for i, b in enumerate(data):
        found = b.get("results") if isinstance(b, dict) else None
        if not isinstance(b, dict) or not isinstance(found or [], list):
            raise _not_a_page(raw, f"data[{i}] is not a bucket with a list of results")
        results: list[Result] = []
        for j, r in enumerate(found or ()):
            if not isinstance(r, dict):
                raise _not_a_page(raw, f"data[{i}].results[{j}] is not an object")
            obj = r.get("object")
            cls = (get(obj) if isinstance(obj, str) else None) or (default if obj is None else Result)
            results.append(cls(r))
        buckets.append(Bucket(b, results))
    return Page(raw, buckets, endpoint)


def _not_a_page(raw: object, why: str) -> ApiError:
    return ApiError(f"The answer is not a page of buckets: {why}.", status=200, body=raw)


def loads_page(body: bytes | str, endpoint: Endpoint | None = None) -> Page[Any]:
    """Parse a page from the JSON text of an answer."""
    return parse_page(orjson.loads(body), endpoint)


__all__ = ["Amount", "ApiResponse", "Bucket", "Page", "Result", "concat_pages", "loads_page", "parse_page"]
__all__ += _generated.__all__
