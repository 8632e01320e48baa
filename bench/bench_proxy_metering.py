"""Instructions the event loop spends on one proxied answer once it has arrived: parsed, metered, its
event built and recorded (converted to its struct, encoded for the journal; no journal write).

Counted under ``valgrind --tool=callgrind`` with the counting switched on only around the loop
(``callgrind_control -i on``), minus the same run with no iterations, so that start-up and imports do
not count.  Instruction counts do not depend on the machine's load, unlike CPU time.

    python bench/bench_proxy_metering.py                      # this checkout's src/
    python bench/bench_proxy_metering.py --src /tmp/old/src   # another tree (say a git archive of an earlier commit)
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSWER = (b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":'
          b'[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":'
          b'{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,'
          b'"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},'
          b'"service_tier":"default","system_fingerprint":"fp_1"}')
STEPS = {"metered": "answer parsed (orjson), metered, event built", "recorded": "+ recorded (no journal write)"}


def child(step: str, count: int) -> None:
    """Under callgrind: run the step ``count`` times with the counting switched on around the loop."""
    import orjson

    from openusage.proxy import recorder as rec
    from openusage.proxy.forward import _Call
    from openusage.proxy.metering import answer_fields

    call = _Call("/chat/completions", "/chat/completions", "completions", time.time(), "proj_bench", "key_1",
                 "bench", "gpt-4o", {"model": "gpt-4o"})
    recorder = rec.Recorder(lambda: None, flush_after=3600)
    checked = "checked" in inspect.signature(rec.Recorder.record).parameters  # trees before it had none

    def one() -> None:
        event = call.event("pxy-", answer_fields(call.path, call.request, orjson.loads(ANSWER)))
        if step == "recorded":
            recorder.record(event, checked=True) if checked else recorder.record(event)
            recorder._pending.clear()

    async def run() -> None:
        for _ in range(200):
            one()
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
        for _ in range(count):
            one()
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)

    asyncio.run(run())


def counted(src: str, step: str, count: int, out: Path) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((src, str(ROOT)))}
    subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                    sys.executable, __file__, "--child", step, str(count)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT / "src"), help="the source tree to count (default: this checkout's)")
    ap.add_argument("--count", type=int, default=1000, help="answers per counted run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-metering-"))
    print(f"{args.src}: instructions per answer, {args.count} answers (load average {os.getloadavg()[0]:.2f}, "
          "which the counts do not depend on)")
    for step, what in STEPS.items():
        base = counted(args.src, step, 0, tmp / f"{step}.0")
        total = counted(args.src, step, args.count, tmp / f"{step}.n")
        print(f"  {what:48} {(total - base) / args.count:9.0f}")


if __name__ == "__main__":
    main()
