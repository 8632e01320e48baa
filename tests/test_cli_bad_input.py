"""Bad input to ``openusage`` is one line saying what is wrong, exit code 2; a failure at run time
(a server down) is one line, exit code 1; Ctrl-C is one line, exit code 130.  Never a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.procserver import default_sigint

OPENUSAGE = shutil.which("openusage") or "openusage"
DOWN = f"http://127.0.0.1:{free_port()}"  # nothing listens there

FILES = {
    "impossible-date.yaml": "- model: my-llama\n  effective_from: 2026-02-30\n  input: 1\n",
    "not-yaml.yaml": "prices: [\n",
    "not-a-number.yaml": "- model: my-llama\n  effective_from: 2026-01-01\n  input: lots\n",
    "not-a-list.yaml": "just a string\n",
}

CASES = [
    # (arguments, exit code, words the one line must hold); DB and DIR are replaced per test.
    (["prices", "set", "--file", "DIR/impossible-date.yaml", "--db", "DB"], 2, "impossible date"),
    (["prices", "set", "--file", "DIR/not-yaml.yaml", "--db", "DB"], 2, "not valid YAML"),
    (["prices", "set", "--file", "DIR/not-a-number.yaml", "--db", "DB"], 2, "expected a number"),
    (["prices", "set", "--file", "DIR/not-a-list.yaml", "--db", "DB"], 2, "expected a list"),
    (["prices", "set", "m", "--input", "1", "--from", "2026-02-30", "--db", "DB"], 2, "YYYY-MM-DD"),
    (["prices", "set", "m", "--input", "abc", "--from", "2026-01-01", "--db", "DB"], 2, "--input"),
    (["prices", "set", "m", "--input", "1", "--db", "DB"], 2, "--from"),
    (["prices", "set", "m", "--price", "nonsense", "--from", "2026-01-01", "--db", "DB"], 2, "FIELD=USD"),
    (["prices", "remove", "m", "--from", "2026-13-01", "--db", "DB"], 2, "--from"),
    (["prices", "missing", "--since", "whenever", "--db", "DB"], 2, "whenever"),
    (["prices", "missing", "--since", "1d", "--until", "3d", "--db", "DB"], 2, "--until"),
    (["prices", "list", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    (["prices", "missing", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    (["prices", "set", "m", "--input", "1", "--from", "2026-01-01", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    (["keys", "list", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    (["keys", "create", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    (["keys", "revoke", "abc", "--url", DOWN, "--key", "k"], 1, "cannot reach"),
    (["keys", "list", "--url", "127.0.0.1:8787", "--key", "k"], 2, "--url"),
    (["keys", "list", "--url", DOWN], 2, "--key"),
    (["keys", "create", "--scope", "proxy", "--db", "DB"], 2, "--project"),
    (["keys", "create", "--scope", "admin", "--project", "p", "--db", "DB"], 2, "projects"),
    (["keys", "revoke", "nope", "--db", "DB"], 1, "no active key"),
    (["keys", "list", "--db", "mysql://h/db"], 2, "unsupported store URL"),
    (["keys", "list", "--db", "chdb:///x?rollups=maybe"], 2, "rollups"),
    (["keys", "list", "--db", f"clickhouse://u:pw-in-url@127.0.0.1:{free_port()}/db"], 1, "u:***@127.0.0.1"),
    (["prices", "list", "--custom", "--db", "DIR"], 1, "cannot open the store"),
    (["migrate", "--from", "mysql://h/db", "--to", "DB"], 1, "unsupported store URL"),
    (["migrate", "--from", "DB", "--to", "DB"], 1, "same store"),
    (["serve", "--db", "mysql://h/db", "--port", "0"], 2, "unsupported store URL"),
    (["serve", "--host", "no-such-host.invalid", "--port", "0", "--db", "DB"], 2, "--host"),
    (["serve", "--port", "70000", "--db", "DB"], 2, "--port"),
    (["serve", "--upstream", "ftp://x/v1", "--port", "0", "--db", "DB"], 2, "--upstream"),
    (["serve", "--budget", "p=10", "--port", "0", "--db", "DB"], 2, "--upstream"),
    (["usage", "completions", "--url", DOWN], 1, "cannot reach"),
]


def run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    return subprocess.run([OPENUSAGE, *args], capture_output=True, text=True, timeout=60, env=env, **kw)  # type: ignore[call-overload]


@pytest.mark.parametrize("args, code, words", CASES, ids=[" ".join(c[0][:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_never_a_traceback(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    db = str(tmp_path / "usage.duckdb")
    argv = [a.replace("DIR", str(tmp_path)).replace("DB", db) if a in ("DB", "DIR") or a.startswith("DIR/")
            else a for a in args]
    res = run(argv)
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert res.returncode == code, out
    assert words in res.stderr, out
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, out
    assert "shown this once" not in out and "pw-in-url" not in out


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts, never answers: the command waits until interrupted
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
        proc = subprocess.Popen([OPENUSAGE, "keys", "list", "--url", url, "--key", "k"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
        conn = None
        silent.settimeout(30)
        try:
            conn, _ = silent.accept()
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if conn is not None:
                conn.close()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() == "Interrupted."


class _OddServer(BaseHTTPRequestHandler):
    """Answers every request 200 with JSON of the wrong shape (a proxy or another service)."""

    def do_GET(self) -> None:
        body = b'{"data": 5}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_one_line_unless_debugging(debug: bool) -> None:
    odd = ThreadingHTTPServer(("127.0.0.1", 0), _OddServer)
    thread = threading.Thread(target=odd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{odd.server_address[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
        if debug:
            env["OPENUSAGE_DEBUG"] = "1"
        res = subprocess.run([OPENUSAGE, "keys", "list", "--url", url, "--key", "k"], capture_output=True,
                             text=True, timeout=60, env=env)
    finally:
        odd.shutdown()
        odd.server_close()
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith("Error: TypeError")
    assert ("Traceback" in res.stderr) == debug
