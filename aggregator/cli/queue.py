"""``worker`` and ``scheduler``: the cycle spread over processes and machines (PostgreSQL only).

Run ``aggregator scheduler`` once (it plans: cycles, publishes, digest slots) and
``aggregator worker`` as many times as there are cores to use, on any machine that reaches
the database.  With SQLite, ``aggregator run`` (the in-process scheduler) stays the way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType

import click

from aggregator.cli.common import config_option, load_settings, setup_logging
from aggregator.cycle import open_configured_store

POSTGRES_EXTRA = (
    "the queue needs PostgreSQL's drivers, which a plain install leaves out: "
    "pip install 'localgov-aggregator[postgres]' (or -e '.[postgres]' in a checkout)"
)


def _queue() -> tuple[ModuleType, ModuleType]:
    """The queue's modules, imported when a queue command runs and not before: psycopg and
    procrastinate come with the ``postgres`` extra, and every other command (the demo's
    first of all) must work on a plain install without them."""
    try:
        from aggregator.queue import app, planner
    except ImportError as exc:
        raise click.ClickException(f"{POSTGRES_EXTRA} ({exc})") from None
    return app, planner


@click.command()
@config_option
@click.option("--name", default=None, help="A name for this worker in the logs and the queue.")
@click.pass_context
def worker(ctx: click.Context, config_path: Path, name: str | None) -> None:
    """Run one queue worker: fetch buckets of sources, publish, send digests and notices."""
    setup_logging(bool(ctx.obj.get("verbose")) if isinstance(ctx.obj, dict) else False)
    app, _ = _queue()
    app.run_worker(load_settings(config_path), name)


@click.command()
@config_option
@click.pass_context
def scheduler(ctx: click.Context, config_path: Path) -> None:
    """Plan the queue's jobs: a cycle of bucket jobs when sources are due, then its publish,
    and each digest edition at its slot.  Run one (a second is harmless)."""
    setup_logging(bool(ctx.obj.get("verbose")) if isinstance(ctx.obj, dict) else False)
    _, planner = _queue()
    asyncio.run(planner.run_planner(load_settings(config_path)))


@click.command()
@config_option
def migrate(config_path: Path) -> None:
    """Bring the database to this release's schema (the store's, and the queue's on
    PostgreSQL), then exit: the first step of an upgrade, before any service starts."""
    settings = load_settings(config_path)
    open_configured_store(settings).close()  # opening migrates
    if settings.storage_url.startswith(("postgresql", "postgres:")):
        app, _ = _queue()
        created = app.ensure_schema(settings)
        click.echo("queue tables created" if created else "queue tables present")
    click.echo(f"store migrated: {settings.storage_url.split('@')[-1]}")
