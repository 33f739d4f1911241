"""The member pages (/submit, /sources) over real HTTP with aiohttp's test client.

The application is ``web.make_app`` itself (so the routes really come before the static
catch-all) except where a test needs the test-only ``discoverer`` hook of
``add_member_routes``.  Feeds are served by the real HTTP server on 127.0.0.1; the store is a
real SQLite file beside ``feeds.yaml``; ``feeds.yaml`` is read back after an approval.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from aggregator import config
from aggregator.cli.main import main
from aggregator.members import discover
from aggregator.models import ErrorKind
from aggregator.store import SqlStore, open_store
from aggregator.store.submissions import NewSubmission
from aggregator.web.app import CSP, make_app
from aggregator.web.members import add_member_routes
from aggregator.web.ratelimit import TokenBucket
from aggregator.web.session import SECRET_ENV, SECRET_FILE, SESSION_COOKIE
from tests.httpserver import FixtureServer
from tests.stores import at_head
from tests.test_discover import RSS, feed, fixture_text, quiet

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
DRAFT_RE = re.compile(r'name="draft" value="([^"]+)"')


@pytest.fixture(autouse=True)
def quiet_server(http_server: FixtureServer) -> None:
    quiet(http_server)


def loopback_discoverer(hostport: str) -> discover_fn:
    """The test-only hook: discovery that may reach the test server on 127.0.0.1.

    Production code never builds this; it is handed to ``add_member_routes`` as a Python
    argument, which no setting or request can change.
    """

    async def run(url: str, settings: config.Settings, now: datetime) -> Any:
        fetch = settings.fetch.model_copy(update={"allow_private": [hostport]})
        allowed = settings.model_copy(update={"fetch": fetch})
        return await discover.discover_async(url, allowed, member=False, now=now)

    return run


discover_fn = Callable[[str, config.Settings, datetime], Awaitable[Any]]


class Recorder:
    """A discoverer that answers a refusal at once and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, url: str, settings: config.Settings, now: datetime) -> Any:
        self.calls.append(url)
        return discover.Refusal(url, discover.RefusalKind.NOT_A_FEED, "not a feed: test")


@pytest.fixture
def feeds_yaml(http_server: FixtureServer, tmp_path: Path) -> Path:
    cemr = http_server.url("/cemr.xml")
    path = tmp_path / "feeds.yaml"
    text = fixture_text("feeds.yaml", allow=http_server.hostport, existing=cemr)
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture
def store(feeds_yaml: Path) -> Iterator[SqlStore]:
    opened = open_store(at_head(config.load(feeds_yaml).storage_url))
    yield opened
    opened.close()


def run_app(app: web.Application, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def go() -> None:
        async with TestClient(TestServer(app)) as client:
            await body(client)

    asyncio.run(go())


def member_app(
    feeds_yaml: Path, now: datetime, *, env: dict[str, str] | None = None, **kwargs: Any
) -> web.Application:
    app = web.Application()
    settings = config.load(feeds_yaml)
    add_member_routes(app, settings, clock=lambda: now, env=env or {}, **kwargs)
    return app


async def csrf_of(client: TestClient[Any, Any], path: str = "/submit", **kw: Any) -> str:
    resp = await client.get(path, **kw)
    assert resp.status == 200
    match = CSRF_RE.search(await resp.text())
    assert match is not None
    return match.group(1)


def form(**values: str) -> dict[str, str]:
    base = {
        "url": "https://www.city.example/",
        "organisation": "City of Riverside",
        "contact": "web@riverside.example",
        "language": "en",
    }
    base.update(values)
    return base


# --------------------------------------------------------------------------------------------
# The form, CSRF and limits


def test_form_sets_a_session_cookie_and_a_token_under_the_sites_csp(
    feeds_yaml: Path, now: datetime
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/submit")
        assert resp.status == 200
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        cookie = resp.cookies[SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert not cookie["secure"]  # plain http here: a Secure cookie would never come back
        page = await resp.text()
        assert CSRF_RE.search(page) and 'name="contact"' in page and "<script" not in page

    run_app(make_app(config.load(feeds_yaml)), body)


def test_post_without_a_valid_csrf_token_is_refused_before_any_fetch(
    feeds_yaml: Path, now: datetime
) -> None:
    recorder = Recorder()

    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/submit", data=form())  # no session, no token
        assert resp.status == 403
        token = await csrf_of(client)
        resp = await client.post("/submit", data=form(csrf="0" * 64))
        assert resp.status == 403
        # a token is only good with the session it was made for
        client.session.cookie_jar.clear()
        resp = await client.post("/submit", data=form(csrf=token))
        assert resp.status == 403
        assert recorder.calls == []

    run_app(member_app(feeds_yaml, now, discoverer=recorder), body)


def test_every_post_route_refuses_a_form_without_its_sessions_token(
    feeds_yaml: Path, store: SqlStore, now: datetime
) -> None:
    recorder = Recorder()
    app = member_app(feeds_yaml, now, discoverer=recorder)
    posts = [r.resource for r in app.router.routes() if r.method == "POST" and r.resource]
    # /submit, /submit/confirm (the console's: tests/test_console.py), and the subscription
    # pages' four: /subscribe, /subscribe/confirm, /preferences, /unsubscribe (whose handler
    # checks the token itself, for RFC 8058's one-click POST carries none)
    assert len(posts) == 6
    paths = [str(r.url_for()) for r in posts]

    async def body(client: TestClient[Any, Any]) -> None:
        await csrf_of(client)  # a session exists; its token is not sent
        for path in paths:
            for data in (form(), form(csrf="forged"), form(csrf="")):
                resp = await client.post(path, data=data)
                assert resp.status == 403, path
                assert "This form has expired or was not sent from this site" in await resp.text()

    run_app(app, body)
    assert recorder.calls == [] and store.list_submissions("pending") == []


def test_the_session_cookie_is_encrypted_and_bound_to_the_site_secret(
    feeds_yaml: Path, now: datetime
) -> None:
    recorder = Recorder()
    first, second = {SECRET_ENV: "a" * 40}, {SECRET_ENV: "b" * 40}
    issued: list[str] = []

    async def get_session(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/submit")
        token = CSRF_RE.search(await resp.text())
        assert token is not None
        cookie = resp.cookies[SESSION_COOKIE].value
        assert token.group(1) not in cookie and "csrf" not in cookie  # unreadable
        issued.extend([token.group(1), cookie])

    def post_with(cookie: str, expected: int) -> Callable[[TestClient[Any, Any]], Any]:
        async def body(client: TestClient[Any, Any]) -> None:
            headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
            resp = await client.post("/submit", data=form(csrf=issued[0]), headers=headers)
            assert resp.status == expected

        return body

    run_app(member_app(feeds_yaml, now, discoverer=recorder, env=first), get_session)
    cookie = issued[1]
    tampered = cookie[:-8] + ("A" if cookie[-8] != "A" else "B") + cookie[-7:]
    # another server with the same secret accepts the session (422: the test's refusal)
    run_app(member_app(feeds_yaml, now, discoverer=recorder, env=first), post_with(cookie, 422))
    run_app(member_app(feeds_yaml, now, discoverer=recorder, env=first), post_with(tampered, 403))
    run_app(member_app(feeds_yaml, now, discoverer=recorder, env=second), post_with(cookie, 403))
    assert len(recorder.calls) == 1


def test_the_session_cookie_is_secure_when_the_request_is_https(
    feeds_yaml: Path, now: datetime
) -> None:
    @web.middleware
    async def as_if_behind_tls(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request.clone(scheme="https"))
        return response

    async def body(client: TestClient[Any, Any]) -> None:
        cookie = (await client.get("/submit")).cookies[SESSION_COOKIE]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"

    app = member_app(feeds_yaml, now)
    app.middlewares.append(as_if_behind_tls)
    run_app(app, body)


def test_the_site_secret_is_made_on_the_first_member_page_only(
    feeds_yaml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret_file = feeds_yaml.parent / SECRET_FILE

    async def body(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/feed.atom")).status == 404  # static files need no secret
        assert not secret_file.exists()
        assert (await client.get("/submit")).status == 200
        assert secret_file.stat().st_mode & 0o777 == 0o600

    run_app(make_app(config.load(feeds_yaml)), body)


def test_rate_limit_per_client_with_an_injected_clock(feeds_yaml: Path, now: datetime) -> None:
    recorder = Recorder()
    clock = [1000.0]

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        statuses = []
        for _ in range(6):
            resp = await client.post("/submit", data=form(csrf=token))
            statuses.append(resp.status)
        assert statuses == [422] * 5 + [429]  # five refusals shown, then throttled
        assert int(resp.headers["Retry-After"]) > 0
        assert len(recorder.calls) == 5
        clock[0] += 3600 / 5  # one token back after a fifth of an hour
        assert (await client.post("/submit", data=form(csrf=token))).status == 422
        assert (await client.post("/submit", data=form(csrf=token))).status == 429

    app = member_app(feeds_yaml, now, discoverer=recorder, monotonic=lambda: clock[0])
    run_app(app, body)


def test_token_bucket_refills_and_keeps_clients_apart() -> None:
    t = [0.0]
    bucket = TokenBucket(2, 100.0, clock=lambda: t[0])
    assert [bucket.take("a"), bucket.take("a"), bucket.take("a")] == [True, True, False]
    assert bucket.take("b")
    t[0] = 50.0
    assert bucket.take("a") and not bucket.take("a")


def test_invalid_fields_and_oversized_input_are_refused_without_fetching(
    feeds_yaml: Path, now: datetime
) -> None:
    recorder = Recorder()

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        resp = await client.post("/submit", data=form(csrf=token, contact="not an address"))
        assert resp.status == 422
        assert "contact e-mail" in await resp.text()
        resp = await client.post("/submit", data=form(csrf=token, language="xx"))
        assert resp.status == 422
        resp = await client.post("/submit", data=form(csrf=token, organisation="A\x1bB"))
        assert resp.status == 422
        resp = await client.post("/submit", data=form(csrf=token, organisation="x" * 201))
        assert resp.status == 413
        resp = await client.post(
            "/submit", data=form(csrf=token, url="https://a.example/" + "a" * 20_000)
        )
        assert resp.status == 413
        assert recorder.calls == []

    run_app(member_app(feeds_yaml, now, discoverer=recorder), body)


@pytest.mark.slow  # the production wiring reads previews in a process it starts
def test_member_submission_of_loopback_is_refused_even_though_the_operator_allows_it(
    http_server: FixtureServer, feeds_yaml: Path, now: datetime
) -> None:
    feed_url = http_server.route("/news/feed.xml", feed(title="Loop", self_url="x"), headers=RSS)
    assert http_server.hostport in config.load(feeds_yaml).fetch.allow_private

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        resp = await client.post("/submit", data=form(csrf=token, url=feed_url))
        assert resp.status == 422
        page = await resp.text()
        assert f"We cannot add this address: {feed_url} is not a public web address" in page
        assert DRAFT_RE.search(page) is None

    run_app(make_app(config.load(feeds_yaml)), body)  # the production wiring
    assert http_server.hits("/news/feed.xml") == []


# --------------------------------------------------------------------------------------------
# Preview, confirm, queue


def submit_valid(
    http_server: FixtureServer,
    feeds_yaml: Path,
    now: datetime,
    organisation: str,
    **app_options: Any,
) -> tuple[str, str]:
    """Drive the form to a queued submission; (the preview page, the confirmation page)."""
    feed_url = http_server.url("/news/feed.xml")
    http_server.route(
        "/news/feed.xml", feed(title="Riverside News", self_url=feed_url), headers=RSS
    )
    pages: list[str] = []

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        resp = await client.post(
            "/submit", data=form(csrf=token, url=feed_url, organisation=organisation)
        )
        assert resp.status == 200, await resp.text()
        preview = await resp.text()
        draft = DRAFT_RE.search(preview)
        assert draft is not None
        resp = await client.post("/submit/confirm", data={"csrf": token, "draft": draft.group(1)})
        assert resp.status == 200
        pages.extend([preview, await resp.text()])
        # the same preview cannot be queued twice
        again = await client.post("/submit/confirm", data={"csrf": token, "draft": draft.group(1)})
        assert again.status == 410

    options = app_options or {"discoverer": loopback_discoverer(http_server.hostport)}
    run_app(member_app(feeds_yaml, now, **options), body)
    return pages[0], pages[1]


def test_valid_submission_shows_the_preview_and_is_queued(
    http_server: FixtureServer, feeds_yaml: Path, store: SqlStore, now: datetime
) -> None:
    preview, done = submit_valid(http_server, feeds_yaml, now, "Riverside <b>Council</b>")
    assert 'id="feed-title">Riverside News<' in preview
    assert 'id="feed-format">rss20<' in preview and 'id="feed-entries">4<' in preview
    latest = preview.split('<ol id="latest">')[1].split("</ol>")[0]
    assert latest.count("<li>") == 3  # the latest three entries
    assert "Riverside opens a green library" in preview
    assert "Riverside &lt;b&gt;Council&lt;/b&gt;" in preview  # autoescaped
    assert "<b>Council</b>" not in preview
    [queued] = store.list_submissions("pending")
    assert f'id="submission-id">{queued.id}<' in done
    assert queued.feed_url == http_server.url("/news/feed.xml")
    assert queued.contact == "web@riverside.example" and queued.language == "en"
    assert json.loads(queued.preview_json)["title"] == "Riverside News"


async def operator_discover(url: str, settings: config.Settings, now: datetime) -> Any:
    """Operator-mode discovery (feeds.yaml allows the test server), at module level so that it
    can be sent to the preview process, as the production discoverer is."""
    return await discover.discover_async(url, settings, member=False, now=now)


@pytest.mark.slow  # starts the preview process
def test_a_preview_read_in_the_preview_process_shows_the_feed(
    http_server: FixtureServer, feeds_yaml: Path, store: SqlStore, now: datetime
) -> None:
    """Previews run in a process of their own (so parsing never holds the server's interpreter
    lock); what the member sees and what is queued are the same as from a thread."""
    preview, done = submit_valid(
        http_server,
        feeds_yaml,
        now,
        "Riverside",
        discoverer=operator_discover,
        preview_process=True,
    )
    assert 'id="feed-title">Riverside News<' in preview and 'id="feed-entries">4<' in preview
    assert "Riverside opens a green library" in preview
    [queued] = store.list_submissions("pending")
    assert f'id="submission-id">{queued.id}<' in done


def test_a_feed_already_waiting_is_not_queued_twice(
    http_server: FixtureServer, feeds_yaml: Path, store: SqlStore, now: datetime
) -> None:
    feed_url = http_server.url("/news/feed.xml")
    store.add_submission(
        NewSubmission(feed_url, feed_url, "Riverside", "a@b.example", "en", "{}"), now
    )
    http_server.route("/news/feed.xml", feed(title="Riverside", self_url=feed_url), headers=RSS)

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        resp = await client.post("/submit", data=form(csrf=token, url=feed_url))
        assert resp.status == 422
        assert "waiting for review" in await resp.text()

    app = member_app(feeds_yaml, now, discoverer=loopback_discoverer(http_server.hostport))
    run_app(app, body)


# --------------------------------------------------------------------------------------------
# Moderation on the web: tests/test_console.py (the staff console replaced /admin)


# --------------------------------------------------------------------------------------------
# Command line


def cli(path: Path, *args: str) -> Any:
    command, *rest = args
    return CliRunner().invoke(main, ["feeds", command, "--config", str(path), *rest])


def test_cli_pending_approve_and_reject(feeds_yaml: Path, store: SqlStore, now: datetime) -> None:
    preview = json.dumps({"title": "Hillcrest News", "format": "atom10"})
    one = store.add_submission(
        NewSubmission(
            "https://hill.example/",
            "https://hill.example/feed.atom",
            "Hillcrest",
            "web@hill.example",
            "fr",
            preview,
        ),
        now,
    )
    two = store.add_submission(
        NewSubmission(
            "https://x.example/", "https://x.example/rss", "X", "x@x.example", "en", "{}"
        ),
        now,
    )
    listed = cli(feeds_yaml, "pending")
    assert listed.exit_code == 0
    assert f"{one}  " in listed.output and "Hillcrest News" in listed.output
    assert "contact=web@hill.example" in listed.output
    done = cli(feeds_yaml, "approve", str(one), "--no-mail")  # the mail: tests/test_console.py
    assert done.exit_code == 0, done.output
    assert "added source hillcrest" in done.output
    source = next(s for s in config.load(feeds_yaml).sources if s.id == "hillcrest")
    assert (source.url, source.language, source.contact) == (
        "https://hill.example/feed.atom",
        "fr",
        "web@hill.example",
    )
    again = cli(feeds_yaml, "approve", str(one))
    assert again.exit_code == 1 and "already approved" in again.output
    assert cli(feeds_yaml, "reject", str(two)).exit_code == 2  # --reason is required
    rejected = cli(feeds_yaml, "reject", str(two), "--reason", "Not a member", "--no-mail")
    assert rejected.exit_code == 0
    assert cli(feeds_yaml, "pending").output.strip() == "0 submission(s) waiting for review"
    missing = cli(feeds_yaml, "approve", "999")
    assert missing.exit_code == 1 and "no submission with id 999" in missing.output


# --------------------------------------------------------------------------------------------
# Source health


def test_sources_page_shows_each_sources_health(
    feeds_yaml: Path, store: SqlStore, now: datetime
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from aggregator.models import Post, SourceUpdate

    settings = config.load(feeds_yaml)
    store.sync_sources(settings.source_list())
    states = store.get_states()
    recent = now - timedelta(days=3)
    old = now - timedelta(days=40)
    posts = tuple(
        Post(
            id=f"uclg-{n}",
            source_id="uclg",
            guid=str(n),
            title=f"Post {n}",
            link=f"https://www.uclg.org/{n}",
            published=when,
            updated=when,
            first_seen=when,
            language="en",
            excerpt="",
            content_html="<p>x</p>",
            content_hash=str(n),
        )
        for n, when in enumerate([recent, recent, old])
    )
    store.apply_update(
        SourceUpdate("uclg", replace(states["uclg"], last_success=recent, last_fetch=recent), posts)
    )
    store.set_state(
        replace(
            states["cemr"],
            last_fetch=now,
            consecutive_failures=4,
            failing_since=recent,
            last_error="HTTP 500 <oops>",
        )
    )

    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/sources")
        assert resp.status == 200
        page = await resp.text()
        uclg = re.search(r'<tr id="source-uclg">(.*?)</tr>', page)
        cemr = re.search(r'<tr id="source-cemr">(.*?)</tr>', page)
        assert uclg is not None and cemr is not None
        assert ">ok<" in uclg.group(1) and re.search(r"<td[^>]*>2</td>", uclg.group(1))
        assert recent.strftime("%Y-%m-%d") in uclg.group(1)
        assert ">failing<" in cemr.group(1) and "HTTP 500 &lt;oops&gt;" in cemr.group(1)
        assert "source-vvsg" not in page  # disabled sources are not listed

    run_app(member_app(feeds_yaml, now), body)


# --------------------------------------------------------------------------------------------
# The visitor's language

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
ES = {"Accept-Language": "es-ES,es;q=0.9"}
NBSP = "\u00a0"


def texts(page: str, selector: str) -> list[str]:
    """The text of each element ``selector`` matches, ASCII white space folded (no-break
    spaces kept: French puts one before a colon)."""
    doc = lxml.html.fromstring(page)
    return [re.sub(r"[ \t\r\n]+", " ", e.text_content()).strip() for e in doc.cssselect(selector)]


def test_the_browser_language_and_then_the_visitors_choice_decide(
    feeds_yaml: Path, now: datetime
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        french = await (await client.get("/submit", headers=FR)).text()
        assert '<html lang="fr">' in french
        assert texts(french, "h1") == ["Proposez le flux de votre organisation"]
        assert texts(french, "#languages a") == ["English", "Français", "Español"]
        assert texts(french, "#languages a[aria-current]") == ["Français"]
        assert texts(french, "#language option") == ["English", "Français", "Español"]
        # the switch is a plain link; the choice outlasts the page and beats the browser
        chosen = await client.get("/submit?lang=es", headers=FR)
        assert chosen.headers["Content-Language"] == "es"
        page = await (await client.get("/sources", headers=FR)).text()
        assert '<html lang="es">' in page and texts(page, "h1") == ["Estado de las fuentes"]
        back = await (await client.get("/sources?lang=en", headers=FR)).text()
        assert '<html lang="en">' in back
        ignored = await (await client.get("/sources?lang=de", headers=FR)).text()
        assert '<html lang="en">' in ignored  # not offered: the choice kept stands

    run_app(make_app(config.load(feeds_yaml)), body)


def test_the_form_refuses_bad_input_in_french_and_spanish(feeds_yaml: Path, now: datetime) -> None:
    recorder = Recorder()

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client, headers=FR)
        bad = form(csrf=token, url="", organisation="", contact="not an address", language="xx")
        resp = await client.post("/submit", data=bad, headers=FR)
        assert resp.status == 422
        assert texts(await resp.text(), "#errors li") == [
            "Veuillez indiquer l’adresse de votre flux ou de votre site.",
            "Veuillez indiquer le nom de votre organisation.",
            "Veuillez indiquer une adresse électronique de contact, par exemple web@ville.example.",
            f"Veuillez choisir l’une des langues suivantes{NBSP}: English, Français, Español.",
        ]
        resp = await client.post("/submit", data=form(csrf=token, organisation="A\tB"), headers=ES)
        assert texts(await resp.text(), "#errors li") == [
            "Elimine de los campos los caracteres de control (saltos de línea, tabulaciones…)."
        ]
        resp = await client.post(
            "/submit", data=form(csrf=token, organisation="x" * 201), headers=FR
        )
        assert resp.status == 413
        assert texts(await resp.text(), "#message") == ["Le formulaire envoyé est trop volumineux."]
        assert recorder.calls == []

    run_app(member_app(feeds_yaml, now, discoverer=recorder), body)


def test_an_expired_form_or_preview_is_explained_in_the_visitors_language(
    feeds_yaml: Path, now: datetime
) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/submit", data=form(csrf="stale"), headers=FR)
        assert resp.status == 403
        assert texts(await resp.text(), "#message") == [
            "Ce formulaire a expiré ou n’a pas été envoyé depuis ce site. "
            "Veuillez recharger la page et réessayer."
        ]
        token = await csrf_of(client, headers=ES)
        resp = await client.post("/submit/confirm", data={"csrf": token, "draft": "x"}, headers=ES)
        assert resp.status == 410
        page = await resp.text()
        assert texts(page, "#message") == [
            "Esta vista previa ha caducado; vuelva a proponer la dirección."
        ]
        assert texts(page, "main a") == ["Volver al formulario"]
        # the switch reloads the form's own page: a link cannot repeat the POST
        switch = lxml.html.fromstring(page).cssselect("#languages a")
        assert [a.get("href") for a in switch] == [f"/submit?lang={c}" for c in ("en", "fr", "es")]

    run_app(member_app(feeds_yaml, now), body)


@pytest.mark.slow  # the production wiring reads previews in a process it starts
def test_a_production_refusal_is_worded_in_the_members_language(
    http_server: FixtureServer, feeds_yaml: Path
) -> None:
    feed_url = http_server.route("/news/feed.xml", feed(title="Loop", self_url="x"), headers=RSS)

    async def production(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client, headers=ES)
        resp = await client.post("/submit", data=form(csrf=token, url=feed_url), headers=ES)
        assert texts(await resp.text(), "#refusal") == [
            f"No podemos añadir esta dirección: {feed_url} no es una dirección web pública; "
            "solo se pueden leer direcciones públicas http y https"
        ]

    run_app(make_app(config.load(feeds_yaml)), production)


def test_a_refusal_is_worded_in_the_members_language(
    http_server: FixtureServer, feeds_yaml: Path, now: datetime
) -> None:
    missing = http_server.url("/missing.xml")
    http_server.route(
        "/", fixture_text("page-with-link.html"), headers={"Content-Type": "text/html"}
    )

    async def loopback(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client, headers=FR)
        resp = await client.post("/submit", data=form(csrf=token, url=missing), headers=FR)
        assert texts(await resp.text(), "#refusal") == [
            f"Nous ne pouvons pas ajouter cette adresse{NBSP}: nous n’avons pas pu la lire, car "
            "le serveur indique que cette adresse n’existe pas (HTTP 404)"
        ]
        home = http_server.url("/")
        resp = await client.post("/submit", data=form(csrf=token, url=home), headers=FR)
        advertised = http_server.url("/news/feed.xml")
        assert texts(await resp.text(), "#refusal") == [
            f"Nous ne pouvons pas ajouter cette adresse{NBSP}: la page signale le flux "
            f"{advertised}, mais nous n’avons pas pu le lire, car le serveur indique que "
            "cette adresse n’existe pas (HTTP 404)"
        ]

    http_server.route("/news/feed.xml", b"gone", status=404)
    app = member_app(feeds_yaml, now, discoverer=loopback_discoverer(http_server.hostport))
    run_app(app, loopback)


def test_sources_page_words_each_error_in_the_readers_language(
    feeds_yaml: Path, store: SqlStore, now: datetime
) -> None:
    store.sync_sources(config.load(feeds_yaml).source_list())
    states = store.get_states()
    failing = {
        "last_fetch": now,
        "consecutive_failures": 2,
        "failing_since": now - timedelta(days=1),
    }
    store.set_state(
        replace(
            states["cemr"],
            last_error="HTTP 503 Service Unavailable",
            last_error_kind=ErrorKind.HTTP_STATUS,
            last_error_params={"status": 503},
            **failing,  # type: ignore[arg-type]
        )
    )
    store.set_state(replace(states["uclg"], last_error="timed out after 20 s", **failing))  # type: ignore[arg-type]

    async def body(client: TestClient[Any, Any]) -> None:
        french = await (await client.get("/sources", headers=FR)).text()
        assert texts(french, "#source-cemr td")[2:5:2] == [
            "en erreur",
            "le serveur est temporairement indisponible (HTTP 503)",
        ]
        # an error stored before kinds existed is shown as it was stored
        assert texts(french, "#source-uclg td")[4] == "timed out after 20 s"
        spanish = await (await client.get("/sources", headers=ES)).text()
        assert texts(spanish, "#source-cemr td")[4] == (
            "el servidor no está disponible temporalmente (HTTP 503)"
        )
        english = await (await client.get("/sources")).text()
        assert texts(english, "#source-cemr td")[4] == (
            "the server is temporarily unavailable (HTTP 503)"
        )

    run_app(member_app(feeds_yaml, now), body)
