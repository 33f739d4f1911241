"""``publish_all``: every output of the site, from the store, in one pass.

The wiring of the publish stage: load the ``Site`` once, find the undated backlogs the shared
editions hold back, cut the archive pages, write each Atom edition, RSS, JSON Feed, OPML, the
HTML page sets and the stylesheet through one ``Writer`` (atomic, change-only, gzip twins) and
one ``Memo`` (unchanged inputs are not even rebuilt), then report what changed.  Each format
lives in its own module; this one decides only what is written where.

The editions are chosen before the archives are cut: a post waiting for an archive page that
``feed.atom`` does not carry gets a page at once, so that each post is in the live feed or in a
page reachable from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.config import Settings
from aggregator.i18n.templating import TEMPLATES_DIR
from aggregator.models import Post
from aggregator.present.imagefetch import stored_images
from aggregator.present.machine import machine_titles
from aggregator.present.names import Names
from aggregator.present.siblings import find_siblings
from aggregator.publish.archives import archive_path, archive_plan, write_archives
from aggregator.publish.atom import atom_document
from aggregator.publish.editions import FeedSpec, edition_posts, feed_specs, undated_overflow
from aggregator.publish.jsonfeed import json_feed_document
from aggregator.publish.memo import Memo, Writer, post_digests, salt
from aggregator.publish.opml import opml_document
from aggregator.publish.outputs import BatchWriter, clean_line, remove_with_twin
from aggregator.publish.pages import Extras, FeedLink, page_sets, render_page_set, set_posts
from aggregator.publish.rss import rss_document
from aggregator.publish.site import ATOM_TYPE, JSON_TYPE, RSS_TYPE, Site, load_site
from aggregator.store.protocol import Store

_PAGE_FILE = re.compile(r"^page-[0-9]+\.html$")


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What one publish did; ``changed_feeds`` are the public URLs to ping a WebSub hub with."""

    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    posts: int  # posts in the store
    feed_entries: int  # entries in feed.atom
    archives: int  # complete RFC 5005 archive pages
    changed_feeds: tuple[str, ...] = ()
    removed: tuple[Path, ...] = ()  # listing pages past the last one (fewer posts, bigger pages)

    @property
    def changed(self) -> bool:
        return bool(self.written)


def publish_all(store: Store, settings: Settings, now: datetime) -> PublishReport:
    """Rewrite every output whose bytes changed; return what was written for logs and WebSub.

    ``now`` only dates feeds of an empty store; with posts, every date comes from the posts.
    """
    site = load_site(store, settings, now)
    held_back = undated_overflow(site.posts, settings.site.undated_per_fetch)
    specs = feed_specs(site)
    editions = edition_posts(site.posts, specs, settings.site.feed_entries, held_back)
    newest = editions["feed.atom"]
    with BatchWriter() as files:
        out = Writer(settings.output_dir, files)
        memo = Memo.load(out.root, salt(site))
        plan = archive_plan(site, out.root, frozenset(p.id for p in newest))
        write_archives(site, out, plan)
        newest_archive = archive_path(len(plan.pages)) if plan.pages else None
        links, changed_feeds = _write_feeds(site, out, memo, (specs, editions), newest_archive)
        out.put("sources.opml", opml_document(site))
        removed = _write_pages(site, out, memo, links, held_back)
        _copy_static(out)
    memo.save()
    return PublishReport(
        written=tuple(out.written),
        unchanged=tuple(out.unchanged),
        posts=len(site.posts),
        feed_entries=len(newest),
        archives=len(plan.pages),
        changed_feeds=tuple(changed_feeds),
        removed=removed,
    )


def _write_feeds(
    site: Site,
    out: Writer,
    memo: Memo,
    chosen_editions: tuple[Sequence[FeedSpec], dict[str, list[Post]]],
    newest_archive: str | None,
) -> tuple[list[FeedLink], list[str]]:
    """Every Atom edition, RSS and JSON Feed: (links to announce, changed URLs)."""
    specs, editions = chosen_editions
    title = clean_line(site.settings.site.title)
    links: list[FeedLink] = []
    changed: list[str] = []

    def emit(relative: str, posts: Sequence[Post], build: Callable[[], bytes], *extra: str) -> None:
        fp = memo.fingerprint(relative, *extra, *post_digests(site, posts))
        kept = memo.fresh(relative, fp)
        if kept is not None:
            out.keep(kept)
            return
        if out.put(relative, build()):
            changed.append(site.url(relative))
        memo.remember(relative, fp, [relative])

    for spec in specs:
        chosen = editions[spec.path]
        prev = newest_archive if spec.path == "feed.atom" else None
        emit(
            spec.path,
            chosen,
            lambda spec=spec, chosen=chosen, prev=prev: atom_document(  # type: ignore[misc]
                site, spec, chosen, prev_archive=prev
            ),
            prev or "",
        )
        links.append(
            FeedLink(
                clean_line(spec.title),
                site.url(spec.path),
                ATOM_TYPE,
                spec.language,
                spec.kind,
                spec.key,
            )
        )
    newest = editions["feed.atom"]  # RSS and JSON Feed carry what feed.atom carries
    emit("feed.rss", newest, lambda: rss_document(site, newest))
    emit("feed.json", newest, lambda: json_feed_document(site, newest))
    links.insert(1, FeedLink(f"{title} (RSS)", site.url("feed.rss"), RSS_TYPE))
    links.insert(2, FeedLink(f"{title} (JSON)", site.url("feed.json"), JSON_TYPE))
    return links, changed


def _write_pages(
    site: Site, out: Writer, memo: Memo, links: Sequence[FeedLink], held_back: frozenset[str]
) -> tuple[Path, ...]:
    """Each page set, rebuilt only when its posts or the announced feeds changed; the undated
    backlogs the shared editions hold back are not listed either."""
    removed: list[Path] = []
    shown = [p for p in site.posts if p.id not in held_back] if held_back else site.posts
    extras = page_extras(site, out.root)
    out.put("static/brand.css", brand_css(site.settings).encode("utf-8"))
    for language in page_sets(site.settings):
        chosen = set_posts(shown, site.settings, language)
        key = f"pages:{language or '*'}"
        looks = _looks(chosen, extras)
        fp = memo.fingerprint(key, repr(list(links)), looks, *post_digests(site, chosen))
        kept = memo.fresh(key, fp)
        if kept is not None:
            out.keep(kept)
            continue
        rendered = render_page_set(chosen, site.sources, site.settings, links, language, extras)
        for relative, data in rendered.items():
            out.put(relative, data)
        removed += _remove_stale_pages(out.root, rendered.keys())
        memo.remember(key, fp, rendered.keys())
    return tuple(removed)


def page_extras(site: Site, root: Path) -> Extras:
    """Names, language versions, stored images and machine titles: once for every page set."""
    return Extras(
        names=Names.of(site.settings, site.sources),
        siblings=find_siblings(site.posts, site.settings.site.languages),
        images=stored_images(root),
        machine=machine_titles(site.settings.site.machine_translation),
        topics=site.topics,
    )


def _looks(posts: Sequence[Post], extras: Extras) -> str:
    """What a page set shows beyond its posts' digests: their images and language versions,
    the names' labels (a new image or a sibling read since rewrites the pages that show them)."""
    parts = [extras.names.table() if extras.names else ""]
    for post in posts:
        image = extras.images.get(post.image or "")
        siblings = extras.siblings.get(post.id)
        if image or siblings:
            parts.append(f"{post.id}:{image.key if image else ''}:{siblings!r}")
    return "\n".join(parts)


def brand_css(settings: Settings) -> str:
    """The network's colours as CSS custom properties (``site.colors``); a file, since the pages'
    Content-Security-Policy allows no inline style."""
    c = settings.site.colors
    return f":root {{ --brand: {c.primary}; --accent: {c.accent}; --link: {c.link}; }}\n"


def _remove_stale_pages(root: Path, current: Iterable[str]) -> tuple[Path, ...]:
    """Delete ``page-N.html`` files (and their gzip twins) a previous publish wrote but this
    one did not.

    Only files named like our own pagination, and only in directories holding a page set, are
    ever touched: the output directory may hold other people's files.
    """
    keep = {root / name for name in current}
    removed = []
    for directory in sorted({p.parent for p in keep}):
        for path in sorted(directory.glob("page-*.html")):
            if path not in keep and _PAGE_FILE.match(path.name):
                remove_with_twin(path)
                removed.append(path)
    return tuple(removed)


def _copy_static(out: Writer) -> None:
    """The pages' stylesheet lives beside the templates; publish it with the pages."""
    static = TEMPLATES_DIR / "static"
    if not static.is_dir():
        return
    for item in sorted(static.iterdir()):
        if item.is_file() and not item.name.startswith("."):
            out.put(f"static/{item.name}", item.read_bytes())


__all__ = ["PublishReport", "publish_all"]
