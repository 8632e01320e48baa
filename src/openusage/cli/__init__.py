"""The ``openusage`` command.

Each sub-command lives in its own module of this package, named ``<something>_cmd.py`` with a
``register(cli)`` function; they are found and registered in name order.  The CLI builds settings
and hands them to the core, which never reads flags itself.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="openusage")
def cli() -> None:
    """openusage: OpenAI's Usage & Costs API over your own usage data."""


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"{__name__}.{info.name}").register(cli)


_register()


def main() -> None:
    cli(prog_name="openusage")
