"""JSON Feed 1.1: the combined feed's newest posts for readers that prefer JSON.

Enters: the ``Site`` and the posts to carry, newest first.  Leaves: the document's bytes.
Where JSON Feed has no field (the member feed a post came from, the other members that
published the same story) the spec's ``_`` extension prefix carries it.
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
        "authors": [{"name": clean_line(settings.author or settings.title), "url": site.base}],
    }
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
    authors = [
        {"name": clean_line(a.name), **({"url": u} if (u := safe_url(a.uri)) else {})}
        for a in post.authors
        if clean_line(a.name)
    ]
    if authors:
        item["authors"] = authors
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
