"""Fuzzing the document path in-process: seed feeds mutated (bit flips, inserted tags and
entities, truncation) go through parse -> normalise -> store -> publish.

Whatever the bytes, a document ends as posts or as a ``FeedError``, never as another exception,
and what is published stays well-formed XML and inert.  Example counts are modest and the run
is derandomised, so the test is fast and a failure replays the same way every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator import config
from aggregator.errors import FeedError
from aggregator.ingest.normalise import normalise
from aggregator.ingest.parse import parse_document
from aggregator.models import Source, SourceState, SourceUpdate
from aggregator.publish.publisher import publish_all
from aggregator.store import SqlStore, open_store
from tests.test_hostile import RAW_MARKERS, json_problems, xml_problems

DATA = Path(__file__).resolve().parent / "data"
SEEDS = [
    (DATA / "parse" / name).read_bytes()
    for name in ("rss20.xml", "atom10.xml", "rss10.xml", "rss091.xml", "jsonfeed11.json")
] + [(DATA / "hostile" / "xss_every_field.atom").read_bytes()]
TAGS = [
    b"<script>alert(1)</script>",
    b"<item><title>x</title><link>javascript:alert(1)</link></item>",
    b"<entry><title>y</title><link href='javascript:alert(1)'/></entry>",
    b"<![CDATA[<img src=x onerror=alert(1)>]]>",
    b"<svg onload=alert(1)>",
    b"<!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]>",
    b"</channel>",
    b"<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'><script>x</script></div>",
]
ENTITIES = [
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&#xD800;",
    b"&lt;script&gt;alert(1)&lt;/script&gt;",
    b"&undefined;",
    b"&#x1b;",
    b"&#106;avascript:",
    b"\\u0000",
    b'"\\ud800"',
]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCE = Source(id="fuzz", name="Fuzz", organisation="Fuzz", url="https://fuzz.example/feed")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(("flip", "tag", "entity", "truncate")))
        if operation == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "tag":
            data[position:position] = draw(st.sampled_from(TAGS))
        elif operation == "entity":
            data[position:position] = draw(st.sampled_from(ENTITIES))
        else:
            del data[position:]
    return bytes(data)


@dataclass
class Pipeline:
    settings: config.Settings
    store: SqlStore

    def run(self, body: bytes) -> int:
        """One document through the stages; the number of posts it gave (0 on FeedError)."""
        try:
            parsed = parse_document(body, url=SOURCE.url, headers={})
            posts = normalise(parsed, SOURCE, NOW, languages=("en", "fr", "es"))
        except FeedError:
            posts = []
        # start from an empty store each time (retention with a cutoff in the future)
        self.store.expire_posts(NOW + timedelta(days=1), ())
        state = SourceState(SOURCE.id, SOURCE.url)
        self.store.apply_update(SourceUpdate(SOURCE.id, state, tuple(posts)))
        publish_all(self.store, self.settings, NOW)
        return len(posts)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    directory = tmp_path_factory.mktemp("fuzz")
    path = directory / "feeds.yaml"
    path.write_text(
        "site: {base_url: 'https://agg.example/', output_dir: out, languages: [en]}\n"
        "digest: {editions: []}\n"
        "sources: [{id: fuzz, name: Fuzz, organisation: Fuzz, "
        "url: 'https://fuzz.example/feed'}]\n",
        encoding="utf-8",
    )
    settings = config.load(path)
    store = open_store(settings.storage_url)
    store.sync_sources(settings.source_list())
    yield Pipeline(settings, store)
    store.close()


def published_problems(out: Path) -> list[str]:
    problems: list[str] = []
    for name in ("feed.atom", "feed.rss"):
        data = (out / name).read_bytes()
        etree.fromstring(data)  # well-formed, or this raises and the test fails
        problems += xml_problems(data, name)
    problems += json_problems((out / "feed.json").read_bytes(), "feed.json")
    for path in (out / "feed.atom", out / "index.html"):
        raw = path.read_text(encoding="utf-8")
        for marker in RAW_MARKERS:
            problems += [f"{path.name}: {m.group(0)!r}" for m in marker.finditer(raw)]
    return problems


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=mutated())
def test_mutated_documents_never_crash_and_publish_valid_inert_xml(
    pipeline: Pipeline, body: bytes
) -> None:
    pipeline.run(body)
    assert published_problems(pipeline.settings.output_dir) == []


@settings(max_examples=150, deadline=None, derandomize=True)
@given(body=mutated())
def test_parse_and_normalise_only_ever_raise_feed_errors(body: bytes) -> None:
    try:
        parsed = parse_document(body, url=SOURCE.url, headers={})
    except FeedError:
        return
    for post in normalise(parsed, SOURCE, NOW):
        assert post.id and post.link.startswith(("http://", "https://"))
        assert "\x00" not in post.title + post.content_html + post.excerpt


def test_the_seeds_themselves_publish_posts(pipeline: Pipeline) -> None:
    """The fuzzing starts from documents that work, so mutations probe real code paths."""
    assert all(pipeline.run(seed) > 0 for seed in SEEDS)
    assert published_problems(pipeline.settings.output_dir) == []
