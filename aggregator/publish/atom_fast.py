"""The fast atom:entry writer: a post as Atom text, written with f-strings.

A second implementation kept for speed beside its reference, ``atom.reference_entry`` (feedgen's
FeedEntry plus what feedgen cannot write).  Both turn one ``Post`` into one un-namespaced
``<entry>`` element, placed as feedgen places entries under its ``xmlns``-carrying root, and
both give the same document once parsed: ``tests/test_atom_fast.py`` holds them equal on
ordinary and hostile posts.  Why it exists, and what it saves, is in docs/performance.md
("publish").

The switch: ``ENABLED`` (read at every publish) turns this writer off and makes publish use the
reference; it starts from the environment variable ``AGGREGATOR_FAST_ATOM`` (``0`` turns it
off).  Use it to tell whether a wrong entry comes from the speed path, or when changing the
entry format (change the reference first, then make this one agree).

Every value is cleaned (``clean_text``) and escaped here; nothing else in this module may
produce markup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aggregator.models import Post
from aggregator.publish.outputs import clean_line, clean_text
from aggregator.publish.pages import base_language
from aggregator.publish.site import (
    LANG_TAG,
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

ENV_SWITCH = "AGGREGATOR_FAST_ATOM"
ENABLED: bool = os.environ.get(ENV_SWITCH, "1").strip() != "0"


def _esc(text: str) -> str:
    """Escape character data; a CR is kept as a reference (a parser would turn it into LF)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;") if "\r" in text else text


def _attr(value: str) -> str:
    """Escape an attribute value (quoted with "), whitespace kept through normalisation."""
    value = _esc(value).replace('"', "&quot;")
    if "\n" in value or "\t" in value:
        value = value.replace("\n", "&#10;").replace("\t", "&#9;")
    return value


def _attrs(values: Mapping[str, str]) -> str:
    return "".join(f' {name}="{_attr(value)}"' for name, value in values.items())


def source_xml(info: Mapping[str, str]) -> str:
    """atom:source up to its updated (added per entry): written once per source per publish."""
    lines = [
        "    <source>\n",
        f"      <id>{_esc(info['id'])}</id>\n",
        f"      <title>{_esc(info['title'])}</title>\n",
    ]
    if info.get("alternate"):
        lines.append(f'      <link rel="alternate" href="{_attr(info["alternate"])}"/>\n')
    # no type: the member's feed may be RSS, Atom or JSON, and a wrong hint is worse than none
    lines.append(f'      <link rel="self" href="{_attr(info["self"])}"/>\n')
    return "".join(lines)


def _source_template(site: Site, source_id: str) -> str:
    cached = site.source_xml.get(source_id)
    if cached is None:
        cached = site.source_xml[source_id] = source_xml(source_info(site, source_id))
    return cached


def _categories_xml(site: Site, post: Post) -> str:
    """The entry's atom:category lines; posts share label sets, so each set is written once
    per language (a topic's label is the post's language's)."""
    key = (post.tags, post.topics, post.language)
    found = site.categories_xml.get(key)
    if found is None:
        lines = (f"    <category{_attrs(c)}/>\n" for c in categories(site, post))
        found = site.categories_xml[key] = "".join(lines)
    return found


def _person(tag: str, name: str, uri: str | None) -> str:
    uri_line = f"      <uri>{_esc(uri)}</uri>\n" if uri else ""
    return f"    <{tag}>\n      <name>{_esc(name)}</name>\n{uri_line}    </{tag}>\n"


def entry_xml(site: Site, post: Post) -> str:
    """One post as an un-namespaced atom:entry, element for element what the reference writes."""
    language = clean_line(post.language)
    head = (
        f'  <entry xml:lang="{_attr(language)}">\n' if LANG_TAG.match(language) else "  <entry>\n"
    )
    title = post_title(post)
    updated = iso(post.updated)
    parts = [
        head,
        f"    <id>{entry_id(post.id)}</id>\n",
        f"    <title>{_esc(title)}</title>\n",
        f"    <updated>{updated}</updated>\n",
    ]
    for name, uri in bylines(site, post):
        parts.append(_person("author", name, uri))
    link = safe_url(post.link)
    summary = clean_text(post.excerpt).strip()
    content = clean_text(post.content_html).strip()
    if content:
        parts.append(f'    <content type="html">{_esc(content)}</content>\n')
    elif not link:  # Atom wants content or an alternate link
        parts.append(f'    <content type="text">{_esc(summary or title)}</content>\n')
    if link:
        parts.append(f'    <link rel="alternate" type="text/html" href="{_attr(link)}"/>\n')
    for tr in post.translations:
        href = safe_url(tr.href)
        lang = clean_line(tr.hreflang)
        if href and lang and LANG_TAG.match(lang) and base_language(lang) != post.language:
            # "related", not "alternate": readers take the first or the last alternate as
            # the entry's link (feedparser the last), and a translation must not win that
            parts.append(
                f'    <link rel="related" type="text/html" href="{_attr(href)}"'
                f' hreflang="{_attr(lang)}"/>\n'
            )
    if summary:
        parts.append(f'    <summary type="text">{_esc(summary)}</summary>\n')
    parts.append(_categories_xml(site, post))
    # Other members that published the same story: atom:contributor is what RFC 4287 has for
    # "others who took part", and readers that list people (feedparser's ``contributors``)
    # show them; the pages say the same in words.
    parts.extend(_person("contributor", name, home) for name, home in also_from(site, post))
    parts.append(f"    <published>{iso(post.published)}</published>\n")
    # The source feed was updated at least when this entry was; the entry's own time keeps the
    # element stable, where the source's newest post would rewrite every edition holding any
    # of its posts whenever it publishes.
    parts.append(_source_template(site, post.source_id))
    parts.append(f"      <updated>{updated}</updated>\n    </source>\n  </entry>\n")
    return "".join(parts)
