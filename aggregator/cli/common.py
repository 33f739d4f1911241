"""What every command shares: the ``--config`` option, settings and store opening, output.

A configuration mistake prints one line per problem (file:line: field: message) and exits 2
before anything is opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from aggregator import config
from aggregator.cycle import open_configured_store
from aggregator.errors import ConfigError
from aggregator.models import CycleReport, FetchStatus
from aggregator.ops import logs
from aggregator.store.protocol import Store

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


_CONFIG_KEY = "config_path"


def _inherit_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    """``--config`` may stand before or after the subcommand (``run.py --config X feeds list``
    and ``run.py feeds list --config X`` mean the same): the nearest one given wins, the
    default applies only when none was."""
    if value is not None:
        ctx.ensure_object(dict)[_CONFIG_KEY] = value
        return value
    for outer in (ctx, *_parents(ctx)):
        if isinstance(outer.obj, dict) and outer.obj.get(_CONFIG_KEY) is not None:
            return Path(outer.obj[_CONFIG_KEY])
    return Path(config.DEFAULT_CONFIG)


def _parents(ctx: click.Context) -> Iterator[click.Context]:
    while ctx.parent is not None:
        ctx = ctx.parent
        yield ctx


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        callback=_inherit_config,
        help=f"The feeds.yaml to use (default: {config.DEFAULT_CONFIG}).",
    )(func)


def load_settings(path: Path) -> config.Settings:
    try:
        return config.load(path)
    except ConfigError as exc:
        err_console.print(f"[bold red]Invalid configuration[/] ({len(exc.problems)} problem(s)):")
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        raise SystemExit(2) from None


@contextmanager
def opened_store(settings: config.Settings) -> Iterator[Store]:
    store = open_configured_store(settings)
    try:
        yield store
    finally:
        store.close()


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def setup_logging(verbose: bool) -> None:
    """ISO times with their zone, text or JSON (``--log-format``, ``AGGREGATOR_LOG_FORMAT``)."""
    ctx = click.get_current_context(silent=True)
    option = None
    while ctx is not None and option is None:
        option = ctx.obj.get("log_format") if isinstance(ctx.obj, dict) else None
        ctx = ctx.parent
    try:
        fmt = logs.choose_format(option, os.environ)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--log-format") from None
    logs.configure(verbose, fmt)


def print_cycle_summary(report: CycleReport) -> None:
    seconds = (report.finished - report.started).total_seconds()
    ok = report.count(FetchStatus.OK)
    same = report.count(FetchStatus.NOT_MODIFIED)
    failed = sum(1 for o in report.outcomes if o.error)
    console.print(
        f"Sources: {ok} ok, {same} not modified, {failed} failed "
        f"— {report.new_posts} new post(s), {report.updated_posts} updated, in {seconds:.1f} s"
    )
    for o in report.outcomes:
        if o.error:
            console.print(f"  [red]✗ {o.source_id}[/]: {o.error}")
        if o.moved_to:
            console.print(f"  [yellow]→ {o.source_id}[/] moved permanently to {o.moved_to}")


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")
