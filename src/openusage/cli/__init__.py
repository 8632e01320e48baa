"""The ``openusage`` command.

Each sub-command lives in its own module of this package, named ``<something>_cmd.py`` with a
``register(cli)`` function; they are found and registered in name order.  The CLI builds settings
and hands them to the core, which never reads flags itself.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from typing import TYPE_CHECKING

import click

from .. import __version__

if TYPE_CHECKING:  # loaded by the commands that talk HTTP: `openusage --help` starts without it
    import httpx


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="openusage")
def cli() -> None:
    """openusage: OpenAI's Usage & Costs API over your own usage data."""


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"{__name__}.{info.name}").register(cli)


_register()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def main() -> None:
    """The console script: every failure is one line on stderr and an exit code, never a traceback
    (``OPENUSAGE_DEBUG=1`` shows it): 2 for bad input, 1 for a failure, 130 for Ctrl-C."""
    try:
        code = cli.main(prog_name="openusage", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (click.Abort, KeyboardInterrupt) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt)
        click.echo("Interrupted." if interrupted else "Aborted.", err=True)
        code = 130 if interrupted else 1
    except BrokenPipeError:  # the reader went away (``| head``): nothing left to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except Exception as exc:
        transport = _transport_error(exc)
        if transport is not None:
            where = transport.request.url if _has_request(transport) else None
            target = f"{where.scheme}://{where.netloc.decode()}" if where is not None and where.host else "the server"
            click.echo(f"Error: cannot reach {target} ({_one_line(exc)}): is it running, and is the URL right?",
                       err=True)
        else:  # the last resort: a bug or an environment problem, still one line
            if os.environ.get("OPENUSAGE_DEBUG"):
                traceback.print_exc()
            click.echo(f"Error: {_one_line(exc)} (set OPENUSAGE_DEBUG=1 for the traceback)", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _transport_error(exc: Exception) -> httpx.TransportError | None:
    """``exc`` if httpx raised it for want of a connection.  httpx is looked up, not imported: a command
    that talked HTTP has loaded it, and one that did not (``--help``) cannot have raised its errors."""
    httpx = sys.modules.get("httpx")
    return exc if httpx is not None and isinstance(exc, httpx.TransportError) else None


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 (httpx raises when it has none)
    except RuntimeError:
        return False
    return True
