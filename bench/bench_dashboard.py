"""How long the dashboard's first view takes to draw, in a real browser over 90 days of demo data.

    python bench/bench_dashboard.py                 # 7 cold and 7 warm loads of each view
    python bench/bench_dashboard.py --loads 3 --views costs
    python bench/bench_dashboard.py --against /path/to/other/checkout   # before/after, alternating
    python bench/bench_dashboard.py --restarts 5    # also the first load after each of 5 fresh starts

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

``--restarts N`` then measures what the first visitor after a start gets: N times, for each view (and
each checkout, alternating), ``openusage serve`` is started over a fresh copy of the demo store, and
one cold load is made as soon as the browser (already running) is ready for it, at a chosen delay
after the server first answers ``/healthz`` (``--restart-delay``, default 0: the worst case, the page
asked for the moment the server is up).  Printed apart from the loads above, with each request's
server time: a process's first answers pay what later ones do not.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ADMIN_KEY, machine, remove_store, server

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
# Complete, waited for by the page's own timer: Playwright's wait_for_function would first compile
# its injected script (about 300 KB) on the page's main thread, in the middle of the first view.
DONE = r"""() => new Promise((resolve, reject) => {
  const until = performance.now() + 60000;
  const check = () => {
    if (window.openusage && window.openusage.readyAt !== null) resolve(true);
    else if (performance.now() > until) reject(new Error("the view was not complete within 60 s"));
    else setTimeout(check, 10);
  };
  check();
})"""


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
    page.evaluate(DONE)
    marks: dict[str, Any] = page.evaluate(MARKS)
    return marks


def describe(name: str, values: list[float]) -> str:
    best, median = min(values), statistics.median(values)
    return (f"{name:<12} best {best:7.1f} ms ({best / TARGET_MS:4.2f}x target)   "
            f"median {median:7.1f} ms ({median / TARGET_MS:4.2f}x target)")


def cold(browser: Any, url: str) -> dict[str, Any]:
    """One cold load of ``url`` in a fresh context signed in already; the app's marks."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('openusage.key', {json.dumps(ADMIN_KEY)})")
    try:
        return load(context.new_page(), url, reload=False)
    finally:
        context.close()


@contextlib.contextmanager
def serving(db: Path, src: Path | None) -> Iterator[str]:
    """``openusage serve`` over ``db``, running ``src`` (another checkout's ``src/``) when given; its URL."""
    with contextlib.ExitStack() as stack:
        saved = os.environ.get("PYTHONPATH")
        try:
            if src is not None:
                os.environ["PYTHONPATH"] = str(src.resolve())
            served = stack.enter_context(server(db))
        finally:  # the child has its environment: this process keeps its own
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
        yield served.url


def restarts(sources: dict[str, Path | None], db: Path, views: list[str], times: int,
             delay: float) -> dict[str, Any]:
    """The first cold load after each of ``times`` starts, per view and source (alternating)."""
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {label: {view: [] for view in views} for label in sources}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for _ in range(times):
                for view in views:
                    for label, src in sources.items():
                        fresh = db.with_name("restarted.duckdb")
                        shutil.copyfile(db, fresh)  # each start meets the store as the first start did
                        with serving(fresh, src) as url:
                            time.sleep(delay)
                            results[label][view].append(cold(browser, f"{url}/#tab={view}"))
                        remove_store(fresh)
        finally:
            browser.close()
    return results


def report_restarts(results: dict[str, Any], delay: float, label: str = "") -> None:
    for view, marks in results.items():
        print(f"\n{label}{view}, first load after a start ({len(marks)} starts, loaded {delay * 1000:.0f} ms after "
              "/healthz answered):")
        for name, key in (("first view", "first"), ("complete", "complete")):
            values = [m[key] for m in marks]
            print(f"  {describe(name, values)}   worst {max(values):7.1f} ms")
        by_path: dict[str, list[float]] = {}
        for m in marks:
            for e in m["api"]:
                by_path.setdefault(e["url"].split("?")[0], []).append(e["server"])
        for path, times in by_path.items():
            print(f"  server time {path}: median {statistics.median(times):6.1f} ms, worst {max(times):6.1f} ms")


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
    ap.add_argument("--restarts", type=int, default=0,
                    help="also the first cold load after each of this many fresh starts of the server")
    ap.add_argument("--restart-delay", type=float, default=0.0,
                    help="seconds between the restarted server answering /healthz and the load (default 0)")
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
        sources: dict[str, Path | None] = {"": None}
        if args.against:
            sources = {"this checkout: ": None, f"{args.against}: ": args.against / "src"}
        urls: dict[str, str] = {}
        for label, src in sources.items():
            copy = Path(tmp) / f"served-{len(urls)}.duckdb"
            shutil.copyfile(db, copy)  # one DuckDB file is opened by one process
            urls[label] = stack.enter_context(serving(copy, src))
        results = run(urls, args.views.split(","), args.loads)
        stack.close()
        after_start = restarts(sources, db, args.views.split(","), args.restarts, args.restart_delay) \
            if args.restarts else {}
        print(f"after:  {machine()}")
    for label, by_view in results.items():
        report(by_view, label)
    for label, by_view in after_start.items():
        report_restarts(by_view, args.restart_delay, label)
    if args.json:
        args.json.write_text(json.dumps({**results, "after a start": after_start} if after_start else results,
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
