"""The command line: ``python run.py [COMMAND]`` and the ``aggregator`` console script.

With no command it runs the scheduler.  Every command takes ``--config PATH``.  A configuration
mistake prints one line per problem (file:line: field: message) and exits 2 before anything is
opened; a held lock exits 3; a command that ran but found problems exits 1.  Each command group
lives in its own module (``cycle``, ``digest``, ``feeds``, ``serve``, ``subscribers``,
``users``); this one
assembles them.
"""

from __future__ import annotations

from pathlib import Path

import click

from aggregator import __version__
from aggregator.cli.common import config_option, err_console, load_settings, setup_logging
from aggregator.cli.cycle import fetch, publish
from aggregator.cli.digest import digest
from aggregator.cli.feeds import feeds
from aggregator.cli.fulltext import fulltext
from aggregator.cli.queue import migrate, scheduler, worker
from aggregator.cli.search import search
from aggregator.cli.serve import demo, serve
from aggregator.cli.subscribers import subscribers
from aggregator.cli.users import users
from aggregator.errors import AggregatorError
from aggregator.scheduler import run_forever


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="aggregator")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines as text (default) or one JSON object each; or AGGREGATOR_LOG_FORMAT.",
)
@config_option
@click.pass_context
def main(ctx: click.Context, verbose: bool, log_format: str | None, config_path: Path) -> None:
    """Aggregate the network members' feeds into one feed, a web page and an email digest.

    With no command: run the scheduler (fetch and publish every interval, digests on their
    schedules) until SIGINT or SIGTERM.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["log_format"] = log_format
    if ctx.invoked_subcommand is None:
        setup_logging(verbose)
        settings = load_settings(config_path)
        run_forever(settings)


@main.command()
@config_option
@click.pass_context
def run(ctx: click.Context, config_path: Path) -> None:
    """Run the scheduler (the same as no command)."""
    setup_logging(bool(ctx.obj.get("verbose")))
    settings = load_settings(config_path)
    run_forever(settings)


for command in (
    fetch,
    publish,
    digest,
    feeds,
    subscribers,
    serve,
    demo,
    users,
    search,
    fulltext,
    worker,
    scheduler,
    migrate,
):
    main.add_command(command)


def entrypoint() -> None:
    try:
        main(obj={})
    except AggregatorError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None
