"""The generated client: one source for the methods, their docstrings and the result types, which
type-checks, and a generator that runs even when the package cannot import."""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import openai.types.admin.organization as sdk
import pydantic
import pytest

from openusage import AsyncUsageApi, UsageApi
from openusage.client import _gen
from openusage.client.types import RESULT_CLASSES
from openusage.spec import ENDPOINTS, Endpoint

SRC = Path(_gen.__file__).resolve().parents[2]


def test_each_method_documents_every_argument_from_one_source() -> None:
    for ep in ENDPOINTS:
        for cls, is_async in ((UsageApi, False), (AsyncUsageApi, True)):
            for name, kind in ((ep.method_name, "page"), (f"{ep.method_name}_with_http_info", "http_info"),
                               (f"iter_{ep.name}", "iter")):
                doc = inspect.getdoc(getattr(cls, name))
                assert doc == _gen.method_doc(ep, kind, is_async), name
                for param in list(inspect.signature(getattr(cls, name)).parameters)[1:]:
                    assert f"\n    {param}: " in doc, (name, param)


def _sdk_result(ep: Endpoint) -> type[pydantic.BaseModel]:
    """The official SDK's model of one result of an endpoint."""
    page = getattr(sdk, "Usage" + "".join(p.title() for p in ep.name.split("_")) + "Response")
    module = importlib.import_module(page.__module__)
    (model,) = [v for v in vars(module).values() if inspect.isclass(v) and issubclass(v, pydantic.BaseModel)
                and "object" in v.model_fields and ep.result_object in str(v.model_fields["object"].annotation)]
    return model


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_result_properties_are_optional_exactly_where_openai_may_send_null(ep: Endpoint) -> None:
    cls = RESULT_CLASSES[ep.name]
    sdk_fields = _sdk_result(ep).model_fields
    for m in ep.metrics:
        returns = inspect.signature(getattr(cls, m.name).fget).return_annotation
        assert returns.endswith(" | None") is not sdk_fields[m.name].is_required(), (m.name, returns)
        assert returns.endswith(" | None") is not (m.required and m.agg != "decimal"), m.name


def test_the_generator_rewrites_a_broken_generated_module_without_importing_the_package(tmp_path: Path) -> None:
    shutil.copytree(SRC / "openusage", tmp_path / "openusage", ignore=shutil.ignore_patterns("__pycache__"))
    generated = tmp_path / "openusage" / "client" / "_generated.py"
    generated.write_text("<<<<<<< a merge conflict\n")
    script = [sys.executable, str(tmp_path / "openusage" / "client" / "_gen.py")]
    env = {"PATH": "/usr/bin:/bin"}
    assert subprocess.run([*script, "--check"], env=env, cwd=tmp_path, timeout=60).returncode == 1
    assert subprocess.run(script, env=env, cwd=tmp_path, timeout=60).returncode == 0
    assert generated.read_text() == _gen.render()
    assert subprocess.run([*script, "--check"], env=env, cwd=tmp_path, timeout=60).returncode == 0
