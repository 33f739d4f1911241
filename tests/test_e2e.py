"""End to end: the demo's full cycle over a real loopback server, read back with real parsers."""

from __future__ import annotations

import email
import subprocess
import sys
from email import policy
from pathlib import Path

import feedparser
import pytest
from lxml import etree, html

from aggregator import config
from aggregator.cli.serve import DEMO_PAGES
from aggregator.demo.run import DemoResult, run_demo
from tests.test_web import Served

ROOT = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"))


def test_the_combined_feed_parses_cleanly_with_entries_from_three_sources_in_three_languages(
    demo: DemoResult,
) -> None:
    feed_path = demo.output_dir / "feed.atom"
    parsed = feedparser.parse(feed_path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) >= 10

    tree = etree.parse(str(feed_path))
    entries = tree.getroot().findall(f"{ATOM}entry")
    sources, languages = set(), set()
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{tag}") or "").strip(), tag
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link is not None and link.get("href", "").startswith("https://")
        source = entry.find(f"{ATOM}source")
        assert source is not None
        assert (source.findtext(f"{ATOM}title") or "").strip()
        assert (source.findtext(f"{ATOM}id") or "").strip()
        sources.add(source.findtext(f"{ATOM}id"))
        lang = entry.get(XML_LANG)
        assert lang, "every entry carries xml:lang"
        languages.add(lang.split("-")[0])
    assert len(sources) >= 3
    assert {"en", "fr", "es"} <= languages


def test_newest_first(demo: DemoResult) -> None:
    parsed = feedparser.parse((demo.output_dir / "feed.atom").read_bytes())
    dates = [e.updated_parsed for e in parsed.entries]
    published = [e.get("published_parsed") or e.updated_parsed for e in parsed.entries]
    assert published == sorted(published, reverse=True), dates


def test_no_script_survives_into_any_output(demo: DemoResult) -> None:
    for path in demo.output_dir.rglob("*"):
        if path.is_file() and path.suffix in {".atom", ".rss", ".json", ".html", ".eml", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="replace").lower()
            assert "<script" not in text.replace("&lt;script", "") or (
                path.suffix == ".html" and ("<script" not in _body_of(path))
            ), path
            assert "javascript:" not in text, path
            assert "onerror" not in text, path


def _body_of(path: Path) -> str:
    doc = html.fromstring(path.read_bytes())
    return "".join(etree.tostring(el, encoding="unicode") for el in doc.iter("script"))


def test_the_html_page_follows_the_seed_layout(demo: DemoResult) -> None:
    page = html.fromstring((demo.output_dir / "index.html").read_bytes())
    alternates = page.xpath("//link[@rel='alternate']/@type")
    assert "application/atom+xml" in alternates
    text = page.text_content()
    assert "(+)" in text
    assert "Making Cities Resilient 2030" in text
    assert "18/11/2026" in text  # day-first dates, as on the seeds' listing


def test_the_cross_posted_story_appears_once(demo: DemoResult) -> None:
    """UCLG, CEMR and PLATFORMA all link the same study page (with www., a trailing slash and
    tracking parameters in between): subscribers see it once."""
    parsed = feedparser.parse((demo.output_dir / "feed.atom").read_bytes())
    study = [e for e in parsed.entries if "news/study-localising-global-goals" in e.link]
    assert len(study) == 1


def test_a_broken_source_is_reported_and_does_not_stop_the_run(demo: DemoResult) -> None:
    by_id = {o.source_id: o for o in demo.report.outcomes}
    assert by_id["vvsg"].error is not None
    assert "not a feed" in by_id["vvsg"].error
    assert "vvsg-news.rss" in by_id["vvsg"].error  # names the feed the page advertises
    assert all(by_id[s].error is None for s in ("uclg", "cemr", "platforma"))


def test_the_digest_eml_is_multipart_alternative_with_inlined_css(demo: DemoResult) -> None:
    assert demo.digest is not None
    message = email.message_from_bytes(
        Path(demo.digest.eml_path).read_bytes(), policy=policy.default
    )
    assert message.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    body = parts["text/html"].get_content()
    doc = html.fromstring(body)
    styled = doc.xpath("//*[@style]")
    assert len(styled) >= 10, "formatting lives in style attributes"
    text = parts["text/plain"].get_content()
    assert "<" not in text.replace("<http", "").replace("<mailto", "") or "</" not in text
    assert "https://" in text


def test_running_the_demo_twice_does_not_duplicate_posts(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    second = run_demo(tmp_path)
    assert first.posts == second.posts > 0
    assert second.report.new_posts == 0


def test_the_demo_command_prints_where_the_outputs_are(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Combined Atom feed" in proc.stdout
    assert str(out.resolve() / "output" / "feed.atom") in proc.stdout.replace("\n", "")
    assert "Digest" in proc.stdout


def test_every_page_the_demo_names_is_served(demo: DemoResult) -> None:
    """The newcomer follows the demo's "then visit" list: each address answers with its page."""
    settings = config.load(demo.config_path)
    served = Served(settings).start()
    try:
        for path, _ in DEMO_PAGES:
            status, headers, body = served.get("/" + path)
            assert status == 200, path
            assert body.strip(), path
            if path in ("", "en/", "submit", "sources"):
                assert headers["Content-Type"].startswith("text/html"), path
    finally:
        served.stop()
