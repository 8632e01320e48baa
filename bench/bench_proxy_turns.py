"""Two versions of the proxy side by side, in turns: which one costs less, on a machine too loaded for
whole runs a minute apart to compare.

Two ``openusage serve --upstream`` servers, each importing openusage from its own source directory (say
a ``git archive`` of an earlier commit, and this checkout's ``src``), in front of one fake upstream.
Sequential latency is timed direct, A, direct, B, ... so both see the same moments of the machine; then
each is loaded with ``--connections`` connections for ``--seconds``, A then B, ``--turns`` times, and its
CPU per request is split between the event loop and the other threads (journal, store writer, DuckDB).

    git archive <commit> src | tar -x -C /tmp/old
    python bench/bench_proxy_turns.py --a /tmp/old/src --b src
    python bench/bench_proxy_turns.py --a src --b src --b-settings "s.record_interval = 0.2"   # one setting
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_proxy as bp  # the sibling benchmark's load generator and helpers

ROOT = bp.ROOT


def command(settings: str) -> list[str]:
    """``openusage serve``, its proxy settings changed by ``settings`` (Python statements on ``s``, ``;``
    between them), for comparisons of one setting."""
    lines = "".join(f"    {stmt.strip()}\n" for stmt in settings.split(";") if stmt.strip())
    code = ("import openusage.proxy as p\nmake = p.settings_from_options\n"
            "def bench_settings(*a, **k):\n    s = make(*a, **k)\n" + lines +
            "    return s\np.settings_from_options = bench_settings\nfrom openusage.cli import main\nmain()\n")
    return [sys.executable, "-c", code, "serve"]


def start(src: str, settings: str, tmp: Path, name: str, up_port: int) -> tuple[subprocess.Popen[bytes], int, str]:
    """A server importing openusage from ``src``, on a store of its own: (process, port, proxy key)."""
    from openusage.auth import create_key
    from openusage.store import open_store

    db = tmp / f"{name}.duckdb"
    store = open_store(str(db))
    key = create_key(store, "bench", "proxy", ["proj_bench"]).secret
    store.close()
    port = bp.free_port()
    env = {**os.environ, "OPENUSAGE_ADMIN_KEY": bp.ADMIN, "PYTHONPATH": os.pathsep.join((src, str(ROOT)))}
    proc = subprocess.Popen([*command(settings), "--db", str(db), "--port", str(port),
                             "--upstream", f"http://127.0.0.1:{up_port}/v1", "--upstream-key", "sk-upstream",
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
    return proc, port, key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="source directory of version A (holds the openusage package)")
    ap.add_argument("--b", required=True, help="source directory of version B")
    ap.add_argument("--a-settings", default="", help="Python statements changing A's ProxySettings `s`")
    ap.add_argument("--b-settings", default="", help="the same for B")
    ap.add_argument("--pairs", type=int, default=1000, help="sequential requests per version")
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-turns-"))
    up_port = bp.free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(up_port)],
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    sides = {"A": start(args.a, args.a_settings, tmp, "a", up_port),
             "B": start(args.b, args.b_settings, tmp, "b", up_port)}
    try:
        bp.wait_port(up_port, upstream, "fake upstream")
        for name, (proc, port, _) in sides.items():
            bp.wait_port(port, proc, f"openusage {name}")
        print(f"A: {args.a} {args.a_settings}\nB: {args.b} {args.b_settings}\nload average {os.getloadavg()[0]:.2f}")
        direct, direct_req = bp.SyncConn(up_port), bp.request_bytes("/v1/chat/completions", None)
        conns = {name: (bp.SyncConn(port), bp.request_bytes("/v1/chat/completions", key))
                 for name, (_, port, key) in sides.items()}
        for _ in range(200):  # warm up (connection pools, key caches)
            direct.call(direct_req)
            for conn, req in conns.values():
                conn.call(req)
        d_lat: list[float] = []
        lat: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.pairs):
            for name, (conn, req) in conns.items():
                t0 = time.perf_counter()
                direct.call(direct_req)
                t1 = time.perf_counter()
                conn.call(req)
                d_lat.append((t1 - t0) * 1000)
                lat[name].append((time.perf_counter() - t1) * 1000)
        d50 = bp.pct(d_lat, 50)
        print(f"sequential, {args.pairs} each, in turns (direct p50 {d50:.3f} ms):")
        for name, xs in lat.items():
            print(f"  {name}: proxied p50 {bp.pct(xs, 50):.3f} p90 {bp.pct(xs, 90):.3f} p99 {bp.pct(xs, 99):.3f} ms; "
                  f"added p50 {bp.pct(xs, 50) - d50:.3f} ms")
        print(f"{args.connections} connections, {args.seconds:g} s per turn:")
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
        for turn in range(args.turns):
            for name, (proc, port, key) in sides.items():
                rps, loop_us, threads_us = bp.loaded(port, proc.pid, key, args.seconds, args.connections)
                runs[name].append((rps, loop_us, threads_us))
                print(f"  turn {turn} {name}: {rps:6.0f} req/s, CPU {loop_us + threads_us:4.0f} us per request "
                      f"(loop {loop_us:4.0f}, other threads {threads_us:4.0f}), load {os.getloadavg()[0]:.2f}")
        for name, rs in runs.items():
            rps, cpu = statistics.median(r[0] for r in rs), statistics.median(r[1] + r[2] for r in rs)
            loop_us, threads_us = statistics.median(r[1] for r in rs), statistics.median(r[2] for r in rs)
            print(f"  {name} median: {rps:6.0f} req/s, CPU {cpu:4.0f} us (loop {loop_us:4.0f}, "
                  f"other threads {threads_us:4.0f})")
    finally:
        procs = [upstream] + [s[0] for s in sides.values()]
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
