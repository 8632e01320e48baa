"""The ``openusage`` command starts without the heavy libraries: ``import openusage``, ``import
openusage.cli``, any ``--help`` and a command refusing its arguments load none of them (each is tens to
hundreds of milliseconds a user would wait for on every command).  Each check runs in a fresh
interpreter, since this test process has long loaded them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import openusage
from openusage.cli import cli

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pyarrow", "numpy", "duckdb", "httpx", "psycopg", "chdb", "polars")
COMMANDS = ["backup", "costs", "ingest", "keys", "migrate", "prices", "repair", "restore", "serve", "sync", "usage"]

PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    HEAVY = {heavy!r}
    out, code = io.StringIO(), None
    {body}
    print(json.dumps({{"code": code, "out": out.getvalue(),
                      "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)}}))
""")

RUN_CLI = """
from openusage.cli import main
sys.argv = ["openusage", *{argv!r}]
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
"""


def probe(body: str) -> dict[str, object]:
    """Run ``body`` in a fresh interpreter; returns its exit code, output and the heavy modules it loaded."""
    code = PROBE.format(heavy=HEAVY, body=textwrap.dedent(body).strip())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("body", ["import openusage", "import openusage.cli", "from openusage import ApiError"])
def test_importing_the_package_and_the_cli_loads_no_heavy_module(body: str) -> None:
    assert probe(body)["heavy"] == []


@pytest.mark.parametrize(("argv", "code", "says"), [
    (["--help"], 0, "Commands:"),
    (["usage", "--help"], 0, "Usage: openusage usage"),
    (["usage", "completions", "--help"], 0, "--group-by"),
    (["costs", "--help"], 0, "Usage: openusage costs"),
    (["keys", "create", "--help"], 0, "[admin|read|ingest|proxy]"),
    (["sync", "--help"], 0, "Usage: openusage sync"),
    (["serve", "--help"], 0, "Usage: openusage serve"),
    (["backup", "--help"], 0, "Usage: openusage backup"),
    (["migrate", "--help"], 0, "Usage: openusage migrate"),
    (["usage", "completions", "--no-such-flag"], 2, "No such option"),
    (["keys", "create", "--scope", "root"], 2, "Invalid value for '--scope'"),
    (["no-such-command"], 2, "No such command"),
])
def test_help_and_refused_arguments_load_no_heavy_module(argv: list[str], code: int, says: str) -> None:
    result = probe(RUN_CLI.format(argv=argv))
    assert (result["code"], result["heavy"]) == (code, [])
    assert says in str(result["out"]), result["out"]


def test_the_help_still_lists_every_command_with_its_short_help() -> None:
    out = str(probe(RUN_CLI.format(argv=["--help"]))["out"])
    listed = out.split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listed if line.strip()]
    assert names == sorted(cli.commands) == COMMANDS
    for line, name in zip(listed, names, strict=True):
        assert len(line.split(None, 1)[1]) > 10, line  # the command's first words, not a blank
        assert line.split(None, 1)[1].rstrip(".").split()[0] == cli.commands[name].get_short_help_str().split()[0]


def test_the_lazy_names_and_the_copied_scopes_match_their_sources() -> None:
    from openusage import auth
    from openusage.cli import keys_cmd
    from openusage.client import _generated

    assert keys_cmd.SCOPES == auth.SCOPES
    assert {n for n in openusage._LAZY if n.endswith("Result") and n != "Result"} == set(_generated.__all__)
    assert set(openusage.__all__) - {"__version__"} <= set(dir(openusage))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        openusage.NoSuchName  # noqa: B018


def test_a_client_name_loads_the_client_on_first_use() -> None:
    result = probe("""
        import openusage
        before = "httpx" in sys.modules
        from openusage import UsageApi, CostsResult
        code = [before, "httpx" in sys.modules, UsageApi.__module__, CostsResult.__module__]
    """)
    assert result["code"] == [False, True, "openusage.client._sync", "openusage.client._generated"]
    result = probe("""
        import openusage
        code = [openusage.client.UsageApi is openusage.UsageApi, openusage.client.__name__]
    """)
    assert result["code"] == [True, "openusage.client"]
    result = probe("""
        from openusage import *
        code = sorted(n for n in dir() if not n.startswith("_") and n not in {"contextlib", "io", "json", "sys",
                                                                              "HEAVY", "out", "code"})
    """)
    assert result["code"] == sorted(n for n in openusage.__all__ if n != "__version__")
