"""The journal's group write: a group that cannot be written (as on a full disk) fails its future, and
the segment keeps only whole records, so the records written after it are not hidden behind a half one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_group_that_cannot_be_written_fails_and_leaves_no_half_record(tmp_path: Path) -> None:
    """A file size limit refuses the write as a full disk would (in a child: the limit is per process)."""
    script = textwrap.dedent(f"""
        import asyncio, resource, signal
        from pathlib import Path
        from openusage.proxy.journal import Journal, JournalWriteError, encode, read_segment

        async def main():
            j = Journal(Path({str(tmp_path)!r}), "me")
            small = encode({{"id": "pxy-p-1", "type": "completions", "timestamp": 1764000000}})
            await j.append(small)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (len(small) + 20, resource.RLIM_INFINITY))
            try:
                await j.append(encode({{"id": "pxy-p-2", "type": "completions", "timestamp": 1764000000,
                                        "model": "x" * 200}}))
            except JournalWriteError:
                print("refused")
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            await j.append(encode({{"id": "pxy-p-3", "type": "completions", "timestamp": 1764000000}}))
            print([e["id"] for e in read_segment(Path({str(tmp_path)!r}) / "me-0.jnl")])
            j.close()

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["refused", "['pxy-p-1', 'pxy-p-3']"]
