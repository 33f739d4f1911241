"""The subscriber list in the store on SQLite and PostgreSQL: the migration that brings it keeps
every ledger row, and the staff's export, forget and re-import round-trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config

from aggregator import config
from aggregator.models import RecipientState
from aggregator.store import SCHEMA_VERSION, open_store
from aggregator.store.engine import MIGRATIONS_DIR, create_store_engine
from aggregator.store.subscribers import Status, Subscriber
from aggregator.subscribers import rules, staff
from tests.stores import at_head
from tests.test_store import T0, Backend, backend  # noqa: F401 - the fixture

SETTINGS = config.Settings.model_validate(
    {
        "digest": {
            "editions": [
                {"name": "weekly", "language": "en"},
                {"name": "hebdo", "language": "fr"},
            ]
        }
    }
)


def _at(where: Backend, revision: str) -> None:
    engine = create_store_engine(where.url)
    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, revision)
    engine.dispose()


def test_the_migration_keeps_every_ledger_row(backend: Backend) -> None:  # noqa: F811
    _at(backend, "0004")  # the store as it was before subscribers
    backend.raw(
        "INSERT INTO editions (id, name, window_end, created, post_ids, subject, sent, notes) "
        "VALUES ('weekly-2026-11-13T08:00:00Z', 'weekly', '2026-11-13T08:00:00.000000+00:00', "
        "'2026-11-13T08:00:00.000000+00:00', '[]', 'News', TRUE, '[]')"
        if backend.name == "postgresql"
        else "INSERT INTO editions (id, name, window_end, created, post_ids, subject, sent, "
        "notes) VALUES ('weekly-2026-11-13T08:00:00Z', 'weekly', "
        "'2026-11-13T08:00:00.000000+00:00', '2026-11-13T08:00:00.000000+00:00', '[]', "
        "'News', 1, '[]')"
    )
    for i, state in enumerate(("sent", "sent", "failed", "sending")):
        backend.raw(
            "INSERT INTO recipients (edition_id, address, position, state) VALUES "
            f"('weekly-2026-11-13T08:00:00Z', 'person{i}@city.example', {i}, '{state}')"
        )
    with open_store(backend.url) as store:
        assert store.schema_revision() == SCHEMA_VERSION
        rows = store.recipients("weekly-2026-11-13T08:00:00Z")
        assert [(r.address, r.state) for r in rows] == [
            ("person0@city.example", RecipientState.SENT),
            ("person1@city.example", RecipientState.SENT),
            ("person2@city.example", RecipientState.FAILED),
            ("person3@city.example", RecipientState.SENDING),
        ]
        edition = store.get_edition("weekly-2026-11-13T08:00:00Z")
        assert edition is not None and edition.sent
        assert store.list_subscribers() == [] and store.schema_drift() == []


def test_export_forget_and_a_reimport_that_does_not_resubscribe(backend: Backend) -> None:  # noqa: F811
    with open_store(at_head(backend.url)) as store:
        csv_text = (
            "address,language,editions\n"
            "Marie.Dupont@ville.example,fr,hebdo\n"
            "john@city.example,en,\n"
            "not an address,en,\n"
        )
        report = staff.import_csv(
            store, SETTINGS, csv_text, T0, note="2026 conference list", default_language="en"
        )
        assert (report.added, report.invalid) == (
            2,
            ["line 4: not an e-mail address: 'not an address'"],
        )
        marie = store.find_subscriber("marie.dupont@VILLE.example")
        assert isinstance(marie, Subscriber) and marie.editions == ("hebdo",)
        assert (marie.consent.method, marie.consent.note) == ("import", "2026 conference list")
        exported = staff.export_person(store, "marie.dupont@ville.example")
        assert exported is not None
        assert exported["subscription"]["status"] == "confirmed"
        assert exported["subscription"]["consent_note"] == "2026 conference list"
        assert [h["event"] for h in exported["history"]] == ["imported"]

        assert staff.forget(store, "MARIE.DUPONT@ville.example", T0 + timedelta(days=1))
        assert store.find_subscriber("marie.dupont@ville.example") is None
        assert staff.export_person(store, "marie.dupont@ville.example") == {
            "address": "marie.dupont@ville.example",
            "suppressed": "forgotten",
            "digests": [],
        }
        again = staff.import_csv(
            store,
            SETTINGS,
            csv_text,
            T0 + timedelta(days=2),
            note="old list",
            default_language="en",
        )
        assert again.added == 0
        assert again.suppressed == ["Marie.Dupont@ville.example"]
        assert again.existing == ["john@city.example"]
        assert (
            staff.add(store, SETTINGS, "marie.dupont@ville.example", T0, language="fr", note="x")
            is rules.Refusal.SUPPRESSED
        )
        whole = staff.export_csv(store.list_subscribers())
        assert "marie" not in whole.lower() and "john@city.example,en,weekly,confirmed" in whole


def test_forget_erases_the_address_from_the_digest_ledger(backend: Backend) -> None:  # noqa: F811
    from aggregator.models import EditionRecord

    with open_store(at_head(backend.url)) as store:
        staff.add(store, SETTINGS, "ana@city.example", T0, language="en", note="form")
        record = EditionRecord(
            id="weekly-x",
            name="weekly",
            window_start=None,
            window_end=T0,
            created=T0,
            post_ids=(),
            subject="News",
        )
        store.save_edition(record, ["ana@city.example", "bob@city.example"])
        store.mark_recipient("weekly-x", "ana@city.example", RecipientState.SENT, T0)
        held = staff.export_person(store, "ana@city.example")
        assert held is not None and held["digests"][0]["edition"] == "weekly-x"
        staff.forget(store, "ana@city.example", T0)
        addresses = [r.address for r in store.recipients("weekly-x")]
        assert "ana@city.example" not in addresses and "bob@city.example" in addresses
        assert addresses[0] == f"forgotten:{rules.address_hash('ana@city.example')}"
        assert store.subscriber_events(1) == []


@pytest.mark.parametrize("status", [Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED])
def test_whoever_left_is_never_re_added_by_staff_or_import(
    backend: Backend,  # noqa: F811
    status: Status,
) -> None:
    with open_store(at_head(backend.url)) as store:
        sub = staff.add(store, SETTINGS, "ana@city.example", T0, language="en", note="form")
        assert isinstance(sub, Subscriber)
        change = {
            Status.UNSUBSCRIBED: rules.unsubscribe(sub, T0, "page"),
            Status.BOUNCED: rules.after_bounce(
                sub,
                [],
                T0,
                permanent=True,
                edition_id=None,
                detail="5.1.1",
                soft_limit=3,
                soft_days=30,
            ),
            Status.COMPLAINED: rules.after_complaint(sub, T0, None, "abuse"),
        }[status]
        from aggregator.subscribers.service import apply

        apply(store, change, T0)
        report = staff.import_csv(
            store, SETTINGS, "address\nana@city.example\n", T0, note="n", default_language="en"
        )
        assert report.suppressed == ["ana@city.example"]
        assert store.find_subscriber("ana@city.example").status is status  # type: ignore[union-attr]
