"""The real ``openusage serve`` in a child process, for tests that kill, stop or starve it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, tls

ADMIN_KEY = "sk-proc-admin"
CLI = "from openusage.cli import main; main()"


class ServerProcess:
    def __init__(self, db: str, log_dir: Path, args: tuple[str, ...] = (), port: int | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        env = {**os.environ, "OPENUSAGE_ADMIN_KEY": ADMIN_KEY}
        self.starts += 1
        log = (self.log_dir / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--db", self.db, "--port", str(self.port), *self.args],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1, verify=tls()) as probe:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()}")
                try:
                    if probe.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        raise RuntimeError(f"server did not become ready: {self.log_text()}")

    def log_text(self) -> str:
        return (self.log_dir / f"server-{self.starts}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM: uvicorn's graceful shutdown; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def client(self, key: str = ADMIN_KEY, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout,
                            verify=tls())

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def default_sigint() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child takes Ctrl-C (SIGINT) as a user's terminal
    would, even when this test run was started in the background, where SIGINT is ignored and the
    ignoring is inherited (a command's Ctrl-C handling could not be tested then)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
