"""All of ``src/`` passes mypy with the strict settings of ``pyproject.toml``, so a wrong annotation,
an unchecked ``Any`` or a stale ``# type: ignore`` fails the test command like any other bug."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]

def _exempt_modules() -> list[str]:
    return [m for o in CONFIG.get("overrides", []) if o.get("ignore_errors")
            for m in ([o["module"]] if isinstance(o["module"], str) else o["module"])]


def test_settings_are_strict() -> None:
    assert CONFIG["strict"] is True
    assert CONFIG["warn_unused_ignores"] is True
    assert CONFIG["disallow_any_generics"] is True
    assert CONFIG["files"] == ["src/openusage"]
    assert "ignore_missing_imports" not in CONFIG, "allow missing stubs per module, never globally"
    for override in CONFIG.get("overrides", []):
        for key in ("strict", "disallow_untyped_defs", "disallow_any_generics", "warn_unused_ignores"):
            assert override.get(key, True) is not False, f"{override['module']} relaxes {key}"
    assert _exempt_modules() == [], "no module is exempt from type checking (ignore_errors)"


def test_mypy_passes_on_all_of_src() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYPY")}
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-pretty"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    modules = sum(1 for _ in (ROOT / "src" / "openusage").rglob("*.py"))  # every one of them is checked
    assert (done.returncode, done.stdout) == (0, f"Success: no issues found in {modules} source files\n"), \
        done.stdout + done.stderr
