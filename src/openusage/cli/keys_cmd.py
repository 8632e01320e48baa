"""``openusage keys create|list|revoke``: API keys, on the store file or through a server."""

from __future__ import annotations

import time

import click

from ..timeparse import iso
from .common import (
    admin_call,
    admin_client,
    bad_input,
    check_answer,
    console,
    db_option,
    fail,
    open_local_store,
    remote_options,
    resolve_target,
)

SCOPES = ("admin", "read", "ingest", "proxy")
"""The same tuple as :data:`openusage.auth.SCOPES` (pinned by tests/test_cli_startup.py): ``auth`` imports
the store, which ``openusage keys create --help`` must not load to show the choices."""


def register(cli: click.Group) -> None:
    @cli.group()
    def keys() -> None:
        """Create, list and revoke API keys (scopes: admin, read, ingest, proxy)."""

    @keys.command("create")
    @click.option("--name", default="", help="A label to recognise the key by.")
    @click.option("--scope", type=click.Choice(SCOPES), default="read",
                  show_default=True)
    @click.option("--project", "projects", multiple=True,
                  help="Limit a read or ingest key to these projects (repeat); a proxy key's project.")
    @db_option
    @remote_options
    def create(name: str, scope: str, projects: tuple[str, ...], db: str, url: str | None, key: str | None) -> None:
        """Create a key and print it (it is shown this once)."""
        if any(not p.strip() for p in projects):
            bad_input("--project takes a project id, such as proj_chat; got an empty one.")
        target = resolve_target(db, url, key)
        if target:
            data = admin_call(target, "POST", "/v1/openusage/keys", json={
                "name": name, "scope": scope, "projects": list(projects) or None})
            secret, key_id = data["key"], data["id"]
        else:
            from ..auth import create_key

            try:
                new = create_key(open_local_store(db), name, scope, list(projects) or None)
            except ValueError as exc:
                bad_input(str(exc))
            secret, key_id = new.secret, new.record.key_id
        console.print(f"Created {scope} key [bold]{key_id}[/]" + (f" for {', '.join(projects)}" if projects else ""))
        click.echo(secret)

    @keys.command("list")
    @db_option
    @remote_options
    def list_(db: str, url: str | None, key: str | None) -> None:
        """List keys (never their secrets)."""
        from rich.table import Table

        target = resolve_target(db, url, key)
        if target:
            rows = admin_call(target, "GET", "/v1/openusage/keys")["data"]
        else:
            rows = [r.public() for r in open_local_store(db).list_keys()]
        table = Table("id", "name", "scope", "projects", "created (UTC)", "revoked")
        for r in rows:
            table.add_row(r["id"], r["name"] or "", r["scope"], ", ".join(r["projects"] or []) or "all",
                          iso(r["created_at"]), iso(r["revoked_at"]) if r["revoked_at"] else "")
        console.print(table)

    @keys.command("revoke")
    @click.argument("key_id")
    @db_option
    @remote_options
    def revoke(key_id: str, db: str, url: str | None, key: str | None) -> None:
        """Revoke a key by its id; it stops working at once (within 5 s on other workers)."""
        target = resolve_target(db, url, key)
        unknown = f"no active key with id {key_id!r} (`openusage keys list` shows the ids)."
        if target:
            with admin_client(target) as client:
                r = client.delete(f"/v1/openusage/keys/{key_id}")
            if r.status_code == 404:
                fail(unknown)
            check_answer(r)
        elif not open_local_store(db).revoke_key(key_id, int(time.time())):
            fail(unknown)
        console.print(f"Revoked {key_id}.")
