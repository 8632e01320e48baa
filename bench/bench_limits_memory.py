"""Peak server memory with concurrent worst-case queries: minute buckets over a day, grouped by four
dimensions, over many distinct users (each page holds at most ``--max-page-results`` results).

    python bench/bench_limits_memory.py                     # 1.2M events, 400k users, 8 at once
    python bench/bench_limits_memory.py --events 200000 --follow

Prints each query's pages, statuses and bytes, and the server's resident memory (Linux /proc):
before, at its peak (VmHWM) and a few seconds after the burst.  Loopback only; the store file is
built once under bench/data/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from common import ADMIN_KEY, DAY, END, free_port, generated_store, machine, openusage_exe

from openusage.spec import ENDPOINTS_BY_NAME

START = END - DAY


def events_sql(start: int, stop: int, n: int, users: int) -> str:
    """Events ``start``..``stop`` of ``n`` spread over the day before END: distinct users, 10 projects,
    20 keys, 5 models, so nearly every event is a result of its own at minute grain."""
    given = {"input_tokens": "100 + i % 1000", "num_model_requests": "1"}
    metrics = ", ".join(f"({given.get(m.name, '0')})::BIGINT AS {m.name}"
                        for m in ENDPOINTS_BY_NAME["completions"].metrics)
    return f"""
        SELECT 'mem-' || i AS id, 'completions' AS type,
               {START * 1_000_000} + (i::HUGEINT * {DAY * 1_000_000} // {n})::BIGINT AS ts_us,
               'proj_' || (hash(i) % 10) AS project_id, 'user_' || (hash(i + 3) % {users}) AS user_id,
               'key_' || (hash(i + 5) % 20) AS api_key_id,
               ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'o3', 'gpt-5'][(1 + hash(i + 7) % 5)::BIGINT] AS model,
               false AS batch, 'default' AS service_tier, 'unlabeled' AS api_source, {metrics}
        FROM range({start}, {stop}) t(i)
    """


def build(n: int, users: int) -> Path:
    return generated_store(f"memory-{n}-{users}.duckdb", f"memory:{n}:{users}:v1", n,
                           lambda start, stop: events_sql(start, stop, n, users), chunk=500_000,
                           url_options="?rollups=on")


def rss(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) // 1024
    return out


def request(port: int, method: str, path: str, key: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(method, path, body=body, headers={"Authorization": f"Bearer {key}",
                                                   "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_200_000)
    ap.add_argument("--users", type=int, default=400_000)
    ap.add_argument("--concurrent", type=int, default=8)
    ap.add_argument("--max-page-results", type=int, default=100_000)
    ap.add_argument("--follow", action="store_true", help="follow every query to its last page")
    args = ap.parse_args()
    path = build(args.events, args.users)
    print(machine())
    run(path, args)


def run(path: Path, args: argparse.Namespace) -> None:
    port = free_port()
    proc = subprocess.Popen([openusage_exe(), "serve", "--db", f"duckdb://{path}", "--port", str(port),
                             "--max-page-results", str(args.max_page_results)],
                            env={**os.environ, "OPENUSAGE_ADMIN_KEY": ADMIN_KEY},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/healthz", "")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        keys = []
        for i in range(args.concurrent):
            status, body = request(port, "POST", "/v1/openusage/keys", ADMIN_KEY,
                                   json.dumps({"name": f"mem{i}", "scope": "read"}).encode())
            assert status == 201, body
            keys.append(json.loads(body)["key"])
        params = [("start_time", START), ("end_time", END), ("bucket_width", "1m"), ("limit", 1440),
                  ("group_by", "project_id"), ("group_by", "user_id"), ("group_by", "api_key_id"),
                  ("group_by", "model")]
        before = rss(proc.pid)
        report: list[str] = []
        peak = {"VmHWM": 0}

        def query(key: str) -> None:
            page, pages, results, size, statuses = None, 0, 0, 0, []
            while True:
                status, body = request(port, "GET", "/v1/organization/usage/completions?" +
                                       urlencode(params + ([("page", page)] if page else [])), key)
                statuses.append(status)
                size += len(body)
                if status != 200:
                    break
                doc = json.loads(body)
                pages += 1
                results += sum(len(b["results"]) for b in doc["data"])
                page = doc["next_page"]
                if not page or not args.follow:
                    break
            report.append(f"  {pages} pages, {results:,} results, {size / 2**20:.1f} MiB, "
                          f"statuses {sorted(set(statuses))}")

        t = time.perf_counter()
        threads = [threading.Thread(target=query, args=(k,)) for k in keys]
        for th in threads:
            th.start()
        while any(th.is_alive() for th in threads):
            peak = rss(proc.pid)
            time.sleep(0.05)
        took = time.perf_counter() - t
        time.sleep(3)
        after = rss(proc.pid)
        time.sleep(12)
        later = rss(proc.pid)
        print(f"{args.events:,} events, {args.users:,} users; {args.concurrent} concurrent worst-case queries "
              f"(1m x 1440, 4 group_by), --max-page-results {args.max_page_results:,}, in {took:.1f} s:")
        print("\n".join(report))
        print(f"server RSS: before {before['VmRSS']} MiB, peak {max(peak['VmHWM'], after['VmHWM'])} MiB, "
              f"3 s after {after['VmRSS']} MiB, 15 s after {later['VmRSS']} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
