"""The staff console over real HTTP: sign-in and lockout, roles, trusted proxies, takedowns,
source holds, curation seen by the CLI, moderation mails, password reset, accounts.

A real SQLite store, a real aiosmtpd server on 127.0.0.1, aiohttp's test client, clocks
injected (``Clock`` for the time of day, ``Ticks`` for the rate limiters)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from aggregator.cli.main import main
from aggregator.newsletter.digest import preview
from tests.consoleapp import (
    CSRF_RE,
    PASSWORD,
    ROLES,
    T0,
    Console,
    post,
    seed,
    seeded_console,
    text_of,
)
from tests.test_mail import SmtpServer

Body = Callable[[TestClient[Any, Any]], Awaitable[None]]


@pytest.fixture
def console(tmp_path: Path, smtp: SmtpServer) -> Iterator[Console]:
    with seeded_console(tmp_path, smtp) as made:
        yield made


def run(app: web.Application, body: Body) -> None:
    async def go() -> None:
        async with TestClient(TestServer(app)) as client:
            await body(client)

    asyncio.run(go())


async def csrf(client: TestClient[Any, Any], path: str, **kw: Any) -> str:
    resp = await client.get(path, **kw)
    assert resp.status == 200, (path, resp.status)
    found = CSRF_RE.search(await resp.text())
    assert found is not None
    return found.group(1)


async def sign_in(client: TestClient[Any, Any], role: str, **kw: Any) -> None:
    token = await csrf(client, "/console/login", **kw)
    resp = await client.post(
        "/console/login",
        data={"csrf": token, "email": ROLES[role], "password": PASSWORD},
        allow_redirects=False,
        **kw,
    )
    assert resp.status == 303, await resp.text()


def test_every_page_answers_for_an_admin(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/console", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/console/login")
        await sign_in(client, "admin")
        for path in (
            "/console",
            "/console/sources",
            "/console/posts",
            "/console/editions",
            "/console/editions/weekly",
            "/console/editions/weekly/draft",
            "/console/moderation",
            "/console/users",
            "/console/account",
            "/console/log",
        ):
            resp = await client.get(path)
            assert resp.status == 200, (path, await resp.text())
        assert (await client.get("/console/console.css")).status == 200

    run(console.app(), body)


def login_form(token: str, role: str, password: str = PASSWORD) -> dict[str, str]:
    return {"csrf": token, "email": ROLES[role], "password": password}


# --------------------------------------------------------------------------------------------
# Signing in: lockout per account, limits per real client


def test_wrong_passwords_lock_the_account_for_longer_and_longer(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/console/login")
        statuses = []
        for _ in range(4):
            resp = await client.post("/console/login", data=login_form(token, "editor", "guess"))
            statuses.append(resp.status)
        assert statuses == [401, 401, 401, 429]  # three free tries, then a wait
        page = await resp.text()
        assert "try again in 15 seconds" in page
        assert resp.headers["Retry-After"] == "15"
        # while it waits, even the right password is refused, and unchecked
        resp = await client.post("/console/login", data=login_form(token, "editor"))
        assert resp.status == 429
        console.clock.advance(seconds=16)
        resp = await client.post("/console/login", data=login_form(token, "editor", "guess"))
        assert resp.status == 429 and resp.headers["Retry-After"] == "30"  # the delay doubles
        console.clock.advance(seconds=31)
        resp = await client.post(
            "/console/login", data=login_form(token, "editor"), allow_redirects=False
        )
        assert resp.status == 303 and resp.headers["Location"] == "/console"
        account = console.open_store().find_account(email=ROLES["editor"])
        assert account is not None and account.failures == 0 and account.locked_until is None

    run(console.app(), body)


def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/console/login")
        data = {"csrf": token, "email": "nobody@example.org", "password": PASSWORD}
        unknown = await client.post("/console/login", data=data)
        wrong = await client.post("/console/login", data=login_form(token, "admin", "guess"))
        assert unknown.status == wrong.status == 401
        assert "Wrong e-mail address or password." in await unknown.text()
        assert "Wrong e-mail address or password." in await wrong.text()

    run(console.app(), body)


def test_an_unknown_address_is_locked_out_like_an_account(console: Console) -> None:
    """Four wrong tries give the same lockout, wait and page whether the address has an
    account or not: the lockout never tells an attacker which addresses exist."""

    async def tries(client: TestClient[Any, Any], email: str) -> list[Any]:
        token = await csrf(client, "/console/login")
        data = {"csrf": token, "email": email, "password": "guess"}
        return [await client.post("/console/login", data=data) for _ in range(4)]

    async def body(client: TestClient[Any, Any]) -> None:
        known = await tries(client, ROLES["editor"])
        unknown = await tries(client, "nobody@example.org")
        assert [r.status for r in known] == [r.status for r in unknown] == [401, 401, 401, 429]
        assert known[-1].headers["Retry-After"] == unknown[-1].headers["Retry-After"] == "15"
        shown = [
            (await r.text()).replace(email, "")
            for r, email in ((known[-1], ROLES["editor"]), (unknown[-1], "nobody@example.org"))
        ]
        assert "try again in 15 seconds" in shown[1]
        assert shown[0] == shown[1]  # the same page, but for the address typed in

    run(console.app(), body)


def test_behind_a_trusted_proxy_one_locked_account_leaves_the_others_alone(
    console: Console,
) -> None:
    """Everyone arrives from the proxy's address; lockout is per account, limits per client."""
    console.trusted = ["127.0.0.1"]
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    colleague = {"X-Forwarded-For": "198.51.100.7"}

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/console/login", headers=attacker)
        for _ in range(10):
            resp = await client.post(
                "/console/login", data=login_form(token, "editor", "guess"), headers=attacker
            )
        assert resp.status == 429  # the editor's account waits
        # another account signs in through the same proxy at once
        other = await csrf(client, "/console/login", headers=colleague)
        resp = await client.post(
            "/console/login",
            data=login_form(other, "moderator"),
            headers=colleague,
            allow_redirects=False,
        )
        assert resp.status == 303

    run(console.app(logins_per_hour=10), body)


def test_the_login_limit_counts_real_clients_behind_the_proxy(console: Console) -> None:
    console.trusted = ["127.0.0.1"]
    sprayer = {"X-Forwarded-For": "203.0.113.66"}
    colleague = {"X-Forwarded-For": "198.51.100.7"}

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/console/login", headers=sprayer)
        emails = [f"guess{n}@network.example.org" for n in range(5)]
        for address in emails:  # one wrong password each for many accounts
            data = {"csrf": token, "email": address, "password": "guess"}
            assert (await client.post("/console/login", data=data, headers=sprayer)).status == 401
        data = {"csrf": token, "email": "guess9@network.example.org", "password": "guess"}
        blocked = await client.post("/console/login", data=data, headers=sprayer)
        assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
        # the colleague behind the same proxy is another client: not throttled
        other = await csrf(client, "/console/login", headers=colleague)
        resp = await client.post(
            "/console/login",
            data=login_form(other, "admin"),
            headers=colleague,
            allow_redirects=False,
        )
        assert resp.status == 303

    run(console.app(logins_per_hour=5), body)


def test_forms_need_the_sessions_token_and_admin_is_retired(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await csrf(client, "/console/login")
        resp = await client.post("/console/login", data=login_form("forged", "admin"))
        assert resp.status == 403
        await sign_in(client, "admin")
        for path in ("/console/posts/hide", "/console/editions/weekly/send", "/console/users"):
            resp = await client.post(path, data={"csrf": "forged", "post": "uclg-001"})
            assert resp.status == 403, path
        moved = await client.get("/admin", allow_redirects=False)
        assert moved.status == 301 and moved.headers["Location"] == "/console/moderation"
        slash = await client.get("/console/", allow_redirects=False)
        assert slash.status == 301 and slash.headers["Location"] == "/console"

    run(console.app(), body)


def test_signing_out_ends_the_session(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        token = await csrf(client, "/console")
        resp = await client.post("/console/logout", data={"csrf": token})
        assert resp.status == 200 and "You are signed out." in await resp.text()
        after = await client.get("/console", allow_redirects=False)
        assert after.status == 303

    run(console.app(), body)


def test_a_sign_in_ends_after_hours_without_activity(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        assert (await client.get("/console", allow_redirects=False)).status == 200
        console.clock.advance(hours=13)
        assert (await client.get("/console", allow_redirects=False)).status == 303

    run(console.app(), body)


# --------------------------------------------------------------------------------------------
# Roles


def test_a_moderator_cannot_reach_edition_sending(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "moderator")
        dashboard = await client.get("/console")
        text = await dashboard.text()
        assert dashboard.status == 200 and "/console/editions" not in text
        assert "/console/moderation" in text and "/console/posts" in text
        for path in ("/console/editions", "/console/editions/weekly", "/console/users"):
            resp = await client.get(path)
            assert resp.status == 403, path
            assert "Your role does not give access to this page." in await resp.text()
        token = await csrf(client, "/console/moderation")
        resp = await client.post("/console/editions/weekly/send", data={"csrf": token})
        assert resp.status == 403
        assert console.smtp.handler.received == []

    run(console.app(), body)


def test_an_editor_cannot_manage_accounts(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        assert (await client.get("/console/editions/weekly")).status == 200
        assert (await client.get("/console/users")).status == 403
        token = await csrf(client, "/console")
        data = {
            "csrf": token,
            "email": "new@network.example.org",
            "role": "admin",
            "language": "en",
        }
        assert (await client.post("/console/users", data=data)).status == 403
        assert console.open_store().find_account(email="new@network.example.org") is None

    run(console.app(), body)


def test_an_admin_adds_an_account_whose_owner_chooses_a_password(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "admin")
        token = await csrf(client, "/console/users")
        data = {
            "csrf": token,
            "email": "Lea@Network.example.org",
            "role": "moderator",
            "language": "fr",
        }
        resp = await client.post("/console/users", data=data)
        assert "its owner was sent a link" in await resp.text()
        [mail] = console.mails_to("lea@network.example.org")
        assert mail["Subject"] == "Un nouveau mot de passe pour Console test network"
        link = re.search(r"https://news\.example\.org(/console/reset/\S+)", text_of(mail))
        assert link is not None
        async with TestClient(TestServer(client.server.app)) as fresh:
            token2 = await csrf(fresh, link.group(1))
            form = {
                "csrf": token2,
                "password": "un mot de passe long",
                "password2": "un mot de passe long",
            }
            done = await fresh.post(link.group(1), data=form)
            assert (
                done.status == 200
                and "Votre nouveau mot de passe est enregistré" in await done.text()
            )
            again = await fresh.get(link.group(1))
            assert again.status == 410  # the link dies with the old password
        entries = console.open_store().audit_entries()
        assert [e.action for e in entries][:1] == ["account.add"]

    run(console.app(), body)


def test_a_forgotten_password_is_reset_by_a_link_that_works_once(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf(client, "/console/reset")
        for address in (ROLES["editor"], "nobody@example.org"):
            resp = await client.post("/console/reset", data={"csrf": token, "email": address})
            assert "a link to choose a new password is on its way" in await resp.text()
        [mail] = console.mails_to(ROLES["editor"])  # and none to the unknown address
        assert console.smtp.handler.to("nobody@example.org") == []
        path = re.search(r"https://news\.example\.org(/console/reset/\S+)", text_of(mail))
        assert path is not None
        link = path.group(1)
        token = await csrf(client, link)
        short = {"csrf": token, "password": "short", "password2": "short"}
        assert (await client.post(link, data=short)).status == 422
        new = "a brand new passphrase"
        differ = {"csrf": token, "password": new, "password2": new + "!"}
        assert "The two passwords differ." in await (await client.post(link, data=differ)).text()
        ok = await client.post(link, data={"csrf": token, "password": new, "password2": new})
        assert "Your new password is saved" in await ok.text()
        assert (await client.get(link)).status == 410
        login = await csrf(client, "/console/login")
        old = await client.post("/console/login", data=login_form(login, "editor"))
        assert old.status == 401
        fresh = await client.post(
            "/console/login", data=login_form(login, "editor", new), allow_redirects=False
        )
        assert fresh.status == 303
        # an hour later a link made now is dead too
        console.clock.advance(minutes=1)
        await client.post("/console/reset", data={"csrf": token, "email": ROLES["editor"]})
        late = re.search(r"(/console/reset/\S+)", text_of(console.mails_to(ROLES["editor"])[-1]))
        assert late is not None
        console.clock.advance(hours=1, minutes=1)
        assert (await client.get(late.group(1))).status == 410

    run(console.app(), body)


# --------------------------------------------------------------------------------------------
# Takedowns and source holds reach the outputs at the next publish


def test_hiding_a_post_takes_it_out_of_the_feed_and_logs_who_and_why(console: Console) -> None:
    from aggregator.publish.publisher import publish_all

    store, settings = console.open_store(), console.settings
    publish_all(store, settings, console.clock())
    feed = settings.output_dir / "feed.atom"
    assert "UCLG story 2" in feed.read_text(encoding="utf-8")

    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "moderator")
        page = await client.get("/console/posts", params={"q": "UCLG story 2"})
        text = await page.text()
        assert "UCLG story 2" in text and "UCLG story 1<" not in text
        token = await csrf(client, "/console/posts")
        missing = await client.post("/console/posts/hide", data={"csrf": token, "post": "uclg-002"})
        assert missing.status == 422  # a reason is required
        resp = await client.post(
            "/console/posts/hide",
            data={
                "csrf": token,
                "post": "uclg-002",
                "reason": "Personal data published by mistake",
            },
        )
        assert "The post is hidden." in await resp.text()
        log = await (await client.get("/console/log", params={"kind": "post"})).text()
        assert "post.hide" in log and "Personal data published by mistake" in log
        hidden = await client.get("/console/posts", params={"hidden": "1"})
        listed = await hidden.text()
        assert "Hidden by mo@network.example.org" in listed
        assert "Personal data published by mistake" in listed

    run(console.app(), body)
    publish_all(store, settings, console.clock())
    text = feed.read_text(encoding="utf-8")
    assert "UCLG story 2" not in text and "UCLG story 1" in text
    assert "UCLG story 2" not in (settings.output_dir / "index.html").read_text(encoding="utf-8")
    [entry] = store.audit_entries(target="post:uclg-002")
    assert [e.action for e in store.audit_entries(kind="post")] == ["post.hide"]
    assert store.audit_entries(kind="source") == []
    assert (entry.actor, entry.action, entry.reason) == (
        "mo@network.example.org",
        "post.hide",
        "Personal data published by mistake",
    )
    assert store.count_posts() == 5  # kept in the store


def test_disabling_a_source_hides_its_posts_and_stops_fetching_until_enabled(
    console: Console,
) -> None:
    from aggregator.cycle import run_cycle
    from aggregator.publish.publisher import publish_all

    store, settings = console.open_store(), console.settings

    def act(action: str, says: str) -> None:
        async def body(client: TestClient[Any, Any]) -> None:
            await sign_in(client, "editor")
            token = await csrf(client, "/console/sources")
            resp = await client.post(f"/console/sources/cemr/{action}", data={"csrf": token})
            assert resp.status == 200
            assert says in await resp.text()

        run(console.app(), body)

    act("disable", "Source cemr is disabled: it is not fetched")
    publish_all(store, settings, console.clock())
    assert "CEMR story 1" not in (settings.output_dir / "feed.atom").read_text(encoding="utf-8")
    report = run_cycle(settings, store, clock=console.clock, only=["cemr"])
    assert report.outcomes == ()  # not fetched while disabled
    act("enable", "Source cemr is back")
    publish_all(store, settings, console.clock())
    assert "CEMR story 1" in (settings.output_dir / "feed.atom").read_text(encoding="utf-8")


def test_the_sources_filters_show_what_they_say(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        token = await csrf(client, "/console/sources")
        await client.post("/console/sources/cemr/remove", data={"csrf": token})
        everything = await (await client.get("/console/sources")).text()
        removed = await (await client.get("/console/sources?show=removed")).text()
        assert 'id="source-uclg"' in everything and 'id="source-cemr"' not in everything
        assert 'id="source-cemr"' in removed and 'id="source-uclg"' not in removed
        await client.post("/console/sources/cemr/restore", data={"csrf": token})
        assert 'id="source-cemr"' in await (await client.get("/console/sources")).text()

    run(console.app(), body)


# --------------------------------------------------------------------------------------------
# Curation: stored with the issue, seen by the CLI, gone with the next issue


def titles(text: str) -> list[str]:
    return re.findall(r"^((?:UCLG|CEMR) story \d+)\r?$", text, flags=re.M)


def test_a_curated_issue_is_what_the_cli_sends_and_the_next_starts_clean(
    console: Console,
) -> None:
    async def curate(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        page = await (await client.get("/console/editions/weekly")).text()
        assert re.findall(r'id="item-([a-z]+-\d+)"', page) == [
            "cemr-001",
            "cemr-002",
            "uclg-001",
            "uclg-002",
            "uclg-003",
        ]
        token = await csrf(client, "/console/editions/weekly")
        for action, data in (
            ("exclude", {"post": "uclg-002"}),
            ("feature", {"post": "uclg-003"}),
            ("down", {"post": "cemr-001"}),
            ("note", {"note": "Welcome to the December issue.\n\nSee you in January."}),
            ("subject", {"subject": "December: {count} stories"}),
        ):
            resp = await client.post(
                f"/console/editions/weekly/{action}", data={"csrf": token, **data}
            )
            assert "Saved." in await resp.text(), action
        page = await (await client.get("/console/editions/weekly")).text()
        assert re.findall(r'id="item-([a-z]+-\d+)"', page) == [
            "uclg-003",
            "cemr-002",
            "cemr-001",
            "uclg-001",
        ]
        draft = await (await client.get("/console/editions/weekly/draft")).text()
        assert "Welcome to the December issue." in draft and "UCLG story 2" not in draft

    run(console.app(), curate)
    # a restart: the CLI reads the same curated issue from the store
    result = CliRunner().invoke(main, ["digest", "send", "weekly", "--config", str(console.path)])
    assert result.exit_code == 0, result.output
    [mail] = console.mails_to("reader1@example.org")
    assert mail["Subject"] == "December: 4 stories"
    text = text_of(mail)
    assert titles(text) == ["UCLG story 3", "CEMR story 2", "CEMR story 1", "UCLG story 1"]
    assert "Welcome to the December issue." in text and "See you in January." in text
    assert text.index("Featured") < text.index("UCLG story 3")

    async def next_issue(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        page = await (await client.get("/console/editions/weekly")).text()
        assert "Welcome to the December issue." not in page.split("Last issue sent")[0]
        assert "No post is waiting for this edition yet." in page
        assert "reader1@example.org" in page and "reader2@example.org" in page  # per recipient

    run(console.app(), next_issue)
    # the next issue, with posts of its own, goes out without last issue's note and subject
    store = console.open_store()
    last = store.last_edition("weekly")
    assert last is not None and last.sent
    fresh = [replace(post(n), first_seen=last.window_end + timedelta(hours=1)) for n in (10, 11)]
    seed(store, console.settings, fresh)
    files = preview(store, console.settings, "weekly", last.window_end + timedelta(hours=2))
    body = files.text_path.read_text(encoding="utf-8")
    assert titles(body) == ["UCLG story 10", "UCLG story 11"]
    assert "Welcome to the December issue." not in body
    assert files.edition.subject != "December: 2 stories"


# --------------------------------------------------------------------------------------------
# Moderation: the member hears the outcome in the language of the form they used


def submission(store: Any, lang: str, *, url: str, org: str, contact: str) -> int:
    from aggregator.store.submissions import NewSubmission

    preview_json = json.dumps({"title": f"{org} News", "format": "rss20", "entry_count": 3})
    new = NewSubmission(url, url + "feed.xml", org, contact, "en", preview_json, form_language=lang)
    ident: int = store.add_submission(new, T0)
    return ident


def test_approval_and_rejection_reach_the_member_in_their_forms_language(
    console: Console,
) -> None:
    store = console.open_store()
    approved = submission(
        store, "fr", url="https://hill.example/", org="Hillcrest", contact="web@hill.example"
    )
    rejected = submission(
        store, "es", url="https://spam.example/", org="Spam", contact="s@spam.example"
    )

    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "moderator")
        token = await csrf(client, "/console/moderation")
        resp = await client.post(f"/console/moderation/approve/{approved}", data={"csrf": token})
        assert "approved as source hillcrest. The member was told by e-mail." in await resp.text()
        resp = await client.post(
            f"/console/moderation/reject/{rejected}",
            data={"csrf": token, "reason": "No es una administración local"},
        )
        page = await resp.text()
        assert "rejected. The member was told by e-mail." in page
        assert "Nothing waiting for review." in page
        again = await client.post(f"/console/moderation/approve/{approved}", data={"csrf": token})
        assert again.status == 409

    run(console.app(), body)
    [yes] = console.mails_to("web@hill.example")
    assert yes["Subject"] == "Votre flux a été accepté : Console test network"
    assert "Ses articles paraîtront sur https://news.example.org/" in text_of(yes)
    [no] = console.mails_to("s@spam.example")
    assert no["Subject"] == "Su feed no ha sido aceptado: Console test network"
    assert "No es una administración local" in text_of(no)
    assert "hillcrest" in {s.id for s in console.settings.sources}
    actions = [(e.action, e.actor) for e in store.audit_entries()]
    assert ("submission.approve", ROLES["moderator"]) in actions


def test_the_command_line_tells_the_member_too(console: Console) -> None:
    store = console.open_store()
    ident = submission(
        store, "es", url="https://rio.example/", org="Río", contact="web@rio.example"
    )
    path = str(console.path)
    done = CliRunner().invoke(
        main, ["feeds", "reject", str(ident), "--reason", "Duplicado", "--config", path]
    )
    assert done.exit_code == 0, done.output
    assert "web@rio.example was told by e-mail" in done.output
    [mail] = console.mails_to("web@rio.example")
    assert mail["Subject"] == "Su feed no ha sido aceptado: Console test network"
    assert "Duplicado" in text_of(mail)


def test_test_copies_schedules_and_second_thoughts_on_an_issue(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        token = await csrf(client, "/console/editions/weekly")
        base = "/console/editions/weekly"

        async def post_(action: str, **data: str) -> str:
            resp = await client.post(f"{base}/{action}", data={"csrf": token, **data})
            return await resp.text()

        assert "Give one e-mail address" in await post_("test", to="not an address")
        assert "A test copy was sent to eli@x.example.org." in await post_(
            "test", to="eli@x.example.org"
        )
        [copy] = console.mails_to("eli@x.example.org")
        assert copy["Subject"].startswith("[TEST] ")
        assert console.mails_to("reader1@example.org") == []  # the ledger is untouched
        await post_("exclude", post="uclg-001")
        await post_("feature", post="cemr-002")
        assert "That post is no longer in the draft." in await post_("feature", post="uclg-001")
        await post_("include", post="uclg-001")
        page = await post_("unfeature")
        assert 'id="item-uclg-001"' in page and "No longer featured" not in page
        assert "The subject is too long." in await post_("subject", subject="x" * 301)
        assert "Give a date and a time" in await post_("schedule", send_at="tomorrow")
        assert "must be in the future" in await post_("schedule", send_at="2026-11-19T08:00")
        assert "The issue is scheduled." in await post_("schedule", send_at="2026-11-26T09:30")
        page = await (await client.get(base)).text()
        assert 'value="2026-11-26T09:30"' in page and "scheduled by hand" in page
        assert "no longer scheduled" in await post_("unschedule")
        assert (await client.get("/console/editions/monthly")).status == 404

    run(console.app(), body)


def test_an_admin_changes_roles_sends_links_and_removes_accounts(console: Console) -> None:
    store = console.open_store()
    eli = store.find_account(email=ROLES["editor"])
    ana = store.find_account(email=ROLES["admin"])
    assert eli is not None and ana is not None

    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "admin")
        token = await csrf(client, "/console/users")
        users = f"/console/users/{eli.id}"
        page = await (
            await client.post(f"{users}/role", data={"csrf": token, "role": "moderator"})
        ).text()
        assert "The role is changed." in page
        assert (
            await client.post(f"{users}/role", data={"csrf": token, "role": "god"})
        ).status == 422
        mine = await client.post(f"/console/users/{ana.id}/remove", data={"csrf": token})
        assert mine.status == 409  # never one's own account
        assert (
            "A link to choose a new password was sent."
            in await (await client.post(f"{users}/reset", data={"csrf": token})).text()
        )
        assert len(console.mails_to(ROLES["editor"])) == 1
        assert (
            "The account is removed."
            in await (await client.post(f"{users}/remove", data={"csrf": token})).text()
        )
        assert (await client.post(f"{users}/remove", data={"csrf": token})).status == 404
        duplicate = {"csrf": token, "email": ROLES["moderator"], "role": "editor", "language": "en"}
        assert (await client.post("/console/users", data=duplicate)).status == 409
        bad = {"csrf": token, "email": "nobody", "role": "editor", "language": "en"}
        assert (await client.post("/console/users", data=bad)).status == 422

    run(console.app(), body)
    assert store.find_account(email=ROLES["editor"]) is None
    assert [e.action for e in store.audit_entries()][:3] == [
        "account.remove",
        "account.reset",
        "account.role",
    ]


def test_changing_ones_own_password_signs_out_every_session(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "moderator")
        token = await csrf(client, "/console/account")
        new = "another long passphrase"
        wrong = {"csrf": token, "current": "nope", "password": new, "password2": new}
        assert (
            "The current password is wrong."
            in await (await client.post("/console/account", data=wrong)).text()
        )
        right = {"csrf": token, "current": PASSWORD, "password": new, "password2": new}
        done = await client.post("/console/account", data=right)
        assert "Your password was changed." in await done.text()
        assert (await client.get("/console", allow_redirects=False)).status == 303

    run(console.app(), body)


def test_a_hidden_post_is_shown_again(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "moderator")
        token = await csrf(client, "/console/posts")
        hide = {
            "csrf": token,
            "post": "cemr-001",
            "reason": "Wrong file",
            "back": "/console/posts?q=CEMR",
        }
        resp = await client.post("/console/posts/hide", data=hide, allow_redirects=False)
        assert resp.headers["Location"] == "/console/posts?q=CEMR&done=hidden"
        again = await client.post("/console/posts/hide", data=hide)
        assert again.status == 409
        show = {"csrf": token, "post": "cemr-001", "back": "https://evil.example/"}
        resp = await client.post("/console/posts/unhide", data=show, allow_redirects=False)
        assert resp.headers["Location"] == "/console/posts?done=shown"
        assert console.open_store().hidden_posts() == {}

    run(console.app(), body)


def test_the_dashboard_names_failing_sources_and_refused_deliveries(console: Console) -> None:
    from aggregator.models import EditionRecord, ErrorKind, RecipientState, SourceState

    store = console.open_store()
    failing = SourceState(
        "cemr",
        "https://cemr.example/feed.xml",
        last_fetch=T0,
        last_error="HTTP 503",
        last_error_kind=ErrorKind.HTTP_STATUS,
        last_error_params={"status": 503},
        consecutive_failures=3,
        failing_since=T0 - timedelta(days=2),
    )
    store.set_state(failing)
    edition = EditionRecord("weekly-old", "weekly", None, T0, T0, (), "Old", sent=True)
    store.save_edition(edition, ["gone@example.org"])
    store.mark_recipient(
        "weekly-old", "gone@example.org", RecipientState.FAILED, T0, error="550 no such user"
    )

    from aggregator.ops.cycles import CycleRecord, write_record

    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "admin")
        page = await (await client.get("/console")).text()
        assert "No cycle has finished yet." in page
        record = CycleRecord(T0 - timedelta(seconds=42), T0, 2, 1, 5, 0)
        console.settings.output_dir.mkdir(parents=True, exist_ok=True)
        write_record(console.settings.output_dir, record)
        page = await (await client.get("/console")).text()
        assert "Finished 2026-11-20 12:00 UTC, in 42 s" in page
        assert "Sources failing now" in page and "CEMR News" in page
        assert "550 no such user" in page and "gone@example.org" in page
        failing_only = await (await client.get("/console/sources?show=failing")).text()
        assert 'id="source-cemr"' in failing_only and 'id="source-uclg"' not in failing_only

    run(console.app(), body)


def test_the_scheduler_sends_a_hand_scheduled_issue_and_the_cron_waits_for_it(
    console: Console,
) -> None:
    from aggregator import jobs
    from aggregator.newsletter.curation import issue_key
    from aggregator.store.curation import Curation

    store, path = console.open_store(), str(console.path)
    key = issue_key("weekly", None)
    later = datetime(2099, 1, 1, tzinfo=UTC)  # far ahead of any clock this test runs under
    store.save_curation(
        Curation(key, "weekly", note="Held for Thursday.", send_at=later, updated=T0)
    )
    jobs.digest_job(path, "weekly")  # the usual Monday run leaves the issue alone
    assert console.mails_to("reader1@example.org") == []
    store.save_curation(Curation(key, "weekly", note="Held for Thursday.", send_at=T0, updated=T0))
    jobs.scheduled_job(path)  # its time has come
    [mail] = console.mails_to("reader1@example.org")
    assert "Held for Thursday." in text_of(mail)
    jobs.scheduled_job(path)  # handed out once
    assert len(console.mails_to("reader1@example.org")) == 1


# --------------------------------------------------------------------------------------------
# Subscribers (the list of issue #14, through subscribers.staff)


def test_staff_add_remove_search_and_export_subscribers(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        token = await csrf(client, "/console/subscribers")
        add = {"csrf": token, "email": "Nadia@Reader.example", "language": "fr"}
        assert (
            "Say where and when"
            in await (await client.post("/console/subscribers/add", data=add)).text()
        )
        add["reason"] = "Signed up at the general assembly, 12 March"
        page = await (await client.post("/console/subscribers/add", data=add)).text()
        assert "Nadia@Reader.example is on the list." in page
        again = await client.post("/console/subscribers/add", data=add)
        assert again.status == 409 and "on the list already" in await again.text()
        found = await (await client.get("/console/subscribers", params={"q": "nadia"})).text()
        assert "Nadia@Reader.example" in found and "subscribed" in found
        edition = await (await client.get("/console/editions/weekly")).text()
        assert "Send now to 3 recipients" in edition  # two in feeds.yaml, one on the list
        export = await client.get("/console/subscribers/export.csv", params={"q": "nadia"})
        assert export.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in export.headers["Content-Disposition"]
        rows = (await export.text()).splitlines()
        assert rows[0].startswith("address,language") and rows[1].startswith(
            "Nadia@Reader.example,fr"
        )
        gone = {"csrf": token, "email": "Nadia@Reader.example"}
        page = await (await client.post("/console/subscribers/remove", data=gone)).text()
        assert "is off the list and will not be added back" in page
        refused = await client.post("/console/subscribers/add", data=add)
        assert refused.status == 409 and "it is not added back" in await refused.text()
        missing = await client.post(
            "/console/subscribers/remove", data={"csrf": token, "email": "x@y.example"}
        )
        assert missing.status == 404

    run(console.app(), body)
    actions = [e.action for e in console.open_store().audit_entries(kind="subscriber")]
    assert actions == ["subscriber.remove", "subscriber.export", "subscriber.add"]


def test_a_moderator_does_not_see_the_subscribers(console: Console) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "moderator")
        assert (await client.get("/console/subscribers")).status == 403
        assert (await client.get("/console/subscribers/export.csv")).status == 403

    run(console.app(), body)


def test_bounces_show_on_the_dashboard_and_beside_the_recipient(console: Console) -> None:
    from aggregator.store.subscribers import Event
    from aggregator.subscribers import staff

    store, settings = console.open_store(), console.settings
    sub = staff.add(store, settings, "gone@reader.example", T0, language="en", note="test")
    assert not isinstance(sub, str)
    result = CliRunner().invoke(main, ["digest", "send", "weekly", "--config", str(console.path)])
    assert result.exit_code == 0, result.output
    last = store.last_edition("weekly")
    assert last is not None
    store.save_subscriber(sub, [Event("hard_bounce", T0, last.id, "550 5.1.1 no such user")])

    async def body(client: TestClient[Any, Any]) -> None:
        await sign_in(client, "editor")
        dashboard = await (await client.get("/console")).text()
        assert "Recent bounces" in dashboard and "550 5.1.1 no such user" in dashboard
        edition = await (await client.get("/console/editions/weekly")).text()
        row = edition[edition.index("gone@reader.example") :].split("</tr>")[0]
        assert "bounced" in row

    run(console.app(), body)
