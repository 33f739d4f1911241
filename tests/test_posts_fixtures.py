"""Every fixture document, through parse and normalise, against its expected posts.

``tests/data/parse/<name>.<ext>`` (RSS 0.91, 1.0, 2.0, Atom 0.3, 1.0, JSON Feed 1.1 and the
seed-style listing page) each has its expected *posts* in ``tests/data/posts/<name>.posts.json``,
compared field by field: the blog-post model as subscribers will see it.  After a deliberate
change of a rule, regenerate with ``AGGREGATOR_REGEN_FIXTURES=1`` set for this test file, and
review the diff like code.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.ingest.normalise import normalise
from aggregator.models import Post, Source
from tests.test_parse import EXPECTED, fixture_document, run_request

POSTS = Path(__file__).resolve().parent / "data" / "posts"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOPICS = {
    "resilience": ["Résilience", "Resiliencia", "Resilience"],
    "migration": ["Migration", "Migración"],
    "housing": ["Housing", "Logement", "Vivienda"],
}


def _data(post: Post) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    data = convert(asdict(post))
    data.pop("content_hash")  # an implementation detail; every field it covers is compared
    return dict(data)


def _posts(expected_path: Path) -> list[dict[str, Any]]:
    spec = json.loads(expected_path.read_text("utf-8"))
    parsed = run_request(fixture_document(expected_path), spec["request"])
    source = Source(
        id="member",
        name="Member blog",
        organisation="Member organisation",
        url=spec["request"]["url"],
        homepage="https://member.example.org/",
        language="en",
        day_first=bool(spec["request"].get("day_first")),
    )
    return [_data(p) for p in normalise(parsed, source, NOW, topics=TOPICS)]


@pytest.mark.parametrize("expected_path", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_fixture_gives_the_expected_posts(expected_path: Path) -> None:
    name = expected_path.name.removesuffix(".expected.json")
    target = POSTS / f"{name}.posts.json"
    actual = _posts(expected_path)
    if os.environ.get("AGGREGATOR_REGEN_FIXTURES"):
        target.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", "utf-8")
    expected = json.loads(target.read_text("utf-8"))
    assert len(actual) == len(expected), f"{name}: {len(actual)} posts, expected {len(expected)}"
    problems = [
        f"{name}[{i}].{key}: got {a.get(key)!r}, expected {e.get(key)!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True))
        for key in sorted(set(a) | set(e))
        if a.get(key) != e.get(key)
    ]
    assert problems == []
