"""``fulltext``: read the articles behind teaser feeds now, for new and stored posts.

The cycle already reads up to ``full_text.pages_per_cycle`` articles after each fetch; this
command reads more at once (``--limit``) and for stored posts, for some sources only
(``--source``; a source is read only when its ``full_text`` setting, or the default, wants
it), and ``--again`` makes posts read before wait again (after the extraction improved, or a
member's site changed its template).  Exits 1 when a page could not be read.
"""

from __future__ import annotations

from pathlib import Path

import click

from aggregator.cli.common import config_option, console, load_settings, opened_store
from aggregator.clock import utc_now
from aggregator.ingest.fulltext import expand_full_text, full_text_sources


@click.command()
@config_option
@click.option("--source", "only", multiple=True, metavar="ID", help="Only these sources.")
@click.option("--limit", type=click.IntRange(0, 100_000), default=500, show_default=True)
@click.option("--again", is_flag=True, help="Read the articles of posts read before too.")
def fulltext(config_path: Path, only: tuple[str, ...], limit: int, again: bool) -> None:
    """Read the articles of teaser posts and show them in place of the teaser."""
    settings = load_settings(config_path)
    unknown = set(only) - {s.id for s in settings.sources}
    if unknown:
        raise click.UsageError(f"unknown source id(s): {', '.join(sorted(unknown))}")
    with opened_store(settings) as store:
        wanted = full_text_sources(settings, store, only)
        if not wanted:
            console.print("No source wants its articles read (full_text: auto, on or off).")
            return
        if again:
            store.forget_full_text(wanted)
        report = expand_full_text(settings, store, utc_now(), only=only, limit=limit)
    console.print(
        f"Sources: {', '.join(report.sources)}. Articles: {report.expanded} shown, "
        f"{report.kept} kept as the feed had them, {report.failed} could not be read."
    )
    if report.failed:
        raise SystemExit(1)
