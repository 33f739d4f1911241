"""The HTML pages, read back with lxml and looked at by a real headless Chromium.

Browser choice: Debian's /usr/bin/chromium driven with ``--dump-dom`` and an injected probe
page (no selenium).  Headless Chromium will not make a window narrower than 500 px, so the probe
page loads the real page in a 375 px wide iframe (same origin thanks to
``--allow-file-access-from-files``) and writes its measurements into the DOM that is dumped.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.config import Settings
from aggregator.publish.outputs import clean_line
from aggregator.publish.pages import _safe_http
from aggregator.publish.publisher import publish_all
from tests.browser import CHROMIUM, dump_dom
from tests.conftest import require_seeds
from tests.test_publish import BASE_URL, build, make_post

META_RE = re.compile(r"^(?:\S.* )?- \d{2}/\d{2}/\d{4}$")


def replace_site(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"site": settings.site.model_copy(update=changes)})


def page(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def text(node: lxml.html.HtmlElement) -> str:
    return " ".join(node.text_content().split())


# --------------------------------------------------------------------------------------------
# Layout


def test_posts_follow_the_seed_layout(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(3)]
    posts[0] = replace(posts[0], tags=())  # the seeds show "- 25/03/2022" for untagged posts
    settings, store = build(tmp_path, posts, page_size=10)
    publish_all(store, settings, now)
    doc = page(settings.output_dir / "en" / "index.html")

    assert [text(p) for p in doc.cssselect(".intro p")] == [
        "This blog is a space for knowledge-sharing.",
        "Read on.",
    ]
    articles = doc.cssselect("article.post")
    assert len(articles) == 1
    art = articles[0]
    post = posts[0]
    title_link = art.cssselect("h3.post-title a")[0]
    assert title_link.get("href") == post.link
    assert text(title_link) == post.title
    meta = text(art.cssselect(".post-meta")[0])
    assert meta == "- " + post.published.strftime("%d/%m/%Y")
    excerpt = art.cssselect(".excerpt")[0]
    assert text(excerpt) == post.excerpt + " (+)"
    more = excerpt.cssselect("a.more")[0]
    assert more.get("href") == post.link and text(more) == "(+)"
    assert more.get("aria-label", "").startswith("Read the full post")
    assert (
        text(art.cssselect(".source")[0]) == "From: United Cities and Local Governments (UCLG blog)"
    )

    assert art.cssselect(".also") == []

    everything = page(settings.output_dir / "index.html")
    metas = [text(m) for m in everything.cssselect(".post-meta")]
    assert metas[0] == "Migration - " + posts[2].published.strftime("%d/%m/%Y")
    assert metas[1] == "Résilience, Resiliencia - " + posts[1].published.strftime("%d/%m/%Y")


def test_a_cross_posted_story_names_the_other_publishers(tmp_path: Path, now: datetime) -> None:
    post = make_post(0, also_from=("cemr", "platforma", "gone"))
    settings, store = build(tmp_path, [post])
    publish_all(store, settings, now)
    doc = page(settings.output_dir / "fr" / "index.html")
    assert doc.cssselect("article.post") == []  # an English post, not on the French pages
    doc = page(settings.output_dir / "en" / "index.html")
    also = doc.cssselect("article.post .also")[0]
    assert text(also) == (
        "Also published by: Council of European Municipalities and Regions, PLATFORMA, gone"
    )


def test_meta_lines_have_the_shape_of_the_seed_captures(tmp_path: Path, now: datetime) -> None:
    seed_lines = [
        line.strip()
        for seed in sorted(require_seeds().glob("*.txt"))
        for line in seed.read_text(encoding="utf-8").splitlines()
        if re.search(r" - \d{2}/\d{2}/\d{4}$", line.strip()) or re.match(r"^- \d", line)
    ]
    assert seed_lines, "the seed captures should hold tag/date lines"
    assert all(META_RE.match(line) for line in seed_lines), seed_lines
    posts = [make_post(n) for n in range(4)]
    posts[3] = replace(posts[3], tags=())
    settings, store = build(tmp_path, posts, page_size=10)
    publish_all(store, settings, now)
    ours = [text(m) for m in page(settings.output_dir / "index.html").cssselect(".post-meta")]
    assert len(ours) == 4
    assert all(META_RE.match(line) for line in ours), ours


def test_a_topic_tagged_in_two_languages_shows_one_label(tmp_path: Path, now: datetime) -> None:
    """An English post tagged "Résilience, Resiliencia" shows its topic once, in English on
    the all-languages pages (each post's own language) and in French on the French pages."""
    english = make_post(1, language="en", source_id="uclg", tags=("Résilience", "Resiliencia"))
    settings, store = build(tmp_path, [english, make_post(3, language="fr", source_id="cemr")])
    labels = {"en": "Resilience", "fr": "Résilience", "es": "Resiliencia"}
    topics = {**settings.topics, "resilience": list(labels.values())}
    settings = settings.model_copy(
        update={"topics": topics, "topic_labels": {"resilience": labels}}
    )
    publish_all(store, settings, now)
    out = settings.output_dir

    def tags(path: Path) -> list[str]:
        return [text(t) for t in page(path).cssselect("article.post .tags")]

    assert tags(out / "index.html") == ["Résilience", "Resilience"]  # the French post is newer
    assert tags(out / "en" / "index.html") == ["Resilience"]
    assert tags(out / "fr" / "index.html") == ["Résilience"]


def test_one_page_set_per_language_with_localized_strings(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(9)]
    settings, store = build(tmp_path, posts, page_size=2)
    publish_all(store, settings, now)
    out = settings.output_dir

    everything = page(out / "index.html")
    assert everything.get("lang") == "en"
    second = page(out / "page-2.html")
    langs = {a.get("lang") for d in (everything, second) for a in d.cssselect("article.post")}
    assert langs == {"en", "fr", "es"}

    fr = page(out / "fr" / "index.html")
    assert fr.get("lang") == "fr"
    assert {a.get("lang") for a in fr.cssselect("article.post")} == {"fr"}
    assert [text(p) for p in fr.cssselect(".intro p")] == ["Ce blog est un espace de partage."]
    assert text(fr.cssselect("h2#posts")[0]) == "Derniers articles"
    assert "Articles plus anciens" in text(fr.cssselect("nav.pager")[0])
    assert text(fr.cssselect(".source")[0]).startswith("Source : ") or text(
        fr.cssselect(".source")[0]
    ).startswith("Source:")
    newest_fr = max((p for p in posts if p.language == "fr"), key=lambda p: p.published)
    time_el = fr.cssselect("article.post time")[0]
    assert time_el.get("title") == f"{newest_fr.published.day} octobre 2026"  # babel, French
    assert time_el.get("datetime", "").startswith(newest_fr.published.date().isoformat())
    assert fr.cssselect("link[rel=stylesheet]")[0].get("href") == "../static/site.css"

    es = page(out / "es" / "index.html")
    assert es.get("lang") == "es"
    # no Spanish intro configured: the site description stands in
    assert [text(p) for p in es.cssselect(".intro p")] == ["News from the members of the network."]
    assert "Artículos anteriores" in text(es.cssselect("nav.pager")[0])
    assert " de octubre de 2026" in es.cssselect("article.post time")[0].get("title", "")

    switcher = [(a.get("href"), text(a)) for a in fr.cssselect("header nav.languages a")]
    assert switcher == [
        ("../index.html", "Toutes les langues"),
        ("../en/index.html", "English"),
        ("../fr/index.html", "Français"),
        ("../es/index.html", "Español"),
    ]
    assert fr.cssselect("header nav a[aria-current=page]")[0].get("href") == "../fr/index.html"
    assert (out / "static" / "site.css").is_file()


def test_pagination(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(8)]
    settings, store = build(tmp_path, posts, page_size=3)
    publish_all(store, settings, now)
    out = settings.output_dir
    assert sorted(p.name for p in out.glob("*.html")) == [
        "index.html",
        "page-2.html",
        "page-3.html",
    ]
    newest_first = sorted(posts, key=lambda p: p.published, reverse=True)
    seen = []
    for name in ("index.html", "page-2.html", "page-3.html"):
        doc = page(out / name)
        seen += [text(a) for a in doc.cssselect("h3.post-title a")]
    assert seen == [p.title for p in newest_first]
    first, middle, last = (page(out / n) for n in ("index.html", "page-2.html", "page-3.html"))
    assert [a.get("href") for a in first.cssselect("nav.pager a")] == ["page-2.html"]
    assert [a.get("href") for a in middle.cssselect("nav.pager a")] == ["index.html", "page-3.html"]
    assert [a.get("href") for a in last.cssselect("nav.pager a")] == ["page-2.html"]
    assert first.cssselect(".intro") and not middle.cssselect(".intro")

    # bigger pages later: the pages past the end go away, nothing else does
    (out / "notes.html").write_text("operator's own file", encoding="utf-8")
    report = publish_all(store, replace_site(settings, page_size=4), now)
    assert sorted(p.name for p in out.glob("*.html")) == ["index.html", "notes.html", "page-2.html"]
    assert report.removed == (out / "page-3.html",)


def test_every_feed_edition_is_announced(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(5)], feed_entries=2)
    publish_all(store, settings, now)
    out = settings.output_dir
    expected = {
        BASE_URL + str(p.relative_to(out))
        for p in out.rglob("*.atom")
        if not str(p.relative_to(out)).startswith("archive/")
    } | {BASE_URL + "feed.rss", BASE_URL + "feed.json"}
    for html in ("index.html", "fr/index.html"):
        links = page(out / html).cssselect("head link[rel=alternate]")
        hrefs = {ln.get("href") for ln in links}
        assert hrefs == expected, html
        types = {ln.get("href"): ln.get("type") for ln in links}
        assert types[BASE_URL + "feed.atom"] == "application/atom+xml"
        assert types[BASE_URL + "feed.rss"] == "application/rss+xml"
        assert types[BASE_URL + "feed.json"] == "application/feed+json"
        assert all(ln.get("title") for ln in links)
    fr_links = page(out / "fr" / "index.html").cssselect("head link[rel=alternate]")
    assert fr_links[0].get("href") == BASE_URL + "feed-fr.atom"  # its own edition first


def test_hostile_text_is_escaped(tmp_path: Path, now: datetime) -> None:
    post = make_post(
        0,
        title="<script>alert('t')</script> \ud800 \x1b & \u05e2\u05d1\u05e8\u05d9\u05ea",
        excerpt="<img src=x onerror=alert(1)> ]]>",
        link="javascript:alert(1)",
        tags=("<b>tag</b>",),
    )
    settings, store = build(tmp_path, [post])
    publish_all(store, settings, now)
    raw = (settings.output_dir / "index.html").read_bytes()
    doc = lxml.html.fromstring(raw)
    assert doc.cssselect("script") == [] and doc.cssselect("article img") == []
    title = doc.cssselect("h3.post-title")[0]
    assert text(title).startswith("<script>alert('t')</script> \ufffd & ")
    assert title.cssselect("a") == []  # a javascript: link is not a link
    assert b"javascript:" not in raw
    assert "<img src=x onerror=alert(1)> ]]>" in text(doc.cssselect(".excerpt")[0])


def test_headings_and_lang_for_assistive_technology(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(3)], page_size=10)
    publish_all(store, settings, now)
    doc = page(settings.output_dir / "index.html")
    assert len(doc.cssselect("h1")) == 1
    assert len(doc.cssselect("main h2")) == 1
    assert len(doc.cssselect("article h3")) == 3
    assert all(a.get("lang") for a in doc.cssselect("article"))
    assert doc.cssselect("meta[name=viewport]")[0].get("content") == (
        "width=device-width, initial-scale=1"
    )
    css = (settings.output_dir / "static" / "site.css").read_text(encoding="utf-8")
    assert "overflow-wrap: anywhere" in css and "max-width: 100%" in css


# --------------------------------------------------------------------------------------------
# A real browser at phone width

PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="f" src="{src}" style="width:375px;height:900px;border:0" onload="probe()"></iframe>
<pre id="probe">pending</pre>
<script>
function probe() {{
  var d = document.getElementById('f').contentDocument, w = d.defaultView;
  var r = {{width: w.innerWidth, scrollWidth: d.documentElement.scrollWidth, titles: [],
           background: w.getComputedStyle(d.body).backgroundColor,
           meta: w.getComputedStyle(d.querySelector('.post-meta')).color}};
  d.querySelectorAll('h3.post-title').forEach(function (h) {{
    var b = h.getBoundingClientRect(), s = w.getComputedStyle(h);
    var a = h.querySelector('a') || h;
    r.titles.push({{text: h.textContent.trim(), w: b.width, h: b.height, left: b.left,
                   right: b.right, visible: s.visibility === 'visible' && s.display !== 'none',
                   color: w.getComputedStyle(a).color}});
  }});
  document.getElementById('probe').textContent = JSON.stringify(r);
}}
</script></body></html>"""


def _luminance(css_color: str) -> float:
    channels = [int(x) / 255 for x in re.findall(r"[\d.]+", css_color)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two computed colours ('rgb(r, g, b)')."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper_can_fail() -> None:
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21.0)
    assert contrast("rgb(170, 170, 170)", "rgb(255, 255, 255)") < 4.5


def measure(html_dir: Path, name: str, profile: Path) -> dict[str, object]:
    probe = html_dir / f"probe-{name}"
    probe.write_text(PROBE.format(src=name), encoding="utf-8")
    stdout, stderr = dump_dom(probe.as_uri(), profile, "--allow-file-access-from-files", timeout=60)
    match = re.search(r'<pre id="probe">(.*?)</pre>', stdout, re.S)
    assert match, stderr
    raw = lxml.html.fromstring(match.group(0)).text_content()
    assert raw != "pending", "the probe did not run"
    result: dict[str, object] = json.loads(raw)
    return result


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_pages_fit_a_375px_phone(tmp_path: Path, now: datetime) -> None:
    long_url = "https://example.org/" + "a-very-long-path-segment-without-spaces" * 6
    posts = [
        make_post(
            0,
            title="Anticonstitutionnellement" * 4,
            excerpt=f"See {long_url} for the full text.",
        ),
        make_post(3, title="\u0627\u0644\u0645\u062f\u0646 " * 12, language="ar"),
        make_post(6, image="https://cdn.example.org/huge.png"),
    ] + [make_post(n) for n in (9, 12)]
    settings, store = build(tmp_path, posts, page_size=10)
    publish_all(store, settings, now)
    out = settings.output_dir

    result = measure(out, "index.html", tmp_path / "profile")
    assert result["width"] == 375
    assert isinstance(result["scrollWidth"], int) and result["scrollWidth"] <= 375
    titles = result["titles"]
    assert isinstance(titles, list) and len(titles) == 5
    for title in titles:
        assert title["visible"] and title["w"] > 0 and title["h"] > 0, title
        assert title["left"] >= 0 and title["right"] <= 375, title
    assert titles[0]["text"].startswith("Post 12")
    # WCAG AA for body text: at least 4.5:1 against the page background
    background = str(result["background"])
    for title in titles:
        assert contrast(title["color"], background) >= 4.5, (title["color"], background)
    assert contrast(str(result["meta"]), background) >= 4.5

    # the same page without its stylesheet overflows: the measurement can fail
    bare = (out / "index.html").read_text(encoding="utf-8")
    bare = re.sub(r'<link rel="stylesheet"[^>]*>', "", bare)
    (out / "bare.html").write_text(bare, encoding="utf-8")
    control = measure(out, "bare.html", tmp_path / "profile2")
    assert isinstance(control["scrollWidth"], int) and control["scrollWidth"] > 375


@given(
    st.sampled_from(["", "http://", "https://", "HTTP://", "hTtPs://", "ftp://", "http:", "//"]),
    st.text(max_size=24),
)
def test_the_pages_link_check_reads_urls_as_urlsplit_does(prefix: str, rest: str) -> None:
    """``_safe_http`` reads the scheme and host off the prefix, for speed: the same answers."""
    url = clean_line(prefix + rest)
    try:
        parts = urlsplit(url)
    except ValueError:  # urlsplit refuses some hosts ("[" without "]"); ours must not raise
        _safe_http(url)
        return
    expected = url if parts.scheme.lower() in ("http", "https") and parts.netloc else None
    assert _safe_http(url) == expected
