"""How long the ``openusage`` command takes to start: what a user waits for before any command does work.

    python bench/bench_cli_startup.py                  # 30 runs of each
    python bench/bench_cli_startup.py -n 60 --src DIR  # the code under DIR/src (another checkout: before/after)
    python bench/bench_cli_startup.py --no-bytecode    # compile every module each run (PYTHONDONTWRITEBYTECODE)

Runs the real console script (``openusage`` beside this interpreter) in fresh processes, rounds
interleaved so a change in the machine's load hits every command alike, and prints each command's
median wall time and CPU (user + system of the child) with its ratio to ``python -c pass``: the
interpreter alone, the floor no command can go under.  The load average is printed before and after
(on a shared machine compare the ratios and the CPU column, not the absolute times).

By default the children keep compiled bytecode in a temporary ``PYTHONPYCACHEPREFIX``, as an installed
package does (the source tree is not written to); ``--no-bytecode`` measures what the test suite, run
with ``PYTHONDONTWRITEBYTECODE=1``, pays instead: every imported openusage module compiled each time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _openusage() -> str:
    """The console script of this interpreter's environment (the one ``pip install`` made)."""
    beside = Path(sys.executable).with_name("openusage")
    found = str(beside) if beside.exists() else shutil.which("openusage")
    if found is None:
        sys.exit("no `openusage` console script beside this interpreter or on PATH: pip install -e . first")
    return found


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode(errors='replace')[:500]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--runs", type=int, default=30, help="runs of each command (default 30)")
    ap.add_argument("--src", type=Path, default=ROOT,
                    help="the checkout whose src/ is measured (default: this one)")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="children write no bytecode: openusage's modules are compiled on every run")
    args = ap.parse_args()

    env = dict(os.environ, PYTHONPATH=str(args.src.resolve() / "src"))
    with tempfile.TemporaryDirectory(prefix="openusage-pycache-") as cache:
        if args.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
        measure(env, args.runs)


def measure(env: dict[str, str], runs: int) -> None:
    """Print the medians of ``runs`` interleaved rounds of each command, with ``env``."""
    script = _openusage()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "openusage --help": [script, "--help"],
        "openusage usage completions --help": [script, "usage", "completions", "--help"],
    }
    check = subprocess.run([sys.executable, "-c", "import openusage; print(openusage.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    print(f"code: {check}")
    print("bytecode: " + ("none (compiled each run)" if "PYTHONPYCACHEPREFIX" not in env else "cached"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  ({os.cpu_count()} cores)")
    for argv in commands.values():  # warm the page cache and the .pyc files
        _run(argv, env)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            wall, cpu = _run(argv, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    floor_wall = statistics.median(walls["python -c pass"])
    floor_cpu = statistics.median(cpus["python -c pass"])
    print(f"\nmedian of {runs} runs")
    print(f"{'command':<38} {'wall ms':>9} {'x floor':>8} {'cpu ms':>9} {'x floor':>8}")
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:<38} {wall * 1000:9.1f} {wall / floor_wall:8.2f} {cpu * 1000:9.1f} {cpu / floor_cpu:8.2f}")


if __name__ == "__main__":
    main()
