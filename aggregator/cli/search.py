"""``search``: find posts from the command line, or rebuild the search index.

``aggregator search WORDS…`` prints the best matches (title, date, source, link) with the
same query syntax as the site's search box; ``--json`` prints one object per line for
scripts; ``--reindex`` rebuilds the index from every stored post (after restoring a backup
made without it, or after a release changes how words are stemmed).  Exits 1 when nothing
was found, so a script can test for it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path

import click
from rich.markup import escape

from aggregator.cli.common import config_option, console, load_settings, opened_store
from aggregator.search import SORTS, SearchRequest, parse_query


def _day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)
    except ValueError:
        raise click.BadParameter("write dates as YYYY-MM-DD", param_hint=name) from None


@click.command()
@config_option
@click.argument("words", nargs=-1)
@click.option(
    "--language",
    "-l",
    multiple=True,
    metavar="CODE",
    help="Only posts in this language (repeatable); default: every language.",
)
@click.option("--org", metavar="NAME", help="Only posts of this member organisation.")
@click.option("--topic", metavar="KEY", help="Only posts of this topic.")
@click.option("--since", metavar="YYYY-MM-DD", help="Published on or after this day.")
@click.option("--until", metavar="YYYY-MM-DD", help="Published before this day.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per post.")
@click.option("--reindex", is_flag=True, help="Rebuild the search index from every stored post.")
def search(
    config_path: Path,
    words: tuple[str, ...],
    language: tuple[str, ...],
    org: str | None,
    topic: str | None,
    since: str | None,
    until: str | None,
    sort: str,
    limit: int,
    as_json: bool,
    reindex: bool,
) -> None:
    """Find posts (each matched in its own language, accents and plurals folded)."""
    settings = load_settings(config_path)
    if not words and not reindex:
        raise click.UsageError("give the words to look for, or --reindex")
    request = SearchRequest(
        parse_query(" ".join(words)),
        languages=language,
        organisation=org,
        topic=topic,
        since=_day(since, "--since"),
        until=_day(until, "--until"),
        sort=sort,
        limit=limit,
    )
    with opened_store(settings) as store:
        if reindex:
            console.print(f"Search index rebuilt: {store.rebuild_search_index()} post(s)")
            if not words:
                return
        found = store.search_posts(request)
        sources = store.get_sources()
    for post in found.posts:
        source = sources.get(post.source_id)
        name = (source.organisation or source.name) if source else post.source_id
        if as_json:
            row = {"id": post.id, "title": post.title, "link": post.link,
                   "published": post.published.isoformat(), "language": post.language,
                   "source": name}  # fmt: skip
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            console.print(f"[bold]{escape(post.title)}[/]", highlight=False)
            console.print(f"  {post.published:%Y-%m-%d} · {post.language} · {name}", markup=False)
            console.print(f"  {post.link}", markup=False)
    if not as_json:
        console.print(f"{found.total} post(s) found; {len(found.posts)} shown")
    if not found.total:
        raise SystemExit(1)
