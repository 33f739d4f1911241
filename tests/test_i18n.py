"""Every word in the catalogs, and readers meeting their own language.

The catalog checks are what a translator's mistake or a developer's forgotten ``pybabel
extract`` looks like: a message missing from a catalog, an empty or fuzzy translation, a
placeholder lost, or a ``messages.pot`` that no longer matches the sources (re-extracted here
with Babel's Python API and ``babel.cfg``, exactly as CONTRIBUTING.md's command does).  The
rest reads French and Spanish pages, digests, notices and member pages as a reader would.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from aggregator.config import Settings
from aggregator.errors import ParseError
from aggregator.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    autonym,
    describe_error,
    long_date,
    number,
    numeric_date,
    preferred_language,
    render,
    supported,
    translator,
)
from aggregator.i18n.catalogs import catalog_path
from aggregator.ingest.failures import parse_failure
from aggregator.members.notify import Condition, Notice, notice_message, notices
from aggregator.members.preview import preview_warning
from aggregator.models import ErrorKind, Source, SourceState
from aggregator.newsletter.render import RenderedDigest, render_edition
from aggregator.publish.publisher import publish_all
from tests.test_digest import SOURCES
from tests.test_digest import make_post as digest_post
from tests.test_digest import make_settings as digest_settings
from tests.test_publish import build
from tests.test_publish import make_post as page_post

ROOT = Path(__file__).resolve().parent.parent
POT = LOCALE_DIR / "messages.pot"
NBSP = "\u00a0"
NNBSP = "\u202f"

# --------------------------------------------------------------------------------------------
# The catalogs


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _key(message: Message) -> str | tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (list, tuple)) else message.id


def _messages(catalog: Catalog) -> dict[str | tuple[str, ...], Message]:
    return {_key(m): m for m in catalog if m.id}


def _extracted() -> set[str | tuple[str, ...]]:
    """What ``pybabel extract -F babel.cfg .`` finds in the sources today."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _, _, message, _, _ in extract_from_dir(ROOT, method_map, options_map):
        found.add(tuple(message) if isinstance(message, (list, tuple)) else message)
    return found


def test_the_template_is_up_to_date_with_the_sources() -> None:
    in_pot = set(_messages(_read(POT)))
    extracted = _extracted()
    assert extracted - in_pot == set(), "new words: run pybabel extract (CONTRIBUTING.md)"
    assert in_pot - extracted == set(), "words no longer used: run pybabel extract"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalog_translates_every_message(language: str) -> None:
    expected = set(_messages(_read(POT)))
    catalog = _read(catalog_path(language), language)
    found = _messages(catalog)
    assert set(found) - expected == set(), "obsolete messages: run pybabel update"
    assert expected - set(found) == set(), "missing messages: run pybabel update, translate"
    assert not catalog.fuzzy, "the header is marked fuzzy"
    fuzzy = [m.id for m in found.values() if m.fuzzy]
    assert fuzzy == [], "fuzzy translations are ignored at run time: confirm or fix them"
    for message in found.values():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(strings) == (catalog.num_plurals if message.pluralizable else 1), message.id
        assert all(s.strip() for s in strings), f"empty translation of {message.id!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders_and_stay_plain_text(language: str) -> None:
    catalog = _read(catalog_path(language), language)
    assert [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()] == []
    for message in _messages(catalog).values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        braces = set(re.findall(r"\{\w+\}", ids[-1]))
        for text in strings:
            assert set(re.findall(r"\{\w+\}", text)) == braces, (message.id, text)
            # templates output a translation as trusted markup (newstyle gettext)
            assert not set(text) & set('<>&"'), (message.id, text)


def test_english_translations_are_the_english_source() -> None:
    for message in _messages(_read(catalog_path("en"), "en")).values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert set(strings) <= set(ids), message.id


# --------------------------------------------------------------------------------------------
# The API


def test_a_tag_reads_its_base_language_and_anything_else_reads_english() -> None:
    assert [supported(t) for t in ("fr-CA", "ES_es", "es", "pt", None, "")] == [
        "fr",
        "es",
        "es",
        "en",
        "en",
        "en",
    ]
    assert translator("fr-BE").gettext("Latest posts") == "Derniers articles"
    assert translator("pt").gettext("Latest posts") == "Latest posts"


def test_gettext_fills_parameters_and_ngettext_takes_the_language_plural() -> None:
    fr, es, en = translator("fr"), translator("es"), translator("en")
    assert fr.gettext("Page %(number)s", number=3) == "Page 3"
    assert es.gettext("Page %(number)s", number=3) == "Página 3"
    subject = "{site}: {count} new posts"
    assert fr.ngettext(subject, subject, 1) == f"{{site}}{NBSP}: {{count}} nouvel article"
    assert fr.ngettext(subject, subject, 0) == f"{{site}}{NBSP}: {{count}} nouvel article"
    assert fr.ngettext(subject, subject, 2) == f"{{site}}{NBSP}: {{count}} nouveaux articles"
    assert es.ngettext(subject, subject, 1) == "{site}: {count} nuevo artículo"
    assert es.ngettext(subject, subject, 0) == "{site}: {count} nuevos artículos"
    assert en.ngettext(subject, subject, 1) == "{site}: {count} new posts"


def test_dates_and_numbers_follow_the_language() -> None:
    day = date(2022, 3, 25)
    assert [long_date(day, lang) for lang in ("en", "fr", "es", "pt")] == [
        "March 25, 2022",
        "25 mars 2022",
        "25 de marzo de 2022",
        "March 25, 2022",
    ]
    assert {numeric_date(day, lang) for lang in LANGUAGES} == {"25/03/2022"}
    assert [number(1234567, lang) for lang in ("en", "fr", "es")] == [
        "1,234,567",
        f"1{NNBSP}234{NNBSP}567",
        "1.234.567",
    ]
    assert number(42, "fr") == "42"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE,de;q=0.9,es;q=0.5,en;q=0.4", "es"),
        ("en;q=0.2, fr;q=0.9", "fr"),
        ("es;q=0, en", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
        ("fr;q=bad, es", "es"),
    ],
)
def test_the_browser_language_is_chosen_among_the_offered_ones(
    header: str | None, expected: str
) -> None:
    assert preferred_language(header, ["en", "fr", "es"]) == expected


def test_languages_are_named_in_themselves() -> None:
    assert [autonym(t) for t in ("en", "fr", "es", "xx")] == [
        "English",
        "Français",
        "Español",
        "xx",
    ]


# --------------------------------------------------------------------------------------------
# Source errors: a kind and parameters, worded for each reader

TYPICAL_PARAMS: dict[ErrorKind, dict[str, object]] = {
    ErrorKind.REFUSED: {"url": "http://10.0.0.7/feed"},
    ErrorKind.DNS: {"host": "news.city.example"},
    ErrorKind.TIMEOUT: {"seconds": 1.5},
    ErrorKind.HTTP_STATUS: {"status": 404},
    ErrorKind.GONE: {"status": 410},
    ErrorKind.BAD_REDIRECT: {"status": 301},
    ErrorKind.REDIRECT_LOOP: {"url": "https://city.example/a"},
    ErrorKind.TOO_MANY_REDIRECTS: {"limit": 5},
    ErrorKind.TOO_LARGE: {"limit": 5 * 1024 * 1024},
    ErrorKind.NOT_A_FEED: {"page": "html", "feeds": ("https://city.example/rss",)},
}


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_error_kind_reads_in_every_language(kind: ErrorKind) -> None:
    for params in ({}, TYPICAL_PARAMS.get(kind, {})):
        english = describe_error(kind, params, "en")
        assert english and english == english.strip() and not english.endswith(".")
        assert "%(" not in english
        for language in ("fr", "es"):
            worded = describe_error(kind, params, language)
            assert worded != english, (kind, language)
            assert "%(" not in worded


def test_errors_speak_the_readers_language_with_their_numbers() -> None:
    assert describe_error(ErrorKind.HTTP_STATUS, {"status": 404}, "fr") == (
        "le serveur indique que cette adresse n’existe pas (HTTP 404)"
    )
    assert describe_error(ErrorKind.HTTP_STATUS, {"status": 502}, "es") == (
        "el servidor ha sufrido un error interno (HTTP 502)"
    )
    assert describe_error(ErrorKind.TIMEOUT, {"seconds": 1.5}, "es") == (
        "el servidor no ha respondido en el plazo de 1,5 segundos"
    )
    assert describe_error(ErrorKind.TOO_LARGE, {"limit": 256 * 1024}, "fr") == (
        "le document dépasse notre limite de 256 Kio"
    )
    assert describe_error(ErrorKind.TOO_LARGE, {"limit": 5 * 1024 * 1024}, "en") == (
        "the document is larger than our limit of 5 MiB"
    )
    feeds = ("https://city.example/rss", "https://city.example/atom")
    assert describe_error(ErrorKind.NOT_A_FEED, {"page": "html", "feeds": feeds}, "fr") == (
        f"cette adresse est une page web, pas un flux{NBSP}; la page signale les flux "
        f"suivants{NBSP}: https://city.example/rss, https://city.example/atom"
    )


def test_an_error_without_a_known_kind_reads_as_stored() -> None:
    stored = "HTTP 500 Internal Server Error"
    assert describe_error(None, {}, "fr", stored) == stored  # stored before kinds existed
    assert describe_error("quota_exceeded", {}, "es", stored) == stored  # a newer release's
    assert describe_error(None, None, "fr") == "erreur inconnue"
    assert describe_error(ErrorKind.HTTP_STATUS, {"status": "odd"}, "en") == (
        "the server answered with an error"  # a parameter of the wrong type is left out
    )


@pytest.mark.parametrize(
    ("message", "kind", "expected", "params"),
    [
        ("empty document: the server sent no content", "empty", ErrorKind.EMPTY, {}),
        (
            "not a feed: this is an HTML page; it advertises https://a.example/1, "
            "https://a.example/2, https://a.example/3, https://a.example/4",
            "not_a_feed",
            ErrorKind.NOT_A_FEED,
            {
                "page": "html",
                "feeds": ("https://a.example/1", "https://a.example/2", "https://a.example/3"),
            },
        ),
        (
            "not a feed: this is an HTML page and it advertises no feed",
            "not_a_feed",
            ErrorKind.NOT_A_FEED,
            {"page": "html"},
        ),
        (
            "not a feed: no item on the page matches the selector 'article.news'",
            "not_a_feed",
            ErrorKind.NOT_A_FEED,
            {"selector": "article.news"},
        ),
        (
            "not a feed: a JSON document that is not a JSON Feed",
            "not_a_feed",
            ErrorKind.NOT_A_FEED,
            {},
        ),
        (
            "document too large (9000000 bytes, limit 8388608)",
            "hostile",
            ErrorKind.TOO_LARGE,
            {"limit": 8388608},
        ),
        ("hostile document: prolog too long", "hostile", ErrorKind.HOSTILE, {}),
        ("invalid JSON Feed: no list of items", "invalid", ErrorKind.INVALID, {}),
        ("something new", "parse", ErrorKind.INVALID, {}),
    ],
)
def test_a_parse_error_becomes_a_kind_with_parameters(
    message: str, kind: str, expected: ErrorKind, params: dict[str, object]
) -> None:
    assert parse_failure(ParseError(message, kind)) == (expected, params)


# --------------------------------------------------------------------------------------------
# Public pages


def _page(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def _text(node: lxml.html.HtmlElement) -> str:
    """The node's text with runs of ASCII white space as one space (no-break spaces kept)."""
    return re.sub(r"[ \t\r\n]+", " ", node.text_content()).strip()


def test_french_and_spanish_pages_speak_their_language(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [page_post(n) for n in range(12)], page_size=2)
    publish_all(store, settings, now)
    out = settings.output_dir

    fr = _page(out / "fr" / "index.html")
    assert _text(fr.cssselect("h2#posts")[0]) == "Derniers articles"
    assert _text(fr.cssselect("aside.follow h2")[0]) == "Suivre"
    assert fr.cssselect("nav.languages")[0].get("aria-label") == "Langues"
    assert _text(fr.cssselect("nav.languages a")[0]) == "Toutes les langues"
    assert _text(fr.cssselect("a.button")[0]) == "S’abonner au résumé"
    assert _text(fr.cssselect("nav.pager li[aria-current]")[0]) == "Page 1 / 2"
    more = fr.cssselect("a.more")[0]
    # French puts a no-break space before a colon
    assert more.get("aria-label").startswith("Lire l’article complet\u00a0: Post ")
    assert _text(fr.cssselect(".source")[0]).startswith("Source\u00a0: ")

    es = _page(out / "es" / "page-2.html")
    assert _text(es.cssselect("h2#posts")[0]) == "Últimos artículos – Página 2"
    assert _text(es.cssselect("nav.pager li[aria-current]")[0]) == "Página 2 / 2"
    assert "Artículos más recientes" in _text(es.cssselect("nav.pager")[0])
    assert _text(es.cssselect("aside.follow h2")[0]) == "Seguir"
    assert _text(es.cssselect(".source")[0]).startswith("Fuente: ")
    assert " de " in es.cssselect("article.post time")[0].get("title")


# --------------------------------------------------------------------------------------------
# Digest


def _digest(tmp_path: Path, now: datetime, language: str | None, count: int) -> RenderedDigest:
    settings = digest_settings(tmp_path, language=language)
    posts = [
        digest_post(n, first_seen=now, language=language or "en", topics=()) for n in range(count)
    ]
    sources = {s.id: s for s in SOURCES}
    edition = settings.edition("weekly")
    return render_edition(settings, edition, posts, sources, date=now)


def test_a_french_digest_reads_french(tmp_path: Path, now: datetime) -> None:
    one = _digest(tmp_path, now, "fr", 1)
    two = _digest(tmp_path, now, "fr", 2)
    # a header is one line of plain spaces (mail.one_line), no-break spaces included
    assert one.subject == "Local governments network : 1 nouvel article"
    assert two.subject == "Local governments network : 2 nouveaux articles"
    text = two.text
    assert "Les nouveaux articles du réseau depuis la dernière édition." in text
    assert "Vous recevez ce résumé en tant qu’abonné·e aux nouvelles du réseau." in text
    assert "Voir sur le site\u00a0:\nhttps://news.network.example.org/fr/" in text
    doc = lxml.html.fromstring(two.html)
    assert "Se désabonner" in _text(doc.cssselect("td.footer")[0])
    assert "20 novembre 2026" in _text(doc.cssselect(".edition-date")[0])


def test_a_spanish_digest_reads_spanish(tmp_path: Path, now: datetime) -> None:
    rendered = _digest(tmp_path, now, "es", 3)
    assert rendered.subject == "Local governments network: 3 nuevos artículos"
    doc = lxml.html.fromstring(rendered.html)
    footer = _text(doc.cssselect("td.footer")[0])
    assert "Recibe este resumen como suscriptor de las noticias de la red." in footer
    assert "Ver en el sitio · Proponer un canal · Fuentes" in footer
    assert "Sus preferencias · Darse de baja" in footer
    assert "Los nuevos artículos de la red desde la última edición." in rendered.text


def test_the_english_default_subject_is_unchanged(tmp_path: Path, now: datetime) -> None:
    assert _digest(tmp_path, now, None, 1).subject == "Local governments network: 1 new posts"
    configured = digest_settings(tmp_path, language="fr", subject="{site} · {count} posts")
    rendered = render_edition(
        configured,
        configured.edition("weekly"),
        [digest_post(1, first_seen=now, language="fr")],
        {s.id: s for s in SOURCES},
        date=now,
    )
    assert rendered.subject == "Local governments network · 1 posts"  # the operator's words


# --------------------------------------------------------------------------------------------
# Owner notices


def _notice(language: str, condition: Condition, now: datetime) -> Notice:
    return Notice(
        source_id="ville",
        name="Actualités de la ville",
        contact="web@ville.example",
        condition=condition,
        url="https://ville.example/flux.xml",
        since=now - timedelta(days=8),
        detail="https://ville.example/nouveau.xml" if condition is Condition.MOVED else None,
        language=language,
    )


def _site(tmp_path: Path) -> Settings:
    return digest_settings(tmp_path)


def test_a_french_owner_reads_a_french_notice(tmp_path: Path, now: datetime) -> None:
    message = notice_message(_notice("fr-FR", Condition.FAILING, now), _site(tmp_path), now)
    subject = str(message["Subject"])
    assert subject == (
        "Local governments network : votre flux « Actualités de la ville » "
        "ne fonctionne plus depuis le 2026-11-12"
    )
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Bonjour,\n\nCe message concerne «")
    assert "Nous ne parvenons plus à lire votre flux https://ville.example/flux.xml" in body
    assert f"Dernière erreur constatée{NBSP}: inconnue." in body
    html = message.get_body(("html",)).get_content()
    assert "Vous recevez ce message car cette adresse est indiquée comme contact" in html


def test_an_owner_reads_the_last_error_in_their_language(tmp_path: Path, now: datetime) -> None:
    source = Source(
        "ville",
        "Actualités de la ville",
        "Ville",
        "https://ville.example/flux.xml",
        language="fr",
        contact="web@ville.example",
    )
    state = SourceState(
        "ville",
        source.url,
        last_error="HTTP 404 Not Found",
        last_error_kind=ErrorKind.HTTP_STATUS,
        last_error_params={"status": 404},
        failing_since=now - timedelta(days=8),
        consecutive_failures=30,
    )
    [notice] = notices([source], {"ville": state}, {}, now)
    body = notice_message(notice, _site(tmp_path), now).get_body(("plain",)).get_content()
    expected = "le serveur indique que cette adresse n’existe pas (HTTP 404)."
    assert f"Dernière erreur constatée{NBSP}: {expected}" in body
    older = replace(state, last_error_kind=None, last_error_params={})  # stored before kinds
    [notice] = notices([source], {"ville": older}, {}, now)
    body = notice_message(notice, _site(tmp_path), now).get_body(("plain",)).get_content()
    assert f"Dernière erreur constatée{NBSP}: HTTP 404 Not Found." in body


def test_a_spanish_owner_reads_a_spanish_notice(tmp_path: Path, now: datetime) -> None:
    message = notice_message(_notice("es", Condition.MOVED, now), _site(tmp_path), now)
    assert str(message["Subject"]) == (
        "Local governments network: su canal «Actualités de la ville» ha cambiado de dirección"
    )
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Hola:\n\n")
    assert "redirige ahora de forma permanente a https://ville.example/nouveau.xml." in body


# --------------------------------------------------------------------------------------------
# Member pages (their templates; the handlers pass the reader's language)


@pytest.fixture
def submit_context() -> dict[str, object]:
    return {
        "site_title": "Network",
        "css": "/static/site.css",
        "csrf": "token",
        "switch": (),
        "languages": [("en", "English"), ("fr", "Français"), ("es", "Español")],
        "values": {},
        "errors": [],
        "refusal": "<b>not a feed</b>",
        "limits": {"url": 2048, "organisation": 200, "contact": 254},
    }


def test_member_pages_speak_french_and_spanish(submit_context: dict[str, object]) -> None:
    fr = lxml.html.fromstring(render("members/submit.html", "fr", **submit_context))
    assert fr.get("lang") == "fr"
    assert _text(fr.cssselect("h1")[0]) == "Proposez le flux de votre organisation"
    assert _text(fr.cssselect("label[for=url]")[0]) == "Adresse du flux ou du site"
    assert _text(fr.cssselect("#preview")[0]) == "Aperçu"
    assert _text(fr.cssselect("nav.actions a[href^='/submit']")[0]) == "Proposer un flux"
    refusal = _text(fr.cssselect("#refusal")[0])
    assert refusal == f"Nous ne pouvons pas ajouter cette adresse{NBSP}: <b>not a feed</b>"

    es = lxml.html.fromstring(render("members/submit.html", "es", **submit_context))
    assert es.get("lang") == "es"
    assert _text(es.cssselect("h1")[0]) == "Proponga el canal de su organización"
    assert _text(es.cssselect("#preview")[0]) == "Vista previa"
    assert "Fuentes" in [_text(a) for a in es.cssselect("nav a")]


def test_member_pages_stay_english_by_default(submit_context: dict[str, object]) -> None:
    page = render("members/submit.html", **submit_context)
    assert '<html lang="en">' in page
    assert (
        "Submit your organisation&#39;s feed" in page or "Submit your organisation's feed" in page
    )
    assert "We cannot add this address: &lt;b&gt;not a feed&lt;/b&gt;" in page


def test_the_health_table_names_states_in_the_readers_language(now: datetime) -> None:
    rows = [
        {"id": "a", "name": "A", "organisation": "A", "state": "never fetched",
         "last_success": None, "last_error": None, "posts_30d": 1234},
        {"id": "b", "name": "B", "organisation": "B", "state": "failing",
         "last_success": now, "last_error": "HTTP 503", "posts_30d": 0},
    ]  # fmt: skip
    page = render("members/sources.html", "fr", rows=rows, site_title="N", css="/s.css", switch=())
    doc = lxml.html.fromstring(page)
    assert [_text(td) for td in doc.cssselect("td[class^=state-]")] == [
        "jamais consulté",
        "en erreur",
    ]
    assert doc.cssselect("td.state-never-fetched")  # the class stays the key
    assert [_text(th) for th in doc.cssselect("th")][:3] == ["Nom", "Organisation", "État"]
    assert _text(doc.cssselect("#source-a td")[-1]) == f"1{NNBSP}234"
    queued = render(
        "members/queued.html",
        "es",
        submission={"feed_url": "https://x.example/feed", "contact": "web@x.example"},
        ident=7,
        site_title="N",
        css="/s.css",
        switch=(),
    )
    text = _text(lxml.html.fromstring(queued).cssselect("#queued")[0])
    assert text.startswith("Su canal https://x.example/feed está pendiente de revisión")
    assert 'id="submission-id">7</strong>' in queued


@pytest.mark.parametrize(
    ("warning", "french"),
    [
        (
            "250 entries in the document; kept the newest 200",
            f"Le flux contient 250 articles{NBSP}; nous conservons les 200 plus récents.",
        ),
        (
            "an entry title longer than 1000 characters was cut",
            f"Le texte d’un article dépassait 1{NNBSP}000 caractères et a été tronqué.",
        ),
        (
            "an entry content nested deeper than 100 was made text",
            f"Le balisage d’un article était imbriqué trop profondément{NBSP}; "
            "il est affiché en texte brut.",
        ),
        (
            "declared character encoding us-ascii does not fit the document; read as utf-8",
            f"Le flux déclare un mauvais encodage de caractères{NBSP}; nous le lisons au mieux, "
            "mais certaines lettres accentuées peuvent s’afficher incorrectement.",
        ),
        (
            "removed a DOCTYPE with an internal subset; entities are never expanded",
            f"Le flux déclare des entités dans un DOCTYPE{NBSP}; nous l’avons retiré et ne "
            "développons jamais ces entités.",
        ),
        (
            "a warning of a new kind",
            f"Le flux présente un problème mineur, que nous avons contourné{NBSP}: "
            "a warning of a new kind",
        ),
    ],
)
def test_preview_warnings_read_in_the_members_language(warning: str, french: str) -> None:
    assert preview_warning(warning, "fr") == french
    assert preview_warning(warning, "es") != preview_warning(warning, "en")


def test_french_puts_a_no_break_space_before_double_punctuation() -> None:
    """French typography: ``complet : …``, ``Pourquoi ?`` with a no-break space, so the sign
    never wraps alone onto the next line.  Catalogs merged from several branches lost it once."""
    with catalog_path("fr").open("rb") as file:
        catalog = read_po(file)
    glued = re.compile(r"(?<=[^\s\xa0\u202f])[:;?!](?=\s|$)|(?<= )[:;?!](?=\s|$)")
    wrong = [
        text
        for message in catalog
        if message.id
        for text in (message.string if isinstance(message.string, tuple) else (message.string,))
        if glued.search(text)
    ]
    assert wrong == []
