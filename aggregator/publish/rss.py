"""RSS 2.0: the combined feed's newest posts for readers that only take RSS.

Enters: the ``Site`` and the posts to carry, newest first.  Leaves: the document's bytes.
feedgen writes it, through the generator ``atom`` sets up (one module owns feedgen); RSS has no
place for everything Atom carries, so authors and other members go in Dublin Core elements:
one ``dc:creator`` naming every author (readers given several show only the last, or a Perl
``ARRAY(0x…)``), the member organisation when the post names nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

from aggregator import __version__
from aggregator.models import Post
from aggregator.publish.atom import rss_feed_generator
from aggregator.publish.outputs import clean_line, clean_text
from aggregator.publish.site import (
    GENERATOR_NAME,
    GENERATOR_URI,
    Site,
    also_from,
    bylines,
    categories,
    entry_id,
    post_title,
    safe_url,
    source_info,
    utc,
)


def rss_document(site: Site, posts: Sequence[Post]) -> bytes:
    settings = site.settings.site
    fg = rss_feed_generator(settings.hub)
    fg.title(clean_line(settings.title))
    fg.description(clean_line(settings.description) or clean_line(settings.title))
    fg.link(href=site.url("feed.rss"), rel="self")
    fg.link(href=site.base, rel="alternate")  # feedgen uses the last link as <link>
    updated = max((utc(p.updated) for p in posts), default=None) or site.empty_updated()
    fg.lastBuildDate(updated)
    fg.pubDate(updated)
    fg.generator(GENERATOR_NAME, version=__version__, uri=GENERATOR_URI)
    if settings.logo:
        fg.image(urljoin(site.base, settings.logo), clean_line(settings.title), site.base)
    for post in posts:
        _add_item(site, fg.add_entry(order="append"), post)
    data: bytes = fg.rss_str(pretty=True)
    return data


def _add_item(site: Site, fe: Any, post: Post) -> None:
    fe.guid(entry_id(post.id), permalink=False)
    fe.title(post_title(post))
    link = safe_url(post.link)
    if link:
        fe.link(href=link)
    fe.description(clean_text(post.excerpt).strip() or post_title(post))
    content = clean_text(post.content_html).strip()
    if content:
        fe.content(content)
    fe.pubDate(utc(post.published))
    for cat in categories(site, post):
        fe.category(cat)
    fe.dc.dc_creator(", ".join(name for name, _ in bylines(site, post)))
    others = [name for name, _ in also_from(site, post)]
    if others:
        fe.dc.dc_contributor(others)
    info = source_info(site, post.source_id)
    fe.source(url=info["self"], title=info["title"])
