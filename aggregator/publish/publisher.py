"""``publish_all``: every output of the site, from the store, in one pass that streams.

The wiring of the publish stage: open the ``Site`` (without its posts: ``choice.open_site``),
find the undated backlogs the shared editions hold back, cut the archive pages, write each
Atom edition, RSS, JSON Feed, OPML, the HTML page sets and the stylesheet through one
``Writer`` (atomic, change-only, gzip twins) and one ``Memo`` (unchanged inputs are not even
rebuilt), then report what changed.  Each format lives in its own module; this one decides
only what is written where.

Memory is bounded by design: no step holds more posts than one output carries.  Each output's
posts are chosen by the store as stamps (``choice.chosen``); the memo decides from the stamps
whether the output is fresh, and only a stale one reads its posts whole.  Archive pages are
written a page at a time (``archives``).

The editions are chosen before the archives are cut: a post waiting for an archive page that
``feed.atom`` does not carry gets a page at once, so that each post is in the live feed or in a
page reachable from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.config import Settings
from aggregator.i18n.templating import TEMPLATES_DIR
from aggregator.models import Post
from aggregator.ops.heap import fewer_collections
from aggregator.present.imagefetch import stored_images
from aggregator.present.machine import machine_titles
from aggregator.present.names import Names
from aggregator.present.siblings import Sibling, find_siblings
from aggregator.publish.archives import archive_path, archive_plan, write_archives
from aggregator.publish.atom import atom_document
from aggregator.publish.choice import (
    chosen,
    digests,
    held_back,
    open_site,
    posts_of,
    selection,
    siblings_of,
)
from aggregator.publish.editions import FeedSpec, feed_specs
from aggregator.publish.jsonfeed import json_feed_document
from aggregator.publish.memo import Memo, Writer, post_digests, salt
from aggregator.publish.opml import opml_document
from aggregator.publish.outputs import BatchWriter, clean_line, remove_with_twin
from aggregator.publish.pages import MAX_PAGES, Extras, FeedLink, page_sets, render_page_set
from aggregator.publish.rss import rss_document
from aggregator.publish.site import ATOM_TYPE, JSON_TYPE, RSS_TYPE, Site
from aggregator.store.protocol import Store
from aggregator.store.publishing import PostStamp, Selection

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
    The collector runs less meanwhile (``ops.heap.fewer_collections``): a publish reads and
    drops every post, page by page, and its collections walked every object of the process.
    """
    with fewer_collections():
        return _publish_all(store, settings, now)


def _publish_all(store: Store, settings: Settings, now: datetime) -> PublishReport:
    site, seen = open_site(store, settings, now)
    held = held_back(store, settings.site.undated_per_fetch)
    newest = chosen(store, Selection(), settings.site.feed_entries, held)
    with BatchWriter() as files:
        out = Writer(settings.output_dir, files)
        memo = Memo.load(out.root, salt(site))
        plan = archive_plan(store, site, out.root, frozenset(s.id for s in newest))
        write_archives(store, site, out, plan)
        newest_archive = archive_path(len(plan.ends)) if plan.ends else None
        feeds = _Feeds(store, site, out, memo, held)
        links = feeds.write(feed_specs(site), newest, newest_archive)
        out.put("sources.opml", opml_document(site))
        removed = _write_pages(store, (site, seen.languages), out, memo, links, held)
        _copy_static(out)
    memo.save()
    return PublishReport(
        written=tuple(out.written),
        unchanged=tuple(out.unchanged),
        posts=seen.count,
        feed_entries=len(newest),
        archives=len(plan.ends),
        changed_feeds=tuple(feeds.changed or ()),
        removed=removed,
    )


@dataclass
class _Feeds:
    """Every Atom edition, RSS and JSON Feed, each rebuilt only when its memo is stale."""

    store: Store
    site: Site
    out: Writer
    memo: Memo
    held: frozenset[str]
    changed: list[str] | None = None

    def write(
        self, specs: Sequence[FeedSpec], newest: list[PostStamp], newest_archive: str | None
    ) -> list[FeedLink]:
        """Write them all; the links to announce (the changed URLs are in ``changed``)."""
        self.changed = []
        site = self.site
        limit = site.settings.site.feed_entries
        title = clean_line(site.settings.site.title)
        links: list[FeedLink] = []
        for spec in specs:
            stamps = newest if spec.path == "feed.atom" else None
            stamps = stamps or chosen(self.store, selection(spec), limit, self.held)
            prev = newest_archive if spec.path == "feed.atom" else None
            shared = spec.kind != "source"  # members' editions share few entries with others
            self._emit(spec.path, stamps, _atom(site, spec, prev, shared), prev or "")
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
        # RSS and JSON Feed carry what feed.atom carries
        self._emit("feed.rss", newest, lambda posts: rss_document(site, posts))
        self._emit("feed.json", newest, lambda posts: json_feed_document(site, posts))
        links.insert(1, FeedLink(f"{title} (RSS)", site.url("feed.rss"), RSS_TYPE))
        links.insert(2, FeedLink(f"{title} (JSON)", site.url("feed.json"), JSON_TYPE))
        return links

    def _emit(
        self,
        relative: str,
        stamps: Sequence[PostStamp],
        build: Callable[[list[Post]], bytes],
        *extra: str,
    ) -> None:
        fp = self.memo.fingerprint(relative, *extra, *digests(self.store, stamps))
        kept = self.memo.fresh(relative, fp)
        if kept is not None:
            self.out.keep(kept)
            return
        if self.out.put(relative, build(posts_of(self.store, stamps, self.site.spare_posts))):
            assert self.changed is not None
            self.changed.append(self.site.url(relative))
        self.memo.remember(relative, fp, [relative])


def _atom(
    site: Site, spec: FeedSpec, prev: str | None, shared: bool
) -> Callable[[list[Post]], bytes]:
    return lambda posts: atom_document(site, spec, posts, prev_archive=prev, remember=shared)


def _write_pages(
    store: Store,
    site_languages: tuple[Site, frozenset[str]],
    out: Writer,
    memo: Memo,
    links: Sequence[FeedLink],
    held: frozenset[str],
) -> tuple[Path, ...]:
    """Each page set, rebuilt only when its posts or the announced feeds changed; the undated
    backlogs the shared editions hold back are not listed either.

    A page set's fingerprint covers what its posts look like (images, language versions), so
    its posts are read whole: ``MAX_PAGES`` pages of them at most per set."""
    site, languages = site_languages
    removed: list[Path] = []
    limit = MAX_PAGES * site.settings.site.page_size
    sets = {
        language: posts_of(
            store, chosen(store, _set_selection(language), limit, held), site.spare_posts
        )
        for language in page_sets(site.settings)
    }
    shown = {p.id: p for posts in sets.values() for p in posts}.values()
    order = site.settings.site.languages
    extras = page_extras(site, out.root, siblings_of(store, shown, languages, order))
    out.put("static/brand.css", brand_css(site.settings).encode("utf-8"))
    for language, chosen_posts in sets.items():
        key = f"pages:{language or '*'}"
        looks = _looks(chosen_posts, extras)
        fp = memo.fingerprint(key, repr(list(links)), looks, *post_digests(site, chosen_posts))
        kept = memo.fresh(key, fp)
        if kept is not None:
            out.keep(kept)
            continue
        rendered = render_page_set(
            chosen_posts, site.sources, site.settings, links, language, extras
        )
        for relative, data in rendered.items():
            out.put(relative, data)
        removed += _remove_stale_pages(out.root, rendered.keys())
        memo.remember(key, fp, rendered.keys())
    return tuple(removed)


def _set_selection(language: str | None) -> Selection:
    return Selection("language", language) if language else Selection()


def page_extras(
    site: Site, root: Path, siblings: Mapping[str, tuple[Sibling, ...]] | None = None
) -> Extras:
    """Names, language versions, stored images and machine titles: once for every page set.
    ``siblings``: found by the caller (a streaming publish), else among ``site.posts``."""
    if siblings is None:
        siblings = find_siblings(site.posts, site.settings.site.languages)
    return Extras(
        names=Names.of(site.settings, site.sources),
        siblings=siblings,
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
