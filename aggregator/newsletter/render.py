"""The email of one edition: HTML and plain text, CSS inlined once, kept under Gmail's clip.

**Inline once, personalise after.**  The CSS lives once in ``templates/digest.html``; premailer
(imported here and nowhere else) copies it into ``style`` attributes once per edition (Gmail and
Outlook drop or ignore much of a ``<style>`` block).  The per-recipient parts, the preference and
unsubscribe links, are placeholders that ``personalise`` swaps in afterwards, so 3,000
recipients cost one inlining, not 3,000.

Gmail clips an HTML part above about 102 KB and hides the rest behind a link most readers never
click; ``render_edition`` shortens excerpts and then moves the oldest items to a "more on the
site" link until the inlined HTML fits, and says so in ``RenderedDigest.notes``.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit
from zoneinfo import ZoneInfo

from premailer import Premailer

from aggregator.config import EditionSettings, Settings
from aggregator.config.site import ColourSettings
from aggregator.i18n import Translator, environment, long_date, numeric_date, translator
from aggregator.models import Post, Source
from aggregator.newsletter import curation as curated
from aggregator.newsletter.editions import DigestItem, DigestSection, base_lang, group_items
from aggregator.newsletter.look import DigestLook
from aggregator.newsletter.mail import one_line
from aggregator.present.images import ImageView
from aggregator.present.names import Names
from aggregator.store.curation import Curation

CLIP_BYTES = 100_000  # Gmail clips an HTML part above ~102 KB; keep a margin below it
CLIP_SLACK = 1_500  # room for the per-recipient unsubscribe URL swapped in after inlining
THUMB_WIDTH = 120  # the thumbnail beside each item; its file is the 160 px variant
SHORT_EXCERPT = 140  # characters an excerpt keeps when the edition is too large
UNSUBSCRIBE_TOKEN = "AGGREGATOR-UNSUBSCRIBE-LINK"  # noqa: S105 - survives jinja escaping and premailer as is
PREFERENCES_TOKEN = "AGGREGATOR-PREFERENCES-LINK"  # noqa: S105 - the same, for the preference page
_PREHEADER_CHARS = 140


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """One edition, rendered and inlined once; ``personalise`` fills in the recipient."""

    html: str
    text: str
    subject: str
    notes: tuple[str, ...] = ()
    post_ids: tuple[str, ...] = ()  # the posts the email shows, newest published first
    shown: tuple[str, ...] = ()  # the same posts in the order the email shows them


def _item(
    post: Post,
    sources: Mapping[str, Source],
    lang: str,
    site_url: str,
    look: DigestLook,
    tz: ZoneInfo,
    edition_language: str | None = None,
) -> DigestItem:
    """One post as the email shows it, named and dated in the edition's language and zone;
    its topics labelled in the edition's language (the all-languages edition: the post's)."""
    names = look.names or Names(sources, {})
    organisation = names.organisation(post.source_id, lang)
    others = [names.short(s, lang) for s in post.also_from if s != post.source_id]
    also = ", ".join(dict.fromkeys(o for o in others if o != organisation))
    picture = look.picture(post, site_url)
    return DigestItem(
        post_id=post.id,
        title=one_line(post.title),
        url=post.link if _is_web_url(post.link) else site_url,
        organisation=one_line(organisation),
        date=long_date(post.published.astimezone(tz), lang),
        excerpt=" ".join(post.excerpt.split()),
        language=post.language or "en",
        published=post.published,
        image=picture.thumb if picture else None,
        also_from=also,
        tags=one_line(_tag_line(post, look, edition_language and lang)),
        day=numeric_date(post.published.astimezone(tz), lang),
        image_alt=picture.alt if picture else "",
        image_height=_thumb_height(picture) if picture else 0,
        siblings=tuple(
            (s.language, s.href, s.name)
            for s in look.siblings.get(post.id, ())
            if _is_web_url(s.href)
        ),
        topic=look.topics.label(post.topics[0], lang) if look.topics and post.topics else "",
    )


def _tag_line(post: Post, look: DigestLook, language: str | None) -> str:
    if look.topics is None:
        return ", ".join(t for t in post.tags if t.strip())
    return look.topics.tag_line(post, language)


def _thumb_height(picture: ImageView) -> int:
    return max(1, round(picture.height * THUMB_WIDTH / picture.width))


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return f"{cut}…"


def format_subject(template: str, values: Mapping[str, str]) -> str:
    """``{site}``, ``{count}``, ``{date}``, ``{edition}``, ``{first_title}``; others kept as typed.

    A plain substitution rather than ``str.format``: braces a member types in a title, or an
    unknown placeholder, must not raise or reach attributes.
    """
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Everything about an edition that does not depend on which items fit."""

    lang: str
    site_title: str
    site_url: str
    intro: str
    edition_date: str
    subject: str
    group_by: str
    note: tuple[str, ...] = ()  # this editorial note, in paragraphs
    curation: Curation | None = None
    logo: str = ""  # absolute: an email has no relative URLs
    colors: ColourSettings = field(default_factory=ColourSettings)
    home: str = ""  # the page set in the edition's language, else the site's root


def render_edition(
    settings: Settings,
    edition: EditionSettings,
    posts: Sequence[Post],
    sources: Mapping[str, Source],
    *,
    date: datetime,
    over_cap: int = 0,
    clip_bytes: int = CLIP_BYTES,
    curation: Curation | None = None,
    look: DigestLook | None = None,
) -> RenderedDigest:
    """Render both parts of an edition and inline its CSS, under Gmail's clip.

    ``posts`` are shown newest published first; ``over_cap`` counts matching posts already
    left out by ``max_items``, which the "more on the site" link includes.  ``curation``: the
    order, featured item, note and subject staff chose for this issue (``curation``).  Fitting under
    the clip edits the inlined HTML through comment markers the templates leave around each
    item, excerpt and section, so premailer (the slow part) styles each item at most once or
    twice, and not the items that cannot fit (``_inline_within``).
    """
    lang = base_lang(edition.language)
    site_url = settings.site.base_url
    look = look or DigestLook()
    zone = ZoneInfo(edition.timezone)
    ordered = sorted(
        (_item(p, sources, lang, site_url, look, zone, edition.language) for p in posts),
        key=lambda i: (i.published, i.post_id),
        reverse=True,
    )
    by_id = {p.id: p for p in posts}
    if curated.is_curated(curation):  # staff's order starts from the sections readers saw
        other = translator(lang).gettext("Other")
        sections = group_items(ordered, by_id, edition.group_by, other)
        ordered = [item for section in sections for item in section.items]
    items = curated.arrange(ordered, curation)
    frame = _frame(settings, edition, len(items) + over_cap, items, date, lang, curation)
    notes: list[str] = []
    if over_cap:
        notes.append(f"{over_cap} more posts than max_items ({edition.max_items}) left to the site")
    budget = clip_bytes - CLIP_SLACK
    raw = _render_html(frame, items, by_id, over_cap)
    html, shortened = _inline_within(raw, len(items), budget, _first_guess(raw, len(items), budget))
    if shortened:
        notes.append(f"excerpts shortened to {SHORT_EXCERPT} characters to stay under Gmail's clip")
    keep = _fitting(html, len(items), budget)
    dropped = len(items) - keep
    if dropped:
        html = _drop_items(html, keep)
        items = items[:keep]
        notes.append(
            f"{dropped} oldest items moved to a link to the site to stay under Gmail's clip"
        )
    if shortened:
        items = [replace(i, excerpt=_shorten(i.excerpt, SHORT_EXCERPT)) for i in items]
    html = _finish(html, over_cap + dropped)
    text = _render_text(frame, items, by_id, over_cap + dropped)
    ids = tuple(i.post_id for i in items)
    return RenderedDigest(html, text, frame.subject, tuple(notes), ids, _shown(frame, items, by_id))


# Markers the digest templates put in comments; premailer keeps comments where they stand.
# Each carries this process's random mark: a member's text can hold "<!--/i-->", and the
# serializer premailer uses writes an attribute's "<" as it is (an image's alt text), where it
# would pass for a marker; nobody outside the process can guess the mark.
MARK = secrets.token_hex(6)
_MARK_ITEM = re.compile(rf"<!--i:(\d+):{MARK}-->.*?<!--/i:{MARK}-->\n?", re.S)
_MARK_EXCERPT = re.compile(rf"<!--e:{MARK}-->(.*?)<!--/e:{MARK}-->", re.S)
_MARK_SECTION = re.compile(rf"<!--s:{MARK}-->(.*?)<!--/s:{MARK}-->\n?", re.S)
_MARK_MORE = re.compile(rf"<!--m:{MARK}-->.*?<!--/m:{MARK}-->\n?", re.S)
_MARK_COUNT = re.compile(rf"<!--c:{MARK}-->\d*<!--/c:{MARK}-->")
_MARK_ANY = re.compile(rf"<!--(?:/?[isemc]|i:\d+):{MARK}-->")


def _shorter_excerpt(match: re.Match[str]) -> str:
    text = html_lib.unescape(match.group(1))
    short = html_lib.escape(_shorten(text, SHORT_EXCERPT), quote=False)
    return f"<!--e:{MARK}-->{short}<!--/e:{MARK}-->"


def _fitting(html: str, count: int, budget: int) -> int:
    """How many of the newest items fit: drop the oldest (highest rank) until under budget."""
    excess = _size(html) - budget
    if excess <= 0:
        return count
    sizes = _item_sizes(html)
    keep = count
    while keep > 0 and excess > 0:
        keep -= 1
        excess -= sizes.get(keep, 0)
    return keep


def _inline_within(raw: str, count: int, budget: int, guess: int) -> tuple[str, bool]:
    """The email inlined, its excerpts shortened when it is over ``budget`` (and whether they
    were); the items of rank ``guess`` and beyond are left out when they cannot fit.

    Premailer's cost follows the elements it styles, and a large edition moves most of its
    items to the site (54 of the bench's 100).  An item's inlined markup depends on the item
    and its ancestors only (the stylesheet has no sibling selectors), so the email inlined
    without its oldest items has the same bytes for everything else, section headings
    included.  Each guess is checked on the inlined sizes: the part inlined must already be
    over budget (so the whole is: excerpts are shortened) and must not fit even then (so the
    items left out would have moved to the site).  A guess found short is made again from the
    sizes the inlined items turned out to have; a second miss inlines the whole email.
    ``tests/test_digest_inline.py`` compares every path with inlining everything.
    """
    part = min(guess, count)
    for attempt in (1, 2, 3):
        html = inline_css(_without_items(raw, part) if part < count else raw)
        over = _size(html) > budget
        if over:
            html = _MARK_EXCERPT.sub(_shorter_excerpt, html)
        if part >= count or (over and _fitting(html, part, budget) < part):
            return html, over
        part = _guess_again(raw, html, over, part, count, budget) if attempt == 1 else count
    raise AssertionError("unreachable: the third attempt inlines every item")


def _first_guess(raw: str, count: int, budget: int) -> int:
    """How many items to inline first: one more than fit once their excerpts are shortened,
    sized before inlining and grown by ``_INLINED_GROWTH``; all of them when the raw email is
    within budget.  Too small a guess costs another inlining, too large one some premailer
    work; never a different email."""
    if _size(raw) <= budget:
        return count
    short = _MARK_EXCERPT.sub(_shorter_excerpt, raw)
    return min(count, _fitting(short, count, int(budget / _INLINED_GROWTH)) + 1)


# How much larger an item is once its style attributes are written in: twice (1.95 to 2.0) for
# the bench's items with shortened excerpts; less for items of long titles.
_INLINED_GROWTH = 1.75


def _guess_again(raw: str, inlined: str, short: bool, part: int, count: int, budget: int) -> int:
    """After ``part`` items all fit: the room left, filled with the next items' raw sizes
    (their excerpts ``short`` or not) grown by the least growth the inlined ones showed, and
    one more."""
    before = _item_sizes(_MARK_EXCERPT.sub(_shorter_excerpt, raw) if short else raw)
    after = _item_sizes(inlined)
    growth = min((after[r] / before[r] for r in after if before.get(r)), default=1.0)
    room: float = budget - _size(inlined)
    more = part
    while more < count and room >= 0:
        room -= before.get(more, 0) * growth
        more += 1
    return min(count, more + 1)


def _item_sizes(html: str) -> dict[int, int]:
    """Each marked item's size in bytes, by rank."""
    return {int(m.group(1)): _size(m.group(0)) for m in _MARK_ITEM.finditer(html)}


def _without_items(html: str, keep: int) -> str:
    """The items of rank ``keep`` and beyond taken out, their sections' headings left."""
    return _MARK_ITEM.sub(lambda m: m.group(0) if int(m.group(1)) < keep else "", html)


def _drop_items(html: str, keep: int) -> str:
    html = _without_items(html, keep)
    # a section whose every item moved to the site loses its heading too
    return _MARK_SECTION.sub(lambda m: m.group(0) if _MARK_ITEM.search(m.group(1)) else "", html)


def _finish(html: str, more: int) -> str:
    """Set the "more on the site" count (or remove the link) and strip the markers."""
    html = _MARK_COUNT.sub(str(more), html) if more else _MARK_MORE.sub("", html)
    return _MARK_ANY.sub("", html)


def wrap(text: str, width: int = 72) -> str:
    """Greedy word wrap for the plain-text part; a long URL keeps its own unbroken line.

    ``textwrap`` does the same but costs more than the rest of the text rendering together.
    """
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return "\n".join(lines)


def _frame(
    settings: Settings,
    edition: EditionSettings,
    count: int,
    items: Sequence[DigestItem],
    date: datetime,
    lang: str,
    curation: Curation | None = None,
) -> _Frame:
    t = translator(lang)
    site_title = one_line(settings.site.title_in(lang))
    # not the site's intro: it speaks of "this page"; an edition may set its own
    intro = edition.intro or t.gettext("New posts from the network since the last edition.")
    edition_date = long_date(date, lang)
    values = {
        "site": site_title,
        "count": t.number(count),
        "date": edition_date,
        "edition": edition.name,
        "first_title": items[0].title if items else "",
    }
    chosen = (curation.subject if curation else None) or edition.subject
    subject = one_line(format_subject(chosen or _default_subject(t, count), values))
    return _Frame(
        lang,
        site_title,
        settings.site.base_url,
        one_line(intro),
        edition_date,
        subject,
        edition.group_by,
        note=curated.note_paragraphs(curation.note) if curation else (),
        curation=curation,
        logo=_logo(settings),
        colors=settings.site.colors,
        home=settings.site.base_url
        + (f"{lang}/" if edition.language and lang in settings.site.languages else ""),
    )


def _logo(settings: Settings) -> str:
    """The network's logo as an absolute URL on the site (``site.logo`` or the shipped mark);
    mail clients show no SVG, so an SVG logo gives way to the shipped PNG."""
    logo = settings.site.logo or ""
    if not logo or logo.lower().endswith(".svg"):
        logo = "static/logo.png"
    return logo if _is_web_url(logo) else urljoin(settings.site.base_url, logo)


def _default_subject(t: Translator, count: int) -> str:
    """The subject of an edition that sets none, in its language; ``{site}`` and ``{count}`` are
    filled by ``format_subject``.  English keeps "new posts" for one post too, as it always
    said; French and Spanish take their singular."""
    # Translators: keep {site} (the site's title) and {count} (the number of posts) as they are.
    return t.ngettext("{site}: {count} new posts", "{site}: {count} new posts", count)


def _context(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post], more: int
) -> dict[str, object]:
    t = translator(frame.lang)
    other = t.gettext("Other")
    preheader = _shorten(" · ".join(i.title for i in items[:3]) or frame.intro, _PREHEADER_CHARS)
    return {
        "lang": frame.lang,
        "subject": frame.subject,
        "site_title": frame.site_title,
        "site_url": frame.site_url,
        "intro": frame.intro,
        "edition_date": frame.edition_date,
        "preheader": preheader,
        "note": frame.note,
        "sections": _sections(frame, items, posts, other, t.gettext("Featured")),
        "more_count": more,
        "logo": frame.logo,
        "colors": frame.colors,
        "links": {
            name: f"{frame.site_url}{path}?lang={frame.lang}"
            for name, path in (
                ("submit", "submit"),
                ("sources", "sources"),
                ("subscribe", "subscribe"),
            )
        },
        "site_home": frame.home,
        "unsubscribe_href": UNSUBSCRIBE_TOKEN,
        "preferences_href": PREFERENCES_TOKEN,
        "wrap": wrap,
        "mark": MARK,
    }


def _sections(
    frame: _Frame,
    items: Sequence[DigestItem],
    posts: Mapping[str, Post],
    other: str,
    featured_heading: str,
) -> tuple[DigestSection, ...]:
    """Grouped by heading, or in the order staff set when they reordered or featured."""
    if not curated.is_curated(frame.curation):
        return group_items(items, posts, frame.group_by, other)
    featured = frame.curation.featured if frame.curation else None
    return curated.sections(
        items, posts, frame.group_by, other, featured=featured, featured_heading=featured_heading
    )


def _shown(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post]
) -> tuple[str, ...]:
    """Post ids section by section, as a reader meets them (the console lists them so)."""
    t = translator(frame.lang)
    sections = _sections(frame, items, posts, t.gettext("Other"), t.gettext("Featured"))
    return tuple(item.post_id for section in sections for item in section.items)


def _render_html(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post], more: int
) -> str:
    """The email before its CSS is inlined (``_inline_within``)."""
    template = environment(frame.lang).get_template("digest.html")
    return template.render(_context(frame, items, posts, more))


def _render_text(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post], more: int
) -> str:
    template = environment(frame.lang).get_template("digest.txt")
    text = template.render(_context(frame, items, posts, more))
    return re.sub(r"\n{4,}", "\n\n\n", text).strip() + "\n"


class _Inliner(Premailer):  # type: ignore[misc]  # premailer ships no type hints
    """Premailer, reading each stylesheet once per process.

    Premailer caches cssutils' parse of a stylesheet, but still walks and serializes every
    rule of it again for each email (about 6 ms of a 100-item digest): the template's
    stylesheet is the same for every edition with the same colours, so its rules are kept,
    keyed by their text.  They are plain (specificity, selector, declarations) tuples, and the
    media rules left over are the parsed sheet's own objects, which premailer's cache already
    shares between emails.
    """

    def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list[Any], list[Any]]:
        key = (css_body, ruleset_index, self.disable_validation, self.exclude_pseudoclasses)
        found = _PARSED_RULES.get(key)
        if found is None:
            if len(_PARSED_RULES) >= _PARSED_RULES_MAX:
                _PARSED_RULES.clear()
            found = _PARSED_RULES[key] = super()._parse_style_rules(css_body, ruleset_index)
        rules, leftover = found
        return list(rules), list(leftover)

    def _css_rules_to_string(self, rules: list[Any]) -> str:
        """The <style> text of the rules left over (media queries), kept like the rules:
        premailer rewrites each of their declarations through cssutils for every email."""
        key = tuple(rule if isinstance(rule, tuple) else id(rule) for rule in rules)
        text = _LEFTOVER_CSS.get(key)
        if text is None:
            if len(_LEFTOVER_CSS) >= _PARSED_RULES_MAX:
                _LEFTOVER_CSS.clear()
            text = _LEFTOVER_CSS[key] = str(super()._css_rules_to_string(rules))
        return text


_PARSED_RULES: dict[tuple[str, int, bool, bool], tuple[list[Any], list[Any]]] = {}
_PARSED_RULES_MAX = 64  # stylesheets (one per colour scheme in practice)
# The leftover rules' text, by the rules (media rules by identity: they are the objects kept
# in _PARSED_RULES, alive as long as their entry)
_LEFTOVER_CSS: dict[tuple[object, ...], str] = {}


def inline_css(html: str) -> str:
    """Copy the template's <style> rules into style attributes; never fetch anything.

    ``allow_network=False`` because premailer's defaults fetch any ``<link rel=stylesheet>``
    and ``@import`` they meet.  Media queries cannot be inlined and stay in a <style> block
    as a progressive enhancement; nothing depends on them.  The stylesheet qualifies each
    class with its element (``td.item``): premailer finds a rule's elements with an XPath
    query over the whole email, and a name test before the class test made that three times
    faster (39 -> 12 ms for the 37 rules of a 100-item digest).
    """
    return str(_Inliner(html, **PREMAILER_OPTIONS).transform(pretty_print=False))


#: How premailer is run (``inline_css``): never fetching, classes kept, no validation.
PREMAILER_OPTIONS: dict[str, Any] = {
    "allow_network": False,
    "allow_loading_external_files": False,
    "base_url": None,
    "disable_link_rewrites": True,
    "remove_classes": False,
    "strip_important": False,
    "disable_validation": True,
    # the templates set width attributes themselves; premailer would add height="auto"
    "disable_basic_attributes": ["width", "height"],
    # premailer parses every styled image's style with cssutils (about 4 ms an image) to copy
    # a CSS float into align=; the digest's stylesheet floats nothing (tests/test_digest_inline.py)
    "align_floating_images": False,
    "cssutils_logging_level": logging.CRITICAL,
}


def _size(html: str) -> int:
    return len(html.encode("utf-8"))


def unsubscribe_link(settings: Settings, address: str, edition_id: str) -> tuple[str, str | None]:
    """(link for the footer, https URL for List-Unsubscribe or None).

    Without a configured ``digest.unsubscribe_url`` the link is a mailto to the reply-to (or
    from) address, which a person can act on.
    """
    template = settings.digest.unsubscribe_url
    if template:
        url = template.replace("{email}", quote(address, safe="")).replace(
            "{edition}", quote(edition_id, safe="")
        )
        return url, url
    smtp = settings.digest.smtp
    return f"mailto:{smtp.reply_to or smtp.from_address}?subject=unsubscribe", None


def personalise(rendered: RenderedDigest, link: str, preferences: str) -> tuple[str, str]:
    """The (html, text) one recipient gets: the placeholders replaced by their own links."""
    html = rendered.html.replace(UNSUBSCRIBE_TOKEN, html_lib.escape(link, quote=True))
    html = html.replace(PREFERENCES_TOKEN, html_lib.escape(preferences, quote=True))
    text = rendered.text.replace(UNSUBSCRIBE_TOKEN, link)
    return html, text.replace(PREFERENCES_TOKEN, preferences)
