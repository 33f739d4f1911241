"""The HTML pages: the network's blog listing, in the layout of the UCLG captures.

Each post shows as the seeds show it: its title linking to the original, a line
"tags - dd/mm/yyyy", the excerpt followed by a "(+)" read-more link, and the member organisation
it came from.  One page set lists every language (``index.html``), and one set per site language
(``fr/index.html``…) uses that language's interface strings and dates.

This module turns posts into plain view records and hands them to ``templates/page.html``
through the shared, autoescaping jinja2 environment; it returns bytes by path and writes nothing
itself, so ``publish`` decides (atomically, change-only) what reaches the disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aggregator.config import Settings
from aggregator.i18n import environment, long_date, numeric_date, translator
from aggregator.models import Post, Source
from aggregator.publish.outputs import clean_line, clean_name, clean_text

TEMPLATE = "page.html"
# A listing whose pages shift by one post at every new post is rewritten wholesale each cycle;
# older posts stay reachable through the feeds' RFC 5005 archives, so the HTML stops here.
MAX_PAGES = 20
# Autonyms for the language switcher: a reader looks for their own language's name.
AUTONYMS = {"en": "English", "fr": "Français", "es": "Español", "pt": "Português", "ar": "العربية"}


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed to announce with <link rel="alternate"> (autodiscovery) and in the page's list."""

    title: str
    href: str
    type: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class PostView:
    """What the template needs of a post, already decided (no logic in the template).

    The per-post phrases are translated here rather than by ``_()`` in the template: a page set
    shows 600 posts, and jinja's gettext call costs more than the rest of a post's rendering.
    """

    title: str
    link: str | None
    language: str
    meta: str  # "tags - dd/mm/yyyy", the seeds' second line
    tags: str
    date_numeric: str
    date_long: str
    date_iso: str
    excerpt: str
    organisation: str
    source_name: str
    image: str | None
    also_from: str = ""  # organisations that published the same story, already joined
    read_more_label: str = ""  # "Read the full post: <title>", in the page's language
    source_line: str = ""  # "From: <organisation> (<feed name>)", in the page's language
    also_line: str = ""  # "Also published by: <organisations>", or "" when nobody else did


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    href: str
    current: bool = False
    language: str | None = None


def base_language(tag: str | None) -> str:
    """'fr-CA' -> 'fr': page sets and feed editions group a language's regional variants."""
    return (tag or "").split("-")[0].lower()


def _safe_http(url: str | None) -> str | None:
    """An http(s) URL with a host, else None: what ``urlsplit`` would say of a scheme and a
    netloc, read off the prefix (this runs twice for every post of every page set)."""
    url = (url or "").strip()
    head = url[:8].lower()
    if head.startswith("https://"):
        rest = url[8:]
    elif head.startswith("http://"):
        rest = url[7:]
    else:
        return None
    return url if rest and rest[0] not in "/?#" else None


def post_view(post: Post, sources: Mapping[str, Source], language: str, tz: ZoneInfo) -> PostView:
    """One post as the seeds lay it out; dates in the site's time zone, text made encodable."""
    t = translator(language)
    local = post.published.astimezone(tz)
    tags = ", ".join(tag for tag in (clean_line(x) for x in post.tags) if tag)
    numeric = numeric_date(local, language)
    source = sources.get(post.source_id)
    source_label = clean_name(source.name) if source else clean_line(post.source_id)
    organisation = clean_name(source.organisation) if source else ""
    title = clean_line(post.title) or _shorten(clean_line(post.excerpt)) or source_label
    also = ", ".join(
        dict.fromkeys(
            clean_name(sources[s].organisation) if s in sources else clean_line(s)
            for s in post.also_from
            if s != post.source_id
        )
    )
    return PostView(
        title=title,
        link=_safe_http(clean_line(post.link)),
        language=clean_line(post.language) or language,
        meta=f"{tags} - {numeric}" if tags else f"- {numeric}",
        tags=tags,
        date_numeric=numeric,
        date_long=long_date(local, language),
        date_iso=local.isoformat(),
        excerpt=clean_text(post.excerpt).strip(),
        organisation=organisation,
        source_name=source_label,
        image=_safe_http(clean_line(post.image)),
        also_from=also,
        read_more_label=t.gettext("Read the full post: %(title)s", title=title),
        source_line=t.gettext(
            "From: %(publisher)s", publisher=_publisher(organisation, source_label)
        ),
        also_line=t.gettext("Also published by: %(names)s", names=also) if also else "",
    )


def _publisher(organisation: str, source_name: str) -> str:
    """The seeds' "From:" line: the member organisation, and its feed's name when it differs."""
    if not organisation:
        return source_name
    if source_name and source_name != organisation:
        return f"{organisation} ({source_name})"
    return organisation


def _shorten(text: str, limit: int = 90) -> str:
    """A heading for a post without a title (the seeds have some): its excerpt's first words."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def page_name(number: int) -> str:
    return "index.html" if number == 1 else f"page-{number}.html"


def _chunks(posts: Sequence[Post], size: int) -> list[Sequence[Post]]:
    if not posts:
        return [[]]
    count = min(MAX_PAGES, -(-len(posts) // size))
    return [posts[i * size : (i + 1) * size] for i in range(count)]


def _language_nav(
    settings: Settings, current: str | None, ui_lang: str, prefix: str
) -> list[NavLink]:
    """Links between page sets, relative to the page's own directory."""
    label_all = translator(ui_lang).gettext("All languages")
    nav = [NavLink(label_all, f"{prefix}index.html", current is None)]
    for lang in settings.site.languages:
        nav.append(
            NavLink(AUTONYMS.get(lang, lang), f"{prefix}{lang}/index.html", current == lang, lang)
        )
    return nav


def page_sets(settings: Settings) -> list[str | None]:
    """The page sets: None for all languages (the site's root), then one per site language."""
    return [None, *settings.site.languages]


def set_posts(posts: Sequence[Post], settings: Settings, language: str | None) -> list[Post]:
    """The posts a page set shows (``posts`` newest first), at most MAX_PAGES pages of them."""
    limit = MAX_PAGES * settings.site.page_size
    if language is None:
        return list(posts[:limit])
    wanted = base_language(language)
    return [p for p in posts if base_language(p.language) == wanted][:limit]


def render_pages(
    posts: Sequence[Post],
    sources: Mapping[str, Source],
    settings: Settings,
    feeds: Sequence[FeedLink],
) -> dict[str, bytes]:
    """Every HTML page, by path relative to the output directory.  ``posts``: newest first."""
    out: dict[str, bytes] = {}
    for language in page_sets(settings):
        chosen = set_posts(posts, settings, language)
        out.update(render_page_set(chosen, sources, settings, feeds, language))
    return out


def render_page_set(
    posts: Sequence[Post],
    sources: Mapping[str, Source],
    settings: Settings,
    feeds: Sequence[FeedLink],
    language: str | None,
) -> dict[str, bytes]:
    """One page set (``set_posts`` already chosen): index.html, page-2.html… in its directory."""
    site = settings.site
    ui_lang = language or (site.languages[0] if site.languages else "en")
    directory = f"{language}/" if language else ""
    prefix = "../" if language else ""
    tz = ZoneInfo(site.timezone)
    intro = site.intro.get(ui_lang) or site.description
    paragraphs = [clean_text(p).strip() for p in intro.split("\n\n") if p.strip()]
    chunks = _chunks(posts, site.page_size)
    # The all-languages set announces every edition; a language set puts its own edition first.
    own = [f for f in feeds if language and f.language == language]
    announced = own + [f for f in feeds if f not in own]
    template = environment(ui_lang).get_template(TEMPLATE)
    out: dict[str, bytes] = {}
    for number, chunk in enumerate(chunks, start=1):
        html = template.render(
            lang=ui_lang,
            title=clean_line(site.title),
            intro=paragraphs,
            posts=[post_view(p, sources, ui_lang, tz) for p in chunk],
            feeds=announced,
            nav=_language_nav(settings, language, ui_lang, prefix),
            css=f"{prefix}static/site.css",
            page=number,
            pages=len(chunks),
            newer=page_name(number - 1) if number > 1 else None,
            older=page_name(number + 1) if number < len(chunks) else None,
        )
        out[directory + page_name(number)] = html.encode("utf-8")
    return out
