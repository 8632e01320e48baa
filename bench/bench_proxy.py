"""What the metering proxy costs: added latency per request, and throughput through it.

Three processes: the fake OpenAI upstream (tests/fake_upstream.py), ``openusage serve --upstream``
in front of it, and this script, which generates the load.  In one run it measures

* latency of non-streaming chat completions, one at a time over a keep-alive connection, alternating
  direct-to-upstream and through-the-proxy requests so both see the same machine noise; the added
  latency is reported at p50 and p99 (of the two distributions, and of the paired differences);
* time to the first streamed event, direct and through the proxy, while the upstream holds the rest
  of the stream back (the proxy must not buffer);
* throughput with many connections at once, direct and through the proxy;
* that every proxied request was recorded once (the Usage API's ``num_model_requests``).

    python bench/bench_proxy.py            # 3,000 latency pairs, 2 x 5 s of load
    python bench/bench_proxy.py --quick    # 500 pairs, 2 x 2 s
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "sk-bench-admin"
BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}],"user":"bench"}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_bytes(path: str, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    raise RuntimeError(f"no content-length in {head[:200]!r}")


class SyncConn:
    """A keep-alive HTTP/1.1 connection with as little client overhead as Python allows."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self, req: bytes) -> bytes:
        self.sock.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        n = _content_length(head)
        while len(rest) < n:
            rest += self.sock.recv(65536)
        self.buf = rest[n:]
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        return rest[:n]


STREAM_BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}],"stream":true}'


def first_event_ms(port: int, key: str | None, hold: float) -> tuple[float, float]:
    """One streamed chat completion on a fresh connection: ms to the first SSE event, and to the end.

    The upstream sends its first event, then holds the rest back ``hold`` seconds (``x-fake-hold``)."""
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
           f"x-fake-hold: {hold}\r\nConnection: close\r\nContent-Length: {len(STREAM_BODY)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        sock.sendall(req + STREAM_BODY)
        seen, first = b"", None
        while True:
            data = sock.recv(65536)
            if not data:
                break
            seen += data
            if first is None and b"data:" in seen:
                first = time.perf_counter()
        end = time.perf_counter()
    if first is None or b"[DONE]" not in seen:
        raise RuntimeError("the stream did not arrive whole")
    return (first - t0) * 1000, (end - t0) * 1000


async def _worker(port: int, req: bytes, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    try:
        while time.perf_counter() < stop:
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_content_length(head))
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n")[0].decode())
            n += 1
    finally:
        counts.append(n)
        writer.close()


def throughput(port: int, req: bytes, seconds: float, connections: int) -> tuple[int, float]:
    """(requests answered, requests per second); every request sent is answered before a worker stops."""

    async def run() -> tuple[int, float]:
        counts: list[int] = []
        start = time.perf_counter()
        await asyncio.gather(*(_worker(port, req, start + seconds, counts) for _ in range(connections)))
        return sum(counts), sum(counts) / (time.perf_counter() - start)

    try:
        import uvloop

        return uvloop.run(run())
    except ImportError:
        return asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def recorded_requests(port: int) -> int:
    import httpx

    r = httpx.get(f"http://127.0.0.1:{port}/v1/organization/usage/completions",
                  params={"start_time": int(time.time()) - 86400, "bucket_width": "1d", "limit": 2},
                  headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    r.raise_for_status()
    return sum(res["num_model_requests"] for b in r.json()["data"] for res in b["results"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 latency pairs and 2 s of load per side")
    ap.add_argument("--pairs", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    pairs = args.pairs or (500 if args.quick else 3000)
    seconds = args.seconds or (2.0 if args.quick else 5.0)

    from openusage.auth import create_key
    from openusage.store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    db = tmp / "usage.duckdb"
    store = open_store(str(db))
    key = create_key(store, "bench", "proxy", ["proj_bench"]).secret
    store.close()

    up_port, px_port = free_port(), free_port()
    env = {**os.environ, "OPENUSAGE_ADMIN_KEY": ADMIN, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(up_port)], env=env),
        subprocess.Popen([sys.executable, "-c", "from openusage.cli import main; main()", "serve",
                          "--db", str(db), "--port", str(px_port),
                          "--upstream", f"http://127.0.0.1:{up_port}/v1", "--upstream-key", "sk-upstream",
                          "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL),
    ]
    try:
        wait_port(up_port, procs[0], "fake upstream")
        wait_port(px_port, procs[1], "openusage")
        load = os.getloadavg()
        direct_req = request_bytes("/v1/chat/completions", None)
        proxy_req = request_bytes("/v1/chat/completions", key)
        direct, proxied = SyncConn(up_port), SyncConn(px_port)
        for _ in range(200):  # warm up both (connection pool, caches, key ring)
            direct.call(direct_req)
            proxied.call(proxy_req)
        d_lat: list[float] = []
        p_lat: list[float] = []
        for _ in range(pairs):
            t0 = time.perf_counter()
            direct.call(direct_req)
            t1 = time.perf_counter()
            proxied.call(proxy_req)
            t2 = time.perf_counter()
            d_lat.append((t1 - t0) * 1000)
            p_lat.append((t2 - t1) * 1000)
        diffs = [p - d for p, d in zip(p_lat, d_lat, strict=True)]
        print(f"machine: {os.cpu_count()} cores, load average before the run {load[0]:.2f} / {load[1]:.2f} "
              f"/ {load[2]:.2f} (1/5/15 min)")
        print(f"latency, {pairs} sequential non-streaming chat completions each (ms):")
        print(f"  {'':10} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}")
        for name, xs in (("direct", d_lat), ("proxied", p_lat)):
            print(f"  {name:10} {pct(xs, 50):7.3f} {pct(xs, 90):7.3f} {pct(xs, 99):7.3f} {statistics.fmean(xs):7.3f}")
        added50, added99 = pct(p_lat, 50) - pct(d_lat, 50), pct(p_lat, 99) - pct(d_lat, 99)
        print(f"  added latency: p50 {added50:.3f} ms, p99 {added99:.3f} ms "
              f"(paired differences: p50 {pct(diffs, 50):.3f} ms, p99 {pct(diffs, 99):.3f} ms)")
        hold = 0.05
        d_first, p_first, p_total = [], [], []
        for _ in range(30 if args.quick else 100):
            d_first.append(first_event_ms(up_port, None, hold)[0])
            first, total = first_event_ms(px_port, key, hold)
            p_first.append(first)
            p_total.append(total)
        print(f"streaming, first event then {hold * 1000:.0f} ms of silence upstream ({len(p_first)} streams, ms):")
        print(f"  time to first event: direct p50 {pct(d_first, 50):.3f}, proxied p50 {pct(p_first, 50):.3f} "
              f"(p99 {pct(d_first, 99):.3f} / {pct(p_first, 99):.3f}); proxied stream end p50 {pct(p_total, 50):.1f}"
              f" -> the first event is not held back")
        health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        _, h_rps = throughput(px_port, health, seconds, args.connections)
        _, d_rps = throughput(up_port, direct_req, seconds, args.connections)
        cpu0 = cpu_seconds(procs[1].pid)
        p_count, p_rps = throughput(px_port, proxy_req, seconds, args.connections)
        proxy_cpu_us = (cpu_seconds(procs[1].pid) - cpu0) / p_count * 1e6
        print(f"throughput, {args.connections} connections, {seconds:.0f} s each:")
        print(f"  upstream alone            {d_rps:8.0f} req/s")
        print(f"  through the proxy         {p_rps:8.0f} req/s  ({p_rps / d_rps:.2f}x of the upstream alone)")
        print(f"  proxy CPU per request     {proxy_cpu_us:8.0f} us (all its threads, writer included): "
              f"{1e6 / proxy_cpu_us:.0f} req/s per free core")
        print(f"  openusage's /healthz      {h_rps:8.0f} req/s  (the server's own ceiling: same middleware, "
              f"no proxying; proxy = {p_rps / h_rps:.2f}x of it)")
        expected = 200 + pairs + len(p_first) + p_count
        deadline = time.monotonic() + 30
        got = recorded_requests(px_port)
        while got < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            got = recorded_requests(px_port)
        print(f"recorded: {got} proxied requests in the Usage API, of {expected} sent"
              + (" (all)" if got == expected else " (MISMATCH)"))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
