"""``subscribers`` on the command line, as staff use it: add, list, import, export one person,
forget, re-import, remove, and the bounce mailbox command."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator import config
from aggregator.cli.main import main
from tests.stores import at_head

FEEDS = """\
site:
  languages: [en, fr, es]
digest:
  editions:
    - name: weekly
      language: en
    - name: hebdo
      language: fr
subscribers:
  mailbox:
    kind: mbox
    path: bounces.mbox
"""


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS, encoding="utf-8")
    at_head(config.load(path).storage_url)
    return path


def run(feeds: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["subscribers", *args, "--config", str(feeds)], env={"AGGREGATOR_SECRET": "s" * 40}
    )
    return result.exit_code, result.output


def test_staff_round_trip_export_forget_reimport(feeds: Path, tmp_path: Path) -> None:
    code, out = run(
        feeds,
        "add",
        "Marie@ville.example",
        "--language",
        "fr",
        "--note",
        "asked at the 2026 congress",
    )
    assert code == 0 and "added Marie@ville.example (fr: hebdo)" in out
    listing = tmp_path / "list.csv"
    listing.write_text("address,language\njohn@city.example,en\nmarie@ville.example,fr\n")
    code, out = run(feeds, "import", str(listing), "--note", "newsletter 2025 export")
    assert code == 0 and "1 added, 1 already on the list" in out
    code, out = run(feeds, "list", "--search", "VILLE")
    assert "Marie@ville.example" in out and "john" not in out
    assert "asked at the 2026 congress" in out

    code, out = run(feeds, "export", "marie@ville.example")
    held = json.loads(out)
    assert code == 0 and held["subscription"]["consent_method"] == "staff"
    assert held["subscription"]["editions"] == ["hebdo"]

    code, out = run(feeds, "forget", "marie@ville.example", "--yes")
    assert code == 0 and "forgotten" in out
    code, out = run(feeds, "export", "marie@ville.example")
    assert code == 0 and json.loads(out)["suppressed"] == "forgotten"
    assert "subscription" not in json.loads(out)
    code, out = run(feeds, "import", str(listing), "--note", "the same old list")
    assert "0 added, 1 already on the list, 1 suppressed" in out
    code, out = run(feeds, "add", "marie@ville.example", "--note", "again")
    assert code == 1 and "left, bounced, complained or was forgotten" in out

    code, out = run(feeds, "export", "-o", str(tmp_path / "all.csv"))
    whole = (tmp_path / "all.csv").read_text()
    assert code == 0 and whole.startswith("address,language,editions,status")
    assert "marie" not in whole.lower() and "john@city.example" in whole

    code, out = run(feeds, "remove", "john@city.example", "--note", "by phone")
    assert code == 0
    code, out = run(feeds, "list", "--status", "unsubscribed")
    assert "john@city.example" in out
    code, out = run(feeds, "remove", "nobody@city.example")
    assert code == 1


def test_the_bounce_command_reads_an_mbox(feeds: Path, tmp_path: Path) -> None:
    run(feeds, "add", "gone@ville.example", "--language", "fr", "--note", "form")
    sample = (Path(__file__).parent / "data" / "bounces" / "gmail_hard.eml").read_text()
    box = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    box.add(sample.format(verp="digest@localhost", rcpt="gone@ville.example").encode())
    box.close()
    code, out = run(feeds, "bounces")
    assert code == 0 and "gone@ville.example: hard_bounce" in out and "-> bounced" in out
    code, out = run(feeds, "list", "--status", "bounced")
    assert "gone@ville.example" in out
    after = mailbox.mbox(tmp_path / "bounces.mbox")
    assert len(after) == 0  # the report is applied once, then gone
    after.close()


def test_the_bounce_command_names_a_missing_mailbox(feeds: Path) -> None:
    code, out = run(feeds, "bounces")
    assert code == 1 and "no bounce mailbox at" in out
