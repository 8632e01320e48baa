"""``keys``, ``prices`` and ``usage`` through a running server (``--url``): the admin routes answer
as the store file does, and a missing key, a refused call or a server that is not openusage is one
line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from openusage.cli import cli
from openusage.pricing import load_custom
from tests.conftest import LiveServer
from tests.test_sync_bad_input import Raw, RawServer


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_keys_create_list_revoke_through_a_server(live_server: LiveServer, tmp_path: Path) -> None:
    remote = ["--url", live_server.url, "--key", live_server.admin_key]
    created = run("keys", "create", "--name", "reader", "--scope", "read", "--project", "proj_a", *remote)
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    key_id = next(k.key_id for k in live_server.store.list_keys() if k.name == "reader")
    listed = run("keys", "list", *remote)
    assert listed.exit_code == 0 and key_id in listed.output and "proj_a" in listed.output
    assert secret not in listed.output
    assert run("keys", "revoke", key_id, *remote).output == f"Revoked {key_id}.\n"
    again = run("keys", "revoke", key_id, *remote)
    assert again.exit_code == 1
    assert again.output == f"Error: no active key with id {key_id!r} (`openusage keys list` shows the ids).\n"
    local = run("keys", "create", "--scope", "admin", "--project", "p", "--db", str(tmp_path / "keys.duckdb"))
    remote_refusal = run("keys", "create", "--scope", "admin", "--project", "p", *remote)
    assert local.exit_code == remote_refusal.exit_code == 2  # the same mistake, with or without a server
    assert remote_refusal.output.startswith("Error: ") and len(remote_refusal.output.splitlines()) == 1
    denied = run("keys", "list", "--url", live_server.url, "--key", secret)
    assert denied.exit_code == 1 and denied.output.startswith("Error: 401: ") and len(denied.output.splitlines()) == 1


def test_prices_set_list_remove_through_a_server(live_server: LiveServer) -> None:
    remote = ["--url", live_server.url, "--key", live_server.admin_key]
    done = run("prices", "set", "local-llm", "--input", "0.5", "--output", "1.5", "--from", "2026-01-01",
               "--source", "GPU cost", *remote)
    assert done.exit_code == 0, done.output
    assert done.output == "local-llm from 2026-01-01: input 0.5, output 1.5\n"
    assert [(p.model, str(p.record.effective_from)) for p in load_custom(live_server.store)] == [
        ("local-llm", "2026-01-01")]
    listed = run("prices", "list", "--custom", *remote)
    assert listed.exit_code == 0 and "local-llm" in listed.output and "GPU cost" in listed.output
    removed = run("prices", "remove", "local-llm", "--from", "2026-01-01", *remote)
    assert removed.output == "Removed the price of local-llm from 2026-01-01.\n"
    assert load_custom(live_server.store) == []


def test_a_missing_key_or_another_server_is_one_line(tmp_path: Path) -> None:
    no_key = run("keys", "list", "--url", "http://127.0.0.1:9", "--key", "")
    assert no_key.exit_code == 2 and no_key.output == "Error: --key (an admin key) is needed with --url\n"
    other = RawServer([Raw(200, b"<html>hello</html>", {"content-type": "text/html"})])
    try:
        for args in (["keys", "list"], ["prices", "list", "--custom"], ["usage", "completions"]):
            done = run(*args, "--url", other.url, "--key", "k")
            assert done.exit_code == 1, done.output
            assert done.output.startswith(f"Error: {other.url}") and done.output.endswith(
                "did not answer like an openusage server (200, '<html>hello</html>')\n"), done.output
    finally:
        other.close()
