"""The ``web`` section: how ``serve`` reads who is asking.

``trusted_proxies`` lists the addresses or networks (CIDR) of the reverse proxies in front of
``serve``.  Only a request whose TCP peer is one of them has its ``X-Forwarded-For`` believed
(``web.clients``); anyone else could write that header themselves and pick the address their
wrong passwords or previews are counted under.  Empty (the default): the peer is the client.

``head_deadline_s``, ``body_deadline_s`` and ``max_connections`` bound what a slow or greedy
client can hold (``web.limits``): a request head or body not received in time is dropped (the
body with a 408), and connections beyond the cap are closed as they open.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from aggregator.config._base import Strict

__all__ = ["WebSettings"]


def _network(item: str) -> str:
    """One entry, checked alone so that an error names its own line of the file."""
    try:
        ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ValueError(
            f"must be an IP address or a network such as 10.0.0.0/8, got {item!r}"
        ) from None
    return item


class WebSettings(Strict):
    trusted_proxies: list[Annotated[str, AfterValidator(_network)]] = Field(default_factory=list)
    head_deadline_s: float = Field(default=10.0, gt=0, le=300)
    body_deadline_s: float = Field(default=10.0, gt=0, le=300)
    max_connections: int = Field(default=4096, ge=16, le=1_000_000)

    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The trusted proxies as networks (a bare address is a network of one)."""
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies)
