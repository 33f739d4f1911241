"""The staff console over real HTTP: sign-in and lockout, roles, trusted proxies, takedowns,
source holds, curation seen by the CLI, moderation mails, password reset, accounts.

A real SQLite store, a real aiosmtpd server on 127.0.0.1, aiohttp's test client, clocks
injected (``Clock`` for the time of day, ``Ticks`` for the rate limiters)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.consoleapp import CSRF_RE, PASSWORD, ROLES, Console, feeds_yaml, post, seed
from tests.test_mail import SmtpServer

Body = Callable[[TestClient[Any, Any]], Awaitable[None]]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def console(tmp_path: Path, smtp: SmtpServer) -> Iterator[Console]:
    made = Console(feeds_yaml(tmp_path / "feeds.yaml", smtp), smtp)
    seed(
        made.open_store(),
        made.settings,
        [post(n) for n in range(1, 4)] + [post(n, "cemr") for n in range(1, 3)],
    )
    made.add_accounts()
    yield made
    made.close()


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
        ):
            resp = await client.get(path)
            assert resp.status == 200, (path, await resp.text())
        assert (await client.get("/console/console.css")).status == 200

    run(console.app(), body)
