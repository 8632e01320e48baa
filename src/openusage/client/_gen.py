"""Write ``_generated.py``: the result classes and the endpoint methods of both clients, as code.

    python -m openusage.client._gen            # rewrite src/openusage/client/_generated.py
    python -m openusage.client._gen --check    # exit 1 when the file is not what the table gives
    python src/openusage/client/_gen.py        # the same, when the package cannot import

Every method is written from :data:`openusage.spec.ENDPOINTS` with its real signature and its full
docstring, so ``help()``, editors and type checkers all read the same source.  Its body only hands
the arguments to the client's one implementation (``_page``, ``_http_info``, ``_iter`` of
``_sync.py`` / ``_async.py``).  A test fails when this file and the table disagree.

This module needs nothing but the table.  Run as a file, it does not even import the package (whose
import needs the file it writes), so a stale or broken ``_generated.py`` can always be rewritten.
"""

from __future__ import annotations

import os
import sys

if not __package__:  # run as a file (python src/openusage/client/_gen.py):
    sys.path.pop(0)  # its folder has a types.py, which must not shadow the standard library's,
    __package__ = "openusage.client"  # and ..spec loads under bare parent packages, not the real ones
    _here = os.path.dirname(os.path.abspath(__file__))
    for _name, _folder in (("openusage", os.path.dirname(_here)), ("openusage.client", _here)):
        sys.modules.setdefault(_name, type(sys)(_name)).__path__ = [_folder]

from pathlib import Path

from ..spec import DIMENSIONS, ENDPOINTS, Endpoint

TARGET = Path(__file__).with_name("_generated.py")
INDENT = "    "
I1, I2, I3 = INDENT, INDENT * 2, INDENT * 3


def class_name(ep: Endpoint) -> str:
    return "".join(p.title() for p in ep.name.split("_")) + "Result"


# --------------------------------------------------------------------------------------------
# Parameters: types and documentation, from the table
# --------------------------------------------------------------------------------------------


def annotation(ep: Endpoint, name: str) -> str:
    """The type of a wire parameter."""
    if name == "start_time":
        return "int | datetime"
    if name == "end_time":
        return "int | datetime | None"
    if name == "bucket_width":
        return f"Literal[{', '.join(repr(w) for w in ep.bucket_widths)}] | None"
    if name == "limit":
        return "int | None"
    if name == "page":
        return "str | None"
    f = ep.filter_by_param(name)
    if f is not None and f.kind == "bool":
        return "bool | None"
    return "Sequence[str] | str | None"


def parameter_docs(ep: Endpoint) -> list[tuple[str, str]]:
    """(name, description) of every wire parameter, in the seed's order."""
    limits = "; ".join(f"bucket_width={w}: default {d}, max {m}" for w, (d, m) in ep.limits.items())
    out = [
        ("start_time", "Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required."),
        ("end_time", "End of the range, exclusive; default now."),
        ("bucket_width", f"Width of each bucket: {', '.join(ep.bucket_widths)} (default "
                         f"{ep.default_bucket_width})."),
    ]
    for f in ep.filters:
        enum = DIMENSIONS[f.dimension].enum
        extra = f" One of: {', '.join(enum)}." if enum else ""
        out.append((f.param, f.description + extra))
    out += [
        ("group_by", f"Group results by these fields: {', '.join(ep.group_by)} (any combination)."),
        ("limit", f"Buckets per page ({limits})."),
        ("page", "The `next_page` cursor of a previous answer."),
    ]
    return out


def method_doc(ep: Endpoint, kind: str, is_async: bool) -> str:
    """The docstring of one endpoint method: what it calls, every argument, what it returns and raises."""
    returns = {
        "page": "The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.",
        "http_info": "An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).",
        "iter": "Every bucket of every page, following ``next_page``"
                + (" (an async iterator)." if is_async else " (a generator)."),
    }[kind]
    lines = [ep.summary, "", f"``GET {ep.full_path}`` -> results of type :class:`{class_name(ep)}`.", "",
             "Args:"]
    lines += [f"    {name}: {text}" for name, text in parameter_docs(ep)]
    if kind == "page":
        lines.append("    paginate: Follow ``next_page`` and return every bucket in one page.")
    lines += ["", "Returns:", f"    {returns}", "", "Raises:",
              "    ArgumentError: an argument the API would refuse (before sending).",
              "    APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).",
              "    APIConnectionError: no answer after the retries."]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Code
# --------------------------------------------------------------------------------------------


def _doc(text: str, indent: str) -> list[str]:
    lines = text.replace("\\", "\\\\").split("\n")
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}'] + [f"{indent}{line}" if line else "" for line in lines[1:]] + [f'{indent}"""']


def _property(name: str, annotation: str, doc: str, body: list[str]) -> list[str]:
    return ["", f"{I1}@property", f"{I1}def {name}(self) -> {annotation}:", *_doc(doc, I2), *body]


def _read(kind: str, name: str) -> list[str]:
    """The body of a property: the typed read of ``_views._View`` that checks the JSON value."""
    return [f'{I2}return self._{kind}("{name}")']


def result_class(ep: Endpoint) -> list[str]:
    """One result class: a typed property per field; a metric the API always sends is not Optional."""
    fields: list[str] = []
    props: list[str] = []
    for m in ep.metrics:
        fields.append(m.name)
        if m.agg == "decimal":
            props += _property(m.name, "Amount | None", m.description, [
                f'{I2}raw = self._raw.get("{m.name}")',
                f"{I2}return Amount(raw) if isinstance(raw, dict) else None",
            ])
            continue
        kind = "float" if m.agg == "float" else "int"
        if m.required:
            props += _property(m.name, kind, m.description, _read(kind, m.name))
        else:
            props += _property(m.name, f"{kind} | None", m.description + " Null when the API does not report it.",
                               _read(f"{kind}_or_none", m.name))
    for d in ep.result_dimensions:
        fields.append(d)
        spec = DIMENSIONS[d]
        values = f" One of: {', '.join(spec.enum)}." if spec.enum else ""
        kind = "bool" if spec.kind == "bool" else "str"
        props += _property(d, f"{kind} | None", f"When grouped by ``{d}``: {spec.description}{values} Otherwise null.",
                           _read(f"{kind}_or_none", d))
    if ep.is_costs:
        fields.append("quantity_unit")
        props += _property("quantity_unit", "str | None",
                           "The unit of ``quantity`` (tokens, 1000_tokens, images, ...), or null.",
                           _read("str_or_none", "quantity_unit"))
    return ["", "", f"class {class_name(ep)}(Result):",
            f'{I1}"""A result of ``{ep.full_path}`` (``object``: ``{ep.result_object}``)."""', "",
            f"{I1}__slots__ = ()", f'{I1}endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["{ep.name}"]',
            f"{I1}fields: ClassVar[tuple[str, ...]] = (", *(f"{I2}{f!r}," for f in fields), f"{I1})", *props]


def _signature(ep: Endpoint, paginate: bool) -> list[str]:
    """The seed's parameters by position, in its order; newer ones (and ``paginate``) keyword-only."""
    positional = ep.positional_parameters
    params = [f"{I2}self,", f"{I2}start_time: {annotation(ep, 'start_time')},"]
    params += [f"{I2}{p}: {annotation(ep, p)} = None," for p in positional[1:]]
    keywords = [f"{I2}{p}: {annotation(ep, p)} = None," for p in ep.parameters[1:] if p not in positional]
    if paginate:
        keywords.append(f"{I2}paginate: bool = False,")
    return params + ([f"{I2}*,", *keywords] if keywords else [])


def methods(ep: Endpoint, is_async: bool) -> list[str]:
    """``usage_<name>``, ``usage_<name>_with_http_info`` and ``iter_<name>`` of one endpoint."""
    r, endpoint = class_name(ep), f"{class_name(ep)}.endpoint"
    iterator = "AsyncIterator" if is_async else "Iterator"
    kinds = [
        (ep.method_name, "page", f"Page[{r}]", f"self._page({endpoint}, locals(), paginate)"),
        (f"{ep.method_name}_with_http_info", "http_info", f"ApiResponse[{r}]",
         f"self._http_info({endpoint}, locals())"),
        (f"iter_{ep.name}", "iter", f"{iterator}[Bucket[{r}]]", f"self._iter({endpoint}, locals())"),
    ]
    out: list[str] = []
    for name, kind, returns, call in kinds:
        coroutine = is_async and kind != "iter"
        out += ["", f"{I1}{'async ' if coroutine else ''}def {name}(", *_signature(ep, kind == "page"),
                f"{I1}) -> {returns}:", *_doc(method_doc(ep, kind, is_async), I2),
                f"{I2}return {'await ' if coroutine else ''}{call}"]
    return out


def methods_class(is_async: bool) -> list[str]:
    """The mixin of every endpoint method, and the three calls its methods make (the client defines them)."""
    name, client = ("AsyncMethods", "AsyncUsageApi") if is_async else ("SyncMethods", "UsageApi")
    a = "async " if is_async else ""
    iterator = "AsyncIterator" if is_async else "Iterator"
    out = ["", "", f"class {name}:",
           f'{I1}"""The endpoint methods of :class:`{client}`; it implements the three calls they make."""', "",
           f"{I1}__slots__ = ()", "",
           f"{I1}{a}def _page(self, endpoint: Endpoint, args: Mapping[str, Any], paginate: bool) -> Page[Any]:",
           f'{I2}"""One page, or every page with ``paginate``."""', f"{I2}raise NotImplementedError", "",
           f"{I1}{a}def _http_info(self, endpoint: Endpoint, args: Mapping[str, Any]) -> ApiResponse[Any]:",
           f'{I2}"""One page with the HTTP status and headers."""', f"{I2}raise NotImplementedError", "",
           f"{I1}def _iter(self, endpoint: Endpoint, args: Mapping[str, Any]) -> {iterator}[Bucket[Any]]:",
           f'{I2}"""Every bucket of every page; arguments are checked at the call."""',
           f"{I2}raise NotImplementedError"]
    for ep in ENDPOINTS:
        out += methods(ep, is_async)
    return out


def render() -> str:
    names = [class_name(ep) for ep in ENDPOINTS]
    out = [
        "# ruff: noqa: E501",
        '"""GENERATED from :data:`openusage.spec.ENDPOINTS` by ``python -m openusage.client._gen``: do not edit.',
        "",
        "The result class of every endpoint, and the endpoint methods of :class:`UsageApi` and",
        ":class:`AsyncUsageApi`, each handing its arguments to the client's one implementation.",
        "``__all__`` names the result classes, the one list that :mod:`openusage.client.types`,",
        ":mod:`openusage.client` and :mod:`openusage` re-export.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import AsyncIterator, Iterator, Mapping, Sequence",
        "from datetime import datetime",
        "from typing import Any, ClassVar, Literal",
        "",
        "from ..spec import ENDPOINTS_BY_NAME, Endpoint",
        "from ._views import Amount, ApiResponse, Bucket, Page, Result",
        "",
        "__all__ = [",
        *(f'    "{n}",' for n in sorted(names)),
        "]",
    ]
    for ep in ENDPOINTS:
        out += result_class(ep)
    out += ["", "", "RESULT_CLASSES: dict[str, type[Result]] = {",
            *(f"    {ep.name!r}: {class_name(ep)}," for ep in ENDPOINTS), "}",
            '"""Result class by endpoint name."""']
    out += methods_class(is_async=False) + methods_class(is_async=True)
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:2] == ["--check"]:
        return 0 if TARGET.exists() and TARGET.read_text() == text else 1
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
