"""How often a post is filed under its true language, over 421 news posts in ten languages.

``tests/data/language/labelled.jsonl`` holds local-government news posts written for this test
(one JSON object a line: ``language``, ``title``, ``text``), 150 to 400 characters each, the
size of a title and a teaser: housing, migration, climate, budgets, mayors, associations of
municipalities, with the names of cities and organisations and the English loanwords real posts
carry.  Each goes through the real ``normalise`` as an RSS item of a site publishing en, fr and
es, twice: in a feed that declares no language, and in a feed that declares a wrong site
language (English, or French for the English posts), as a CMS default does.

``python tests/test_language_accuracy.py`` prints the per-language table of ``docs/languages.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.ingest.normalise import normalise
from aggregator.models import ParsedEntry, ParsedFeed, Source

LABELLED = Path(__file__).resolve().parent / "data" / "language" / "labelled.jsonl"
SITE = ("en", "fr", "es")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCE = Source(id="member", name="Member", organisation="Member", url="https://m.example/feed")
ACCURACY = 0.98


def labelled() -> list[dict[str, str]]:
    lines = LABELLED.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wrong_declaration(language: str) -> str:
    """A site language the post is not in."""
    return "fr" if language == "en" else "en"


def filed(posts: list[dict[str, str]], declared: str | None) -> list[str]:
    """The language each post is stored under, from a feed declaring ``declared``."""
    entries = tuple(
        ParsedEntry(guid=f"p{i}", title=p["title"], summary=f"<p>{p['text']}</p>")
        for i, p in enumerate(posts)
    )
    parsed = ParsedFeed(url=SOURCE.url, format="rss20", language=declared, entries=entries)
    stored = normalise(parsed, SOURCE, NOW, languages=SITE)
    assert len(stored) == len(posts)
    return [post.language for post in stored]


def results() -> dict[str, dict[str, Counter[str]]]:
    """Per language, per case ("undeclared", "wrongly declared"): the languages filed."""
    by_language: dict[str, list[dict[str, str]]] = {}
    for post in labelled():
        by_language.setdefault(post["language"], []).append(post)
    table: dict[str, dict[str, Counter[str]]] = {}
    for language, posts in by_language.items():
        table[language] = {
            "undeclared": Counter(filed(posts, None)),
            "wrongly declared": Counter(filed(posts, wrong_declaration(language))),
        }
    return table


def markdown(table: dict[str, dict[str, Counter[str]]]) -> str:
    lines = [
        "| language | posts | undeclared | wrongly declared | filed otherwise |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for language, cases in table.items():
        total = sum(cases["undeclared"].values())
        cells = [f"{100 * counts[language] / total:.1f} %" for counts in cases.values()]
        misses = sum((counts - Counter({language: total}) for counts in cases.values()), Counter())
        other = ", ".join(f"{n} as {tag}" for tag, n in misses.most_common()) or "none"
        lines.append(f"| {language} | {total} | {cells[0]} | {cells[1]} | {other} |")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, Counter[str]]]:
    return results()


def test_the_set_has_ten_languages_of_forty_posts_and_more_than_400_posts() -> None:
    posts = labelled()
    counts = Counter(p["language"] for p in posts)
    assert len(posts) >= 400
    assert len(counts) >= 10 and min(counts.values()) >= 40, counts
    assert {"en", "fr", "es", "pt", "it", "de", "nl", "ca"} <= set(counts)
    assert all(150 <= len(p["title"]) + 1 + len(p["text"]) <= 400 for p in posts)
    assert len({p["title"] for p in posts}) == len(posts)  # no post twice


@pytest.mark.parametrize("case", ["undeclared", "wrongly declared"])
def test_at_least_98_percent_are_filed_under_their_language(
    table: dict[str, dict[str, Counter[str]]], case: str, record_property: pytest.RecordProperty
) -> None:
    right = sum(cases[case][language] for language, cases in table.items())
    total = sum(sum(cases[case].values()) for cases in table.values())
    print(f"\n{case}: {right}/{total}\n{markdown(table)}")
    for language, cases in table.items():
        counts = cases[case]
        record_property(f"{case} {language}", f"{counts[language]}/{sum(counts.values())}")
    assert right >= ACCURACY * total, markdown(table)


def test_no_language_falls_far_behind(table: dict[str, dict[str, Counter[str]]]) -> None:
    """The overall figure cannot hide one language filed wrong most of the time."""
    for language, cases in table.items():
        for counts in cases.values():
            assert counts[language] >= 0.9 * sum(counts.values()), (language, counts)


if __name__ == "__main__":
    print(markdown(results()))
