"""Finding a member's feed from the URL they paste, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator import config
from aggregator.members.discover import (
    COMMON_PATHS,
    Candidate,
    Choices,
    Refusal,
    RefusalKind,
    discover,
    new_source,
)
from aggregator.members.refusals import refusal_reason
from aggregator.members.roster import NewSource
from aggregator.models import ErrorKind
from tests.conftest import DATA
from tests.httpserver import FixtureServer

MEMBERS = DATA / "members"
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM = {"Content-Type": "application/atom+xml"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


def quiet(server: FixtureServer) -> None:
    """Silence the server thread's tracebacks for connections the client reset.

    The fetcher closes kept-alive connections (and those whose error body it did not read), and
    ``socketserver`` then prints a ConnectionResetError traceback to ``sys.stderr``, which
    CliRunner would capture as the command's own stderr.  Other server errors still print.
    """
    report = server.httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    server.httpd.handle_error = handle_error  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def quiet_server(http_server: FixtureServer) -> None:
    quiet(http_server)


def fixture_text(name: str, **values: str) -> str:
    """A fixture with its @KEY@ placeholders filled in."""
    text = (MEMBERS / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", value)
    return text


def feed(name: str = "feed.rss", *, title: str, host: str = "city.example", self_url: str) -> str:
    return fixture_text(name, title=title, host=host, self=self_url)


def settings_for(
    tmp_path: Path, *, allow: str = "", sources: tuple[tuple[str, str], ...] = ()
) -> config.Settings:
    lines = ["fetch:", f"  allow_private: [{allow}]", "sources:" if sources else "sources: []"]
    for ident, url in sources:
        lines += [f"  - id: {ident}", f"    name: {ident}", f"    organisation: {ident}"]
        lines.append(f'    url: "{url}"')
    path = tmp_path / "feeds.yaml"
    return config.loads("\n".join(lines) + "\n", path)


def as_candidate(found: Candidate | Refusal) -> Candidate:
    assert isinstance(found, Candidate), found
    return found


def as_refusal(found: Candidate | Refusal) -> Refusal:
    assert isinstance(found, Refusal), found
    return found


def test_autodiscovery_follows_the_pages_alternate_link(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    feed_url = http_server.url("/news/feed.xml")
    http_server.route("/", fixture_text("page-with-link.html"), headers=HTML)
    http_server.route(
        "/news/feed.xml", feed(title="Riverside news", self_url=feed_url), headers=RSS
    )
    settings = settings_for(tmp_path, allow=http_server.hostport)

    found = as_candidate(discover(http_server.url("/"), settings, member=False, now=now))

    assert found.url == feed_url
    assert found.found_by == "advertised"
    assert (found.format, found.title, found.language) == ("rss20", "Riverside news", "en")
    assert found.entry_count == 4
    assert [e.title for e in found.latest] == [
        "Riverside opens a green library for its neighbourhoods",
        "Mayors meet on housing and local finance",
        "Climate plans: what small towns can learn from each other",
    ]
    first = found.latest[0]
    assert first.published == datetime(2026, 11, 16, 8, 30, tzinfo=UTC)
    assert first.link == "https://city.example/news/green-library"  # tracking parameter gone
    assert first.excerpt.startswith("The city council opened a new public library")
    assert http_server.hits("/feed") == []  # no guessing when the page says where its feed is


def test_common_path_is_tried_when_the_page_advertises_no_feed(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    atom_url = http_server.url("/atom.xml")
    http_server.route("/about/", fixture_text("page-no-link.html"), headers=HTML)
    http_server.route("/atom.xml", feed("feed.atom", title="Actualités", self_url=atom_url))
    settings = settings_for(tmp_path, allow=http_server.hostport)

    found = as_candidate(discover(http_server.url("/about/"), settings, member=False, now=now))

    assert (found.url, found.found_by, found.format) == (atom_url, "common path", "atom10")
    assert found.language == "fr"
    assert found.entry_count == 2
    assert found.latest[0].title == "Les villes partagent leurs budgets participatifs"
    assert http_server.hits("/feed") and http_server.hits("/rss.xml")


def test_page_without_any_feed_is_refused_as_not_a_feed(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    http_server.route("/", fixture_text("page-no-link.html"), headers=HTML)
    settings = settings_for(tmp_path, allow=http_server.hostport)

    refusal = as_refusal(discover(http_server.url("/"), settings, member=False, now=now))

    assert refusal.kind is RefusalKind.NOT_A_FEED
    assert "advertises no feed" in refusal.message and "/rss.xml" in refusal.message
    assert "\n" not in refusal.message
    assert (refusal.cause, refusal.searched) == (ErrorKind.NOT_A_FEED, COMMON_PATHS)
    assert refusal_reason(refusal, "es") == (
        f"{http_server.url('/')} es una página web que no remite a ningún canal, y ninguna de "
        "las direcciones de canal habituales de su sitio (/feed, /rss.xml, /atom.xml, "
        "/feed.xml, /index.xml, /feed/) contiene uno"
    )


def test_404_is_refused_as_not_reachable_with_the_http_error(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    settings = settings_for(tmp_path, allow=http_server.hostport)

    refusal = as_refusal(discover(http_server.url("/gone.xml"), settings, member=False, now=now))

    assert refusal.kind is RefusalKind.UNREACHABLE
    assert refusal.message == "not reachable: HTTP 404 Not Found"
    assert refusal.submitted == http_server.url("/gone.xml")
    assert (refusal.cause, refusal.params) == (ErrorKind.HTTP_STATUS, {"status": 404})
    assert refusal_reason(refusal, "en") == (
        "we could not read it, because the server answered that this address does not exist "
        "(HTTP 404)"
    )


def test_advertised_feed_that_fails_is_named_in_the_refusal(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    http_server.route("/", fixture_text("page-with-link.html"), headers=HTML)
    settings = settings_for(tmp_path, allow=http_server.hostport)

    refusal = as_refusal(discover(http_server.url("/"), settings, member=False, now=now))

    assert refusal.kind is RefusalKind.UNREACHABLE
    assert refusal.message == (
        f"the page advertises a feed, but {http_server.url('/news/feed.xml')}: HTTP 404 Not Found"
    )


@pytest.mark.parametrize(("status", "moved"), [(301, True), (308, True), (302, False)])
def test_only_a_permanent_redirect_changes_the_url_to_configure(
    http_server: FixtureServer, tmp_path: Path, now: datetime, status: int, moved: bool
) -> None:
    new = http_server.route("/new.xml", feed(title="Moved", self_url="https://m.example/f"))
    old = http_server.route("/old.xml", status=status, headers={"Location": "/new.xml"})
    settings = settings_for(tmp_path, allow=http_server.hostport)

    found = as_candidate(discover(old, settings, member=False, now=now))

    assert found.url == (new if moved else old)


def test_invalid_xml_is_refused(http_server: FixtureServer, tmp_path: Path, now: datetime) -> None:
    url = http_server.route("/broken.xml", (MEMBERS / "broken.xml").read_bytes(), headers=RSS)
    settings = settings_for(tmp_path, allow=http_server.hostport)

    refusal = as_refusal(discover(url, settings, member=False, now=now))

    assert refusal.kind is RefusalKind.NOT_A_FEED
    assert refusal.message.startswith("not a valid feed: feed is not well-formed XML")
    assert refusal_reason(refusal, "fr") == (
        "le flux n’est pas un XML bien formé\u00a0: une partie de ses articles serait perdue"
    )


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.7/feed", "http://169.254.169.254/latest/", "file:///etc/passwd"],
)
def test_private_and_odd_addresses_are_refused_before_any_connection(
    url: str, tmp_path: Path, now: datetime
) -> None:
    refusal = as_refusal(discover(url, settings_for(tmp_path), member=False, now=now))

    assert refusal.kind is RefusalKind.REFUSED
    assert refusal.message.startswith("refused address: ")
    assert (refusal.cause, refusal.params) == (ErrorKind.REFUSED, {"url": url})


def test_loopback_is_refused_when_the_operator_has_not_allowed_it(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    url = http_server.route("/feed.xml", feed(title="x", self_url="https://x.example/f"))

    refusal = as_refusal(discover(url, settings_for(tmp_path), member=False, now=now))

    assert refusal.kind is RefusalKind.REFUSED and "loopback" in refusal.message
    assert http_server.requests == []


def test_member_submission_never_uses_the_operators_allow_list(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    url = http_server.route("/feed.xml", feed(title="x", self_url="https://x.example/f"))
    settings = settings_for(tmp_path, allow=http_server.hostport)

    member = as_refusal(discover(url, settings, member=True, now=now))
    assert member.kind is RefusalKind.REFUSED and "loopback" in member.message
    assert http_server.requests == []  # refused before connecting

    operator = discover(url, settings, member=False, now=now)  # the same URL, staff running it
    assert as_candidate(operator).url == url


def test_member_submission_cannot_reach_loopback_through_a_page_link(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    """The page is fetched in member mode too, so this is refused at the first request."""
    http_server.route("/", fixture_text("page-with-link.html"), headers=HTML)
    settings = settings_for(tmp_path, allow=http_server.hostport)

    refusal = as_refusal(discover(http_server.url("/"), settings, member=True, now=now))

    assert refusal.kind is RefusalKind.REFUSED
    assert http_server.requests == []


def test_duplicate_by_canonical_url_is_refused_without_fetching(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    url = http_server.route("/feed.xml", feed(title="x", self_url="https://x.example/f"))
    settings = settings_for(tmp_path, allow=http_server.hostport, sources=(("riverside", url),))
    spelled = url.replace("http://", "HTTP://") + "?utm_source=newsletter#top"

    refusal = as_refusal(discover(spelled, settings, member=False, now=now))

    assert refusal.kind is RefusalKind.DUPLICATE and refusal.duplicate_of == "riverside"
    assert refusal.message.startswith("duplicate of source riverside")
    assert refusal_reason(refusal, "es") == (
        f"este canal ya forma parte de la red como fuente riverside ({url})"
    )
    assert http_server.requests == []


def test_duplicate_by_the_feeds_self_link_is_refused(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    configured = "https://www.city.example/news/feed.rss"
    url = http_server.route("/mirror.xml", feed(title="Mirror", self_url=configured), headers=RSS)
    settings = settings_for(tmp_path, allow=http_server.hostport, sources=(("city", configured),))

    refusal = as_refusal(discover(url, settings, member=False, now=now))

    assert refusal.kind is RefusalKind.DUPLICATE and refusal.duplicate_of == "city"
    assert "self link" in refusal.message
    assert refusal_reason(refusal, "fr") == (
        f"le flux indique comme adresse propre celle de la source city ({configured}), "
        "qui figure déjà dans le réseau"
    )


def test_duplicate_found_through_the_page_is_refused(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    """The member pastes the home page of a site whose feed is already configured."""
    feed_url = http_server.url("/news/feed.xml")
    http_server.route("/", fixture_text("page-with-link.html"), headers=HTML)
    http_server.route("/news/feed.xml", feed(title="N", self_url=feed_url), headers=RSS)
    settings = settings_for(tmp_path, allow=http_server.hostport, sources=(("city", feed_url),))

    refusal = as_refusal(discover(http_server.url("/"), settings, member=False, now=now))

    assert refusal.kind is RefusalKind.DUPLICATE and refusal.duplicate_of == "city"


def test_new_source_fills_defaults_and_refuses_bad_choices(tmp_path: Path) -> None:
    found = Candidate(
        submitted="https://cites.example/",
        url="https://cites.example/feed/",
        format="rss20",
        title="  Cités Unies\nFrance  ",
        homepage="https://cites.example/",
        language="fr",
        entry_count=3,
        latest=(),
    )
    settings = settings_for(tmp_path)

    new = new_source(found, Choices(tags=("coopération",)), settings, {"cites-unies-france"})
    assert new == NewSource(
        id="cites-unies-france-2",
        name="Cités Unies France",
        organisation="Cités Unies France",
        url="https://cites.example/feed/",
        homepage="https://cites.example/",
        language="fr",
        tags=("coopération",),
    )
    assert new_source(found, Choices(id="taken"), settings, {"taken"}) == (
        "id 'taken' is already used by another source"
    )
    bad = new_source(found, Choices(id="Not An Id"), settings, set())
    assert isinstance(bad, str) and bad.startswith("invalid source: id: must be lower-case")
