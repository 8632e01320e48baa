"""The journal's inline appends: a lone request's record is written on the event loop, on disk before
``append`` returns; when the files are busy it joins the next group instead; a write that fails is an
error the request sees (its answer is withheld), never a record silently missing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

from openusage.proxy.journal import Journal, encode, read_segment


def _event(i: int) -> dict[str, object]:
    return {"id": f"pxy-p-{i}", "type": "completions", "timestamp": 1_764_000_000 + i, "input_tokens": i,
            "output_tokens": 0, "num_model_requests": 1}


def test_inline_append_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    async def run() -> None:
        j = Journal(tmp_path, "me")
        try:
            fut = j.append(encode(_event(1)), inline=True)
            assert fut.done() and fut.result() is None  # no group, no thread hand-off
            assert [e["id"] for e in read_segment(tmp_path / "me-0.jnl")] == ["pxy-p-1"]
            assert j.fsyncs == 1
            await j.append(encode(_event(2)))  # the thread's way: both go to the same segment
            assert [e["id"] for e in read_segment(tmp_path / "me-0.jnl")] == ["pxy-p-1", "pxy-p-2"]
            assert j.fsyncs == 2
        finally:
            j.close()

    asyncio.run(run())


def test_inline_append_joins_the_group_while_the_files_are_busy(tmp_path: Path) -> None:
    async def run() -> None:
        j = Journal(tmp_path, "me")
        try:
            j._io.acquire()  # as while the journal's thread writes a group
            fut = j.append(encode(_event(1)), inline=True)
            assert not fut.done()
            await asyncio.sleep(0.05)
            assert not fut.done() and not (tmp_path / "me-0.jnl").exists()
            j._io.release()
            await asyncio.wait_for(fut, 10)
            assert [e["id"] for e in read_segment(tmp_path / "me-0.jnl")] == ["pxy-p-1"]
        finally:
            j.close()

    asyncio.run(run())


def test_inline_append_that_cannot_write_fails_and_leaves_no_half_record(tmp_path: Path) -> None:
    """A file size limit (as a full disk would) refuses the write: the future holds the error, and the
    segment keeps only whole records."""
    script = textwrap.dedent(f"""
        import asyncio, resource, signal
        from pathlib import Path
        from openusage.proxy.journal import Journal, JournalWriteError, encode, read_segment

        async def main():
            j = Journal(Path({str(tmp_path)!r}), "me")
            small = encode({{"id": "pxy-p-1", "type": "completions", "timestamp": 1764000000}})
            assert j.append(small, inline=True).done()
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (len(small) + 20, resource.RLIM_INFINITY))
            fut = j.append(encode({{"id": "pxy-p-2", "type": "completions", "timestamp": 1764000000,
                                    "model": "x" * 200}}), inline=True)
            assert fut.done()
            try:
                fut.result()
            except JournalWriteError:
                print("refused")
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            print([e["id"] for e in read_segment(Path({str(tmp_path)!r}) / "me-0.jnl")])
            j.close()

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["refused", "['pxy-p-1']"]
