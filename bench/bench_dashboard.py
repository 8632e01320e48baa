"""How long the dashboard's first view takes to draw, in a real browser over 90 days of demo data.

    python bench/bench_dashboard.py                 # 7 cold and 7 warm loads of each view
    python bench/bench_dashboard.py --loads 3 --views costs
    python bench/bench_dashboard.py --against /path/to/other/checkout   # before/after, alternating

Starts ``openusage serve`` on loopback over a temporary DuckDB store filled with the demo
organization (``openusage serve --demo``: 90 days), and loads the dashboard in Debian's Chromium
(``/usr/bin/chromium``, driven by Playwright for Python; no browser is downloaded) with the key
already in the tab's session, as after a sign-in.

A *cold* load is a fresh browser context (empty HTTP cache); a *warm* one reloads the same tab
(script and stylesheet from the cache, the API asked again).  Printed per view:

- ``first view``: from navigation start to the moment the app marks the first view drawn
  (``document.body.dataset.ready == "1"``, at ``window.openusage.firstViewAt``, a
  ``performance.now()`` reading): every chart and total the view can draw without costs is drawn,
  and the cards waiting for costs show that they are loading;
- ``complete``: until every card of the view is drawn (``window.openusage.readyAt``, costs included);
- each API request's server time (request sent to first byte, from the Resource Timing entries) and
  its size.

Best and median of the loads, and their ratio to the 300 ms target, with the machine's load average;
the medians of when the page's first script ran (``openusage:boot``, the mark it sets once it has
sent the first view's requests), the app's script arrived, DOMContentLoaded and the first API
request left.  A build of the app that predates the ``body`` marker is measured by ``readyAt`` alone.

``--against DIR`` serves a second checkout's ``src/`` (``PYTHONPATH``) beside this one, over a copy of
the same store, and alternates the loads between the two: the build before a change and after it,
measured in the same minutes of a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ADMIN_KEY, machine, server

from openusage.cli.serve_cmd import fill_demo
from openusage.store import open_store

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TARGET_MS = 300.0

# The first view's marks, falling back to the whole view's for a build without the body marker.
MARKS = r"""() => ({
  first: window.openusage.firstViewAt ?? window.openusage.readyAt,
  complete: window.openusage.readyAt,
  boot: performance.getEntriesByName('openusage:boot')[0]?.startTime ?? null,
  script: performance.getEntriesByType('resource').find(e => /main-.*\.js$/.test(e.name))?.responseEnd ?? null,
  dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
  fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
  api: performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/')).map(e => ({
    url: e.name.replace(location.origin, ''), start: e.startTime, server: e.responseStart - e.requestStart,
    total: e.responseEnd - e.startTime, bytes: e.encodedBodySize})),
})"""
DONE = "() => window.openusage && window.openusage.readyAt !== null"


def demo_store(folder: Path) -> Path:
    """A DuckDB file holding the demo organization's 90 days, as ``openusage serve --demo`` fills it."""
    path = folder / "demo.duckdb"
    store = open_store(str(path))
    try:
        fill_demo(store)
    finally:
        store.close()
    return path


def load(page: Any, url: str, reload: bool) -> dict[str, Any]:
    """One load of ``url`` (a reload of the open page when ``reload``); the app's marks once complete."""
    if reload:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_function(DONE, timeout=60_000)
    marks: dict[str, Any] = page.evaluate(MARKS)
    return marks


def describe(name: str, values: list[float]) -> str:
    best, median = min(values), statistics.median(values)
    return (f"{name:<12} best {best:7.1f} ms ({best / TARGET_MS:4.2f}x target)   "
            f"median {median:7.1f} ms ({median / TARGET_MS:4.2f}x target)")


def run(urls: dict[str, str], views: list[str], loads: int) -> dict[str, Any]:
    """``loads`` cold and warm loads of each view from each server (by label), alternating servers."""
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {label: {} for label in urls}
    init = f"sessionStorage.setItem('openusage.key', {json.dumps(ADMIN_KEY)})"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for view in views:
                for label in urls:
                    results[label][view] = {"cold": [], "warm": []}
                for _ in range(loads):
                    for label, url in urls.items():
                        target = f"{url}/#tab={view}"
                        context = browser.new_context(viewport={"width": 1280, "height": 900})
                        context.add_init_script(init)
                        page = context.new_page()
                        results[label][view]["cold"].append(load(page, target, reload=False))
                        results[label][view]["warm"].append(load(page, target, reload=True))
                        context.close()
        finally:
            browser.close()
    return results


def report(results: dict[str, Any], label: str = "") -> None:
    for view, runs in results.items():
        for kind in ("cold", "warm"):
            marks = runs[kind]
            print(f"\n{label}{view}, {kind} ({len(marks)} loads):")
            print("  " + describe("first view", [m["first"] for m in marks]))
            print("  " + describe("complete", [m["complete"] for m in marks]))
            steps = {"first script ran": "boot", "script loaded": "script", "DOMContentLoaded": "dcl"}
            parts = [f"{k} {statistics.median(m[v] for m in marks if m.get(v) is not None):.0f} ms"
                     for k, v in steps.items() if any(m.get(v) is not None for m in marks)]
            sent = statistics.median(min(e["start"] for e in m["api"]) for m in marks)
            parts.append(f"first API request sent {sent:.0f} ms")
            print("  medians: " + ", ".join(parts))
        by_url: dict[str, list[dict[str, float]]] = {}
        for m in runs["cold"] + runs["warm"]:
            for e in m["api"]:
                by_url.setdefault(e["url"], []).append(e)
        print("  API requests (server time = sent to first byte; median of the loads):")
        for u, entries in by_url.items():
            server_ms = statistics.median(e["server"] for e in entries)
            total_ms = statistics.median(e["total"] for e in entries)
            size = statistics.median(e["bytes"] for e in entries)
            print(f"    {server_ms:7.1f} ms server {total_ms:7.1f} ms total {size / 1024:8.1f} KiB  {u}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=int, default=7, help="cold and warm loads of each view (default 7)")
    ap.add_argument("--views", default="costs", help="comma-separated tabs (costs,tokens,usage,...)")
    ap.add_argument("--json", type=Path, help="also write every load's marks here")
    ap.add_argument("--against", type=Path,
                    help="another checkout whose src/ is served beside this one; loads alternate")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if args.against and not (args.against / "src" / "openusage").is_dir():
        sys.exit(f"--against {args.against}: no src/openusage there")
    with tempfile.TemporaryDirectory(prefix="openusage-bench-dashboard-") as tmp, contextlib.ExitStack() as stack:
        t0 = time.perf_counter()
        db = demo_store(Path(tmp))
        print(f"demo store (90 days) filled in {time.perf_counter() - t0:.1f} s")
        print(f"before: {machine()}")
        urls = {"": stack.enter_context(server(db)).url}
        if args.against:
            other = Path(tmp) / "against.duckdb"
            shutil.copyfile(db, other)  # one DuckDB file is opened by one process
            saved = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = str((args.against / "src").resolve())
            try:
                urls = {"this checkout: ": urls[""], f"{args.against}: ": stack.enter_context(server(other)).url}
            finally:
                if saved is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = saved
        results = run(urls, args.views.split(","), args.loads)
        print(f"after:  {machine()}")
    for label, by_view in results.items():
        report(by_view, label)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
