"""Pure decisions of full text: teaser or not, wanted or not, article or not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from aggregator.ingest.sanitize import excerpt, html_to_text
from aggregator.models import Post

# How a feed says "there is more on the site": an ellipsis, "(+)", a read-more phrase.
_TEASER_END = re.compile(
    r"(?:…|\.\.\.|\(\+\)|\[(?:…|\.\.\.)\]|read more|continue reading|lire la suite|"
    r"en savoir plus|leer más|seguir leyendo)\W*$",
    re.IGNORECASE,
)
AUTO_SAMPLE = 10  # a source's newest posts that decide ``auto``
AUTO_SHARE = 0.8  # "consistently": this share of them are teasers
AUTO_MINIMUM = 3  # fewer posts decide nothing
_WORD = re.compile(r"\w+")


def feed_text(post: Post) -> str:
    return html_to_text(post.content_html) if post.content_html else post.excerpt


def is_teaser(post: Post, min_chars: int) -> bool:
    """Short, or ending the way teasers end."""
    text = feed_text(post).strip()
    return len(text) < min_chars or bool(_TEASER_END.search(text))


def wants_articles(mode: str, recent: Sequence[Post], min_chars: int) -> bool:
    """Whether a source's articles are read: ``on``, ``off``, or ``auto`` by its feed."""
    if mode != "auto":
        return mode == "on"
    if len(recent) < AUTO_MINIMUM:
        return False
    teasers = sum(is_teaser(p, min_chars) for p in recent)
    return teasers >= AUTO_SHARE * len(recent)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def is_the_article(paragraphs: Sequence[str], post: Post) -> bool:
    """The page's text is this post's article and says more than the feed did.

    It must be longer than the feed's own text (a full feed content is never replaced), and
    most words of the teaser must be in it: a cookie wall, a login page or a moved page
    extracts as some other text.
    """
    article = " ".join(paragraphs)
    teaser = _TEASER_END.sub("", feed_text(post))
    if len(article) <= max(len(teaser) * 1.2, 200):
        return False
    wanted = _words(teaser)[:60]
    if not wanted:
        return True
    present = set(_words(article))
    return sum(w in present for w in wanted) >= 0.6 * len(wanted)


def is_rereading(paragraphs: Sequence[str]) -> bool:
    """Reading again a post that shows an article we read: any article worth the name."""
    return len(" ".join(paragraphs)) >= 200


def article_html(paragraphs: Sequence[str]) -> str:
    """The paragraphs as HTML, every character escaped (then sanitized like all content)."""
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def article_excerpt(paragraphs: Sequence[str]) -> str:
    return excerpt(" ".join(paragraphs))
