from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator import config
from aggregator.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
site:
  title: Test network
  base_url: https://news.example.org
sources:
  - id: uclg
    name: UCLG
    organisation: United Cities and Local Governments
    url: https://www.uclg.org/feed
"""


def _problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    return info.value.problems


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD, encoding="utf-8")
    settings = config.load(path)
    assert settings.site.base_url == "https://news.example.org/"
    assert settings.site.languages == ["en", "fr", "es"]
    assert settings.storage_url == f"sqlite:///{tmp_path / 'aggregator.sqlite3'}"
    assert settings.output_dir == tmp_path / "output"
    source = settings.source_list()[0]
    assert (source.id, source.language, source.enabled) == ("uclg", "en", True)


def test_the_shipped_feeds_yaml_is_valid() -> None:
    settings = config.load(ROOT / "feeds.yaml")
    ids = {s.id for s in settings.sources}
    assert {"uclg", "cemr", "platforma"} <= ids
    assert len(ids) >= 6


def test_topics_take_plain_lists_or_labels_per_language(tmp_path: Path) -> None:
    text = GOOD + (
        "topics:\n"
        "  migration: [Migration, Migración]\n"
        "  resilience: {en: Resilience, fr: [Résilience, Résiliences], es: Resiliencia}\n"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    settings = config.load(path)
    # every stage that matches tags still reads plain lists
    assert settings.topics == {
        "migration": ["Migration", "Migración"],
        "resilience": ["Resilience", "Résilience", "Résiliences", "Resiliencia"],
    }
    assert settings.topic_labels == {
        "resilience": {"en": "Resilience", "fr": "Résilience", "es": "Resiliencia"}
    }
    bad = GOOD + "topics:\n  resilience: {en: 3}\n"
    assert _problems(bad, tmp_path) == [
        f"{tmp_path / 'feeds.yaml'}:10: topics.resilience: Input should be a valid list"
    ]
    problems = _problems(GOOD + "topics:\n  resilience: {English: Resilience}\n", tmp_path)
    assert len(problems) == 1 and "not a language tag" in problems[0], problems


def test_misspelt_key_names_line_and_field(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    url: https://www.uclg.org/feed", "    url: https://www.uclg.org/feed\n    langauge: fr"
    )
    problems = _problems(text, tmp_path)
    assert problems == [
        f"{tmp_path / 'feeds.yaml'}:9: sources[0].langauge: unknown setting (misspelt?)"
    ]


def test_source_without_a_valid_url_names_line_and_field(tmp_path: Path) -> None:
    text = GOOD.replace("url: https://www.uclg.org/feed", "url: www.uclg.org/feed")
    problems = _problems(text, tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{tmp_path / 'feeds.yaml'}:8: sources[0].url: must be an absolute"
    )


def test_missing_url_points_at_the_source(tmp_path: Path) -> None:
    text = GOOD.replace("    url: https://www.uclg.org/feed\n", "")
    problems = _problems(text, tmp_path)
    assert problems == [f"{tmp_path / 'feeds.yaml'}:5: sources[0].url: Field required"]


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD + "  - id: Bad Id\n    name: X\n    organisation: Y\n    url: ftp://x.org/\n"
    problems = _problems(text, tmp_path)
    fields = [p.split(": ")[1] for p in problems]
    assert fields == ["sources[1].id", "sources[1].url"]
    assert f"{tmp_path / 'feeds.yaml'}:9: sources[1].id" in problems[0]
    assert f"{tmp_path / 'feeds.yaml'}:12: sources[1].url" in problems[1]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    problems = _problems("site:\n  title: [unclosed\n", tmp_path)
    assert ":3:" in problems[0] or ":2:" in problems[0]
    assert "YAML syntax" in problems[0]


def test_duplicate_source_ids_are_refused(tmp_path: Path) -> None:
    text = (
        GOOD + "  - id: uclg\n    name: again\n    organisation: X\n    url: https://x.org/feed\n"
    )
    problems = _problems(text, tmp_path)
    assert "source ids must be unique: uclg" in problems[0]


def test_unknown_timezone_and_bad_cron(tmp_path: Path) -> None:
    text = (
        GOOD
        + "digest:\n  editions:\n    - name: weekly\n"
        + "      schedule: every monday\n      timezone: Mars/Olympus\n"
    )
    problems = _problems(text, tmp_path)
    assert any("digest.editions[0].schedule" in p and ":12:" in p for p in problems)
    assert any("digest.editions[0].timezone" in p and "unknown time zone" in p for p in problems)


def test_cli_exits_non_zero_without_touching_the_store(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD.replace("base_url", "bse_url"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "fetch", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{path}:3: site.bse_url: unknown setting" in proc.stderr
    assert not (tmp_path / "aggregator.sqlite3").exists()


def test_a_date_where_a_name_belongs_names_its_line(tmp_path: Path) -> None:
    """YAML reads an unquoted date as a timestamp: refused with its line like any mistake."""
    text = GOOD.replace("    name: UCLG\n", "    name: 2026-12-07\n")
    assert _problems(text, tmp_path) == [
        f"{tmp_path / 'feeds.yaml'}:6: sources[0].name: Input should be a valid string"
    ]


def test_a_large_feeds_yaml_loads_every_source(tmp_path: Path) -> None:
    """The packed copy made after parsing (``loading._marshalled``) keeps every value."""
    lines = [GOOD.rstrip("\n")]
    for i in range(300):
        lines += [
            f"  - id: m{i}",
            f"    name: 'Commune {i} — Île'",
            "    organisation: Réseau",
            f"    url: https://m{i}.example.fr/feed",
            "    tags: [communes, 'année 2026']",
            "    enabled: true",
        ]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = config.load(path)
    sources = settings.source_list()
    assert len(sources) == 301
    assert sources[300].name == "Commune 299 — Île" and sources[300].tags == (
        "communes",
        "année 2026",
    )
    assert sources[300].url == "https://m299.example.fr/feed" and sources[300].enabled
