"""Write ``_generated.py``: the typed result classes and method declarations, from the endpoint table.

    python -m openusage.client._gen        # rewrite src/openusage/client/_generated.py

Editors and type checkers read classes and signatures from source, not from a factory, so the
result types and the signatures of every method are generated as code from
:data:`openusage.spec.ENDPOINTS`.  The methods themselves are still built at import time by the
factories of ``_sync.py`` / ``_async.py`` (the declarations sit under ``TYPE_CHECKING``), and a test
fails when this file and the table disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..spec import DIMENSIONS, ENDPOINTS, Endpoint
from ._base import annotation

TARGET = Path(__file__).with_name("_generated.py")
INDENT = "    "


def class_name(ep: Endpoint) -> str:
    return "".join(p.title() for p in ep.name.split("_")) + "Result"


def _doc(text: str, indent: str) -> list[str]:
    lines = text.replace("\\", "\\\\").split("\n")
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}'] + [f"{indent}{line}" if line else "" for line in lines[1:]] + [f'{indent}"""']


def _property(name: str, annotation: str, doc: str, body: list[str] | None = None) -> list[str]:
    i2 = INDENT * 2
    out = ["", f"{INDENT}@property", f"{INDENT}def {name}(self) -> {annotation}:", *_doc(doc, i2)]
    out += body or [f'{i2}return self._raw.get("{name}")']
    return out


def result_class(ep: Endpoint) -> list[str]:
    fields: list[str] = []
    out = ["", "", f"class {class_name(ep)}(Result):",
           f'{INDENT}"""A result of ``{ep.full_path}`` (``object``: ``{ep.result_object}``)."""', "",
           f"{INDENT}__slots__ = ()", f'{INDENT}endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["{ep.name}"]']
    props: list[str] = []
    for m in ep.metrics:
        fields.append(m.name)
        if m.agg == "decimal":
            props += _property(m.name, "Amount | None", m.description, [
                f'{INDENT * 2}raw = self._raw.get("{m.name}")',
                f"{INDENT * 2}return Amount(raw) if isinstance(raw, dict) else None",
            ])
        elif m.agg == "float":
            props += _property(m.name, "float | None", m.description)
        else:
            props += _property(m.name, "int" if m.required else "int | None", m.description)
    for d in ep.result_dimensions:
        fields.append(d)
        spec = DIMENSIONS[d]
        values = f" One of: {', '.join(spec.enum)}." if spec.enum else ""
        props += _property(d, "bool | None" if spec.kind == "bool" else "str | None",
                           f"When grouped by ``{d}``: {spec.description}{values} Otherwise null.")
    if ep.name == "costs":
        fields.append("quantity_unit")
        props += _property("quantity_unit", "str | None",
                           "The unit of ``quantity`` (tokens, 1000_tokens, images, ...), or null.")
    out.append(f"{INDENT}fields: ClassVar[tuple[str, ...]] = (")
    out += [f"{INDENT * 2}{f!r}," for f in fields]
    out.append(f"{INDENT})")
    return out + props


def _signature(ep: Endpoint, paginate: bool) -> list[str]:
    positional = ep.positional_parameters
    params = [f"{INDENT * 3}self,", f"{INDENT * 3}start_time: {annotation(ep, 'start_time')},"]
    params += [f"{INDENT * 3}{p}: {annotation(ep, p)} = None," for p in positional[1:]]
    keywords = [f"{INDENT * 3}{p}: {annotation(ep, p)} = None," for p in ep.parameters[1:] if p not in positional]
    if paginate:
        keywords.append(f"{INDENT * 3}paginate: bool = False,")
    return params + ([f"{INDENT * 3}*,", *keywords] if keywords else [])


def stub_doc(ep: Endpoint, kind: str) -> str:
    """A short docstring for editors; ``help()`` on the method shows every argument."""
    what = {"page": "One page, or every page with ``paginate=True``.",
            "http_info": "One page with the HTTP status code and headers.",
            "iter": "Every bucket of every page, following ``next_page``."}[kind]
    limits = "; ".join(f"{w}: max {m}" for w, (_, m) in ep.limits.items())
    return "\n".join([f"{ep.summary} ``GET {ep.full_path}``", "", what,
                      f"group_by: {', '.join(ep.group_by)}.", f"limit (buckets per page): {limits}."])


def methods(ep: Endpoint, is_async: bool) -> list[str]:
    r = class_name(ep)
    i1, i2, i3 = INDENT, INDENT * 2, INDENT * 3
    kinds = [
        (ep.method_name, "page", f"Page[{r}]", True),
        (f"{ep.method_name}_with_http_info", "http_info", f"ApiResponse[{r}]", False),
        (f"iter_{ep.name}", "iter", f"{'AsyncIterator' if is_async else 'Iterator'}[Bucket[{r}]]", False),
    ]
    out: list[str] = []
    for name, kind, returns, paginate in kinds:
        asynchronous = "async " if is_async and kind != "iter" else ""
        out += ["", f"{i2}{asynchronous}def {name}(", *_signature(ep, paginate), f"{i2}) -> {returns}:"]
        out += _doc(stub_doc(ep, kind), i3)
        out.append(f"{i3}...")
    del i1
    return out


def render() -> str:
    names = [class_name(ep) for ep in ENDPOINTS]
    out = [
        "# ruff: noqa: E501",
        '"""GENERATED from :data:`openusage.spec.ENDPOINTS` by ``python -m openusage.client._gen``: do not edit.',
        "",
        "The result class of every endpoint, and the typed declarations of the methods that",
        "``_sync.py`` and ``_async.py`` build at import time (for editors and type checkers).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import AsyncIterator, Iterator, Sequence",
        "from datetime import datetime",
        "from typing import TYPE_CHECKING, ClassVar, Literal",
        "",
        "from ..spec import ENDPOINTS_BY_NAME, Endpoint",
        "from ._views import Amount, ApiResponse, Bucket, Page, Result",
        "",
        "__all__ = [",
        *(f'    "{n}",' for n in sorted([*names, "RESULT_CLASSES", "AsyncMethods", "SyncMethods"])),
        "]",
    ]
    for ep in ENDPOINTS:
        out += result_class(ep)
    out += ["", "", "RESULT_CLASSES: dict[str, type[Result]] = {",
            *(f"    {ep.name!r}: {class_name(ep)}," for ep in ENDPOINTS), "}",
            '"""Result class by endpoint name."""']
    for cls, is_async in (("SyncMethods", False), ("AsyncMethods", True)):
        kind = "AsyncUsageApi" if is_async else "UsageApi"
        out += ["", "", f"class {cls}:", f'{INDENT}"""The generated methods of :class:`{kind}`, declared."""', "",
                f"{INDENT}__slots__ = ()", "", f"{INDENT}if TYPE_CHECKING:  # built by the factory at import time"]
        body: list[str] = []
        for ep in ENDPOINTS:
            body += methods(ep, is_async)
        out += body[1:]
    # "Literal", "datetime", "Sequence" etc. are used only in annotations: fine with postponed evaluation.
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:2] == ["--check"]:
        return 0 if TARGET.exists() and TARGET.read_text() == text else 1
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
