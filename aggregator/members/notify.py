"""Tell a source's owner when their feed needs attention: one e-mail per change of condition.

A member whose feed broke wants to hear about it once, not after every failed fetch (a source
fetched hourly would mail its owner 24 times a day).  So the decision is about *conditions*, not
events: each source is in one condition now (ok, failing, gone, moved, quiet), the store
remembers the last condition its contact was told about, and a notice goes out only when the
two differ.  Returning to ``ok`` is recorded silently, so a later breakdown is news again.

Which condition wins when several hold: gone (the server said 410: nothing will ever come),
then moved (a permanent redirect: the fix is a config edit), then failing (for at least
``fetch.failing_days``), then quiet (no new post for ``fetch.quiet_days`` although fetches work).

A notice is written in the source's language (``language`` in feeds.yaml), through the
catalogs of ``aggregator.i18n``: the contact of a French-speaking member reads French, the
last error included (worded from its kind and parameters by ``i18n.describe_error``; an error
stored before kinds existed is quoted as it was stored).

``notices`` is pure (``now`` and every input passed in); ``send_notices`` is the I/O edge the
app calls after each cycle.  A notice is recorded only once the SMTP server accepted it, so a
mail server that is down means the notice is tried again after the next cycle.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.config import Settings
from aggregator.errors import DeliveryError
from aggregator.i18n import Translator, describe_error, translator
from aggregator.members.letters import member_letter
from aggregator.models import ErrorKind, ErrorParams, Source, SourceState
from aggregator.newsletter.mail import MailMessage, SenderFactory, SmtpSender
from aggregator.store.protocol import Store

log = logging.getLogger(__name__)

__all__ = [
    "Condition",
    "Notice",
    "NoticeReport",
    "condition_of",
    "notice_message",
    "notices",
    "send_notices",
    "settled",
]


class Condition(enum.StrEnum):
    OK = "ok"
    FAILING = "failing"
    GONE = "gone"
    MOVED = "moved"
    QUIET = "quiet"


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail to write: which source, to whom, about what."""

    source_id: str
    name: str
    contact: str
    condition: Condition
    url: str  # the configured feed URL
    since: datetime | None = None  # failing since / last new post
    detail: str | None = None  # the last error (English, as stored), or where the feed moved to
    language: str = "en"  # the source's language: its owner reads the notice in it
    error_kind: ErrorKind | None = None  # the last error as a key, worded in ``language``
    error_params: ErrorParams = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NoticeReport:
    sent: tuple[Notice, ...] = ()
    failed: tuple[tuple[Notice, str], ...] = ()  # refused by the server: tried again next time
    error: str | None = None  # the SMTP session could not be opened


# --------------------------------------------------------------------------------------------
# Deciding (pure)


def condition_of(
    source: Source,
    state: SourceState | None,
    last_post: datetime | None,
    now: datetime,
    *,
    failing_days: int,
    quiet_days: int,
) -> Condition:
    """The one condition a source is in now (see the module docstring for the order)."""
    if state is None:
        return Condition.OK
    if state.gone:
        return Condition.GONE
    if state.url != source.url:
        return Condition.MOVED
    if state.failing_since is not None and now - state.failing_since >= timedelta(
        days=failing_days
    ):
        return Condition.FAILING
    if (
        state.failing_since is None
        and state.last_success is not None
        and last_post is not None
        and now - last_post >= timedelta(days=quiet_days)
    ):
        return Condition.QUIET
    return Condition.OK


def _notice(
    source: Source, state: SourceState, condition: Condition, last_post: datetime | None
) -> Notice:
    since: datetime | None = None
    detail: str | None = None
    failed = condition in (Condition.FAILING, Condition.GONE)
    if condition is Condition.FAILING:
        since, detail = state.failing_since, state.last_error
    elif condition is Condition.GONE:
        since, detail = state.last_error_at, state.last_error
    elif condition is Condition.MOVED:
        detail = state.url
    elif condition is Condition.QUIET:
        since = last_post
    assert source.contact is not None
    return Notice(
        source.id,
        source.name,
        source.contact,
        condition,
        source.url,
        since,
        detail,
        source.language,
        state.last_error_kind if failed else None,
        state.last_error_params if failed else {},
    )


def _watched(sources: Iterable[Source]) -> list[Source]:
    return [s for s in sources if s.enabled and s.contact]


def notices(
    sources: Iterable[Source],
    states: Mapping[str, SourceState],
    last_notified: Mapping[str, str],
    now: datetime,
    *,
    last_post: Mapping[str, datetime | None] | None = None,
    failing_days: int = 7,
    quiet_days: int = 60,
) -> list[Notice]:
    """The notices to send now: sources with a contact whose condition is not ok and differs
    from the last one their contact was told about."""
    posts = last_post or {}
    out = []
    for source in _watched(sources):
        state = states.get(source.id)
        latest = posts.get(source.id)
        condition = condition_of(
            source, state, latest, now, failing_days=failing_days, quiet_days=quiet_days
        )
        if condition is Condition.OK or state is None:
            continue
        if last_notified.get(source.id) == condition.value:
            continue
        out.append(_notice(source, state, condition, latest))
    return out


def settled(
    sources: Iterable[Source],
    states: Mapping[str, SourceState],
    last_notified: Mapping[str, str],
    now: datetime,
    *,
    last_post: Mapping[str, datetime | None] | None = None,
    failing_days: int = 7,
    quiet_days: int = 60,
) -> list[str]:
    """Sources back to ok after a notice: recorded (without e-mail) so the next problem counts."""
    posts = last_post or {}
    back = []
    for source in _watched(sources):
        told = last_notified.get(source.id)
        if told is None or told == Condition.OK.value:
            continue
        condition = condition_of(
            source,
            states.get(source.id),
            posts.get(source.id),
            now,
            failing_days=failing_days,
            quiet_days=quiet_days,
        )
        if condition is Condition.OK:
            back.append(source.id)
    return back


# --------------------------------------------------------------------------------------------
# Writing


def _day(value: datetime | None, t: Translator) -> str:
    """The day as ISO 8601 writes it, the same in every language and never ambiguous."""
    if value is None:
        # Translators: stands where a day (2026-03-25) would be, after "since".
        return t.gettext("an unknown date")
    return value.strftime("%Y-%m-%d")


def _last_error(notice: Notice, t: Translator) -> str:
    """The last error in the owner's language; as stored when it has no kind."""
    if notice.error_kind is None and not notice.detail:
        # Translators: stands for the last error when none was recorded ("The last error was:")
        return t.gettext("unknown")
    return describe_error(notice.error_kind, notice.error_params, t.language, notice.detail)


def _lines(notice: Notice, site: str, t: Translator) -> tuple[str, list[str]]:
    """The subject and the paragraphs that say what happened and what the owner can do."""
    n = notice
    values = {"site": site, "name": n.name, "url": n.url, "day": _day(n.since, t)}
    values["error"] = _last_error(n, t)
    values["target"] = n.detail or ""

    def _(message: str) -> str:
        return t.gettext(message, **values)

    if n.condition is Condition.FAILING:
        subject = _("%(site)s: your feed “%(name)s” has been failing since %(day)s")
        body = [
            _("We have not been able to read your feed %(url)s since %(day)s."),
            _("The last error was: %(error)s."),
            _(
                "Your new posts will not appear on the network's site and digest until it works "
                "again. We keep trying; no action is needed once it is fixed."
            ),
        ]
    elif n.condition is Condition.GONE:
        subject = _("%(site)s: your feed “%(name)s” was removed from your site")
        body = [
            _("Your server answered that the feed %(url)s is gone for good (HTTP 410)."),
            _("We have stopped reading it. If you publish a new feed, reply with its address."),
        ]
    elif n.condition is Condition.MOVED:
        subject = _("%(site)s: your feed “%(name)s” has moved")
        body = [
            _("Your feed %(url)s now permanently redirects to %(target)s."),
            _("We follow the new address already; we will update our list so it stays that way."),
        ]
    else:
        subject = _("%(site)s: no new posts from “%(name)s” since %(day)s")
        body = [
            _("Your feed %(url)s works, but it has had no new post since %(day)s."),
            _("If your news now appears somewhere else, reply with the new feed's address."),
        ]
    return subject, body


def notice_message(notice: Notice, settings: Settings, now: datetime) -> MailMessage:
    """The e-mail for one notice, in the source's language, from the digest's sender address."""
    t = translator(notice.language)
    site = settings.site.title
    subject, body = _lines(notice, site, t)
    hello = t.gettext("Hello,")
    about = t.gettext(
        "This is about “%(name)s” on %(site)s (%(url)s).",
        name=notice.name,
        site=site,
        url=settings.site.base_url,
    )
    closing = t.gettext("You receive this because this address is the contact for the feed.")
    return member_letter(
        settings, to=notice.contact, subject=subject, lines=[hello, about, *body, closing], now=now
    )


# --------------------------------------------------------------------------------------------
# Sending (the I/O edge)


def send_notices(
    store: Store,
    settings: Settings,
    now: datetime,
    smtp_factory: SenderFactory = SmtpSender,
) -> NoticeReport:
    """Decide and send this cycle's notices; record each one the server accepted.

    Never raises for a mail problem: a cycle must not fail because the mail server is down.
    """
    sources = settings.source_list()
    states = store.get_states()
    told = store.last_notices()
    activity = store.source_activity(now - timedelta(days=settings.fetch.quiet_days))
    last_post = {sid: a.last_post for sid, a in activity.items()}
    failing, quiet = settings.fetch.failing_days, settings.fetch.quiet_days
    back = settled(
        sources, states, told, now, last_post=last_post, failing_days=failing, quiet_days=quiet
    )
    for source_id in back:
        store.record_notice(source_id, Condition.OK.value, now)
    todo = notices(
        sources, states, told, now, last_post=last_post, failing_days=failing, quiet_days=quiet
    )
    if not todo:
        return NoticeReport()
    sent: list[Notice] = []
    failed: list[tuple[Notice, str]] = []
    try:
        with smtp_factory(settings.digest.smtp) as sender:
            for notice in todo:
                result = sender.send(notice_message(notice, settings, now))
                if result.ok:
                    store.record_notice(notice.source_id, notice.condition.value, now)
                    sent.append(notice)
                else:
                    failed.append((notice, result.error or "refused"))
    except DeliveryError as exc:
        log.warning("owner notices not sent: %s", exc)
        return NoticeReport(tuple(sent), tuple(failed), str(exc))
    return NoticeReport(tuple(sent), tuple(failed))
