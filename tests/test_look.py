"""Three languages all the way, and a page and a digest that look like the network (issue 16).

A member site on 127.0.0.1 publishes posts with lead images (a photo, a 30 MB "image", an HTML
page served as image/jpeg, a photo on an address the operator did not allow) and the same post
in three languages; one real cycle fetches, stores and publishes them, and the digest is
previewed.  What readers would notice is read back from the files: which images the page and
the email load, with which alt text; which post each language edition shows and which versions
it links; the names and headings in French.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from PIL import Image

from aggregator import config
from aggregator.cycle import fetch_and_publish
from aggregator.errors import ConfigError
from aggregator.models import Link, Post
from aggregator.newsletter.digest import preview
from aggregator.newsletter.render import CLIP_BYTES
from aggregator.present.imagefetch import fetch_lead_images, plan
from aggregator.present.images import ImageRefused, alt_text, make_variants
from aggregator.present.machine import ArgosEngine, MachineTitles, machine_titles
from aggregator.present.siblings import find_siblings, variant_key
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.stores import at_head

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALT = "The mayor opens the new tram line"
ATOM = "{http://www.w3.org/2005/Atom}"


def _jpeg(width: int, height: int, colour: tuple[int, int, int] = (30, 110, 170)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _item(link: str, title: str, lang: str, *, image: str = "", extra: str = "") -> str:
    picture = f'&lt;img src="{image}" alt="{ALT}"&gt;' if image else ""
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Thu, 19 Nov 2026 10:00:00 GMT</pubDate><category>Housing</category>"
        f"<dc:language>{lang}</dc:language>{extra}"
        f"<description>{picture} A long enough excerpt about the housing policy of the city "
        f"and its partners, so that every reader sees what the post is about.</description>"
        "</item>"
    )


def _rss(items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Member</title>'
        "<link>https://member.example.org/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )


@dataclass
class Site:
    config: Path
    out: Path
    digest_html: str
    digest_fr_html: str
    posts: dict[str, Post]
    server: FixtureServer


@pytest.fixture(scope="module")
def member() -> Iterator[FixtureServer]:
    server = FixtureServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other() -> Iterator[FixtureServer]:
    """A server on loopback the operator did not allow: a private address to the fetcher."""
    server = FixtureServer().start()
    server.route("/photo.jpg", _jpeg(800, 600), headers={"Content-Type": "image/jpeg"})
    yield server
    server.stop()


def _write_config(folder: Path, feed_url: str, hostport: str) -> Path:
    text = f"""
site:
  title: {{en: Network news, fr: Actualités du réseau, es: Noticias de la red}}
  base_url: 'https://news.example.org/'
  output_dir: out
  timezone: Europe/Brussels
  colors: {{primary: '#7a1f2b', accent: '#f2b705'}}
fetch: {{allow_private: ['{hostport}']}}
topics:
  housing: {{en: Housing, fr: Logement, es: Vivienda}}
digest:
  editions:
    - {{name: weekly, skip_empty: false, group_by: topic}}
    - {{name: hebdo, language: fr, skip_empty: false, group_by: topic}}
sources:
  - id: uclg
    name: {{en: UCLG News, fr: Actualités CGLU, es: Noticias CGLU}}
    organisation:
      en: United Cities and Local Governments
      fr: Cités et Gouvernements Locaux Unis
      es: Ciudades y Gobiernos Locales Unidos
    short_name: {{en: UCLG, fr: CGLU, es: CGLU}}
    url: '{feed_url}'
"""
    path = folder / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, member: FixtureServer, other: FixtureServer
) -> Site:
    jpeg = {"Content-Type": "image/jpeg"}
    photo = member.route("/img/photo.jpg", _jpeg(1600, 900), headers=jpeg)
    thirty_mb = b"\xff\xd8\xff" + b"\0" * (30 * 1024 * 1024)
    huge = member.route("/img/huge.jpg", thirty_mb, headers=jpeg)
    page = b"<!DOCTYPE html><html><body>Not found</body></html>"
    html = member.route("/img/page.jpg", page, headers=jpeg)
    private = other.url("/photo.jpg")
    base = member.url("")
    items = [
        _item(f"{base}/news/photo", "Tram line opens", "en", image=photo),
        _item(f"{base}/news/huge", "A huge picture", "en", image=huge),
        _item(f"{base}/news/html", "A page as picture", "en", image=html),
        _item(f"{base}/news/private", "A private picture", "en", image=private),
        # one story in three languages: the English one names its versions (hreflang), the
        # French and Spanish ones only share the path with a language segment
        _item(
            f"{base}/en/housing-plan",
            "The housing plan",
            "en",
            extra=f'<atom:link rel="alternate" hreflang="fr" href="{base}/fr/housing-plan"/>',
        ),
        _item(f"{base}/fr/housing-plan", "Le plan logement", "fr"),
        _item(f"{base}/es/housing-plan", "El plan de vivienda", "es"),
    ]
    feed = member.route("/feed.rss", _rss(items), headers={"Content-Type": "application/rss+xml"})
    path = _write_config(tmp_path_factory.mktemp("look"), feed, member.hostport)
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        report, _ = fetch_and_publish(settings, store, clock=lambda: NOW)
        assert [o.error for o in report.outcomes] == [None]
        weekly = preview(store, settings, "weekly", NOW)
        hebdo = preview(store, settings, "hebdo", NOW)
        posts = {p.link.removeprefix(base): p for p in store.recent_posts(50)}
    finally:
        store.close()
    return Site(
        path,
        settings.output_dir,
        _mailed_html(weekly.eml_path),  # as mailed: the preview file points at the disk
        _mailed_html(hebdo.eml_path),
        posts,
        member,
    )


def _mailed_html(eml: Path) -> str:
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _page(site: Site, name: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((site.out / name).read_bytes())


def _articles(doc: lxml.html.HtmlElement) -> dict[str, lxml.html.HtmlElement]:
    return {a.cssselect("h3 a")[0].text_content(): a for a in doc.cssselect("article.post")}


# --------------------------------------------------------------------------------------------
# Lead images


def test_pages_and_digest_load_only_the_sites_own_image_copies(site: Site) -> None:
    posts = _articles(_page(site, "en/index.html"))
    img = posts["Tram line opens"].cssselect("img")[0]
    assert img.get("alt") == ALT
    assert img.get("src").startswith("../images/") and img.get("src").endswith("-640.jpg")
    assert [c.split()[1] for c in img.get("srcset").split(", ")] == ["160w", "320w", "640w"]
    assert (img.get("width"), img.get("height")) == ("640", "360")
    for candidate in img.get("srcset").split(", "):
        file = site.out / "en" / candidate.split()[0]
        with Image.open(file) as stored:
            assert stored.format == "JPEG"
            assert stored.width == int(candidate.split()[1].rstrip("w"))
    for name in ("index.html", "en/index.html", "fr/index.html"):
        doc = _page(site, name)
        sources = [i.get("src") for i in doc.cssselect("img")]
        assert all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
    digest = lxml.html.fromstring(site.digest_html)
    thumbs = digest.cssselect("td.item img")
    assert [t.get("alt") for t in thumbs] == [ALT]
    assert thumbs[0].get("src").startswith("https://news.example.org/images/")
    assert (site.out / thumbs[0].get("src").removeprefix("https://news.example.org/")).is_file()
    every = [i.get("src") for i in digest.iter("img")]
    assert all(src.startswith("https://news.example.org/") for src in every), every
    # the preview file beside it shows the same copies from the disk
    preview_file = next((site.out / "digest").glob("weekly-*.html"))
    local = [i.get("src") for i in lxml.html.fromstring(preview_file.read_bytes()).iter("img")]
    assert len(local) == len(every) and all(src.startswith("../") for src in local), local
    assert all((preview_file.parent / src).is_file() for src in local), local


def test_a_failing_image_costs_only_that_image(site: Site) -> None:
    posts = _articles(_page(site, "en/index.html"))
    for title in ("A huge picture", "A page as picture", "A private picture"):
        assert title in posts, title
        assert posts[title].cssselect("img") == [], title
        assert posts[title].cssselect("p.excerpt a.more"), title
    manifest = json.loads((site.out / "images" / "index.json").read_text(encoding="utf-8"))
    reasons = {url.rsplit("/", 1)[-1]: entry.get("failed", "") for url, entry in manifest.items()}
    # the private-address photo never reached the fetcher: normalise drops it from the post
    assert set(reasons) == {"photo.jpg", "huge.jpg", "page.jpg"}
    assert reasons["photo.jpg"] == ""
    assert "limit" in reasons["huge.jpg"].lower() or "large" in reasons["huge.jpg"].lower()
    assert reasons["page.jpg"] == "not a JPEG, PNG, GIF or WebP image"
    assert site.posts["/news/private"].image is None
    jpgs = sorted(p.name for p in (site.out / "images").glob("*.jpg"))
    assert len(jpgs) == 3  # one photo, three widths


def test_the_fetcher_refuses_an_image_on_an_address_not_allowed(
    tmp_path: Path, other: FixtureServer
) -> None:
    settings = config.loads(
        "site: {output_dir: out}\nfetch: {allow_private: []}\n", tmp_path / "feeds.yaml"
    )
    post = Post(
        id="p", source_id="s", guid=None, title="t", link="https://m.example.org/p",
        published=NOW, updated=NOW, first_seen=NOW, language="en", excerpt="e",
        content_html="", image=other.url("/photo.jpg"),
    )  # fmt: skip
    report = fetch_lead_images([post], settings, NOW)
    assert (report.fetched, report.failed) == (0, 1)
    assert other.requests == []  # refused before any connection
    assert not list((settings.output_dir / "images").glob("*.jpg"))


def test_images_come_only_from_the_listed_hosts_when_the_operator_lists_them(
    tmp_path: Path, member: FixtureServer
) -> None:
    listed = member.route("/listed.jpg", _jpeg(400, 300), headers={"Content-Type": "image/jpeg"})
    text = (
        "site: {output_dir: out}\n"
        f"fetch: {{allow_private: ['{member.hostport}'], image_hosts: ['{member.hostport}']}}\n"
    )
    settings = config.loads(text, tmp_path / "feeds.yaml")

    def post(i: str, image: str) -> Post:
        return Post(
            id=i, source_id="s", guid=None, title="t", link=f"https://m.example.org/{i}",
            published=NOW, updated=NOW, first_seen=NOW, language="en", excerpt="e",
            content_html="", image=image,
        )  # fmt: skip

    report = fetch_lead_images(
        [post("a", listed), post("b", "https://cdn.example.net/elsewhere.jpg")], settings, NOW
    )
    assert (report.fetched, report.failed, report.kept) == (1, 1, 1)
    why = "not fetched: its host is not in fetch.image_hosts"
    assert report.failures == (("https://cdn.example.net/elsewhere.jpg", why),)


def test_a_decompression_bomb_and_a_pixel_are_refused() -> None:
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, format="PNG")  # 81 Mpx in a few kilobytes
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(ImageRefused, match="too many pixels"):
        make_variants(bomb.getvalue())
    with pytest.raises(ImageRefused, match="too small"):
        make_variants(_jpeg(1, 1))


def test_a_transparent_png_reads_on_white_and_a_small_image_is_not_enlarged() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (200, 100), (0, 0, 0, 0)).save(out, format="PNG")
    made = make_variants(out.getvalue())
    assert sorted(made.variants) == [160, 200]
    with Image.open(io.BytesIO(made.variants[200])) as image:
        assert image.size == (200, 100)
        assert image.getpixel((10, 10)) == (255, 255, 255)


def test_failures_wait_a_day_and_only_wanted_images_are_kept() -> None:
    manifest = {
        "https://a/1.jpg": {"key": "k", "width": 1, "height": 1, "widths": [1]},
        "https://a/2.jpg": {"failed": "x", "at": (NOW - timedelta(hours=2)).isoformat()},
        "https://a/3.jpg": {"failed": "x", "at": (NOW - timedelta(days=2)).isoformat()},
        "https://a/gone.jpg": {"key": "g", "width": 1, "height": 1, "widths": [1]},
    }
    urls = ["https://a/1.jpg", "https://a/2.jpg", "https://a/3.jpg", "https://a/4.jpg"]
    fetch, keep = plan(urls, manifest, NOW)
    assert fetch == ["https://a/3.jpg", "https://a/4.jpg"]
    assert sorted(keep) == ["https://a/1.jpg", "https://a/2.jpg"]


def test_alt_text_comes_from_the_members_markup() -> None:
    html = '<p><img src="https://m.org/a.jpg?x=1&amp;y=2" alt="A  bridge &amp; river"></p>'
    assert alt_text(html, "https://m.org/a.jpg?x=1&y=2") == "A bridge & river"
    assert alt_text(html, "https://m.org/other.jpg") == ""


# --------------------------------------------------------------------------------------------
# Language versions


def test_a_post_in_three_languages_appears_once_per_edition_linking_its_siblings(
    site: Site,
) -> None:
    base = site.server.url("")
    expected = {
        "en": ("The housing plan", {"fr": "Français", "es": "Español"}),
        "fr": ("Le plan logement", {"en": "English", "es": "Español"}),
        "es": ("El plan de vivienda", {"en": "English", "fr": "Français"}),
    }
    label = {"en": "Also in:", "fr": "Aussi en\u00a0:", "es": "También en:"}
    for lang, (title, others) in expected.items():
        doc = _page(site, f"{lang}/index.html")
        titles = [a.text_content() for a in doc.cssselect("h3.post-title a")]
        story = [t for t in titles if "plan" in t.lower()]
        assert story == [title], (lang, titles)
        versions = _articles(doc)[title].cssselect("p.versions")[0]
        assert versions.text_content().startswith(label[lang])
        links = {a.get("hreflang"): a for a in versions.cssselect("a")}
        assert {k: a.text_content() for k, a in links.items()} == others
        assert {k: a.get("href") for k, a in links.items()} == {
            k: f"{base}/{k}/housing-plan" for k in others
        }
    digest = lxml.html.fromstring(site.digest_fr_html)
    item = next(td for td in digest.cssselect("td.item") if "Le plan logement" in td.text_content())
    assert "Aussi en\u00a0: English · Español" in item.text_content()


def test_versions_are_stated_never_guessed() -> None:
    def post(i: str, lang: str, link: str, *alts: Link) -> Post:
        return Post(
            id=i, source_id="s", guid=None, title="t", link=link, published=NOW, updated=NOW,
            first_seen=NOW, language=lang, excerpt="", content_html="", translations=alts,
        )  # fmt: skip

    found = find_siblings(
        [
            post("a", "en", "https://x.org/en/a"),
            post("b", "fr", "https://x.org/fr/a"),
            post("c", "fr", "https://x.org/fr/other"),  # no English twin published
            post("d", "es", "https://y.org/es/a"),  # another host
            post("e", "en", "https://x.org/news/en"),  # "en" is not a path segment here
        ]
    )
    assert [s.language for s in found["a"]] == ["fr"]
    assert [s.language for s in found["b"]] == ["en"]
    assert "c" not in found and "d" not in found and "e" not in found
    assert variant_key("https://x.org/fr/a?p=1", "fr") == "https://x.org/{}/a?p=1"
    assert variant_key("https://x.org/fr/a", "en") is None


# --------------------------------------------------------------------------------------------
# Names, topics, dates in the reader's language


def test_french_readers_see_french_names_topics_and_dates(site: Site) -> None:
    doc = _page(site, "fr/index.html")
    assert doc.cssselect("h1.site-title")[0].text_content().strip() == "Actualités du réseau"
    source = _articles(doc)["Le plan logement"].cssselect("p.source")[0].text_content()
    assert source == "Source\u00a0: Cités et Gouvernements Locaux Unis (Actualités CGLU)"
    assert doc.cssselect("time")[0].text_content() == "19/11/2026"
    members = [a.text_content() for a in doc.cssselect("aside.follow details a")]
    assert "CGLU" in members and "Logement" in members
    digest = lxml.html.fromstring(site.digest_fr_html)
    assert [h.text_content() for h in digest.cssselect("h2")] == ["Logement"]
    assert "Actualités du réseau" in digest.cssselect(".site-title")[0].text_content()
    meta = digest.cssselect("td.item .meta")[0].text_content()
    # the member's tag "Housing" spells the topic: its label in the edition's language
    assert meta == "Logement - 19/11/2026"
    assert digest.cssselect("a.plus")[0].text_content() == "(+)"
    english = lxml.html.fromstring(site.digest_html)
    assert "Housing" in [h.text_content() for h in english.cssselect("h2")]


def test_the_combined_feed_names_each_member_in_the_posts_language(site: Site) -> None:
    root = lxml.etree.parse(str(site.out / "feed.atom")).getroot()
    authors = {
        entry.findtext(f"{ATOM}title"): entry.findtext(f"{ATOM}author/{ATOM}name")
        for entry in root.iter(f"{ATOM}entry")
    }
    assert authors["Le plan logement"] == "Cités et Gouvernements Locaux Unis"
    assert authors["El plan de vivienda"] == "Ciudades y Gobiernos Locales Unidos"
    assert authors["The housing plan"] == "United Cities and Local Governments"


def test_the_network_colours_and_logo_reach_page_and_digest(site: Site) -> None:
    css = (site.out / "static" / "brand.css").read_text(encoding="utf-8")
    assert "--brand: #7a1f2b" in css and "--accent: #f2b705" in css
    doc = _page(site, "fr/index.html")
    assert doc.cssselect("img.logo")[0].get("src") == "../static/logo.svg"
    assert (site.out / "static" / "logo.svg").is_file()
    masthead = lxml.html.fromstring(site.digest_fr_html).cssselect("td.masthead")[0]
    assert "background-color:#7a1f2b" in masthead.get("style").replace(" ", "")
    logo = masthead.cssselect("img")[0].get("src")
    assert logo == "https://news.example.org/static/logo.png"
    assert (site.out / "static" / "logo.png").is_file()


def test_the_page_links_the_member_pages_in_its_language(site: Site) -> None:
    doc = _page(site, "es/index.html")
    actions = {a.text_content(): a.get("href") for a in doc.cssselect("nav.actions a")}
    assert actions == {
        "Suscribirse al resumen": "../subscribe?lang=es",
        "Proponer un canal": "../submit?lang=es",
        "Fuentes": "../sources?lang=es",
    }
    follow = doc.cssselect("aside.follow")[0]
    assert [a.text_content() for a in follow.cssselect("p.follow-line a")][:3] == [
        "Atom",
        "RSS",
        "JSON Feed",
    ]


def test_labels_in_feeds_yaml_are_checked_with_their_line(tmp_path: Path) -> None:
    text = (
        "sources:\n"
        "  - id: a\n"
        "    name: A\n"
        "    organisation: {en: A, french: B}\n"
        "    url: https://a.example.org/feed\n"
    )
    with pytest.raises(ConfigError) as info:
        config.loads(text, tmp_path / "feeds.yaml")
    assert "feeds.yaml:4: sources[0].organisation_labels: organisation: not a language tag" in (
        str(info.value)
    )
    plain = config.loads(text.replace("{en: A, french: B}", "Plain"), tmp_path / "feeds.yaml")
    assert plain.sources[0].organisation_in("fr") == "Plain"


# --------------------------------------------------------------------------------------------
# The digest's size with 40 items and thumbnails


def test_forty_items_with_thumbnails_stay_under_gmails_clip(tmp_path: Path) -> None:
    from aggregator.newsletter.look import DigestLook
    from aggregator.newsletter.render import render_edition
    from aggregator.present.images import Stored

    settings = config.loads(
        "site: {title: Network news, base_url: 'https://news.example.org/'}\n"
        "digest: {editions: [{name: weekly, max_items: 40}]}\n",
        tmp_path / "feeds.yaml",
    )
    excerpt = " ".join(["Cities and regions share what works for housing and climate."] * 5)
    posts = [
        Post(
            id=f"p{i}",
            source_id="uclg",
            guid=None,
            title=f"Post {i}: cities act on housing",
            link=f"https://uclg.example.org/news/{i}",
            published=NOW - timedelta(hours=i),
            updated=NOW,
            first_seen=NOW,
            language="en",
            excerpt=excerpt[:300],
            content_html=f'<img src="https://uclg.example.org/{i}.jpg" alt="Photo {i}">',
            tags=("Housing", "Climate"),
            image=f"https://uclg.example.org/{i}.jpg",
        )
        for i in range(40)
    ]
    images = {
        p.image or "": Stored(f"{i:024x}", 1200, 800, (160, 320, 640)) for i, p in enumerate(posts)
    }
    rendered = render_edition(
        settings, settings.edition("weekly"), posts, {}, date=NOW, look=DigestLook(images=images)
    )
    size = len(rendered.html.encode("utf-8"))
    assert size < CLIP_BYTES < 102 * 1024
    assert len(rendered.post_ids) == 40, rendered.notes  # nothing moved to the site
    doc = lxml.html.fromstring(rendered.html)
    assert len(doc.cssselect("td.item img")) == 40
    assert len(doc.cssselect("a.plus")) == 40


# --------------------------------------------------------------------------------------------
# Machine translation: off by default, labelled when on


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def translate(self, text: str, source: str, target: str) -> str | None:
        self.calls.append((text, source, target))
        return None if target == "de" else f"[{target}] {text}"


def test_machine_titles_are_off_by_default_and_labelled_when_on(tmp_path: Path) -> None:
    from aggregator.publish.pages import Extras, render_page_set

    assert machine_titles("off") is None
    settings = config.loads("site: {title: N}\n", tmp_path / "feeds.yaml")
    assert settings.site.machine_translation == "off"
    engine = FakeEngine()
    titles = MachineTitles(engine)
    post = Post(
        id="p", source_id="s", guid=None, title="Le plan logement", link="https://m.org/fr/p",
        published=NOW, updated=NOW, first_seen=NOW, language="fr", excerpt="e", content_html="",
    )  # fmt: skip
    pages = render_page_set([post], {}, settings, [], None, Extras(machine=titles))
    doc = lxml.html.fromstring(pages["index.html"])
    assert doc.cssselect("p.machine")[0].text_content() == (
        "Machine-translated title: [en] Le plan logement"
    )
    assert doc.cssselect("h3.post-title")[0].text_content() == "Le plan logement"
    render_page_set([post], {}, settings, [], None, Extras(machine=titles))
    assert engine.calls == [("Le plan logement", "fr", "en")]  # remembered
    assert titles.title(post, "Le plan logement", "fr") == ""  # its own language
    assert titles.title(post, "Le plan logement", "de") == ""  # no pair: no line


def test_the_argos_adapter_uses_the_installed_language_pair() -> None:
    class Translation:
        def translate(self, text: str) -> str:
            return text.upper()

    class Language:
        def __init__(self, code: str) -> None:
            self.code = code

        def get_translation(self, other: Language) -> Translation | None:
            return Translation() if (self.code, other.code) == ("fr", "en") else None

    class Module:
        @staticmethod
        def get_installed_languages() -> list[Language]:
            return [Language("fr"), Language("en")]

    engine = ArgosEngine(loader=lambda name: Module)
    assert engine.translate("bonjour", "fr", "en") == "BONJOUR"
    assert engine.translate("hello", "en", "fr") is None
    assert engine.translate("hola", "es", "en") is None


def test_a_missing_engine_means_no_translated_titles() -> None:
    # Argos Translate is not installed here: the operator's choice is logged, nothing fails
    assert machine_titles("argos") is None
