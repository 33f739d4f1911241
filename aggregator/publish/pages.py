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
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from aggregator.config import Settings
from aggregator.i18n import environment, long_date, numeric_date, translator
from aggregator.models import Post, Source
from aggregator.present.images import ImageView, Stored, alt_text, view
from aggregator.present.machine import MachineTitles
from aggregator.present.names import Names
from aggregator.present.siblings import Sibling
from aggregator.present.topics import TopicLabels
from aggregator.publish.outputs import clean_line, clean_text

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
    kind: str = "all"  # "all", "language", "topic", "source": how the Follow box groups it
    key: str = ""  # the language, topic key or source id


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
    picture: ImageView | None = None  # the lead image, a local copy in several widths
    siblings: tuple[Sibling, ...] = ()  # the same post in other languages, as the member linked
    machine_title: str = ""  # a machine-translated title, labelled so, when the operator asks


@dataclass(frozen=True, slots=True)
class Extras:
    """What a page shows beside the posts' own fields, decided once per publish."""

    names: Names | None = None
    siblings: Mapping[str, tuple[Sibling, ...]] = field(default_factory=dict)
    images: Mapping[str, Stored] = field(default_factory=dict)
    machine: MachineTitles | None = None
    topics: TopicLabels | None = None


@dataclass(frozen=True, slots=True)
class Follow:
    """The feed links grouped as the Follow box shows them, in the page's language."""

    everything: tuple[NavLink, ...]  # the combined feed in each format, named by its format
    own: FeedLink | None  # the page's language edition
    topics: tuple[NavLink, ...]
    members: tuple[NavLink, ...]
    opml: str


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


def post_view(
    post: Post,
    sources: Mapping[str, Source],
    language: str,
    tz: ZoneInfo,
    extras: Extras | None = None,
    prefix: str = "",
    edition_language: str | None = None,
) -> PostView:
    """One post as the seeds lay it out; dates in the site's time zone, text made encodable,
    names in the page's language; ``prefix`` leads from the page to the output's root."""
    extras = extras or _NO_EXTRAS
    names = extras.names or Names(sources, {})
    t = translator(language)
    local = post.published.astimezone(tz)
    if extras.topics is not None:  # a topic once, labelled in the page set's language
        tags = extras.topics.tag_line(post, edition_language)
    else:
        tags = ", ".join(tag for tag in (clean_line(x) for x in post.tags) if tag)
    numeric = numeric_date(local, language)
    source_label = names.feed(post.source_id, language)
    organisation = (
        names.organisation(post.source_id, language)
        if post.source_id in sources or post.source_id in names.configured
        else ""
    )
    title = clean_line(post.title) or _shorten(clean_line(post.excerpt)) or source_label
    also = ", ".join(
        dict.fromkeys(names.short(s, language) for s in post.also_from if s != post.source_id)
    )
    image = extras.images.get(post.image or "")
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
        picture=view(image, alt_text(post.content_html, post.image or ""), prefix)
        if image
        else None,
        siblings=extras.siblings.get(post.id, ()),
        machine_title=extras.machine.title(post, title, language) if extras.machine else "",
    )


_NO_EXTRAS = Extras()


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
    extras: Extras | None = None,
) -> dict[str, bytes]:
    """One page set (``set_posts`` already chosen): index.html, page-2.html… in its directory."""
    extras = extras or _NO_EXTRAS
    site = settings.site
    ui_lang = language or (site.languages[0] if site.languages else "en")
    directory = f"{language}/" if language else ""
    prefix = "../" if language else ""
    tz = ZoneInfo(site.timezone)
    intro = site.intro.get(ui_lang) or site.description_in(ui_lang)
    paragraphs = [clean_text(p).strip() for p in intro.split("\n\n") if p.strip()]
    chunks = _chunks(posts, site.page_size)
    # The all-languages set announces every edition; a language set puts its own edition first.
    own = [f for f in feeds if language and f.language == language]
    announced = own + [f for f in feeds if f not in own]
    template = environment(ui_lang).get_template(TEMPLATE)
    shared = {
        "lang": ui_lang,
        "title": clean_line(site.title_in(ui_lang)),
        "intro": paragraphs,
        "feeds": announced,
        "follow": _follow(feeds, language, ui_lang, extras, sources),
        "nav": _language_nav(settings, language, ui_lang, prefix),
        "css": f"{prefix}static/site.css",
        "brand_css": f"{prefix}static/brand.css",
        "logo": site_logo(site.logo, site.base_url, prefix),
        "home": f"{prefix}{directory}index.html",
        "members": _member_links(prefix, ui_lang),
    }
    out: dict[str, bytes] = {}
    for number, chunk in enumerate(chunks, start=1):
        html = template.render(
            **shared,
            posts=[post_view(p, sources, ui_lang, tz, extras, prefix, language) for p in chunk],
            page=number,
            pages=len(chunks),
            newer=page_name(number - 1) if number > 1 else None,
            older=page_name(number + 1) if number < len(chunks) else None,
        )
        out[directory + page_name(number)] = html.encode("utf-8")
    return out


def _member_links(prefix: str, lang: str) -> dict[str, str]:
    """The pages ``serve`` answers beside the published files, in the reader's language."""
    return {name: f"{prefix}{name}?lang={lang}" for name in ("subscribe", "submit", "sources")}


def site_logo(logo: str | None, base_url: str, prefix: str) -> str:
    """The network's logo from our own site (``site.logo``, relative to the site's root or on
    it), else the mark shipped with the stylesheet: a page never loads a third party's file."""
    if logo and not _safe_http(logo) and not logo.startswith(("/", "//")) and ":" not in logo:
        return prefix + logo
    if logo and logo.startswith(base_url):
        return prefix + logo[len(base_url) :]
    return f"{prefix}static/logo.svg"


# Formats are named as their specifications name them, in every language.
_FORMATS = {
    "application/atom+xml": "Atom",
    "application/rss+xml": "RSS",
    "application/feed+json": "JSON Feed",
}


def _follow(
    feeds: Sequence[FeedLink],
    language: str | None,
    ui_lang: str,
    extras: Extras,
    sources: Mapping[str, Source],
) -> Follow:
    """The feeds grouped: the combined feed's formats, this language's edition, then topics and
    members by their names in the page's language, sorted as its readers sort."""
    names = extras.names or Names(sources, {})
    everything = tuple(
        NavLink(_FORMATS.get(f.type, f.type), f.href) for f in feeds if f.kind == "all"
    )
    own = next((f for f in feeds if f.kind == "language" and f.key == language), None)
    topics = sorted(
        (
            NavLink(extras.topics.label(f.key, ui_lang) if extras.topics else f.title, f.href)
            for f in feeds
            if f.kind == "topic"
        ),
        key=lambda n: n.label.casefold(),
    )
    members = sorted(
        (NavLink(names.short(f.key, ui_lang), f.href) for f in feeds if f.kind == "source"),
        key=lambda n: n.label.casefold(),
    )
    base = everything[0].href.rsplit("/", 1)[0] + "/" if everything else ""
    return Follow(everything, own, tuple(topics), tuple(members), f"{base}sources.opml")
