"""Reading the bounce mailbox: a Maildir, an mbox file, or an IMAP folder.

Each source yields ``(key, raw bytes)`` and is told, message by message, what became of it:
``done`` (a report we acted on: deleted, so it is never counted twice) or ``skip`` (not a
bounce or a complaint: left in place, and marked seen on IMAP so it is not fetched again).
IMAP credentials come from ``AGGREGATOR_BOUNCE_USER`` and ``AGGREGATOR_BOUNCE_PASSWORD``.
Standard library only (``mailbox``, ``imaplib``).
"""

from __future__ import annotations

import imaplib
import mailbox
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from aggregator.config import MailboxSettings
from aggregator.errors import ConfigError, DeliveryError

__all__ = ["PASSWORD_ENV", "USER_ENV", "Inbox", "open_inbox"]

USER_ENV = "AGGREGATOR_BOUNCE_USER"
PASSWORD_ENV = "AGGREGATOR_BOUNCE_PASSWORD"  # noqa: S105 - the variable's name


class Inbox(Protocol):
    def messages(self) -> Iterator[tuple[str, bytes]]: ...

    def done(self, key: str) -> None: ...

    def skip(self, key: str) -> None: ...


class _LocalInbox:
    """Maildir or mbox through the standard library (mbox is locked while read)."""

    def __init__(self, box: mailbox.Mailbox[mailbox.Message]) -> None:
        self._box = box

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for key in list(self._box.keys()):
            yield str(key), self._box.get_bytes(key)

    def done(self, key: str) -> None:
        # Maildir keys are names, mbox keys are numbers; both arrive here as text
        self._box.discard(key if isinstance(self._box, mailbox.Maildir) else int(key))  # type: ignore[arg-type]

    def skip(self, key: str) -> None:
        return None


class _ImapInbox:
    def __init__(self, imap: imaplib.IMAP4) -> None:
        self._imap = imap

    def messages(self) -> Iterator[tuple[str, bytes]]:
        _, found = self._imap.uid("SEARCH", "UNSEEN")
        for uid in (found[0] or b"").split():
            _, data = self._imap.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if isinstance(raw, bytes):
                yield uid.decode(), raw

    def done(self, key: str) -> None:
        self._imap.uid("STORE", key, "+FLAGS", r"(\Deleted)")

    def skip(self, key: str) -> None:
        self._imap.uid("STORE", key, "+FLAGS", r"(\Seen)")


@contextmanager
def open_inbox(
    settings: MailboxSettings, base_dir: Path, env: Mapping[str, str]
) -> Iterator[Inbox]:
    """The configured mailbox, opened for one pass; IMAP deletions expunged at the end."""
    if settings.kind == "imap":
        with _imap(settings, env) as imap:
            yield _ImapInbox(imap)
            imap.expunge()
        return
    if not settings.path:
        raise ConfigError("feeds.yaml", [f"subscribers.mailbox: a {settings.kind} needs a path"])
    path = (base_dir / settings.path).resolve()
    if not path.exists():
        raise DeliveryError(f"no bounce mailbox at {path}")
    if settings.kind == "maildir":
        yield _LocalInbox(mailbox.Maildir(path, factory=None, create=False))
        return
    box = mailbox.mbox(path, factory=None, create=False)
    box.lock()
    try:
        yield _LocalInbox(box)
        box.flush()
    finally:
        box.unlock()
        box.close()


@contextmanager
def _imap(settings: MailboxSettings, env: Mapping[str, str]) -> Iterator[imaplib.IMAP4]:
    if not settings.host:
        raise ConfigError("feeds.yaml", ["subscribers.mailbox: imap needs a host"])
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.security == "tls":
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host,
                settings.port,
                ssl_context=ssl.create_default_context(),
                timeout=settings.timeout_s,
            )
        else:
            imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout_s)
            if settings.security == "starttls":
                imap.starttls(ssl.create_default_context())
        imap.login(env.get(USER_ENV, ""), env.get(PASSWORD_ENV, ""))
        imap.select(settings.folder)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise DeliveryError(f"cannot read the bounce mailbox at {where}: {exc}") from exc
    try:
        yield imap
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            imap.shutdown()
