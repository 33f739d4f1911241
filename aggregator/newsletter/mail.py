"""Build digest messages and hand them to an SMTP server.

This module owns ``smtplib`` and ``email``.  Two rules shape it:

* **No header injection.**  Feed text (a post title in a subject) is flattened to one line
  before it reaches a header; any *other* header value holding CR or LF is a bug or an attack
  and is refused with ``DeliveryError`` rather than silently repaired (CVE-2024-6923 showed
  that the ``email`` package alone is not a guard on every Python in the field).
* **A refusal is a value.**  One recipient refused by the server (``550 no such user``) must not
  stop the others, so ``SmtpSender.send`` returns a ``SendResult`` for it.  Only a broken
  connection raises, because after that nothing more can be sent on it.

Messages use ``email.policy.SMTP`` (CRLF line ends) with a 998-character fold limit: the default
78 makes the header folder wrap a long ``List-Unsubscribe`` URL into RFC 2047 encoded words,
which mail clients then cannot use as a link.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from types import TracebackType
from typing import Protocol

from aggregator.config import SmtpSettings
from aggregator.errors import DeliveryError

USER_ENV = "AGGREGATOR_SMTP_USER"
PASSWORD_ENV = "AGGREGATOR_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a secret

MailMessage = EmailMessage  # re-exported so callers need not import ``email`` themselves
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
_MAX_HEADER_VALUE = 900  # stay under the 998-octet line limit once the header name is added
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


# --------------------------------------------------------------------------------------------
# Building


_CONTROLS_TO_SPACES = dict.fromkeys((*range(32), 127), " ")


def one_line(text: str) -> str:
    """Feed text made safe for a header: CR, LF, tabs and other controls become single spaces."""
    return " ".join(text.translate(_CONTROLS_TO_SPACES).split())


def _checked(name: str, value: str) -> str:
    """A header value we built ourselves: CR/LF here means something upstream is wrong."""
    if "\r" in value or "\n" in value:
        raise DeliveryError(f"refusing a {name} header containing a line break: {value!r}")
    if len(value) > _MAX_HEADER_VALUE:
        raise DeliveryError(f"the {name} header is too long ({len(value)} characters)")
    return value


def _address(name: str, addr: str, display_name: str | None = None) -> Address:
    _checked(name, addr)
    if display_name is not None:
        _checked(name, display_name)
    user, sep, domain = addr.rpartition("@")
    if not sep or not user or not domain or any(c in addr for c in " <>,;\t"):
        raise DeliveryError(f"not a usable {name} address: {addr!r}")
    return Address(display_name=display_name or "", username=user, domain=domain)


def check_address(name: str, addr: str) -> str:
    """``addr`` as it stands in the ``name`` header; ``DeliveryError`` if it cannot."""
    return str(_address(name, addr))


def unsubscribe_header(url: str | None, mailto: str | None) -> str | None:
    """The ``List-Unsubscribe`` value: ``<https URL>`` first, then an optional ``<mailto:>``."""
    parts = [f"<{_checked('List-Unsubscribe', u)}>" for u in (url, mailto) if u]
    return ", ".join(parts) or None


def build_message(
    *,
    from_address: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    date: datetime,
    from_name: str | None = None,
    reply_to: str | None = None,
    unsubscribe_url: str | None = None,
    unsubscribe_mailto: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """One complete message: text/plain then text/html in a multipart/alternative.

    ``subject`` may carry feed text and is flattened; every other value must already be one
    line.  ``List-Unsubscribe-Post`` (RFC 8058 one-click) is only added for an https URL, as
    the RFC requires: mailbox providers ignore it otherwise.
    """
    sender = _address("From", from_address, from_name)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = sender
    msg["To"] = _address("To", to)
    if reply_to:
        msg["Reply-To"] = _address("Reply-To", reply_to)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = _checked("Message-ID", message_id or make_msgid(domain=sender.domain))
    msg["MIME-Version"] = "1.0"
    header = unsubscribe_header(unsubscribe_url, unsubscribe_mailto)
    if header:
        msg["List-Unsubscribe"] = header
        if unsubscribe_url and unsubscribe_url.lower().startswith("https://"):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # quoted-printable keeps long HTML lines legal and the raw message readable on 7-bit hops
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


# --------------------------------------------------------------------------------------------
# Sending


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the server said about one message; ``ok`` False means it refused (safe to retry)."""

    address: str
    ok: bool
    message_id: str | None = None
    error: str | None = None
    code: int | None = None
    uncertain: bool = False  # the session died during DATA: it may have been delivered


class Sender(Protocol):
    """Anything that sends one message at a time inside a ``with`` block."""

    def __enter__(self) -> Sender: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def send(self, message: EmailMessage, envelope_from: str | None = None) -> SendResult: ...

    def send_raw(self, sender: str, to: str, data: bytes, message_id: str) -> SendResult: ...


# how the digest and the owner notices open a Sender: SmtpSender, or a test's recorder
SenderFactory = Callable[[SmtpSettings], Sender]

ConnectionFactory = Callable[[SmtpSettings, ssl.SSLContext | None], smtplib.SMTP]


def connect(settings: SmtpSettings, context: ssl.SSLContext | None) -> smtplib.SMTP:
    """Open the connection the settings ask for (implicit TLS, or plain to upgrade/not)."""
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_s, context=context
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)


def credentials(env: Mapping[str, str]) -> tuple[str, str] | None:
    """User and password from the environment only: feeds.yaml is often committed to git."""
    user = env.get(USER_ENV, "").strip()
    if not user:
        return None
    return user, env.get(PASSWORD_ENV, "")


class SmtpSender:
    """An SMTP session that sends one message per call, at no more than ``rate_per_minute``.

    ``sleep`` and ``clock`` are injected so tests can check the pacing without waiting.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        env: Mapping[str, str] | None = None,
        connection_factory: ConnectionFactory = connect,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._env = os.environ if env is None else env
        self._factory = connection_factory
        self._context = ssl_context
        self._sleep = sleep
        self._clock = clock
        self._interval = 60.0 / settings.rate_per_minute
        self._last: float | None = None
        self._smtp: smtplib.SMTP | None = None
        self._opened = False  # inside the ``with`` block: a dropped session may be reopened

    def __enter__(self) -> SmtpSender:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        s = self.settings
        creds = credentials(self._env)
        if creds and s.security == "none" and s.host not in _LOOPBACK_HOSTS:
            raise DeliveryError(
                f"refusing to send SMTP credentials unencrypted to {s.host}: "
                "set digest.smtp.security to starttls or tls"
            )
        context = self._context
        if context is None and s.security != "none":
            context = ssl.create_default_context()
        where = f"{s.host}:{s.port}"
        try:
            smtp = self._factory(s, context)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"cannot open an SMTP session with {where}: {exc}") from exc
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if creds:
                smtp.login(*creds)
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise DeliveryError(f"cannot open an SMTP session with {where}: {exc}") from exc
        _no_delay(smtp)
        self._smtp = smtp
        self._opened = True

    def close(self) -> None:
        self._opened = False
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _pace(self) -> None:
        if self._last is not None:
            wait = self._interval - (self._clock() - self._last)
            if wait > 0:
                self._sleep(wait)
        self._last = self._clock()

    def send(self, message: EmailMessage, envelope_from: str | None = None) -> SendResult:
        """Send to the message's single To address; a refusal comes back as a value.

        ``envelope_from``: the MAIL FROM address (a VERP bounce address), else the From.
        """
        to = message["To"].addresses[0].addr_spec
        sender = envelope_from or message["From"].addresses[0].addr_spec
        if not (to.isascii() and sender.isascii()):  # SMTPUTF8: smtplib's own path
            return self._send_message(message, sender, to)
        return self.send_raw(sender, to, message.as_bytes(), str(message["Message-ID"]))

    def send_raw(self, sender: str, to: str, data: bytes, message_id: str) -> SendResult:
        """Send an already flattened message (CRLF line ends), reconnecting once when the
        server dropped the session before accepting anything of it.

        A session lost while the message itself was being transmitted comes back as an
        ``uncertain`` result: the server may have accepted it, so it must not be sent again;
        the next message opens a new session.
        """
        self._pace()
        for attempt in (1, 2):
            smtp = self._session()
            try:
                refusal = self._envelope(smtp, sender, to, message_id)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if attempt == 2:
                    raise DeliveryError(f"SMTP session lost while sending to {to}: {exc}") from exc
                continue
            if refusal is not None:
                return refusal
            return self._data(smtp, to, data, message_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self) -> smtplib.SMTP:
        if self._smtp is None:
            if not self._opened:
                raise DeliveryError("the SMTP session is not open")
            self.open()
        assert self._smtp is not None
        return self._smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _envelope(
        self, smtp: smtplib.SMTP, sender: str, to: str, message_id: str
    ) -> SendResult | None:
        """MAIL FROM and RCPT TO; a refusal as a value (the transaction reset), else None."""
        code, reply = smtp.mail(sender)
        if code != 250:
            _reset(smtp)
            return SendResult(to, False, message_id, _reply(code, reply), code)
        code, reply = smtp.rcpt(to)
        if code not in (250, 251):
            _reset(smtp)
            return SendResult(to, False, message_id, _reply(code, reply), code)
        return None

    def _data(self, smtp: smtplib.SMTP, to: str, data: bytes, message_id: str) -> SendResult:
        try:
            code, reply = smtp.data(data)
        except smtplib.SMTPDataError as exc:
            return SendResult(
                to, False, message_id, _reply(exc.smtp_code, exc.smtp_error), exc.smtp_code
            )
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(
                to, False, message_id, f"session lost during DATA: {exc}", uncertain=True
            )
        if code != 250:
            return SendResult(to, False, message_id, _reply(code, reply), code)
        return SendResult(to, True, message_id)

    def _send_message(self, message: EmailMessage, sender: str, to: str) -> SendResult:
        message_id = str(message["Message-ID"])
        self._pace()
        smtp = self._session()
        try:
            smtp.send_message(message, from_addr=sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = exc.recipients.get(to, (0, b"refused"))
            return SendResult(to, False, message_id, _reply(code, reason), code)
        except smtplib.SMTPResponseException as exc:
            # sender refused, data refused (554 …): about this message, not the session
            reply = _reply(exc.smtp_code, exc.smtp_error)
            return SendResult(to, False, message_id, reply, exc.smtp_code)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP session lost while sending to {to}: {exc}") from exc
        return SendResult(to, True, message_id)


def _no_delay(smtp: smtplib.SMTP) -> None:
    """Send each message's last segment at once (TCP_NODELAY).  With Nagle's algorithm on, the
    tail of every DATA waits for the server's delayed ACK: 40 ms a message, which made 10,000
    messages take six minutes instead of one."""
    sock = getattr(smtp, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _reply(code: int, reason: bytes | str) -> str:
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
    return one_line(f"{code} {text}")
