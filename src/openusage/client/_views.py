"""The views every result type is built on: :class:`Result`, :class:`Bucket`, :class:`Page`,
:class:`Amount` and :class:`ApiResponse` (the per-endpoint result classes are in ``_generated.py``).

Every object is a thin, slotted view over the JSON it was parsed from.  That is why

* fields a newer API sends are kept: ``result.some_new_field`` and ``to_dict()`` still show them;
* ``to_dict()`` returns exactly the JSON received (absent stays absent, ``null`` stays ``null``);
* parsing costs one ``orjson.loads`` plus one small object per bucket and per result.

Result classes are discriminated on ``object`` (``organization.usage.completions.result`` ...);
a result whose ``object`` this version does not know becomes a plain :class:`Result`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import orjson

from ..errors import ApiError
from ..spec import Endpoint

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars


class _View:
    """A read-only view over one JSON object; unknown keys are reachable as attributes."""

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not fields of the class: fields of a newer API.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._raw[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self._raw[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._raw.get(name, default)

    # Typed reads of the JSON: a property promises its type, so a value of another type (a server
    # that is not the API) is one clear error naming the field, never a wrong value passed on.
    def _malformed(self, name: str, expected: str) -> ApiError:
        shown = repr(self._raw[name])[:80] if name in self._raw else "absent"
        return ApiError(f"The answer's {type(self).__name__} has {name} = {shown}, not {expected}.", status=200,
                        body=self._raw)

    def _int(self, name: str) -> int:
        value = self._raw.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self._malformed(name, "an integer")

    def _int_or_none(self, name: str) -> int | None:
        value = self._raw.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise self._malformed(name, "an integer or null")

    def _float(self, name: str) -> float:
        """JSON has one number type: ``3`` is as valid a float as ``3.0``."""
        value = self._raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise self._malformed(name, "a number")

    def _float_or_none(self, name: str) -> float | None:
        return None if self._raw.get(name) is None else self._float(name)

    def _str_or_none(self, name: str) -> str | None:
        value = self._raw.get(name)
        if value is None or isinstance(value, str):
            return value
        raise self._malformed(name, "a string or null")

    def _bool_or_none(self, name: str) -> bool | None:
        value = self._raw.get(name)
        if value is None or isinstance(value, bool):
            return value
        raise self._malformed(name, "true, false or null")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object exactly as received (a deep copy: changing it changes nothing here)."""
        return copy.deepcopy(self._raw)

    def to_json(self) -> bytes:
        return orjson.dumps(self._raw)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._raw == self._raw

    __hash__ = None  # type: ignore[assignment]  # typeshed: a method; None is how Python marks a view unhashable

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._raw.items() if k != "object" and v is not None)
        return f"{type(self).__name__}({shown})"


class _Typed(_View):
    """A view whose JSON names its type in ``object``; a server that leaves it out gets the default."""

    __slots__ = ()
    _default_object: ClassVar[str] = ""

    @property
    def object(self) -> str:
        return self._str_or_none("object") or self._default_object


class Amount(_View):
    """A money amount in a cost result: ``value`` in ``currency`` (``usd``)."""

    __slots__ = ()

    @property
    def value(self) -> float | None:
        return self._float_or_none("value")

    @property
    def currency(self) -> str | None:
        return self._str_or_none("currency")


class Result(_Typed):
    """One result of a bucket: the metrics of one group.  Subclasses add typed properties."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint | None] = None
    fields: ClassVar[tuple[str, ...]] = ()
    """Field names this version knows, in OpenAI's order (metrics, then dimensions)."""


R = TypeVar("R", bound=Result)


class Bucket(_Typed, Generic[R]):
    """One time bucket: ``[start_time, end_time)`` and its ``results``."""

    __slots__ = ("results",)
    _default_object = "bucket"

    def __init__(self, raw: dict[str, Any], results: list[R]) -> None:
        self._raw = raw
        self.results = results

    @property
    def start_time(self) -> int:
        return self._int("start_time")

    @property
    def end_time(self) -> int:
        return self._int("end_time")

    def __iter__(self) -> Iterator[R]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __repr__(self) -> str:
        return f"Bucket(start_time={self.start_time}, end_time={self.end_time}, results={len(self.results)})"


class Page(_Typed, Generic[R]):
    """One page of an answer (or every page concatenated, with ``paginate=True``)."""

    __slots__ = ("data", "endpoint")
    _default_object = "page"

    def __init__(self, raw: dict[str, Any], data: list[Bucket[R]], endpoint: Endpoint | None = None) -> None:
        self._raw = raw
        self.data = data
        self.endpoint = endpoint

    @property
    def has_more(self) -> bool:
        return bool(self._raw.get("has_more"))

    @property
    def next_page(self) -> str | None:
        return self._str_or_none("next_page")

    def __iter__(self) -> Iterator[Bucket[R]]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def results(self) -> Iterator[R]:
        """Every result of every bucket, in order."""
        for b in self.data:
            yield from b.results

    def to_pandas(self) -> pandas.DataFrame:
        """One row per result; ``start_time``/``end_time`` as UTC timestamps (needs ``pandas``)."""
        from ._frames import to_pandas

        return to_pandas(self)

    def to_polars(self) -> polars.DataFrame:
        """One row per result; ``start_time``/``end_time`` as UTC datetimes (needs ``polars``)."""
        from ._frames import to_polars

        return to_polars(self)

    def __repr__(self) -> str:
        n = sum(len(b.results) for b in self.data)
        return f"Page(buckets={len(self.data)}, results={n}, has_more={self.has_more}, next_page={self.next_page!r})"


def concat_pages(pages: list[Page[Any]], endpoint: Endpoint | None = None) -> Page[Any]:
    """Every bucket of several pages as one page (``has_more`` false, ``next_page`` null)."""
    raws = [b._raw for p in pages for b in p.data]
    buckets = [b for p in pages for b in p.data]
    raw = {"object": "page", "data": raws, "has_more": False, "next_page": None}
    return Page(raw, buckets, endpoint)


@dataclass(frozen=True)
class ApiResponse(Generic[R]):
    """What a ``..._with_http_info`` method returns: the HTTP status, headers and parsed page."""

    status_code: int
    headers: Mapping[str, str]
    data: Page[R]

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


