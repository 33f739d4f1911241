"""The address policy of ``ingest/netguard.py``, wired into aiohttp at three points.

``netguard.check_url`` vets a URL's spelling; what a name resolves to and which peer a socket
actually reaches are only known inside the client.  So every connection is checked:

* at resolution, by a resolver that drops the answers the policy refuses;
* at connection, by a socket factory that refuses a private address before ``connect``;
* before each request is written, by a connector that checks the socket's ``peername``, pooled
  connections included, so DNS rebinding cannot slip a private address in between.

A refusal is raised as an ``OSError`` (aiohttp wraps those into its connection errors) whose text
carries ``REFUSED_MARK``, by which ``outcome.describe_error`` recognises it.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Collection
from functools import lru_cache
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from aggregator.ingest.netguard import AddressPolicy, address_problem

REFUSED_MARK = "refused by the address policy"


class RefusedAddress(OSError):
    """Raised from the resolver and the socket factory; an OSError so aiohttp wraps it."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)  # strerror carries the reason into aiohttp's text


class AddressGuard:
    """The allowlist plus the exact endpoints it let through, for the connect-time check."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.endpoints: set[tuple[str, int]] = set()
        for host, port in policy.allowed:
            if _is_ip(host):
                self.endpoints.add((host, port))

    def check_endpoint(self, ip: str, port: int) -> None:
        problem = address_problem(ip)
        if problem is not None and (_canonical_ip(ip), port) not in self.endpoints:
            raise RefusedAddress(f"{REFUSED_MARK}: {problem}")

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """Called by aiohttp with the exact address it is about to connect to."""
        family, type_, proto, _, sockaddr = addr_info
        self.check_endpoint(str(sockaddr[0]), int(sockaddr[1]))
        return socket.socket(family=family, type=type_, proto=proto)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def _canonical_ip(ip: str) -> str:
    """``ip`` as ``ipaddress`` spells it; remembered, as it is asked at every connection (a
    tenth of a warm cycle's CPU went to parsing the same few addresses again)."""
    try:
        return str(ipaddress.ip_address(ip.split("%")[0]))
    except ValueError:
        return ip


class _GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and drops every answer the address policy refuses."""

    def __init__(self, guard: AddressGuard, inner: AbstractResolver) -> None:
        self._guard = guard
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        problems: list[str] = []
        for answer in answers:
            problem = self._guard.policy.refusal(answer["host"], port, host=host)
            if problem is not None:
                problems.append(problem)
                continue
            kept.append(answer)
            if address_problem(answer["host"]) is not None:  # allowed private: pin it
                self._guard.endpoints.add((_canonical_ip(answer["host"]), port))
        if not kept:
            reason = problems[0] if problems else "no address"
            message = f"{host} resolves only to refused addresses ({reason})"
            raise RefusedAddress(f"{REFUSED_MARK}: {message}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


class _GuardedConnector(aiohttp.TCPConnector):
    """Checks the peer of every connection, new or pooled, before a request is written to it."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._guard = guard

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        conn = await super().connect(req, traces, timeout)
        transport = conn.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        try:
            if not peer:
                raise RefusedAddress(f"{REFUSED_MARK}: the server's address is unknown")
            self._guard.check_endpoint(str(peer[0]), int(peer[1]))
        except RefusedAddress:
            conn.close()
            raise
        return conn


def connector_for(
    guard: AddressGuard, resolver: AbstractResolver | None, **kwargs: Any
) -> aiohttp.TCPConnector:
    """A connector checking every address through ``guard``; ``kwargs`` go to aiohttp."""
    inner = resolver or aiohttp.ThreadedResolver()
    return _GuardedConnector(
        guard,
        resolver=_GuardedResolver(guard, inner),
        socket_factory=guard.socket_factory,
        ttl_dns_cache=60,
        **kwargs,
    )


def guarded_connector(
    allow: Collection[str] = (), *, resolver: AbstractResolver | None = None
) -> aiohttp.TCPConnector:
    """A connector with the Fetcher's address checks, for our other aiohttp clients.

    The WebSub ping, for one, posts to an operator-given hub URL: ``check_url`` vets its
    spelling, this vets what the name resolves to and the peer actually reached.  Create it
    inside a running event loop and pass it as ``ClientSession(connector=..., trust_env=False)``.
    A refusal surfaces as ``aiohttp.ClientConnectorError`` whose text contains "refused".
    """
    return connector_for(AddressGuard(AddressPolicy.from_allow(allow)), resolver)
