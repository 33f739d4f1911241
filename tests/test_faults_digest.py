"""The digest under races, crashes and SMTP faults (issue 17, points 2, 3 and 13).

Real parts: ``digest send`` and ``digest list`` run as processes, the store is a SQLite file or
a PostgreSQL schema, and mail goes to an aiosmtpd smtp on 127.0.0.1 (or to a socket that
misbehaves the way a real server does: a closed port, a 421 greeting, silence).

Point 2: a preview that read the ledger before a send recorded its edition saved its own
afterwards: a second unsent edition over the same posts (the next send mailed them all again),
or the sent edition turned back to unsent.  Point 3: the recipient in flight when a send is
killed never gets the edition (at most once, by design) and must be named for a resend by hand.
Point 13: a failed SMTP session used to exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator import config
from aggregator.models import EditionRecord, RecipientState, Source, SourceState, SourceUpdate
from aggregator.newsletter.digest import preview, send
from aggregator.newsletter.mail import SmtpSender
from aggregator.store.sql import SqlStore
from tests.faults import Smtp, run_cli, start_cli, write_config
from tests.test_digest import make_post
from tests.test_mail import RecordingHandler, SmtpServer, free_port
from tests.test_store import T0, Backend, backend  # noqa: F401 - the fixture, per backend

RECIPIENTS = ("ana@example.org", "bruno@example.org", "chloe@example.org")
SOURCE = Source(id="uclg", name="UCLG", organisation="UCLG", url="https://uclg.example.org/f")


def seed(store: SqlStore, count: int = 3) -> None:
    store.sync_sources([SOURCE])
    posts = tuple(make_post(n, first_seen=T0 - timedelta(hours=n)) for n in range(count))
    store.apply_update(SourceUpdate(SOURCE.id, SourceState(SOURCE.id, SOURCE.url), posts))


class RacingStore:
    """The real store, with ``hook`` run once right after the first ``last_edition`` read:
    whatever it does happens between a preview's reading of the ledger and its write."""

    def __init__(self, store: SqlStore, hook: Callable[[], None]) -> None:
        self._store = store
        self._hook: Callable[[], None] | None = hook

    def last_edition(self, name: str) -> EditionRecord | None:
        found = self._store.last_edition(name)
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _received(smtp: SmtpServer) -> list[str]:
    return sorted(address for r in smtp.handler.received for address in r.rcpt_tos)


# --------------------------------------------------------------------------------------------
# Point 2: a preview racing a send


def test_a_preview_that_read_before_a_send_adds_no_second_window(
    backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    feeds_yaml = write_config(tmp_path, backend.url, smtp=Smtp(smtp.port), recipients=RECIPIENTS)
    store = backend.open()
    seed(store)
    settings = config.load(feeds_yaml)
    sends: list[Any] = []

    def a_send_runs() -> None:  # the operator's `digest send`, while the preview renders
        sends.append(run_cli(feeds_yaml, "digest", "send", "weekly"))

    later = datetime(2099, 1, 1, tzinfo=T0.tzinfo)  # the preview saves after the send
    files = preview(RacingStore(store, a_send_runs), settings, "weekly", later)  # type: ignore[arg-type]

    assert sends[0].returncode == 0, sends[0].stderr
    assert not files.saved
    assert any("preview again" in note for note in files.edition.notes)
    editions = store.list_editions()
    assert [e.sent for e in editions] == [True]  # one edition, sent; no second window
    again = run_cli(feeds_yaml, "digest", "send", "weekly")
    assert again.returncode == 0, again.stderr
    assert _received(smtp) == sorted(RECIPIENTS)  # nobody got the posts twice
    store.close()


def test_a_preview_never_turns_a_sent_edition_back_to_unsent(
    backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    """Same ``now``, so the same edition id: the old preview overwrote ``sent``."""
    feeds_yaml = write_config(tmp_path, backend.url, smtp=Smtp(smtp.port), recipients=RECIPIENTS)
    store = backend.open()
    seed(store)
    settings = config.load(feeds_yaml)
    reports: list[Any] = []

    def a_send_runs() -> None:
        reports.append(send(store, settings, "weekly", T0, smtp_factory=SmtpSender))

    files = preview(RacingStore(store, a_send_runs), settings, "weekly", T0)  # type: ignore[arg-type]

    assert reports[0].complete
    assert not files.saved
    edition = store.get_edition(reports[0].edition.id)
    assert edition is not None and edition.sent
    second = send(store, settings, "weekly", T0 + timedelta(minutes=5), smtp_factory=SmtpSender)
    assert second.empty  # nothing new: nothing mailed again
    assert _received(smtp) == sorted(RECIPIENTS)
    store.close()


def test_a_send_that_lost_the_race_to_a_preview_sends_the_previewed_edition(
    backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    """The other order: a preview records the edition between a send's reading and its
    write; the send reads again and mails that edition, the one that was reviewed."""
    feeds_yaml = write_config(tmp_path, backend.url, smtp=Smtp(smtp.port), recipients=RECIPIENTS)
    store = backend.open()
    seed(store)
    settings = config.load(feeds_yaml)
    previews: list[Any] = []

    def a_preview_runs() -> None:
        previews.append(preview(store, settings, "weekly", T0))

    later = T0 + timedelta(hours=1)
    report = send(RacingStore(store, a_preview_runs), settings, "weekly", later)  # type: ignore[arg-type]

    assert previews[0].saved
    assert report.complete and report.edition is not None
    assert report.edition.id == previews[0].edition.id
    assert [e.id for e in store.list_editions()] == [report.edition.id]
    assert _received(smtp) == sorted(RECIPIENTS)
    store.close()


# --------------------------------------------------------------------------------------------
# Point 3: the recipient in flight when a send is killed


class HoldingHandler(RecordingHandler):
    """Holds the DATA of one address until released, after saying it arrived."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.victim in envelope.rcpt_tos:
            self.arrived.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_a_killed_send_names_the_recipient_in_flight_and_never_mails_them_twice(
    backend: Backend, tmp_path: Path
) -> None:
    server = SmtpServer()
    server.handler = HoldingHandler("bruno@example.org")
    server.controller.handler = server.handler
    server.controller.start()
    feeds_yaml = write_config(tmp_path, backend.url, smtp=Smtp(server.port), recipients=RECIPIENTS)
    store = backend.open()
    seed(store)
    try:
        running = start_cli(feeds_yaml, "digest", "send", "weekly")
        assert server.handler.arrived.wait(60), "the send never reached bruno"
        running.send_signal(signal.SIGKILL)
        running.communicate(timeout=60)
        server.handler.release.set()  # the sender never heard the server's answer

        closing = run_cli(feeds_yaml, "digest", "send", "weekly")
        listed = run_cli(feeds_yaml, "digest", "list")
    finally:
        server.controller.stop()

    assert closing.returncode == 0, closing.stderr
    assert "edition complete" in closing.stdout
    assert "unconfirmed" in closing.stdout and "bruno@example.org" in closing.stdout
    assert listed.returncode == 0, listed.stderr
    assert "1 unconfirmed" in listed.stdout
    assert "  bruno@example.org" in listed.stdout.splitlines()
    [edition] = store.list_editions()
    states = {r.address: r.state for r in store.recipients(edition.id)}
    assert states["bruno@example.org"] is RecipientState.SENDING
    counts = {a: _received(server).count(a) for a in RECIPIENTS}
    assert counts["ana@example.org"] == counts["chloe@example.org"] == 1
    assert counts["bruno@example.org"] <= 1  # at most once: never a second copy
    store.close()


# --------------------------------------------------------------------------------------------
# Point 13: a failed SMTP session is a failed command


class _OneShotServer:
    """A socket on 127.0.0.1 that answers each connection with ``greeting`` (or nothing)."""

    def __init__(self, greeting: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]
        self.greeting = greeting
        self.held: list[socket.socket] = []
        if greeting is not None:
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            assert self.greeting is not None
            conn.sendall(self.greeting)
            conn.close()

    def close(self) -> None:
        self.sock.close()


class DroppingHandler(RecordingHandler):
    """Drops the connection when the message for ``victim`` arrives."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.victim in envelope.rcpt_tos:
            server.transport.abort()
            return "421 closing"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("fault", ["closed port", "421 greeting", "silence"])
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_send_that_cannot_open_a_session_fails_and_lists_every_address(
    backend: Backend, tmp_path: Path, fault: str
) -> None:
    server = None
    if fault == "closed port":
        port = free_port()
    else:
        server = _OneShotServer(b"421 4.3.2 try later\r\n" if fault == "421 greeting" else None)
        port = server.port
    feeds_yaml = write_config(
        tmp_path, backend.url, smtp=Smtp(port, timeout_s=1.0), recipients=RECIPIENTS
    )
    store = backend.open()
    seed(store)
    store.close()
    try:
        result = run_cli(feeds_yaml, "digest", "send", "weekly")
    finally:
        if server is not None:
            server.close()

    assert result.returncode == 4, result.stdout + result.stderr
    assert "digest send failed: cannot open an SMTP session with 127.0.0.1" in result.stderr
    for address in RECIPIENTS:
        assert f"not sent: {address}" in result.stderr
    assert "unconfirmed" not in result.stderr


def test_a_dropped_connection_fails_and_names_the_unconfirmed_address(
    backend: Backend, tmp_path: Path
) -> None:
    """The connection drops while bruno's message is on the wire: nobody knows whether it
    arrived, so it is never resent; the others go out on a new session, and the command
    still fails, naming bruno, so that someone checks."""
    server = SmtpServer()
    server.handler = DroppingHandler("bruno@example.org")
    server.controller.handler = server.handler
    server.controller.start()
    feeds_yaml = write_config(tmp_path, backend.url, smtp=Smtp(server.port), recipients=RECIPIENTS)
    store = backend.open()
    seed(store)
    try:
        result = run_cli(feeds_yaml, "digest", "send", "weekly")
        again = run_cli(feeds_yaml, "digest", "send", "weekly")
    finally:
        server.controller.stop()

    assert result.returncode == 4, result.stdout + result.stderr
    assert "digest send failed" in result.stderr
    assert "bruno@example.org" in result.stderr.splitlines()[0]
    assert "unconfirmed (not resent): bruno@example.org" in result.stderr
    assert "not sent:" not in result.stderr  # everyone else has it
    assert sorted(_received(server)) == ["ana@example.org", "chloe@example.org"]
    assert again.returncode == 0, again.stderr  # nothing left to do, nothing sent twice
    assert sorted(_received(server)) == ["ana@example.org", "chloe@example.org"]
    [edition] = store.list_editions()
    states = {r.address: r.state for r in store.recipients(edition.id)}
    assert states["bruno@example.org"] is RecipientState.SENDING
    store.close()
