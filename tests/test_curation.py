"""Curation's pure parts: issue names, the order after up/down, what the email shows first,
the note's paragraphs; and hand-scheduled sends against a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator import config
from aggregator.models import EditionRecord
from aggregator.newsletter import curation, scheduled
from aggregator.newsletter.editions import DigestItem
from aggregator.store import open_store
from aggregator.store.curation import Curation
from tests.stores import at_head

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def item(pid: str) -> DigestItem:
    return DigestItem(pid, pid, "https://x.example/", "Org", "", "", "en", NOW)


def test_an_issue_is_named_by_its_edition_and_where_its_window_starts() -> None:
    assert curation.issue_key("weekly", None) == "weekly@first"
    assert curation.issue_key("weekly", NOW) == "weekly@2026-11-20T12:00:00.000000Z"
    sent = EditionRecord("w1", "weekly", NOW - timedelta(days=7), NOW, NOW, (), "s", sent=True)
    unsent = EditionRecord("w1", "weekly", NOW - timedelta(days=7), NOW, NOW, (), "s")
    assert curation.issue_start(None) is None
    assert curation.issue_start(sent) == NOW  # the next issue starts where this one ended
    assert curation.issue_start(unsent) == NOW - timedelta(days=7)  # still this one


def test_up_and_down_move_one_place_and_stop_at_the_ends() -> None:
    order = ("a", "b", "c")
    assert curation.moved(order, "b", -1) == ("b", "a", "c")
    assert curation.moved(order, "b", 1) == ("a", "c", "b")
    assert curation.moved(order, "a", -1) == order
    assert curation.moved(order, "c", 1) == order
    assert curation.moved(order, "z", 1) == order


def test_the_featured_item_comes_first_then_staffs_order_then_the_rest() -> None:
    items = [item(p) for p in ("a", "b", "c", "d")]
    chosen = Curation("k", "weekly", featured="c", ordering=("b", "a"))
    arranged = curation.arrange(items, chosen)
    assert [i.post_id for i in arranged] == ["c", "b", "a", "d"]
    assert [i.rank for i in arranged] == [0, 1, 2, 3]
    assert [i.post_id for i in curation.arrange(items, None)] == ["a", "b", "c", "d"]
    assert not curation.is_curated(Curation("k", "weekly", excluded=("a",)))


def test_the_note_keeps_its_paragraphs_and_nothing_else() -> None:
    assert curation.note_paragraphs("  One\nline.\r\n\r\nTwo.  \n\n\n") == ("One line.", "Two.")
    assert curation.note_paragraphs(" \n ") == ()


def test_a_hand_schedule_holds_back_the_cron_and_is_handed_out_once(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("digest:\n  editions:\n    - name: weekly\n", encoding="utf-8")
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        key = curation.issue_key("weekly", None)
        store.save_curation(Curation(key, "weekly", send_at=NOW + timedelta(hours=2), updated=NOW))
        assert scheduled.hand_scheduled_later(store, "weekly", NOW) == NOW + timedelta(hours=2)
        assert scheduled.due_editions(store, settings, NOW) == []
        later = NOW + timedelta(hours=3)
        assert scheduled.hand_scheduled_later(store, "weekly", later) is None
        assert scheduled.due_editions(store, settings, later) == ["weekly"]
        assert scheduled.due_editions(store, settings, later) == []  # handed out once
        stale = Curation("weekly@old", "weekly", send_at=NOW, updated=NOW)
        store.save_curation(stale)  # an issue that went out meanwhile: dropped
        assert scheduled.due_editions(store, settings, later) == []
        assert store.get_curation("weekly@old") == Curation("weekly@old", "weekly", updated=NOW)
    finally:
        store.close()
