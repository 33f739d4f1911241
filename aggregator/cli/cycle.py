"""``fetch`` and ``publish``: one cycle now, or the outputs rewritten from the store.

``fetch`` exits 1 when a source failed and 3 when another cycle holds the lock.  ``publish``
holds the same lock (exit 3 while a cycle runs): a publish that read the store before a cycle
stored new posts would otherwise overwrite the cycle's newer outputs with its older snapshot.
It first removes temporary files that a killed writer left in the output directories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aggregator import config
from aggregator.cli.common import (
    config_option,
    console,
    err_console,
    interactive,
    load_settings,
    opened_store,
    print_cycle_summary,
    setup_logging,
)
from aggregator.clock import utc_now
from aggregator.cycle import fetch_and_publish, held_lock
from aggregator.errors import LockedError
from aggregator.ingest.decide import select_sources
from aggregator.models import CycleReport, UpdateOutcome
from aggregator.publish.publisher import publish_all
from aggregator.retention import sweep_outputs
from aggregator.store.protocol import Store


@click.command()
@config_option
@click.option("--only", multiple=True, metavar="ID", help="Fetch only these sources.")
@click.option("--due", is_flag=True, help="Only sources whose next fetch time has come.")
@click.pass_context
def fetch(ctx: click.Context, config_path: Path, only: tuple[str, ...], due: bool) -> None:
    """Fetch every enabled source now, store new posts, and publish the outputs."""
    verbose = bool(ctx.obj.get("verbose"))
    if verbose or not interactive():
        setup_logging(verbose)
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
    if not interactive():
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


@click.command()
@config_option
def publish(config_path: Path) -> None:
    """Rewrite the combined feeds and pages from the store (no fetching)."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        try:
            with held_lock(store, "cycle"):
                sweep_outputs(settings)
                report = publish_all(store, settings, utc_now())
        except LockedError as exc:
            err_console.print(f"[red]{exc}[/]")
            raise SystemExit(3) from None
    console.print(
        f"Published to {settings.output_dir}: {len(report.written)} file(s) rewritten, "
        f"{len(report.unchanged)} unchanged"
    )
