"""The public names of ``openusage`` and ``openusage.client``, the error classes' statuses and types,
and the store-file parsing shared by the runtime file and the CLI: each defined once in the code and
pinned here by value, so a change of the shared definition cannot silently change the surface."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import openusage
import openusage.client
from openusage import errors
from openusage.cli.common import missing_store_file
from openusage.client import ArgumentError, parse_page
from openusage.runtime import runtime_path, store_file

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ["AudioSpeechesResult", "AudioTranscriptionsResult", "CodeInterpreterSessionsResult", "CompletionsResult",
           "CostsResult", "DecisionsResult", "EmbeddingsResult", "FileSearchCallsResult", "ImagesResult",
           "ModerationsResult", "VectorStoresResult", "WebSearchCallsResult"]
CLIENT = ["Amount", "ApiResponse", "ArgumentError", "AsyncUsageApi", "Bucket", "Page", "Result", "UsageApi"]
ERRORS = ["APIConnectionError", "APIStatusError", "ApiError", "AuthenticationError", "BadRequestError",
          "InternalServerError", "MethodNotAllowedError", "NotFoundError", "PermissionDeniedError", "RateLimitError",
          "RequestTooLargeError", "ServiceUnavailableError", "UnprocessableEntityError"]


def test_the_package_and_the_client_export_exactly_these_names() -> None:
    assert sorted(openusage.__all__) == sorted([*RESULTS, *CLIENT, *ERRORS, "__version__"])
    assert sorted(openusage.client.__all__) == sorted([*RESULTS, *CLIENT, "loads_page", "parse_page"])
    assert len(set(openusage.__all__)) == len(openusage.__all__)
    for module in (openusage, openusage.client):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)
    assert [getattr(openusage, n) for n in RESULTS] == [getattr(openusage.client, n) for n in RESULTS]


def test_a_type_checker_sees_every_exported_name(tmp_path: Path) -> None:
    user = tmp_path / "user.py"
    names = [n for n in openusage.__all__ if n != "__version__"]
    user.write_text(f"from openusage import {', '.join(names)}\n"
                    f"from openusage.client import {', '.join(openusage.client.__all__)}\n"
                    "def kind(r: CompletionsResult | CostsResult) -> str:\n    return r.object\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYPY")} | {"MYPYPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-pretty", "--follow-imports=silent",
                           "--cache-dir", str(tmp_path / "cache"), str(user)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert (done.returncode, done.stdout) == (0, "Success: no issues found in 1 source file\n"), done.stdout


@pytest.mark.parametrize(("cls", "status", "type_"), [
    (errors.BadRequestError, 400, "invalid_request_error"),
    (errors.AuthenticationError, 401, "invalid_request_error"),
    (errors.PermissionDeniedError, 403, "invalid_request_error"),
    (errors.NotFoundError, 404, "invalid_request_error"),
    (errors.MethodNotAllowedError, 405, "invalid_request_error"),
    (errors.RequestTooLargeError, 413, "invalid_request_error"),
    (errors.UnprocessableEntityError, 422, "invalid_request_error"),
    (errors.RateLimitError, 429, "rate_limit_error"),
    (errors.InternalServerError, 500, "server_error"),
    (errors.ServiceUnavailableError, 503, "server_error"),
])
def test_each_error_class_has_its_status_and_openais_type(cls: type[errors.APIStatusError], status: int,
                                                          type_: str) -> None:
    assert (cls.status, cls.type) == (status, type_)
    assert errors.error_for_status(status) is cls
    err = cls("no")
    assert (err.status_code, err.to_envelope()) == (status, {"error": {"message": "no", "type": type_,
                                                                        "param": None, "code": None}})


def test_statuses_without_a_class_and_subclasses_keep_the_table() -> None:
    assert len(errors.STATUS_ERRORS) == 10
    assert errors.error_for_status(418) is errors.APIStatusError and errors.APIStatusError.type == "api_error"
    assert errors.error_for_status(502) is errors.InternalServerError
    assert (ArgumentError.status, ArgumentError.type) == (400, "invalid_request_error")
    assert errors.STATUS_ERRORS[400] is errors.BadRequestError

    class SlowDown(errors.RateLimitError):
        """A subclass inherits its parent's type, and does not take its parent's place in the table."""

    assert SlowDown.type == "rate_limit_error" and errors.STATUS_ERRORS[429] is errors.RateLimitError


def test_a_page_bucket_and_result_without_object_read_their_default() -> None:
    page = parse_page({"data": [{"results": [{}]}]})
    assert (page.object, page.data[0].object, page.data[0].results[0].object) == ("page", "bucket", "")
    page = parse_page({"object": "p", "data": [{"object": "b", "results": [{"object": "r"}]}]})
    assert (page.object, page.data[0].object, page.data[0].results[0].object) == ("p", "b", "r")


@pytest.mark.parametrize(("db", "file"), [
    ("usage.duckdb", "usage.duckdb"),
    ("duckdb:///var/lib/usage.duckdb?rollups=on", "/var/lib/usage.duckdb"),
    ("DuckDB://rel.duckdb", "rel.duckdb"),
    (":memory:", None),
    ("duckdb:///:memory:", None),
    ("duckdb://", None),
    ("", None),
    ("postgresql://postgres@127.0.0.1:5432/test", None),
    ("chdb:///tmp/x", None),
])
def test_store_file_names_the_duckdb_file_of_a_store(db: str, file: str | None) -> None:
    assert store_file(db) == file
    assert runtime_path(db) == (None if file is None else Path(file + ".server.json"))
    assert missing_store_file(db) is (file is not None and not Path(file).exists())


def test_an_existing_store_file_is_not_missing(tmp_path: Path) -> None:
    db = tmp_path / "usage.duckdb"
    assert missing_store_file(str(db)) and missing_store_file(f"duckdb://{db}")
    db.touch()
    assert not missing_store_file(str(db)) and not missing_store_file(f"duckdb://{db}?rollups=off")
