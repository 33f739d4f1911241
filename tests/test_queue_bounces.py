"""Reading the bounce mailbox with workers (PostgreSQL): ``aggregator scheduler`` keeps one job
waiting at the next slot of ``subscribers.bounce_schedule``, a late one runs once, and however
many ticks and workers there are, one job reads the mailbox at a time, so no report is counted
twice.  The mailbox is a Maildir of hand-written delivery reports (RFC 3464) and an ARF
complaint (RFC 5965); one of its messages is a named pipe, which holds the worker reading it
mid-mailbox until the test writes the report into it."""

from __future__ import annotations

import asyncio
import mailbox
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator import config
from aggregator.queue.app import build_app, ensure_schema
from aggregator.store import open_store
from aggregator.store.subscribers import Status, Subscriber
from aggregator.subscribers import staff
from tests.queuehelp import pg_schema, plan_once, sql
from tests.test_queue import PG_URL, Workers, _count, _until

T0 = datetime(2026, 12, 7, 9, 10, tzinfo=UTC)  # a Monday; slots every 15 min, Paris time

PEOPLE = ("gone", "full", "angry", "late")


def _dsn(rcpt: str, status: str, action: str = "failed") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.ville.example>\r\n"
        "To: bounces@network.example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.ville.example\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} mailbox problem\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: news@network.example.org\r\nTo: {rcpt}\r\nSubject: Weekly\r\n\r\n"
        "--b1--\r\n"
    ).encode()


def _arf(rcpt: str) -> bytes:
    return (
        "From: feedback@fbl.mail.example\r\n"
        "To: bounces@network.example.org\r\n"
        "Subject: Abuse report\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b2"\r\n\r\n'
        "--b2\r\nContent-Type: text/plain\r\n\r\nA recipient marked this message as spam.\r\n"
        "--b2\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nVersion: 1\r\nOriginal-Rcpt-To: <{rcpt}>\r\n\r\n"
        "--b2\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: news@network.example.org\r\nTo: {rcpt}\r\nSubject: Weekly\r\n\r\nbody\r\n"
        "--b2--\r\n"
    ).encode()


def _settings(tmp_path: Path, storage_url: str, subscribers: str) -> config.Settings:
    (tmp_path / "feeds.yaml").write_text(
        f"site: {{title: t, storage_url: '{storage_url}', timezone: Europe/Paris}}\n"
        "queue: {poll_s: 0.1, heartbeat_s: 0.5, stalled_after_s: 30, check_stalled_s: 10}\n"
        "digest: {editions: [{name: weekly, schedule: '0 8 * * mon'}]}\n"
        f"subscribers: {subscribers}\n"
        "sources: []\n",  # no cycle: the queue holds bounce (and digest) jobs only
        encoding="utf-8",
    )
    return config.load(tmp_path / "feeds.yaml")


READER = "{bounce_schedule: '*/15 * * * *', mailbox: {kind: maildir, path: bounces}}"


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_PG_URL is not set")
    with pg_schema(PG_URL) as urls:
        yield urls


def _bounce_jobs(dsn: str) -> list[tuple[str, datetime]]:
    return [
        (status, slot)
        for status, slot in sql(
            dsn,
            "SELECT status::text, (args->>'slot')::timestamptz FROM procrastinate_jobs"
            " WHERE task_name = 'bounces' ORDER BY id",
        )
    ]


@pytest.mark.postgres
def test_the_planner_keeps_one_bounce_reading_waiting_at_the_configured_slot(
    tmp_path: Path, pg: tuple[str, str]
) -> None:
    storage_url, dsn = pg
    settings = _settings(tmp_path, storage_url, READER)
    ensure_schema(settings)
    assert plan_once(settings, T0).bounces is True
    assert plan_once(settings, T0).bounces is False  # a second tick (or planner): still one
    # 09:10 UTC is 10:10 in Paris: the next quarter is 10:15 there
    assert _bounce_jobs(dsn) == [("todo", datetime(2026, 12, 7, 9, 15, tzinfo=UTC))]

    # the schedule edited: the waiting job is replaced by one at the new slot
    settings = _settings(tmp_path, storage_url, READER.replace("*/15 * * * *", "30 * * * *"))
    assert plan_once(settings, T0).bounces is True
    assert _bounce_jobs(dsn) == [
        ("cancelled", datetime(2026, 12, 7, 9, 15, tzinfo=UTC)),
        ("todo", datetime(2026, 12, 7, 9, 30, tzinfo=UTC)),
    ]
    # no mailbox any more (or no schedule): nothing left waiting
    settings = _settings(tmp_path, storage_url, "{bounce_schedule: '*/15 * * * *'}")
    assert plan_once(settings, T0).bounces is False
    assert [status for status, _ in _bounce_jobs(dsn)] == ["cancelled", "cancelled"]


def _subscribe(settings: config.Settings) -> dict[str, str]:
    store = open_store(settings.storage_url)
    try:
        ids = {}
        for name in PEOPLE:
            sub = staff.add(store, settings, f"{name}@ville.example", T0, language="en")
            assert isinstance(sub, Subscriber), sub
            ids[name] = sub.id
        return ids
    finally:
        store.close()


def _fifo_opened_by_a_reader(path: Path) -> int | None:
    """The pipe's write end once a worker has opened it for reading, else None."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: nobody reads it yet
        return None


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_read_the_mailbox_one_at_a_time_and_apply_each_report_once(
    tmp_path: Path, pg: tuple[str, str]
) -> None:
    storage_url, dsn = pg
    settings = _settings(tmp_path, storage_url, READER)
    ensure_schema(settings)
    open_store(settings.storage_url).close()  # the store's tables
    people = _subscribe(settings)
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    box.add(_dsn("gone@ville.example", "5.1.1"))
    box.add(_dsn("full@ville.example", "4.2.2"))
    box.add(_arf("angry@ville.example"))
    box.add(b"From: late@ville.example\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n")
    pipe = tmp_path / "bounces" / "new" / "1765000000.pipe.host"
    os.mkfifo(pipe)  # the reader blocks on this message until the test writes it

    first = plan_once(settings, datetime.now(UTC))
    assert first.bounces and not plan_once(settings, datetime.now(UTC)).bounces
    # its slot passed while no worker was up: it runs late, once
    sql(
        dsn,
        "UPDATE procrastinate_jobs SET scheduled_at = now() - interval '3 days'"
        " WHERE task_name = 'bounces'",
    )
    workers = Workers(settings.path, tmp_path, 2)
    try:
        writer: list[int] = []

        def reading() -> bool:
            fd = _fifo_opened_by_a_reader(pipe)
            if fd is not None:
                writer.append(fd)
            return bool(writer)

        _until(reading, 60, "a worker reading the mailbox")
        # mid-read: ticks defer nothing, and a second reading deferred anyway is not handed out
        assert not plan_once(settings, datetime.now(UTC)).bounces
        assert _count(dsn, "bounces", "doing") == 1
        assert not _hand_out_a_second_reading(settings, dsn)
        with os.fdopen(writer[0], "wb") as end:
            end.write(_dsn("late@ville.example", "5.2.1"))
        _until(lambda: _count(dsn, "bounces", "succeeded") == 2, 60, "both readings")
    finally:
        workers.stop()

    runs = sql(
        dsn,
        "SELECT job_id, min(at) FILTER (WHERE type = 'started'),"
        " max(at) FILTER (WHERE type = 'succeeded') FROM procrastinate_events e"
        " JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.task_name = 'bounces'"
        " GROUP BY job_id ORDER BY 2",
    )
    assert len(runs) == 2 and runs[1][1] >= runs[0][2]  # the second began after the first ended

    store = open_store(settings.storage_url)
    try:
        status = {n: store.get_subscriber(i).status for n, i in people.items()}  # type: ignore[union-attr]
        assert status == {
            "gone": Status.BOUNCED,
            "full": Status.CONFIRMED,  # one soft bounce is not enough
            "angry": Status.COMPLAINED,
            "late": Status.BOUNCED,  # the report written while the reader waited
        }
        for name, sub_id in people.items():  # each report recorded once, never twice
            kinds = [e.kind for e in store.subscriber_events(sub_id)]
            assert sum(k in ("hard_bounce", "soft_bounce", "complaint") for k in kinds) == 1, name
    finally:
        store.close()
    assert len(mailbox.Maildir(tmp_path / "bounces")) == 1  # the out-of-office reply stays

    plan_once(settings, datetime.now(UTC))
    waiting = [slot for status, slot in _bounce_jobs(dsn) if status == "todo"]
    assert len(waiting) == 1 and waiting[0] > datetime.now(UTC)  # the next slot, not now


def _hand_out_a_second_reading(settings: config.Settings, dsn: str) -> bool:
    """Defer another reading due now, as a second planner with its own clock might, and ask
    the queue for work as a worker does: whether it was handed out (the lock says no)."""

    async def go() -> bool:
        app = build_app(settings)
        async with app.open_async():
            await app.configure_task("bounces", lock="bounces").defer_async(
                config_path=str(settings.path.resolve()),
                schedule="*/15 * * * *",
                timezone="Europe/Paris",
                slot=datetime.now(UTC).isoformat(),
            )
            worker_id = await app.job_manager.register_worker()
            handed = []  # the periodic stalled-job check may be waiting too: take it all
            while job := await app.job_manager.fetch_job(queues=None, worker_id=worker_id):
                handed.append(job.task_name)
            await app.job_manager.unregister_worker(worker_id)
            return "bounces" in handed

    return asyncio.run(go())
