"""The command line: ``python run.py [COMMAND]`` and the ``aggregator`` console script.

With no command it runs the scheduler.  Every command takes ``--config PATH``.  A configuration
mistake prints one line per problem (file:line: field: message) and exits 2 before anything is
opened; a held lock exits 3; a command that ran but found problems exits 1.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aggregator import __version__, config
from aggregator.app import (
    fetch_and_publish,
    held_lock,
    open_configured_store,
    select_sources,
    utc_now,
)
from aggregator.errors import AggregatorError, ConfigError, LockedError
from aggregator.jobs import digest_now
from aggregator.models import CycleReport, FetchStatus, UpdateOutcome
from aggregator.store.protocol import Store
from aggregator.update import failing_for

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=config.DEFAULT_CONFIG,
        show_default=True,
        help="The feeds.yaml to use.",
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


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def _setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        for noisy in ("apscheduler", "aiohttp", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="aggregator")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@config_option
@click.pass_context
def main(ctx: click.Context, verbose: bool, config_path: Path) -> None:
    """Aggregate the network members' feeds into one feed, a web page and an email digest.

    With no command: run the scheduler (fetch and publish every interval, digests on their
    schedules) until SIGINT or SIGTERM.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if ctx.invoked_subcommand is None:
        _setup_logging(verbose)
        settings = load_settings(config_path)
        from aggregator.scheduler import run_forever

        run_forever(settings)


@main.command()
@config_option
@click.pass_context
def run(ctx: click.Context, config_path: Path) -> None:
    """Run the scheduler (the same as no command)."""
    _setup_logging(bool(ctx.obj.get("verbose")))
    settings = load_settings(config_path)
    from aggregator.scheduler import run_forever

    run_forever(settings)


# --------------------------------------------------------------------------------------------
# fetch / publish


@main.command()
@config_option
@click.option("--only", multiple=True, metavar="ID", help="Fetch only these sources.")
@click.option("--due", is_flag=True, help="Only sources whose next fetch time has come.")
@click.pass_context
def fetch(ctx: click.Context, config_path: Path, only: tuple[str, ...], due: bool) -> None:
    """Fetch every enabled source now, store new posts, and publish the outputs."""
    verbose = bool(ctx.obj.get("verbose"))
    if verbose or not _interactive():
        _setup_logging(verbose)
    settings = load_settings(config_path)
    unknown = set(only) - {s.id for s in settings.sources}
    if unknown:
        raise click.UsageError(f"unknown source id(s): {', '.join(sorted(unknown))}")
    with opened_store(settings) as store:
        try:
            report, published = _fetch_with_progress(settings, store, only, due)
        except LockedError as exc:
            err_console.print(f"[red]{exc}[/]")
            raise SystemExit(3) from None
    print_cycle_summary(report)
    console.print(f"Outputs in {settings.output_dir} ({len(published.written)} file(s) rewritten)")
    if any(o.error for o in report.outcomes):
        ctx.exit(1)


def _fetch_with_progress(
    settings: config.Settings, store: Store, only: tuple[str, ...], due: bool
) -> tuple[CycleReport, Any]:
    if not _interactive():
        return fetch_and_publish(settings, store, only=only or None, due_only=due)
    store.sync_sources(settings.source_list())
    total = len(select_sources(settings, store.get_states(), utc_now(), only=only, due_only=due))
    columns = (
        TextColumn("[bold]Fetching"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("", total=total)

        def advance(outcome: UpdateOutcome) -> None:
            progress.update(task, advance=1, description=outcome.source_id)

        return fetch_and_publish(settings, store, only=only or None, due_only=due, progress=advance)


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


@main.command()
@config_option
def publish(config_path: Path) -> None:
    """Rewrite the combined feeds and pages from the store (no fetching)."""
    from aggregator.publish import publish_all

    settings = load_settings(config_path)
    with opened_store(settings) as store:
        report = publish_all(store, settings, utc_now())
    console.print(
        f"Published to {settings.output_dir}: {len(report.written)} file(s) rewritten, "
        f"{len(report.unchanged)} unchanged"
    )


# --------------------------------------------------------------------------------------------
# digest


@main.group(invoke_without_command=True)
@config_option
@click.pass_context
def digest(ctx: click.Context, config_path: Path) -> None:
    """Email digests. Without a subcommand: preview every edition."""
    if ctx.invoked_subcommand is None:
        settings = load_settings(config_path)
        with opened_store(settings) as store:
            for edition in settings.digest.editions:
                _preview(store, settings, edition.name)


def _preview(store: Store, settings: config.Settings, name: str) -> None:
    from aggregator.digest import preview

    files = preview(store, settings, name, digest_now(store))
    if not files.saved:
        for note in files.edition.notes:
            console.print(f"Digest {name}: {note}")
        return
    console.print(f"Digest [bold]{name}[/] ({len(files.edition.post_ids)} posts):")
    for note in files.edition.notes:
        console.print(f"  [yellow]note:[/] {note}")
    console.print(f"  HTML: {files.html_path}\n  text: {files.text_path}\n  eml:  {files.eml_path}")


@digest.command("preview")
@config_option
@click.argument("edition", required=False)
def digest_preview(config_path: Path, edition: str | None) -> None:
    """Write the .html, .txt and .eml of an edition (default: every edition)."""
    settings = load_settings(config_path)
    names = [edition] if edition else [e.name for e in settings.digest.editions]
    for name in names:
        _check_edition(settings, name)
    with opened_store(settings) as store:
        for name in names:
            _preview(store, settings, name)


def _check_edition(settings: config.Settings, name: str) -> None:
    try:
        settings.edition(name)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@digest.command("send")
@config_option
@click.argument("edition")
@click.option("--to", "to", metavar="ADDRESS", help="Send one [TEST] copy here; ledger untouched.")
@click.pass_context
def digest_send(ctx: click.Context, config_path: Path, edition: str, to: str | None) -> None:
    """Send an edition to its recipients (idempotent: nobody gets it twice)."""
    from aggregator.digest import send

    settings = load_settings(config_path)
    _check_edition(settings, edition)
    with opened_store(settings) as store:
        try:
            if to:
                result = send(store, settings, edition, digest_now(store), to=to)
            else:
                with held_lock(store, f"digest:{edition}"):
                    result = send(store, settings, edition, digest_now(store))
        except LockedError as exc:
            err_console.print(f"[red]{exc}[/]")
            raise SystemExit(3) from None
    console.print(str(result))
    if getattr(result, "failed", ()):
        ctx.exit(1)


@digest.command("list")
@config_option
def digest_list(config_path: Path) -> None:
    """Past editions and their delivery status."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        table = Table("edition", "window", "posts", "recipients", "status")
        for ed in store.list_editions():
            states = [r.state.value for r in store.recipients(ed.id)]
            summary = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))) or "-"
            start = _when(ed.window_start) if ed.window_start else "start"
            table.add_row(
                ed.id,
                f"{start} → {_when(ed.window_end)}",
                str(len(ed.post_ids)),
                summary,
                "sent" if ed.sent else "not sent",
            )
    console.print(table)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------------------------
# feeds


@main.group()
def feeds() -> None:
    """The member sources: their health and configuration."""


@feeds.command("status")
@config_option
def feeds_status(config_path: Path) -> None:
    """Each source's health: last success, last error, failures, next fetch."""
    settings = load_settings(config_path)
    now = utc_now()
    with opened_store(settings) as store:
        store.sync_sources(settings.source_list())
        states = store.get_states()
    table = Table("id", "state", "last success", "failures", "next fetch", "entries", "last error")
    flag_after = settings.fetch.failing_days
    for source in settings.source_list():
        st = states[source.id]
        failing = failing_for(st, now)
        if not source.enabled:
            label = "[dim]disabled[/]"
        elif st.gone:
            label = "[red]gone (410)[/]"
        elif failing is not None and failing.days >= flag_after:
            label = f"[bold red]failing {failing.days} d[/]"
        elif st.consecutive_failures:
            label = "[yellow]failing[/]"
        elif st.last_success is None:
            label = "[dim]never fetched[/]"
        else:
            label = "[green]ok[/]"
        table.add_row(
            source.id,
            label,
            _when(st.last_success) if st.last_success else "-",
            str(st.consecutive_failures),
            _when(st.next_fetch) if st.next_fetch else "-",
            str(st.entries_seen),
            (st.last_error or "")[:80],
        )
    console.print(table)


# --------------------------------------------------------------------------------------------
# serve / demo


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def serve(config_path: Path, host: str, port: int) -> None:
    """Serve the published outputs over HTTP (ETag, 304, gzip, CSP)."""
    from aggregator.web import run_server

    settings = load_settings(config_path)
    console.print(f"Serving {settings.output_dir} on http://{host}:{port}/")
    run_server(settings, host, port)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Where the demo writes its feeds.yaml, database and outputs.",
)
def demo(out: Path) -> None:
    """One full cycle over bundled sample feeds served on 127.0.0.1 (no internet needed)."""
    from aggregator.demo.run import run_demo

    result = run_demo(out)
    print_cycle_summary(result.report)
    console.print(
        "  (The demo's VVSG source points at a web page on purpose: a broken member feed is"
        " reported, with the feed the page advertises, and the run goes on.)"
    )
    out_dir = result.output_dir
    console.print(
        f"\n[bold]Demo done[/]: {result.posts} posts in the store ({result.config_path.parent})"
    )
    console.print(f"  Combined Atom feed: {out_dir / 'feed.atom'}")
    console.print(f"  HTML page:          {out_dir / 'index.html'}")
    if result.digest is not None:
        console.print(f"  Digest (HTML):      {result.digest.html_path}")
        console.print(f"  Digest (text):      {result.digest.text_path}")
        console.print(f"  Digest (.eml):      {result.digest.eml_path}")
    console.print(f"  Config used:        {result.config_path}")
    console.print(
        f"\nNext: [bold]python run.py serve --config {result.config_path}[/] to browse the page."
    )


def entrypoint() -> None:
    try:
        main(obj={})
    except AggregatorError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None


def _register_member_commands() -> None:
    """The member-facing `feeds` commands live in their own module (cli_feeds)."""
    from aggregator import cli_feeds

    cli_feeds.register(feeds)


_register_member_commands()
