"""Who is asking: the real client address behind trusted reverse proxies.

Every rate limit (``/submit`` previews, logins, and any later one) counts requests under the
address ``client_address`` returns.  Behind a reverse proxy the TCP peer is the proxy, so all
visitors would share one bucket: ten wrong passwords from anyone would stop everyone.  The
proxy says who its client was in ``X-Forwarded-For``, appending to whatever the client sent;
so the header is read right to left, and only as far as the addresses are trusted proxies
(``web.trusted_proxies`` in feeds.yaml).  The first address that is not a trusted proxy is the
client; anything to its left was written by that client and is ignored.  A request whose peer
is not a trusted proxy is counted under its peer, whatever headers it carries.

``install`` puts the trusted networks on the application; ``client_address`` reads them.  The
walk itself (``real_client``) is a pure function of the peer, the header and the networks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import hdrs, web

__all__ = ["TRUSTED_PROXIES", "Network", "client_address", "install", "real_client", "was_https"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])
_UNKNOWN = "unknown"


def install(app: web.Application, networks: Iterable[Network]) -> None:
    """Trust ``networks`` as reverse proxies for every rate limit of ``app``."""
    app[TRUSTED_PROXIES] = tuple(networks)


def client_address(request: web.Request) -> str:
    """The address a request is counted under (see the module docstring)."""
    trusted = request.app.get(TRUSTED_PROXIES, ())
    forwarded = request.headers.getall(hdrs.X_FORWARDED_FOR, [])
    return real_client(request.remote, forwarded, trusted)


def was_https(request: web.Request) -> bool:
    """Whether the visitor's own connection was https: the request's, or behind a trusted
    proxy that ended TLS, the last ``X-Forwarded-Proto`` it set (the session cookie is then
    marked Secure although the proxy spoke plain http to us)."""
    if request.secure:
        return True
    peer = _parse(request.remote or "")
    trusted = request.app.get(TRUSTED_PROXIES, ())
    if peer is None or not _trusted(peer, trusted):
        return False
    protos = [
        p for line in request.headers.getall("X-Forwarded-Proto", []) for p in line.split(",")
    ]
    return bool(protos) and protos[-1].strip().lower() == "https"


def real_client(peer: str | None, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address, from the peer and the ``X-Forwarded-For`` header lines.

    The peer is believed; each header entry, from the right, is believed only while the hop
    after it (to its right) is a trusted proxy.  An entry that is not an address stops the
    walk at the proxy that wrote it, so a broken proxy's clients share that proxy's count.
    """
    current = _parse(peer or "")
    if current is None:
        return peer or _UNKNOWN
    hops = [entry for line in forwarded for entry in line.split(",")]
    for entry in reversed(hops):
        if not _trusted(current, trusted):
            break
        previous = _parse(entry)
        if previous is None:
            break
        current = previous
    return str(current)


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def _parse(text: str) -> Address | None:
    """An address from a peer or header entry: spaces, ``[v6]``, ``v4:port`` and IPv4-mapped
    IPv6 forms are accepted; anything else (``unknown``, obfuscated names) is None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
