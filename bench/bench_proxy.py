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

* with ``--vs-litellm``, the same for LiteLLM's proxy (``litellm --config``, no database) in front of the
  same upstream, side by side.  LiteLLM goes into its own virtualenv, ``bench/.litellm-venv``, made on
  first use (never a dependency of openusage); if it cannot be installed or started, one line says so
  and the rest still runs.

    python bench/bench_proxy.py                  # 3,000 latency pairs, 5 s of load per target
    python bench/bench_proxy.py --quick          # 500 pairs, 2 s
    python bench/bench_proxy.py --quick --vs-litellm
    python bench/bench_proxy.py --quick --transport httpx   # the proxy on httpx's own HTTP client
    python bench/bench_proxy.py --quick --journal-share     # and the same server without its journal, in turns
    python bench/bench_proxy.py --instructions 2000         # the server under callgrind: instructions per request
    python bench/bench_proxy.py --sync-variants 2000        # ways to put one record on disk, in turns

Every answer's last byte waits for its usage record to be on disk (the proxy's journal), so the run
also measures that floor: one journal record appended and fsynced in the journal's directory, the way
the journal writes, one at a time, between the latency pairs.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "sk-bench-admin"
BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}],"user":"bench"}'


class SyncWriteFloor:
    """Appends of a 300-byte record in a directory, each fsynced, as the proxy's journal writes its records,
    timed one at a time: the least a sequential proxied request waits for its usage.  :meth:`sample` is
    called between the latency pairs (after every fifth), so the floor sees the disk of the same
    moments: on a disk shared with other work, an fsync takes 0.1 ms one minute and 4 ms the next.

    Each sample also times the alternative a journal could use, in turns with the append: overwriting
    a file written (with zeros) and synced beforehand, then ``fdatasync``.  The file's size and block
    map do not change, so its inode need not be written: on ext4 without a journal (this project's
    machine) an append's fsync waits for three device writes (data, inode, cache flush), this one for
    two."""

    RECORD = b"x" * 300

    def __init__(self, directory: Path, samples: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "bench-floor.tmp"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.pre_path = directory / "bench-floor-preallocated.tmp"
        self.pre_fd = os.open(self.pre_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(self.pre_fd, bytes(len(self.RECORD) * (samples + 1)))
        os.fsync(self.pre_fd)
        self.offset = 0
        self.times: list[float] = []
        self.cpu = 0.0
        self.pre_times: list[float] = []
        self.pre_cpu = 0.0

    def sample(self) -> None:
        first, second = (self._append, self._overwrite) if len(self.times) % 2 else (self._overwrite, self._append)
        first()
        second()

    def _append(self) -> None:
        cpu, t = time.process_time(), time.perf_counter()
        os.write(self.fd, self.RECORD)
        os.fsync(self.fd)
        self.times.append((time.perf_counter() - t) * 1000)
        self.cpu += time.process_time() - cpu

    def _overwrite(self) -> None:
        cpu, t = time.process_time(), time.perf_counter()
        os.pwrite(self.pre_fd, self.RECORD, self.offset)
        os.fdatasync(self.pre_fd)
        self.pre_times.append((time.perf_counter() - t) * 1000)
        self.pre_cpu += time.process_time() - cpu
        self.offset += len(self.RECORD)

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.pre_fd)
        self.path.unlink(missing_ok=True)
        self.pre_path.unlink(missing_ok=True)


def server_command(transport: str, journal: bool = True) -> list[str]:
    """``openusage serve``; with ``transport="httpx"`` the proxy's ``ProxySettings.transport`` is set to
    httpx's own client, with ``journal=False`` its ``ProxySettings.journal`` is switched off (there are
    no command-line options for them: they exist for comparisons like these)."""
    if transport == "fast" and journal:
        return [sys.executable, "-c", "from openusage.cli import main; main()", "serve"]
    code = ("import openusage.proxy as p\n"
            "make = p.settings_from_options\n"
            "def bench_settings(*a, **k):\n"
            "    s = make(*a, **k)\n"
            f"    s.transport = {transport!r}\n"
            f"    s.journal = s.journal if {journal!r} else False\n"
            "    return s\n"
            "p.settings_from_options = bench_settings\n"
            "from openusage.cli import main\n"
            "main()\n")
    return [sys.executable, "-c", code, "serve"]


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


HOLD = 0.05
"""Seconds the upstream holds a stream back after its first event."""
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


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process's main thread (the event loop) and of its other threads (the journal's
    and the store writer's among them), so far."""
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if task.name == str(pid):
            main += seconds
        else:
            others += seconds
    return main, others


def cpu_tree(pid: int) -> float:
    """CPU seconds of a process and its descendants (LiteLLM may run its server in a child)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += cpu_seconds(p)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


LITELLM_VENV = ROOT / "bench" / ".litellm-venv"
LITELLM_KEY = "sk-bench-litellm-0123456789abcdef0123456789abcdef"


def litellm_command() -> list[str]:
    """The ``litellm`` executable of the benchmark's own virtualenv, made (and LiteLLM installed) on first
    use; RuntimeError says why it cannot be had."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print("installing LiteLLM into bench/.litellm-venv (first use) ...", flush=True)
        steps = [[sys.executable, "-m", "venv", str(LITELLM_VENV)],
                 [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"{' '.join(step[:3])} failed: {last}")
        if not exe.exists():  # an install cut off earlier left the package without its command
            subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "--force-reinstall", "--no-deps",
                            "litellm"], capture_output=True)
        if not exe.exists():
            raise RuntimeError(f"{exe} is missing after installing litellm")
    return [str(exe)]


def start_litellm(up_port: int, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    """LiteLLM's proxy in front of the fake upstream: one model pointing at it, no database, a master key
    (so it checks keys, as openusage does), the local cost map (no download at start); client ``x-``
    headers forwarded, so the upstream's ``x-fake-hold`` works through it too."""
    config = tmp / "litellm.yaml"
    config.write_text(f"""model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://127.0.0.1:{up_port}/v1
      api_key: sk-dummy
general_settings:
  master_key: {LITELLM_KEY}
  forward_client_headers_to_llm_api: true
litellm_settings:
  telemetry: false
""")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
    log = (tmp / "litellm.log").open("wb")
    return subprocess.Popen([*litellm_command(), "--config", str(config), "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)


@dataclass
class Side:
    """One proxy's figures, measured against the upstream alone in the same run."""

    name: str
    d_lat: list[float]
    p_lat: list[float]
    d_first: list[float]
    p_first: list[float]
    p_total: list[float]
    rps: float
    count: int
    cpu_us: float
    u_lat: list[float] | None = None
    """Sequential latency of the same server without its journal (``--journal-share``), in turns."""

    @property
    def added50(self) -> float:
        return pct(self.p_lat, 50) - pct(self.d_lat, 50)

    @property
    def added99(self) -> float:
        return pct(self.p_lat, 99) - pct(self.d_lat, 99)


def measure(name: str, port: int, key: str, pid: int, up_port: int, pairs: int, streams: int, seconds: float,
            connections: int, floor: SyncWriteFloor | None = None,
            unjournaled: tuple[int, str] | None = None) -> Side:
    """Latency pairs (direct, then through ``port``), first streamed events, then throughput and CPU.
    ``unjournaled`` (port, key): the same server without its journal, timed after each pair too."""
    direct_req = request_bytes("/v1/chat/completions", None)
    proxy_req = request_bytes("/v1/chat/completions", key)
    direct, proxied = SyncConn(up_port), SyncConn(port)
    bare = (SyncConn(unjournaled[0]), request_bytes("/v1/chat/completions", unjournaled[1])) if unjournaled else None
    for _ in range(200):  # warm up both (connection pool, caches, key ring)
        direct.call(direct_req)
        proxied.call(proxy_req)
        if bare is not None:
            bare[0].call(bare[1])
    d_lat: list[float] = []
    p_lat: list[float] = []
    u_lat: list[float] = []
    for i in range(pairs):
        t0 = time.perf_counter()
        direct.call(direct_req)
        t1 = time.perf_counter()
        proxied.call(proxy_req)
        t2 = time.perf_counter()
        d_lat.append((t1 - t0) * 1000)
        p_lat.append((t2 - t1) * 1000)
        if bare is not None:
            t3 = time.perf_counter()
            bare[0].call(bare[1])
            u_lat.append((time.perf_counter() - t3) * 1000)
        if floor is not None and i % 5 == 4:
            floor.sample()
    d_first, p_first, p_total = [], [], []
    for _ in range(streams):
        d_first.append(first_event_ms(up_port, None, HOLD)[0])
        first, total = first_event_ms(port, key, HOLD)
        p_first.append(first)
        p_total.append(total)
    cpu0 = cpu_tree(pid)
    count, rps = throughput(port, proxy_req, seconds, connections)
    cpu_us = (cpu_tree(pid) - cpu0) / max(count, 1) * 1e6
    return Side(name, d_lat, p_lat, d_first, p_first, p_total, rps, count, cpu_us, u_lat)


def report(side: Side) -> None:
    pairs = len(side.p_lat)
    diffs = [p - d for p, d in zip(side.p_lat, side.d_lat, strict=True)]
    print(f"{side.name}: latency, {pairs} sequential non-streaming chat completions each (ms):")
    print(f"  {'':10} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}")
    for label, xs in (("direct", side.d_lat), ("proxied", side.p_lat)):
        print(f"  {label:10} {pct(xs, 50):7.3f} {pct(xs, 90):7.3f} {pct(xs, 99):7.3f} {statistics.fmean(xs):7.3f}")
    print(f"  added latency: p50 {side.added50:.3f} ms, p99 {side.added99:.3f} ms "
          f"(paired differences: p50 {pct(diffs, 50):.3f} ms, p99 {pct(diffs, 99):.3f} ms)")
    if side.u_lat:
        print(f"  the same server without its journal, in turns: proxied p50 {pct(side.u_lat, 50):.3f} ms, added p50 "
              f"{pct(side.u_lat, 50) - pct(side.d_lat, 50):.3f} ms (the ceiling: all but the journal's wait)")
    print(f"  streaming, first event then {HOLD * 1000:.0f} ms of silence upstream ({len(side.p_first)} streams): "
          f"time to first event direct p50 {pct(side.d_first, 50):.3f}, proxied p50 {pct(side.p_first, 50):.3f} "
          f"(p99 {pct(side.d_first, 99):.3f} / {pct(side.p_first, 99):.3f}); proxied stream end p50 "
          f"{pct(side.p_total, 50):.1f}")


def recorded_requests(port: int) -> int:
    import httpx

    r = httpx.get(f"http://127.0.0.1:{port}/v1/organization/usage/completions",
                  params={"start_time": int(time.time()) - 86400, "bucket_width": "1d", "limit": 2},
                  headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    r.raise_for_status()
    return sum(res["num_model_requests"] for b in r.json()["data"] for res in b["results"])


def callgrind_total(pid: int, out: Path) -> int:
    """Ask the callgrind run ``pid`` to dump its counters (all threads, since the last zeroing) and return
    the instructions in that dump."""
    before = set(out.parent.glob(out.name + "*"))
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = set(out.parent.glob(out.name + "*")) - before
        for path in new:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith(("totals:", "summary:")):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def counted(pid: int, out: Path, port: int, req: bytes, count: int) -> int:
    """Instructions the server ``pid`` executes for ``count`` sequential requests over one keep-alive
    connection (counters zeroed before, dumped after)."""
    conn = SyncConn(port)
    conn.call(req)
    subprocess.run(["callgrind_control", "--zero", str(pid)], check=True, capture_output=True)
    for _ in range(count):
        conn.call(req)
    total = callgrind_total(pid, out)
    conn.sock.close()
    return total


def instructions(count: int, journal: bool) -> None:
    """The server under ``valgrind --tool=callgrind``: instructions per request for ``/healthz`` (the
    floor: same protocol and middleware, no proxying) and for a proxied chat completion, in turns.  An
    instruction count does not depend on the machine's load, unlike CPU time.  The dumps stay in the
    printed directory for ``callgrind_annotate``."""
    from openusage.auth import create_key
    from openusage.store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-cg-"))
    db = tmp / "usage.duckdb"
    store = open_store(str(db))
    key = create_key(store, "bench", "proxy", ["proj_bench"]).secret
    store.close()
    up_port, px_port = free_port(), free_port()
    env = {**os.environ, "OPENUSAGE_ADMIN_KEY": ADMIN, "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT)))}
    out = tmp / "callgrind.out"
    upstream = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(up_port)],
                                env=env)
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
                               *server_command("fast", journal), "--db", str(db), "--port", str(px_port),
                               "--upstream", f"http://127.0.0.1:{up_port}/v1", "--upstream-key", "sk-upstream",
                               "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_port(up_port, upstream, "fake upstream")
        wait_port(px_port, server, "openusage under callgrind", timeout=600)
        healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        proxied = request_bytes("/v1/chat/completions", key)
        warm = SyncConn(px_port)
        for _ in range(100):
            warm.call(healthz)
            warm.call(proxied)
        warm.sock.close()
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} (instruction counts do not depend on it); {count} sequential requests "
              f"per turn; journal {'on' if journal else 'off'}; dumps in {tmp}")
        figures: dict[str, list[float]] = {"/healthz": [], "proxied": []}
        for _ in range(2):
            figures["/healthz"].append(counted(server.pid, out, px_port, healthz, count) / count)
            figures["proxied"].append(counted(server.pid, out, px_port, proxied, count) / count)
        for name, per in figures.items():
            print(f"  {name:9} {' '.join(f'{x:9.0f}' for x in per)} instructions per request")
        h, p = min(figures["/healthz"]), min(figures["proxied"])
        print(f"  proxied / /healthz {p / h:.2f}x; proxying adds {p - h:.0f} instructions per request")
    finally:
        for proc in (server, upstream):
            proc.terminate()
        for proc in (server, upstream):
            proc.wait(timeout=60)


SYNC_VARIANTS = ("append + fsync", "append + fdatasync", "append, O_DSYNC", "preallocated + fdatasync",
                 "preallocated, O_DSYNC")


def sync_variants(rounds: int, directory: Path) -> None:
    """Each way a journal could put one 300-byte record on disk, timed in rotating turns (so each sees the
    same moments of a shared disk): appends (the journal's way: ``fsync``, ``fdatasync``, or ``O_DSYNC``
    writes) and overwrites of a file written with zeros and synced beforehand (``fdatasync``, ``O_DSYNC``).
    An append changes the file's size, so its sync writes the inode too; an overwrite of written blocks
    does not."""
    record = SyncWriteFloor.RECORD
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"bench-sync-{i}.tmp" for i in range(len(SYNC_VARIANTS))]
    fds = [os.open(paths[0], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600),
           os.open(paths[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600),
           os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC | os.O_DSYNC, 0o600)]
    for path in paths[3:]:
        with open(path, "wb") as f:
            f.write(bytes(len(record) * (rounds + 1)))
            f.flush()
            os.fsync(f.fileno())
    fds += [os.open(paths[3], os.O_WRONLY), os.open(paths[4], os.O_WRONLY | os.O_DSYNC)]
    fd_dir = os.open(directory, os.O_RDONLY)
    os.fsync(fd_dir)
    os.close(fd_dir)

    def one(i: int, n: int) -> None:
        fd = fds[i]
        if i < 3:
            os.write(fd, record)
        else:
            os.pwrite(fd, record, n * len(record))
        if i in (0,):
            os.fsync(fd)
        elif i in (1, 3):
            os.fdatasync(fd)

    wall: list[list[float]] = [[] for _ in SYNC_VARIANTS]
    cpu = [0.0] * len(SYNC_VARIANTS)
    try:
        for n in range(rounds):
            for k in range(len(SYNC_VARIANTS)):
                i = (n + k) % len(SYNC_VARIANTS)
                c, t = time.thread_time(), time.perf_counter()
                one(i, n)
                wall[i].append((time.perf_counter() - t) * 1000)
                cpu[i] += time.thread_time() - c
    finally:
        for fd in fds:
            os.close(fd)
        for path in paths:
            path.unlink(missing_ok=True)
        directory.rmdir()
    print(f"{rounds} records of {len(record)} bytes each way, in rotating turns, in {directory}; load average "
          f"{os.getloadavg()[0]:.2f}")
    for name, times, spent in zip(SYNC_VARIANTS, wall, cpu, strict=True):
        print(f"  {name:26} p50 {pct(times, 50):.3f} ms  p90 {pct(times, 90):.3f} ms  "
              f"{spent / rounds * 1e6:5.0f} us CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 latency pairs and 2 s of load per target")
    ap.add_argument("--pairs", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--vs-litellm", action="store_true", help="measure LiteLLM's proxy the same way, side by side")
    ap.add_argument("--transport", choices=["fast", "httpx"], default="fast",
                    help="the proxy's upstream HTTP client (ProxySettings.transport; default fast)")
    ap.add_argument("--journal-share", action="store_true",
                    help="also load the same server without its journal, in turns with it: the journal's cost")
    ap.add_argument("--instructions", type=int, metavar="N",
                    help="instead: count the server's instructions per request under callgrind, N requests a turn")
    ap.add_argument("--no-journal", action="store_true", help="with --instructions: the server without its journal")
    ap.add_argument("--sync-variants", type=int, metavar="N",
                    help="instead: time N records put on disk each way a journal could (fsync, fdatasync, O_DSYNC, "
                         "preallocated), in turns, in a new temporary directory")
    args = ap.parse_args()
    if args.sync_variants:
        sync_variants(args.sync_variants, Path(tempfile.mkdtemp(prefix="bench-sync-")))
        return
    if args.instructions:
        instructions(args.instructions, not args.no_journal)
        return
    pairs = args.pairs or (500 if args.quick else 3000)
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    streams = 30 if args.quick else 100

    from openusage.auth import create_key
    from openusage.store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    db = tmp / "usage.duckdb"
    store = open_store(str(db))
    key = create_key(store, "bench", "proxy", ["proj_bench"]).secret
    store.close()

    up_port, px_port, ll_port = free_port(), free_port(), free_port()
    # this checkout's code, not whatever copy of openusage the virtualenv has installed
    env = {**os.environ, "OPENUSAGE_ADMIN_KEY": ADMIN, "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT)))}
    procs = [
        subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(up_port)], env=env),
        subprocess.Popen([*server_command(args.transport),
                          "--db", str(db), "--port", str(px_port),
                          "--upstream", f"http://127.0.0.1:{up_port}/v1", "--upstream-key", "sk-upstream",
                          "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL),
    ]
    peer = start_without_journal(args.transport, tmp, up_port, env) if args.journal_share else None
    try:
        wait_port(up_port, procs[0], "fake upstream")
        wait_port(px_port, procs[1], "openusage")
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average before the run {load[0]:.2f} / {load[1]:.2f} "
              f"/ {load[2]:.2f} (1/5/15 min); proxy transport: {args.transport}")
        # the floor, in the same run and first (no recording backlog yet): the upstream alone, and the
        # server's own cheapest route
        _, d_rps = throughput(up_port, request_bytes("/v1/chat/completions", None), seconds, args.connections)
        cpu0 = cpu_seconds(procs[1].pid)
        h_count, h_rps = throughput(px_port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", seconds,
                                    args.connections)
        h_cpu_us = (cpu_seconds(procs[1].pid) - cpu0) / h_count * 1e6
        floor = SyncWriteFloor(db.with_name(db.name + ".proxy-journal"), pairs // 5)
        try:
            if peer is not None:
                wait_port(peer[1], peer[0], "openusage without a journal")
            ours = measure("openusage", px_port, key, procs[1].pid, up_port, pairs, streams, seconds, args.connections,
                           floor, (peer[1], peer[2]) if peer is not None else None)
        finally:
            floor.close()
        report(ours)
        floor_ms = pct(floor.times, 50)
        print(f"  journal floor (a 300-byte append and its fsync in the journal's directory, between the pairs): "
              f"p50 {floor_ms:.3f} ms, {floor.cpu / len(floor.times) * 1e6:.0f} us CPU; added p50 beyond it "
              f"{ours.added50 - floor_ms:.3f} ms")
        print(f"  the same record overwriting a preallocated file, then fdatasync, in turns with it: p50 "
              f"{pct(floor.pre_times, 50):.3f} ms, {floor.pre_cpu / len(floor.pre_times) * 1e6:.0f} us CPU")
        print(f"throughput, {args.connections} connections, {seconds:g} s each:")
        print(f"  upstream alone            {d_rps:8.0f} req/s")
        print(f"  openusage's /healthz      {h_rps:8.0f} req/s  {h_cpu_us:5.0f} us CPU per request (the server's "
              f"floor: same middleware, no proxying)")
        print(f"  through the proxy         {ours.rps:8.0f} req/s  {ours.cpu_us:5.0f} us CPU per request (all its "
              f"threads, writer included): {1e6 / ours.cpu_us:.0f} req/s per free core")
        print(f"  proxy / floor             {ours.rps / h_rps:8.2f}x of /healthz's req/s, {ours.rps / d_rps:.2f}x of "
              f"the upstream alone; CPU {ours.cpu_us / h_cpu_us:.2f}x of /healthz's")
        expected = 200 + pairs + streams + ours.count
        deadline = time.monotonic() + 30
        got = recorded_requests(px_port)
        while got < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            got = recorded_requests(px_port)
        print(f"recorded: {got} proxied requests in the Usage API, of {expected} sent"
              + (" (all)" if got == expected else " (MISMATCH)"))
        if peer is not None:
            journal_share((px_port, procs[1].pid, key), peer, seconds, args.connections)
        if args.vs_litellm:
            compare_litellm(ours, up_port, ll_port, tmp, pairs, streams, seconds, args.connections)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        servers = procs + ([peer[0]] if peer is not None else [])
        for p in servers:
            p.terminate()
        for p in servers:
            p.wait(timeout=30)


def start_without_journal(transport: str, tmp: Path, up_port: int,
                          env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, str]:
    """The same server as the one measured, on a store of its own, with its journal switched off:
    (process, port, proxy key)."""
    from openusage.auth import create_key
    from openusage.store import open_store

    db = tmp / "no-journal.duckdb"
    store = open_store(str(db))
    key = create_key(store, "bench", "proxy", ["proj_bench"]).secret
    store.close()
    port = free_port()
    proc = subprocess.Popen([*server_command(transport, journal=False), "--db", str(db), "--port", str(port),
                             "--upstream", f"http://127.0.0.1:{up_port}/v1", "--upstream-key", "sk-upstream",
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
    return proc, port, key


def loaded(port: int, pid: int, key: str, seconds: float, connections: int) -> tuple[float, float, float]:
    """Requests/s through a proxy under ``connections`` connections, and its CPU per request in
    microseconds: its event loop's, and its other threads' (journal, store writer)."""
    main0, others0 = thread_cpu(pid)
    count, rps = throughput(port, request_bytes("/v1/chat/completions", key), seconds, connections)
    main1, others1 = thread_cpu(pid)
    return rps, (main1 - main0) / count * 1e6, (others1 - others0) / count * 1e6


def journal_share(ours: tuple[int, int, str], peer: tuple[subprocess.Popen[bytes], int, str], seconds: float,
                  connections: int, turns: int = 3) -> None:
    """The journal's cost: the measured server and the same one without its journal, loaded in turns
    (``turns`` each, so both see the same minutes of the machine), with their CPU per request split
    between the event loop and the other threads."""
    port, pid, key = ours
    proc, peer_port, peer_key = peer
    wait_port(peer_port, proc, "openusage without a journal")
    throughput(peer_port, request_bytes("/v1/chat/completions", peer_key), 0.5, connections)  # warm up
    print(f"the journal's share, {connections} connections, {seconds:g} s per turn, in turns:")
    print(f"  {'':17} {'req/s':>7} {'CPU/req':>8} {'loop':>6} {'threads':>8}   load")
    sides = {"with journal": (port, pid, key), "without journal": (peer_port, proc.pid, peer_key)}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(turns):
        for name, (p, process, k) in sides.items():
            rps, loop_us, threads_us = loaded(p, process, k, seconds, connections)
            cpu[name].append(loop_us + threads_us)
            print(f"  {name:17} {rps:7.0f} {loop_us + threads_us:5.0f} us {loop_us:3.0f} us {threads_us:5.0f} us"
                  f"   {os.getloadavg()[0]:.2f}")
    with_us, without_us = statistics.median(cpu["with journal"]), statistics.median(cpu["without journal"])
    print(f"  median CPU per request {with_us:.0f} us with the journal, {without_us:.0f} us without: the journal "
          f"costs {with_us - without_us:.0f} us per request")


def compare_litellm(ours: Side, up_port: int, port: int, tmp: Path, pairs: int, streams: int, seconds: float,
                    connections: int) -> None:
    """LiteLLM's proxy, measured as openusage was, then both side by side."""
    try:
        proc = start_litellm(up_port, port, tmp)
    except (RuntimeError, OSError) as exc:
        print(f"LiteLLM: not measured, it could not be installed: {exc}")
        return
    try:
        try:
            wait_port(port, proc, "LiteLLM", timeout=120)
            theirs = measure("LiteLLM", port, LITELLM_KEY, proc.pid, up_port, pairs, streams, seconds, connections)
        except (RuntimeError, OSError) as exc:
            tail = (tmp / "litellm.log").read_text(errors="replace").strip().splitlines()[-1:]
            print(f"LiteLLM: not measured, it did not start or answer: {exc} {' '.join(tail)[:200]}")
            return
        report(theirs)
        print(f"side by side (same upstream, same run, load average {os.getloadavg()[0]:.2f}):")
        print(f"  {'':10} {'added p50':>10} {'added p99':>10} {'1st event':>10} {'req/s':>8} {'CPU/req':>10}")
        for side in (ours, theirs):
            print(f"  {side.name:10} {side.added50:7.3f} ms {side.added99:7.3f} ms {pct(side.p_first, 50):7.3f} ms "
                  f"{side.rps:8.0f} {side.cpu_us:7.0f} us")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
