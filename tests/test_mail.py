"""Messages and SMTP: built with email.policy.SMTP, sent to a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from aggregator.config import SmtpSettings
from aggregator.errors import DeliveryError
from aggregator.newsletter.mail import (
    PASSWORD_ENV,
    USER_ENV,
    SmtpSender,
    build_message,
    connect,
    one_line,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# A real SMTP server, shared with test_digest.py


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class RecordingHandler:
    """Accepts everything except the addresses in ``refuse`` (answered 550 at RCPT)."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    sessions: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SmtpServer:
    def __init__(self, **kwargs: Any) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def settings(self, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "from_address": "news@network.example.org",
            "from_name": "Network news",
            "timeout_s": 5.0,
            "rate_per_minute": 60,
        }
        values.update(overrides)
        return SmtpSettings(**values)


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def quiet_sender(settings: SmtpSettings, clock: FakeClock | None = None) -> SmtpSender:
    clock = clock or FakeClock()
    return SmtpSender(settings, env={}, sleep=clock.sleep, clock=clock)


# --------------------------------------------------------------------------------------------
# build_message


def _message(**overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "from_address": "news@network.example.org",
        "from_name": "Réseau des villes",
        "to": "ana@example.org",
        "subject": "Weekly: 3 new posts",
        "text": "Plain text body é\n",
        "html": "<html><body><p>HTML body é</p></body></html>",
        "date": NOW,
        "unsubscribe_url": "https://network.example.org/unsubscribe?e=ana%40example.org",
        "unsubscribe_mailto": "mailto:news@network.example.org?subject=unsubscribe",
    }
    values.update(overrides)
    return build_message(**values)


def _reparse(msg: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_message_has_every_header_and_both_parts_in_order() -> None:
    msg = _reparse(_message())
    assert msg["From"].addresses[0].display_name == "Réseau des villes"
    assert msg["From"].addresses[0].addr_spec == "news@network.example.org"
    assert msg["To"] == "ana@example.org"
    assert msg["Subject"] == "Weekly: 3 new posts"
    assert msg["Date"].datetime == NOW
    assert msg["MIME-Version"] == "1.0"
    assert msg["Message-ID"].endswith("@network.example.org>")
    assert msg["List-Unsubscribe"] == (
        "<https://network.example.org/unsubscribe?e=ana%40example.org>, "
        "<mailto:news@network.example.org?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == "Plain text body é\n"
    assert "HTML body é" in parts[1].get_content()


def test_wire_format_uses_crlf_and_short_lines() -> None:
    raw = _message(html="<p>" + "x" * 5000 + "</p>").as_bytes()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_long_unsubscribe_url_is_not_encoded_into_gibberish() -> None:
    url = "https://network.example.org/unsubscribe/" + "a" * 150 + "?e=ana%40example.org&x=1"
    msg = _reparse(_message(unsubscribe_url=url, unsubscribe_mailto=None))
    assert msg["List-Unsubscribe"] == f"<{url}>"
    head = _message(unsubscribe_url=url).as_bytes().split(b"\r\n\r\n")[0]
    line = next(x for x in head.split(b"\r\n") if x.startswith(b"List-Unsubscribe:"))
    assert url.encode() in line


def test_one_click_header_only_for_https() -> None:
    msg = _message(unsubscribe_url=None, unsubscribe_mailto="mailto:u@network.example.org")
    assert msg["List-Unsubscribe"] == "<mailto:u@network.example.org>"
    assert msg["List-Unsubscribe-Post"] is None


def test_feed_text_in_subject_cannot_add_a_header() -> None:
    msg = _reparse(_message(subject="Budget\r\nBcc: x@y.example\r\n\tX-Evil: 1\nDone"))
    assert msg["Bcc"] is None
    assert msg["X-Evil"] is None
    assert msg["Subject"] == "Budget Bcc: x@y.example X-Evil: 1 Done"


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": "ana@example.org\r\nBcc: x@y.example"},
        {"from_name": "News\nBcc: x@y.example"},
        {"unsubscribe_url": "https://n.example.org/u\r\nBcc: x@y.example"},
        {"reply_to": "r@example.org\nBcc: x@y.example"},
        {"message_id": "<a@b>\r\nBcc: x@y.example"},
    ],
)
def test_line_breaks_in_other_headers_are_refused(overrides: dict[str, str]) -> None:
    with pytest.raises(DeliveryError, match="line break"):
        _message(**overrides)


def test_bad_addresses_are_refused() -> None:
    for bad in ("no-at-sign", "a b@example.org", "<a@example.org>", "a@example.org, b@example.org"):
        with pytest.raises(DeliveryError):
            _message(to=bad)


def test_one_line_flattens_controls() -> None:
    assert one_line(" a\tb\r\nc\x1b[31m  d\x00 ") == "a b c [31m d"


# --------------------------------------------------------------------------------------------
# SmtpSender against a real server


def test_sends_over_a_real_smtp_session(smtp: SmtpServer) -> None:
    msg = _message()
    with quiet_sender(smtp.settings()) as sender:
        result = sender.send(msg)
    assert result.ok
    assert result.message_id == msg["Message-ID"]
    (got,) = smtp.handler.received
    assert got.mail_from == "news@network.example.org"
    assert got.rcpt_tos == ["ana@example.org"]
    parsed = got.parsed()
    assert parsed["Message-ID"] == msg["Message-ID"]
    body = parsed.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Plain text body é"


def test_a_refused_recipient_is_a_value_and_the_next_one_still_goes(
    smtp: SmtpServer,
) -> None:
    smtp.handler.refuse.add("ghost@example.org")
    with quiet_sender(smtp.settings()) as sender:
        refused = sender.send(_message(to="ghost@example.org"))
        accepted = sender.send(_message(to="ana@example.org"))
    assert not refused.ok
    assert refused.code == 550
    assert refused.error == "550 no such user"
    assert accepted.ok
    assert [r.rcpt_tos for r in smtp.handler.received] == [["ana@example.org"]]
    assert smtp.handler.sessions == 1


def test_rate_limit_paces_sends_without_real_waiting(smtp: SmtpServer) -> None:
    clock = FakeClock()
    with quiet_sender(smtp.settings(rate_per_minute=30), clock) as sender:
        for name in ("a", "b", "c"):
            assert sender.send(_message(to=f"{name}@example.org")).ok
    assert clock.sleeps == [pytest.approx(2.0), pytest.approx(2.0)]
    assert len(smtp.handler.received) == 3


def test_credentials_come_from_the_environment() -> None:
    seen: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret")

    server = SmtpServer(authenticator=authenticator, auth_require_tls=False)
    server.controller.start()
    try:
        env = {USER_ENV: "digest", PASSWORD_ENV: "s3cret"}
        with SmtpSender(server.settings(), env=env, sleep=lambda s: None) as sender:
            assert sender.send(_message()).ok
        with SmtpSender(server.settings(), env={}, sleep=lambda s: None) as sender:
            assert sender.send(_message()).ok  # no user in the environment: no AUTH at all
    finally:
        server.controller.stop()
    assert seen == [("digest", "s3cret")]
    assert len(server.handler.received) == 2


def test_credentials_are_never_sent_in_clear_to_a_remote_host() -> None:
    calls: list[str] = []

    def factory(settings: SmtpSettings, context: ssl.SSLContext | None) -> smtplib.SMTP:
        calls.append(settings.host)
        raise AssertionError("must not connect")

    settings = SmtpSettings(host="mail.example.org", security="none")
    env = {USER_ENV: "u", PASSWORD_ENV: "p"}
    sender = SmtpSender(settings, env=env, connection_factory=factory)
    with pytest.raises(DeliveryError, match="unencrypted"):
        sender.open()
    assert calls == []


class _RecordingSmtp:
    """Stands in for smtplib.SMTP to check the order of the TLS handshake calls."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def ehlo(self) -> None:
        self.log.append("ehlo")

    def starttls(self, context: ssl.SSLContext | None = None) -> None:
        self.log.append(f"starttls:{context is not None}")

    def login(self, user: str, password: str) -> None:
        self.log.append(f"login:{user}")

    def quit(self) -> None:
        self.log.append("quit")

    def close(self) -> None:
        self.log.append("close")


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        ("starttls", ["connect:starttls", "ehlo", "starttls:True", "ehlo", "login:u", "quit"]),
        ("tls", ["connect:tls", "ehlo", "login:u", "quit"]),
    ],
)
def test_security_modes_negotiate_tls_before_login(security: str, expected: list[str]) -> None:
    log: list[str] = []

    def factory(settings: SmtpSettings, context: ssl.SSLContext | None) -> Any:
        assert context is not None
        log.append(f"connect:{settings.security}")
        return _RecordingSmtp(log)

    settings = SmtpSettings(host="mail.example.org", security=security)  # type: ignore[arg-type]
    with SmtpSender(settings, env={USER_ENV: "u", PASSWORD_ENV: "p"}, connection_factory=factory):
        pass
    assert log == expected


def test_starttls_against_a_server_without_it_fails_clearly(smtp: SmtpServer) -> None:
    with pytest.raises(DeliveryError, match="cannot open an SMTP session"):
        quiet_sender(smtp.settings(security="starttls")).open()


def test_nothing_listening_is_a_delivery_error() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout_s=2)
    with pytest.raises(DeliveryError, match="cannot open"):
        quiet_sender(settings).open()


def test_a_session_lost_between_messages_is_reopened(smtp: SmtpServer) -> None:
    sender = quiet_sender(smtp.settings())
    with sender:
        assert sender._smtp is not None
        sender._smtp.close()  # the server hung up under us, before this message began
        result = sender.send(_message())
    assert result.ok
    assert len(smtp.handler.received) == 1
    assert smtp.handler.sessions == 2


def test_a_session_that_cannot_be_reopened_raises(smtp: SmtpServer) -> None:
    opened: list[int] = []

    def once(settings: SmtpSettings, context: Any) -> smtplib.SMTP:
        opened.append(1)
        if len(opened) > 1:
            raise ConnectionRefusedError("the server is gone")
        return connect(settings, context)

    clock = FakeClock()
    sender = SmtpSender(
        smtp.settings(), env={}, connection_factory=once, sleep=clock.sleep, clock=clock
    )
    with sender:
        assert sender._smtp is not None
        sender._smtp.close()  # the server hung up under us, and does not come back
        with pytest.raises(DeliveryError, match="cannot open"):
            sender.send(_message())
    assert smtp.handler.received == []


# --------------------------------------------------------------------------------------------
# Real TLS: STARTTLS and implicit TLS against aiosmtpd with a throwaway certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1, made in-process (no openssl run)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.now(UTC) - timedelta(hours=1)  # the TLS library checks it against its clock
    issued = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    where = tmp_path_factory.mktemp("tls")
    cert, key_file = where / "cert.pem", where / "key.pem"
    cert.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert, key_file


def _tls_contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = certificate
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_starttls_session_is_encrypted_before_auth(certificate: tuple[Path, Path]) -> None:
    server_ctx, client_ctx = _tls_contexts(certificate)
    logins: list[bool] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append(session.ssl is not None)
        return AuthResult(success=True)

    server = SmtpServer(tls_context=server_ctx, require_starttls=True, authenticator=authenticator)
    server.controller.start()
    try:
        settings = server.settings(security="starttls")
        env = {USER_ENV: "digest", PASSWORD_ENV: "s3cret"}
        with SmtpSender(settings, env=env, ssl_context=client_ctx, sleep=lambda s: None) as s:
            assert s.send(_message()).ok
        # a client that does not trust the certificate never gets to send anything
        with pytest.raises(DeliveryError, match="cannot open"):
            SmtpSender(settings, env=env, sleep=lambda s: None).open()
    finally:
        server.controller.stop()
    assert logins == [True]
    assert len(server.handler.received) == 1


def test_implicit_tls_session(certificate: tuple[Path, Path]) -> None:
    server_ctx, client_ctx = _tls_contexts(certificate)
    server = SmtpServer(ssl_context=server_ctx)
    server.controller.start()
    try:
        settings = server.settings(security="tls")
        with SmtpSender(settings, env={}, ssl_context=client_ctx, sleep=lambda s: None) as s:
            assert s.send(_message()).ok
    finally:
        server.controller.stop()
    assert len(server.handler.received) == 1
