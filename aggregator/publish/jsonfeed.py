"""JSON Feed 1.1: the combined feed's newest posts for readers that prefer JSON.

Enters: the ``Site`` and the posts to carry, newest first.  Leaves: the document's bytes.
Where JSON Feed has no field (the member feed a post came from, the other members that
published the same story) the spec's ``_`` extension prefix carries it.  Authors are written
twice, as 1.1 allows for compatibility: ``authors`` for 1.1 readers and the single ``author``
object of 1.0, which readers of that version show (every name in one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

from aggregator.models import Post
from aggregator.publish.outputs import clean_line, clean_text
from aggregator.publish.site import (
    Site,
    also_from,
    bylines,
    categories,
    entry_id,
    iso,
    post_title,
    safe_url,
    source_info,
)


def json_feed_document(site: Site, posts: Sequence[Post]) -> bytes:
    settings = site.settings.site
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": clean_line(settings.title),
        "home_page_url": site.base,
        "feed_url": site.url("feed.json"),
        "description": clean_line(settings.description),
    }
    network = {"name": clean_line(settings.author or settings.title), "url": site.base}
    doc["authors"], doc["author"] = [network], network
    if settings.icon:
        doc["icon"] = urljoin(site.base, settings.icon)
    if settings.hub:
        doc["hubs"] = [{"type": "WebSub", "url": settings.hub}]
    doc["items"] = [_json_item(site, post) for post in posts]
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _json_item(site: Site, post: Post) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id(post.id)}
    link = safe_url(post.link)
    if link:
        item["url"] = link
    item["title"] = post_title(post)
    item["content_html"] = clean_text(post.content_html) or clean_text(post.excerpt)
    if post.excerpt:
        item["summary"] = clean_text(post.excerpt)
    image = safe_url(post.image)
    if image:
        item["image"] = image
    item["date_published"] = iso(post.published)
    item["date_modified"] = iso(post.updated)
    item["authors"], item["author"] = _authors(bylines(site, post))
    tags = [c["label"] for c in categories(site, post)]
    if tags:
        item["tags"] = list(dict.fromkeys(tags))
    if post.language:
        item["language"] = clean_line(post.language)
    info = source_info(site, post.source_id)
    item["_source"] = {"id": post.source_id, "title": info["title"], "feed_url": info["self"]}
    others = [{"name": n, **({"url": h} if h else {})} for n, h in also_from(site, post)]
    if others:
        item["_source"]["also_from"] = others
    return item


def _authors(names: list[tuple[str, str | None]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(``authors`` of 1.1, ``author`` of 1.0): one object naming everybody, with the URL only
    when it is one person's."""
    authors = [{"name": name, **({"url": uri} if uri else {})} for name, uri in names]
    if len(authors) == 1:
        return authors, dict(authors[0])
    return authors, {"name": ", ".join(name for name, _ in names)}
