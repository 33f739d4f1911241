"""The real client behind trusted proxies: the walk, the setting, and the rate limits using it."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from aggregator import config
from aggregator.config import WebSettings
from aggregator.errors import ConfigError
from aggregator.web.clients import real_client
from aggregator.web.members import add_member_routes
from tests.test_members_web import Recorder, csrf_of, feeds_yaml, form, run_app

__all__ = ["feeds_yaml"]  # the fixture, shared with the member pages' tests

PROXIES = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "2001:db8::/32", "127.0.0.1"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # no proxy in the way: the peer, whatever it claims
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # one trusted proxy: the address it appended
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # the client wrote a header of its own: the proxy appended the truth, read from the right
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
        # two trusted proxies in a row, across two header lines
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1", "10.9.9.9"], "198.51.100.1"),
        # an untrusted hop stops the walk even if trusted-looking addresses stand left of it
        ("10.0.0.2", ["10.1.1.1, 198.51.100.7, 10.3.3.3"], "198.51.100.7"),
        # every hop trusted: the leftmost one
        ("10.0.0.2", ["10.1.1.1"], "10.1.1.1"),
        # a trusted proxy behind no header: the proxy itself
        ("10.0.0.2", [], "10.0.0.2"),
        # junk written by a trusted proxy: counted under that proxy
        ("10.0.0.2", ["unknown"], "10.0.0.2"),
        # IPv6 with brackets and ports, IPv4 with a port, IPv4-mapped peers
        ("2001:db8::1", ["[2001:db8::5]:443, [2a00::1]:80"], "2a00::1"),
        ("10.0.0.2", ["198.51.100.1:5555"], "198.51.100.1"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_the_client_is_read_right_to_left_through_trusted_proxies_only(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert real_client(peer, forwarded, PROXIES) == client


def test_trusted_proxies_are_checked_with_the_line_of_a_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("web:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - proxy.local\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "feeds.yaml:4" in str(caught.value)
    assert "proxy.local" in str(caught.value)
    ok = tmp_path / "ok.yaml"
    ok.write_text("web:\n  trusted_proxies: [10.0.0.0/8, '::1']\n")
    assert config.load(ok).web.proxy_networks() == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )


def _app(feeds: Path, now: datetime, trusted: list[str], recorder: Recorder) -> web.Application:
    settings = config.load(feeds)
    settings = settings.model_copy(update={"web": WebSettings(trusted_proxies=trusted)})
    app = web.Application()
    add_member_routes(app, settings, clock=lambda: now, env={}, discoverer=recorder)
    return app


def test_behind_a_trusted_proxy_each_real_client_has_its_own_preview_limit(
    feeds_yaml: Path, now: datetime
) -> None:
    recorder = Recorder()

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        alice = {"X-Forwarded-For": "198.51.100.1"}
        statuses = [
            (await client.post("/submit", data=form(csrf=token), headers=alice)).status
            for _ in range(6)
        ]
        assert statuses == [422] * 5 + [429]
        bob = {"X-Forwarded-For": "198.51.100.2"}
        assert (await client.post("/submit", data=form(csrf=token), headers=bob)).status == 422
        # Alice cannot escape by writing another address of her own in front
        spoof = {"X-Forwarded-For": "192.0.2.77, 198.51.100.1"}
        assert (await client.post("/submit", data=form(csrf=token), headers=spoof)).status == 429

    run_app(_app(feeds_yaml, now, ["127.0.0.1"], recorder), body)
    assert len(recorder.calls) == 6


def test_without_trusted_proxies_a_forged_header_does_not_buy_more_previews(
    feeds_yaml: Path, now: datetime
) -> None:
    recorder = Recorder()

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        statuses = []
        for n in range(6):
            forged = {"X-Forwarded-For": f"198.51.100.{n}"}
            resp = await client.post("/submit", data=form(csrf=token), headers=forged)
            statuses.append(resp.status)
        assert statuses == [422] * 5 + [429]

    run_app(_app(feeds_yaml, now, [], recorder), body)


def test_the_session_cookie_is_secure_behind_a_trusted_proxy_that_ended_tls(
    feeds_yaml: Path, now: datetime
) -> None:
    from aggregator.web.session import SESSION_COOKIE

    async def body(client: TestClient[Any, Any]) -> None:
        tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1"}
        cookie = (await client.get("/submit", headers=tls)).cookies[SESSION_COOKIE]
        assert cookie["secure"]
        plain = (await client.get("/submit", headers={"X-Forwarded-Proto": "http"})).cookies
        assert not plain[SESSION_COOKIE]["secure"]

    run_app(_app(feeds_yaml, now, ["127.0.0.1"], Recorder()), body)


def test_an_untrusted_peer_cannot_claim_https(feeds_yaml: Path, now: datetime) -> None:
    from aggregator.web.session import SESSION_COOKIE

    async def body(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/submit", headers={"X-Forwarded-Proto": "https"})
        assert not resp.cookies[SESSION_COOKIE]["secure"]

    run_app(_app(feeds_yaml, now, [], Recorder()), body)
