"""The ``openusage`` command.  Each sub-command lives in its own module of this package; the CLI
builds settings and hands them to the core, which never reads flags itself."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="openusage")
def cli() -> None:
    """openusage: OpenAI's Usage & Costs API over your own usage data."""


def _register() -> None:
    from . import ingest_cmd, keys_cmd, query_cmd, serve_cmd

    for module in (serve_cmd, ingest_cmd, query_cmd, keys_cmd):
        module.register(cli)


_register()


def main() -> None:
    cli(prog_name="openusage")
