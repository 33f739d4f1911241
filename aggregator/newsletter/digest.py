"""Digest editions: choose the posts, render the email, keep the ledger, send.

Three decisions shape this module:

* **The window is "first seen", never "published".**  An edition holds the posts the aggregator
  first saw after the previous edition's watermark (``window_end``) and up to ``now``.  A post
  that arrives late with an old publication date is therefore in the next edition, and a post
  that a publisher re-dates is never sent twice (the Mailchimp RSS-campaign complaint).
* **Inline once, personalise after.**  The CSS lives once in ``templates/digest.html``;
  premailer copies it into ``style`` attributes once per edition (Gmail and Outlook drop or
  ignore much of a ``<style>`` block).  The per-recipient part, the unsubscribe link, is a
  placeholder swapped in afterwards, so 3,000 recipients cost one inlining, not 3,000.
* **At most once per recipient.**  Each address is claimed in the ledger (PENDING/FAILED ->
  SENDING) before the SMTP conversation; a crash mid-send leaves it SENDING and it is never
  retried blindly.  A server refusal is recorded as FAILED and retried by the next run.

Gmail clips an HTML part above about 102 KB and hides the rest behind a link most readers never
click; ``render_edition`` shortens excerpts and then moves the oldest items to a "more on the
site" link until the inlined HTML fits, and says so in ``RenderedDigest.notes``.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from premailer import Premailer

from aggregator.config import EditionSettings, Settings, SmtpSettings
from aggregator.errors import DeliveryError
from aggregator.i18n import Translator, environment, long_date, translator
from aggregator.models import EditionRecord, Post, RecipientState, Source
from aggregator.newsletter.mail import (
    MailMessage,
    Sender,
    SendResult,
    SmtpSender,
    build_message,
    one_line,
)
from aggregator.store.protocol import Store

CLIP_BYTES = 100_000  # Gmail clips an HTML part above ~102 KB; keep a margin below it
CLIP_SLACK = 1_500  # room for the per-recipient unsubscribe URL swapped in after inlining
SHORT_EXCERPT = 140  # characters an excerpt keeps when the edition is too large
UNSUBSCRIBE_TOKEN = "AGGREGATOR-UNSUBSCRIBE-LINK"  # noqa: S105 - survives jinja escaping and premailer as is
PREVIEW_ADDRESS = "subscriber@example.invalid"  # RFC 2606: can never be delivered
_PREHEADER_CHARS = 140
_EMPTY_NOTE = "nothing new since the last edition: a send would skip it (not recorded)"

SenderFactory = Callable[[SmtpSettings], Sender]


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Selection:
    """The posts of one window, after the edition's filters, newest published first."""

    window_start: datetime | None  # exclusive; None before the first edition
    window_end: datetime  # inclusive
    posts: tuple[Post, ...]
    over_cap: int = 0  # matching posts beyond max_items: on the site, not in the email


@dataclass(frozen=True, slots=True)
class DigestItem:
    post_id: str
    title: str
    url: str
    organisation: str
    date: str
    excerpt: str
    language: str
    published: datetime
    image: str | None = None
    also_from: str = ""
    rank: int = 0  # 0 for the newest; the clip drops the highest ranks first


@dataclass(frozen=True, slots=True)
class DigestSection:
    heading: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """One edition, rendered and inlined once; ``personalise`` fills in the recipient."""

    html: str
    text: str
    subject: str
    notes: tuple[str, ...] = ()
    post_ids: tuple[str, ...] = ()  # the posts the email shows, newest published first


@dataclass(frozen=True, slots=True)
class PreviewFiles:
    html_path: Path
    text_path: Path
    eml_path: Path
    edition: EditionRecord
    saved: bool = True  # False: an empty window that a send would skip (nothing recorded)


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a send did; refusals are listed, not raised, so one bad address stops nothing."""

    edition: EditionRecord | None
    sent: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (address, the server's reply)
    skipped: tuple[str, ...] = ()  # already sent, or claimed and never confirmed
    test: bool = False
    empty: bool = False  # nothing new in the window and skip_empty: nothing sent or recorded
    complete: bool = False  # the edition is now marked sent
    error: str | None = None  # the SMTP session failed; unsent recipients stay pending

    def __str__(self) -> str:
        """One line for logs and the CLI."""
        if self.empty:
            return "nothing new since the last edition: nothing sent"
        name = self.edition.id if self.edition else "edition"
        parts = [f"{len(self.sent)} sent", f"{len(self.failed)} refused"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} already done or in flight")
        line = f"{'[TEST] ' if self.test else ''}{name}: {', '.join(parts)}"
        line += "; ".join(["", *(f"{a}: {e}" for a, e in self.failed)])
        if self.error:
            line += f"; stopped: {self.error}"
        if self.complete:
            line += "; edition complete"
        return line


# --------------------------------------------------------------------------------------------
# Selection (pure over the store's reads)


def select_posts(
    store: Store, edition: EditionSettings, last: EditionRecord | None, now: datetime
) -> Selection:
    """Posts first seen in ``(last.window_end, now]`` that the edition's filters accept.

    Filtering happens here rather than in the store query so that a language such as
    ``fr-CA`` matches an edition for ``fr``.
    """
    start = last.window_end if last is not None else None
    end = now if start is None or now > start else start
    found = store.posts_first_seen(start, end) if start is None or end > start else []
    return _selection(start, end, found, edition)


def _selection(
    start: datetime | None, end: datetime, found: Iterable[Post], edition: EditionSettings
) -> Selection:
    wanted = sorted(
        (p for p in found if _accepts(edition, p)),
        key=lambda p: (p.published, p.id),
        reverse=True,
    )
    kept = tuple(wanted[: edition.max_items])
    return Selection(start, end, kept, len(wanted) - len(kept))


def _accepts(edition: EditionSettings, post: Post) -> bool:
    if edition.language and _base_lang(post.language) != _base_lang(edition.language):
        return False
    if edition.topics and not set(edition.topics) & set(post.topics):
        return False
    return not edition.sources or post.source_id in edition.sources


def _base_lang(tag: str | None) -> str:
    return (tag or "en").split("-")[0].lower()


# --------------------------------------------------------------------------------------------
# Rendering (pure)


def group_items(
    items: Sequence[DigestItem],
    posts: Mapping[str, Post],
    group_by: str,
    other: str,
) -> tuple[DigestSection, ...]:
    """Sections in alphabetical order, "other" last; each post appears in one section only."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        if group_by == "topic":
            topics = posts[item.post_id].topics
            heading = _topic_heading(topics[0]) if topics else other
        else:
            heading = item.organisation or other
        groups.setdefault(heading, []).append(item)
    order = sorted(groups, key=lambda h: (h == other, h.casefold()))
    return tuple(DigestSection(h, tuple(groups[h])) for h in order)


def _topic_heading(key: str) -> str:
    return key.replace("-", " ").replace("_", " ").strip().capitalize()


def _item(post: Post, sources: Mapping[str, Source], lang: str, site_url: str) -> DigestItem:
    source = sources.get(post.source_id)
    organisation = source.organisation if source else post.source_id
    others = [sources[s].organisation for s in post.also_from if s in sources]
    also = ", ".join(dict.fromkeys(o for o in others if o != organisation))
    return DigestItem(
        post_id=post.id,
        title=one_line(post.title),
        url=post.link if _is_web_url(post.link) else site_url,
        organisation=one_line(organisation),
        date=long_date(post.published, lang),
        excerpt=" ".join(post.excerpt.split()),
        language=post.language or "en",
        published=post.published,
        image=post.image if post.image and _is_web_url(post.image) else None,
        also_from=also,
    )


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


def render_edition(
    settings: Settings,
    edition: EditionSettings,
    posts: Sequence[Post],
    sources: Mapping[str, Source],
    *,
    date: datetime,
    over_cap: int = 0,
    clip_bytes: int = CLIP_BYTES,
) -> RenderedDigest:
    """Render both parts of an edition and inline its CSS once, under Gmail's clip.

    ``posts`` are shown newest published first; ``over_cap`` counts matching posts already
    left out by ``max_items``, which the "more on the site" link includes.  Fitting under
    the clip edits the inlined HTML through comment markers the templates leave around each
    item, excerpt and section, so premailer (the slow part) runs once whatever the size.
    """
    lang = _base_lang(edition.language)
    site_url = settings.site.base_url
    ordered = sorted(
        (_item(p, sources, lang, site_url) for p in posts),
        key=lambda i: (i.published, i.post_id),
        reverse=True,
    )
    items = [replace(item, rank=rank) for rank, item in enumerate(ordered)]
    by_id = {p.id: p for p in posts}
    frame = _frame(settings, edition, len(items) + over_cap, items, date, lang)
    notes: list[str] = []
    if over_cap:
        notes.append(f"{over_cap} more posts than max_items ({edition.max_items}) left to the site")
    budget = clip_bytes - CLIP_SLACK
    html = _render_html(frame, items, by_id, over_cap)
    if _size(html) > budget:
        html = _MARK_EXCERPT.sub(_shorter_excerpt, html)
        items = [replace(i, excerpt=_shorten(i.excerpt, SHORT_EXCERPT)) for i in items]
        notes.append(f"excerpts shortened to {SHORT_EXCERPT} characters to stay under Gmail's clip")
    keep = _fitting(html, len(items), budget)
    dropped = len(items) - keep
    if dropped:
        html = _drop_items(html, keep)
        items = items[:keep]
        notes.append(
            f"{dropped} oldest items moved to a link to the site to stay under Gmail's clip"
        )
    html = _finish(html, over_cap + dropped)
    text = _render_text(frame, items, by_id, over_cap + dropped)
    return RenderedDigest(html, text, frame.subject, tuple(notes), tuple(i.post_id for i in items))


# Markers the digest templates put in comments; premailer keeps comments where they stand.
_MARK_ITEM = re.compile(r"<!--i:(\d+)-->.*?<!--/i-->\n?", re.S)
_MARK_EXCERPT = re.compile(r"<!--e-->(.*?)<!--/e-->", re.S)
_MARK_SECTION = re.compile(r"<!--s-->(.*?)<!--/s-->\n?", re.S)
_MARK_MORE = re.compile(r"<!--m-->.*?<!--/m-->\n?", re.S)
_MARK_COUNT = re.compile(r"<!--c-->\d*<!--/c-->")
_MARK_ANY = re.compile(r"<!--(?:/?[isemc]|i:\d+)-->")


def _shorter_excerpt(match: re.Match[str]) -> str:
    text = html_lib.unescape(match.group(1))
    return f"<!--e-->{html_lib.escape(_shorten(text, SHORT_EXCERPT), quote=False)}<!--/e-->"


def _fitting(html: str, count: int, budget: int) -> int:
    """How many of the newest items fit: drop the oldest (highest rank) until under budget."""
    excess = _size(html) - budget
    if excess <= 0:
        return count
    sizes = {int(m.group(1)): _size(m.group(0)) for m in _MARK_ITEM.finditer(html)}
    keep = count
    while keep > 0 and excess > 0:
        keep -= 1
        excess -= sizes.get(keep, 0)
    return keep


def _drop_items(html: str, keep: int) -> str:
    html = _MARK_ITEM.sub(lambda m: m.group(0) if int(m.group(1)) < keep else "", html)
    # a section whose every item moved to the site loses its heading too
    return _MARK_SECTION.sub(lambda m: m.group(0) if "<!--i:" in m.group(1) else "", html)


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
) -> _Frame:
    t = translator(lang)
    site_title = one_line(settings.site.title)
    intro = (
        edition.intro
        or settings.site.intro.get(lang)
        or t.gettext("New posts from the network since the last edition.")
    )
    edition_date = long_date(date, lang)
    values = {
        "site": site_title,
        "count": t.number(count),
        "date": edition_date,
        "edition": edition.name,
        "first_title": items[0].title if items else "",
    }
    subject = one_line(format_subject(edition.subject or _default_subject(t, count), values))
    return _Frame(
        lang,
        site_title,
        settings.site.base_url,
        one_line(intro),
        edition_date,
        subject,
        edition.group_by,
    )


def _default_subject(t: Translator, count: int) -> str:
    """The subject of an edition that sets none, in its language; ``{site}`` and ``{count}`` are
    filled by ``format_subject``.  English keeps "new posts" for one post too, as it always
    said; French and Spanish take their singular."""
    # Translators: keep {site} (the site's title) and {count} (the number of posts) as they are.
    return t.ngettext("{site}: {count} new posts", "{site}: {count} new posts", count)


def _context(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post], more: int
) -> dict[str, object]:
    other = translator(frame.lang).gettext("Other")
    preheader = _shorten(" · ".join(i.title for i in items[:3]) or frame.intro, _PREHEADER_CHARS)
    return {
        "lang": frame.lang,
        "subject": frame.subject,
        "site_title": frame.site_title,
        "site_url": frame.site_url,
        "intro": frame.intro,
        "edition_date": frame.edition_date,
        "preheader": preheader,
        "sections": group_items(items, posts, frame.group_by, other),
        "more_count": more,
        "unsubscribe_href": UNSUBSCRIBE_TOKEN,
        "wrap": wrap,
    }


def _render_html(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post], more: int
) -> str:
    template = environment(frame.lang).get_template("digest.html")
    raw = template.render(_context(frame, items, posts, more))
    return inline_css(raw)


def _render_text(
    frame: _Frame, items: Sequence[DigestItem], posts: Mapping[str, Post], more: int
) -> str:
    template = environment(frame.lang).get_template("digest.txt")
    text = template.render(_context(frame, items, posts, more))
    return re.sub(r"\n{4,}", "\n\n\n", text).strip() + "\n"


def inline_css(html: str) -> str:
    """Copy the template's <style> rules into style attributes; never fetch anything.

    ``allow_network=False`` because premailer's defaults fetch any ``<link rel=stylesheet>``
    and ``@import`` they meet.  Media queries cannot be inlined and stay in a <style> block
    as a progressive enhancement; nothing depends on them.
    """
    return str(
        Premailer(
            html,
            allow_network=False,
            allow_loading_external_files=False,
            base_url=None,
            disable_link_rewrites=True,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            # the templates set width attributes themselves; premailer would add height="auto"
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
        ).transform(pretty_print=False)
    )


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


def personalise(rendered: RenderedDigest, link: str) -> tuple[str, str]:
    """The (html, text) one recipient gets: the placeholder replaced by their own link."""
    html = rendered.html.replace(UNSUBSCRIBE_TOKEN, html_lib.escape(link, quote=True))
    return html, rendered.text.replace(UNSUBSCRIBE_TOKEN, link)


# --------------------------------------------------------------------------------------------
# Editions in the ledger


def edition_id(name: str, window_end: datetime) -> str:
    return f"{name}-{window_end.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True, slots=True)
class _Prepared:
    record: EditionRecord
    rendered: RenderedDigest
    empty: bool


def _prepare(
    store: Store, settings: Settings, edition: EditionSettings, now: datetime
) -> _Prepared:
    """The edition to preview or send: the last one while it is unsent, else a new window."""
    last = store.last_edition(edition.name)
    if last is not None and not last.sent:
        found = store.posts_first_seen(last.window_start, last.window_end)
        selection = _selection(last.window_start, last.window_end, found, edition)
    else:
        selection = select_posts(store, edition, last, now)
    rendered = render_edition(
        settings,
        edition,
        selection.posts,
        store.get_sources(),
        date=selection.window_end,
        over_cap=selection.over_cap,
    )
    if last is not None and not last.sent:
        record = replace(last, post_ids=rendered.post_ids, subject=rendered.subject)
        record = replace(record, notes=rendered.notes)
    else:
        record = EditionRecord(
            id=edition_id(edition.name, selection.window_end),
            name=edition.name,
            window_start=selection.window_start,
            window_end=selection.window_end,
            created=now,
            post_ids=rendered.post_ids,
            subject=rendered.subject,
            notes=rendered.notes,
        )
    return _Prepared(record, rendered, empty=not selection.posts)


def _message(
    settings: Settings,
    prepared: _Prepared,
    to: str,
    now: datetime,
    *,
    subject_prefix: str = "",
) -> tuple[str, str, MailMessage]:
    """The message for one recipient, and the personalised (html, text) it carries."""
    link, https_url = unsubscribe_link(settings, to, prepared.record.id)
    html, text = personalise(prepared.rendered, link)
    smtp = settings.digest.smtp
    mailto = f"mailto:{smtp.reply_to}?subject=unsubscribe" if smtp.reply_to else None
    msg = build_message(
        from_address=smtp.from_address,
        from_name=smtp.from_name,
        reply_to=smtp.reply_to,
        to=to,
        subject=subject_prefix + prepared.rendered.subject,
        text=text,
        html=html,
        date=now,
        unsubscribe_url=https_url,
        unsubscribe_mailto=mailto if https_url else link,
    )
    return html, text, msg


def preview(store: Store, settings: Settings, edition_name: str, now: datetime) -> PreviewFiles:
    """Write the edition's .html, .txt and .eml (a full message to a placeholder) for review.

    The edition is recorded so that the send that follows mails exactly what was reviewed;
    previewing again while it is unsent gives the same edition.  An empty window of a
    ``skip_empty`` edition is written out but not recorded, since a send would skip it.
    """
    edition = settings.edition(edition_name)
    prepared = _prepare(store, settings, edition, now)
    html, text, msg = _message(settings, prepared, PREVIEW_ADDRESS, now)
    out = settings.digest_dir
    out.mkdir(parents=True, exist_ok=True)
    stem = prepared.record.id.replace(":", "")
    paths = (out / f"{stem}.html", out / f"{stem}.txt", out / f"{stem}.eml")
    _write(paths[0], html.encode("utf-8"))
    _write(paths[1], text.encode("utf-8"))
    _write(paths[2], msg.as_bytes())
    record = replace(
        prepared.record, html_path=str(paths[0]), text_path=str(paths[1]), eml_path=str(paths[2])
    )
    saved = not (prepared.empty and edition.skip_empty)
    if saved:
        store.save_edition(record, edition.recipients)
    else:
        record = replace(record, notes=(*record.notes, _EMPTY_NOTE))
    return PreviewFiles(paths[0], paths[1], paths[2], record, saved)


def _write(path: Path, data: bytes) -> None:
    """Write then rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def send(
    store: Store,
    settings: Settings,
    edition_name: str,
    now: datetime,
    *,
    to: str | None = None,
    smtp_factory: SenderFactory = SmtpSender,
) -> SendReport:
    """Send the current edition: one message per recipient, each claimed before SMTP.

    With ``to``, one test copy ("[TEST]" in the subject) goes to that address and the ledger is
    not touched.  Otherwise the last edition is resent while unsent (only recipients still
    PENDING or FAILED get it), or a new window starts after its ``window_end``.

    Callers hold the store lock ``digest:<edition>`` around it (``app.held_lock``, as the CLI
    and the scheduler's job do): the claims make a concurrent run safe, the lock makes it quiet.
    """
    edition = settings.edition(edition_name)
    if to is not None:
        return _send_test(store, settings, edition, now, to, smtp_factory)
    return _send_edition(store, settings, edition, now, smtp_factory)


def _send_test(
    store: Store,
    settings: Settings,
    edition: EditionSettings,
    now: datetime,
    to: str,
    factory: SenderFactory,
) -> SendReport:
    prepared = _prepare(store, settings, edition, now)
    _, _, msg = _message(settings, prepared, to, now, subject_prefix="[TEST] ")
    try:
        with factory(settings.digest.smtp) as sender:
            result = sender.send(msg)
    except DeliveryError as exc:
        return SendReport(prepared.record, test=True, error=str(exc))
    if result.ok:
        return SendReport(prepared.record, sent=(to,), test=True)
    return SendReport(prepared.record, failed=((to, result.error or ""),), test=True)


def _send_edition(
    store: Store,
    settings: Settings,
    edition: EditionSettings,
    now: datetime,
    factory: SenderFactory,
) -> SendReport:
    prepared = _prepare(store, settings, edition, now)
    if prepared.empty and edition.skip_empty:
        return SendReport(None, empty=True)
    record = prepared.record
    store.save_edition(record, edition.recipients)
    before = {r.address: r.state for r in store.recipients(record.id)}
    targets = [
        a
        for a in edition.recipients
        if before.get(a) in (RecipientState.PENDING, RecipientState.FAILED)
    ]
    skipped = tuple(a for a in edition.recipients if a not in targets)
    sent: list[str] = []
    failed: list[tuple[str, str]] = []
    error: str | None = None
    try:
        with factory(settings.digest.smtp) as sender:
            for address in targets:
                result = _deliver(store, settings, prepared, sender, address, now)
                if result is None:
                    skipped += (address,)
                elif result.ok:
                    sent.append(address)
                else:
                    failed.append((address, result.error or "refused"))
    except DeliveryError as exc:
        error = str(exc)
    complete = error is None and _complete(store, record.id, edition.recipients, before, failed)
    if complete:
        record = replace(record, sent=True)
        store.save_edition(record, edition.recipients)
    return SendReport(record, tuple(sent), tuple(failed), skipped, complete=complete, error=error)


def _deliver(
    store: Store,
    settings: Settings,
    prepared: _Prepared,
    sender: Sender,
    address: str,
    now: datetime,
) -> SendResult | None:
    """Claim, send, record one recipient; None when someone else holds or finished it.

    The claim comes first: if the process dies between the server's "250" and the mark, the
    address stays SENDING and is never mailed twice.  A lost session raises (DeliveryError).
    """
    edition_id = prepared.record.id
    msg: MailMessage | None = None
    refusal: SendResult | None = None
    try:
        _, _, msg = _message(settings, prepared, address, now)
    except DeliveryError as exc:
        refusal = SendResult(address, False, error=str(exc))
    if not store.claim_recipient(edition_id, address, now):
        return None
    result = sender.send(msg) if msg is not None else refusal
    assert result is not None
    if result.ok:
        store.mark_recipient(
            edition_id, address, RecipientState.SENT, now, message_id=result.message_id
        )
    else:
        store.mark_recipient(edition_id, address, RecipientState.FAILED, now, error=result.error)
    return result


def _complete(
    store: Store,
    edition_id: str,
    recipients: Sequence[str],
    before: Mapping[str, RecipientState],
    failed_now: Sequence[tuple[str, str]],
) -> bool:
    """Every recipient is done: sent, never confirmed (SENDING), or refused on a retry too.

    An address gets its first attempt and one retry per edition; refusing to close an edition
    until a dead address accepts mail would hold back every later edition for everyone.
    """
    states = {r.address: r.state for r in store.recipients(edition_id)}
    refused_again = {a for a, _ in failed_now if before.get(a) is RecipientState.FAILED}
    for address in recipients:
        state = states.get(address)
        if state in (RecipientState.SENT, RecipientState.SENDING):
            continue
        if state is RecipientState.FAILED and address in refused_again:
            continue
        return False
    return True
