"""The other language versions of a post, as its member linked them: never guessed.

Enters: the posts a page or a digest shows (and the store's other posts, to find versions
already read) and the languages that have a word for them.  Leaves: for each post, its
``Sibling``s (language, link, the language's name in itself), one per other language.

Two statements count, and nothing else (no matching of titles or machine translation):

* an ``hreflang`` alternate the member's feed gives the entry (``post.translations``), which
  Drupal and WordPress multilingual sites publish;
* links that differ only by a language segment of their path (``…/en/news/x``, ``…/fr/news/x``),
  both read from the member's feeds as posts in those languages: the member published both
  addresses.

Links are symmetric: a French post an English one names as its alternate links back.  Each
version keeps its own place: the English edition shows the English post, the French edition
the French one, each linking the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aggregator.i18n import autonym, base_language
from aggregator.models import Post

_LANG_SEGMENT = re.compile(r"^(https?://[^/?#]+(?:/[^?#]*?)?)/([a-z]{2})(/[^?#]*)?(\?[^#]*)?$")


@dataclass(frozen=True, slots=True)
class Sibling:
    language: str
    href: str
    name: str  # "Français": the language as its readers name it


def variant_key(link: str, language: str) -> str | None:
    """``https://x.org/fr/news/a`` -> ``https://x.org/{}/news/a`` when ``fr`` is the post's own
    language: the same page in another language changes only that segment."""
    match = _LANG_SEGMENT.match(link.split("#")[0])
    if match is None or match.group(2) != language:
        return None
    head, _, tail, query = match.groups()
    return f"{head}/{{}}{tail or ''}{query or ''}"


def find_siblings(
    posts: Iterable[Post], order: Sequence[str] = ()
) -> dict[str, tuple[Sibling, ...]]:
    """Each post's versions in other languages, by post id (posts without any are left out);
    in the order of ``order`` (the site's languages), then by language tag."""
    posts = list(posts)
    by_link = {p.link: p for p in posts if p.link}
    groups = _Groups()
    for post in posts:
        lang = base_language(post.language)
        key = variant_key(post.link, lang) if post.link else None
        if key is not None:
            groups.join(post.link, key)
        for alt in post.translations:
            if alt.hreflang and base_language(alt.hreflang) != lang:
                groups.join(post.link, alt.href)
    members = groups.all()
    rank = {lang: i for i, lang in enumerate(order)}
    out: dict[str, tuple[Sibling, ...]] = {}
    for post in posts:
        linked = members.get(groups.find(post.link), ()) if post.link else ()
        found = _versions(post, (x for x in linked if x != post.link), by_link, rank)
        if found:
            out[post.id] = found
    return out


def _versions(
    post: Post, links: Iterable[str], by_link: Mapping[str, Post], rank: Mapping[str, int]
) -> tuple[Sibling, ...]:
    """One sibling per other language: a post read in that language first, else the post's own
    ``hreflang`` alternate."""
    own = base_language(post.language)
    chosen: dict[str, str] = {}
    for link in sorted(links):
        other = by_link.get(link)
        if other is not None and base_language(other.language) != own:
            chosen.setdefault(base_language(other.language), link)
    for alt in post.translations:
        lang = base_language(alt.hreflang)
        if lang and lang != own:
            chosen.setdefault(lang, alt.href)
    ordered = sorted(chosen, key=lambda lang: (rank.get(lang, len(rank)), lang))
    return tuple(Sibling(lang, chosen[lang], autonym(lang)) for lang in ordered)


class _Groups:
    """Union-find over links and variant keys: what was stated to be the same post."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def all(self) -> dict[str, list[str]]:
        """Every group by its root, computed once for all the posts."""
        out: dict[str, list[str]] = {}
        for item in list(self.parent):
            out.setdefault(self.find(item), []).append(item)
        return out
