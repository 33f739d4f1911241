"""Which URLs and addresses the aggregator may fetch from (the SSRF guard).

Feed URLs come from members, and redirects come from whoever answers them, so a fetch must never
be talked into reaching the machine itself, the office network or a cloud metadata service.  The
guard works in two places:

* ``check_url`` is a syntax gate run before any connection, on the configured URL and on every
  redirect target.  IP literals are read the way a browser or the C library would read them
  (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``, bracketed IPv6, IPv4-mapped IPv6), so
  that no odd spelling of a private address gets past the check and is then connected to.
* ``AddressPolicy.refusal`` judges a resolved address (and, in ``fetch``, the address the socket
  is about to connect to), so that a public name resolving to a private address is refused too,
  including when its DNS answer changes between two lookups (DNS rebinding).

The operator's allowlist (``fetch.allow_private`` in ``feeds.yaml``) names exact ``host:port``
pairs: the demo's and the tests' servers on 127.0.0.1.  An allowed pair skips the private-address
refusal for that host and port only; every other rule still applies.

Pure functions and the standard ``ipaddress`` module only: no I/O happens here.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from aggregator.errors import RefusedURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_HEX_RE = re.compile(r"^0[xX][0-9a-fA-F]*$")
_DEC_RE = re.compile(r"^[0-9]+$")
_ASCII_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f\\]")

# IPv4 ranges with a name an operator understands; checked before ipaddress's own flags.
_V4_RANGES: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "a 'this network' address (reaches the local host)"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "a loopback address"),
    (ipaddress.IPv4Network("169.254.169.254/32"), "the cloud metadata address"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "a link-local address"),
    (ipaddress.IPv4Network("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (ipaddress.IPv4Network("10.0.0.0/8"), "a private address"),
    (ipaddress.IPv4Network("172.16.0.0/12"), "a private address"),
    (ipaddress.IPv4Network("192.168.0.0/16"), "a private address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


# --------------------------------------------------------------------------------------------
# Addresses


@functools.lru_cache(maxsize=4096)
def address_problem(ip: str | IPAddress) -> str | None:
    """Why ``ip`` must not be connected to, or ``None`` when it is a public unicast address.

    Cached: the connector asks again for every request on a kept-alive connection.
    """
    try:
        addr = ip if not isinstance(ip, str) else ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return f"{ip!r} is not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        return _v6_problem(addr)
    return _v4_problem(addr)


def is_public_address(ip: str | IPAddress) -> bool:
    """True for a public unicast address, the only kind a member's feed may live on."""
    return address_problem(ip) is None


def _v4_problem(addr: ipaddress.IPv4Address) -> str | None:
    for network, label in _V4_RANGES:
        if addr in network:
            return f"{addr} is {label}"
    flags = (
        (addr.is_multicast, "a multicast address"),
        (addr.is_reserved, "a reserved address"),
        (addr.is_private, "a private or special-purpose address"),
        (not addr.is_global, "not a public address"),
    )
    return next((f"{addr} is {label}" for bad, label in flags if bad), None)


def _v6_problem(addr: ipaddress.IPv6Address) -> str | None:
    if addr.scope_id:
        return f"{addr} carries a zone index"
    inner = _embedded_v4(addr)
    if inner is not None:
        problem = _v4_problem(inner)
        if problem is not None:
            return f"{addr} embeds {problem}"
        if addr.ipv4_mapped is not None or addr in _NAT64:
            return None  # the same public IPv4 host, reached through IPv6
    if addr.teredo is not None:
        return f"{addr} is a Teredo tunnel address"
    flags = (
        (addr.is_unspecified, "the unspecified address"),
        (addr.is_loopback, "a loopback address"),
        (addr.is_link_local, "a link-local address"),
        (addr.is_site_local, "a site-local address"),
        (addr.is_multicast, "a multicast address"),
        (addr.is_private, "a private or special-purpose address"),
        (addr.is_reserved, "a reserved address"),
        (not addr.is_global, "not a public address"),
    )
    return next((f"{addr} is {label}" for bad, label in flags if bad), None)


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or NAT64 address leads to."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


# --------------------------------------------------------------------------------------------
# The operator's allowlist


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The ``host:port`` pairs allowed to be private, already normalised like ``check_url`` does."""

    allowed: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def from_allow(cls, allow: Collection[str] | AddressPolicy = ()) -> AddressPolicy:
        if isinstance(allow, AddressPolicy):
            return allow
        pairs = set()
        for item in allow:
            host, sep, port = item.strip().rpartition(":")
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"allow entries must be 'host:port', got {item!r}")
            try:
                name, _ = _normalise_host(host)
            except RefusedURLError as exc:
                raise ValueError(f"allow entry {item!r}: {exc}") from None
            pairs.add((name, int(port)))
        return cls(frozenset(pairs))

    def allows(self, host: str, port: int) -> bool:
        return (host.strip("[]").lower(), port) in self.allowed

    def refusal(self, ip: str, port: int, *, host: str | None = None) -> str | None:
        """Why connecting to ``ip:port`` (found for ``host``) is refused, or ``None``."""
        problem = address_problem(ip)
        if problem is None:
            return None
        if self.allows(host or ip, port):
            return None
        return problem


# --------------------------------------------------------------------------------------------
# URLs


def check_url(url: str, allow: Collection[str] | AddressPolicy = ()) -> str:
    """Return ``url`` normalised, or raise ``RefusedURLError`` saying why it may not be fetched.

    Syntax only: names are not resolved here (``fetch`` checks what they resolve to).  The
    returned URL has a lower-case scheme and host, IP literals in their canonical spelling, no
    default port, no fragment and a path of at least ``/``.
    """
    if not isinstance(url, str) or not url:
        raise RefusedURLError("empty URL")
    if len(url) > MAX_URL_LENGTH:
        raise RefusedURLError(f"URL longer than {MAX_URL_LENGTH} characters")
    if url.isascii():
        found = _ASCII_FORBIDDEN_RE.search(url)
        bad = found.group() if found else None
    else:
        bad = next((ch for ch in url if _is_forbidden_char(ch)), None)
    if bad is not None:
        raise RefusedURLError(f"URL contains a space or control character ({bad!r})")
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise RefusedURLError(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        shown = f"{scheme}:" if scheme else "(none)"
        raise RefusedURLError(f"scheme {shown} is not allowed (only http: and https:)")
    netloc = parts.netloc
    if "@" in netloc:
        raise RefusedURLError("user names and passwords in URLs are not allowed")
    raw_host = _split_host(netloc)
    if explicit_port == 0:
        raise RefusedURLError("port 0 is not a valid port")
    host, ip = _normalise_host(raw_host)
    port = explicit_port or DEFAULT_PORTS[scheme]
    policy = AddressPolicy.from_allow(allow)
    if not policy.allows(host, port):
        problem = address_problem(ip) if ip is not None else _name_problem(host)
        if problem is not None:
            raise RefusedURLError(problem)
    return _rebuild(scheme, host, ip, explicit_port, parts.path, parts.query)


def host_and_port(url: str) -> tuple[str, int]:
    """The host and effective port of a URL that ``check_url`` returned."""
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 80))


def _is_forbidden_char(ch: str) -> bool:
    if ch.isspace() or ch == "\\":
        return True
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs")


def _split_host(netloc: str) -> str:
    """The host part of an authority without userinfo, brackets kept."""
    if not netloc:
        raise RefusedURLError("the URL has no host")
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise RefusedURLError("unclosed '[' in the host")
        return netloc[: end + 1]
    host = netloc.rpartition(":")[0] if ":" in netloc else netloc
    if not host:
        raise RefusedURLError("the URL has no host")
    return host


@functools.lru_cache(maxsize=4096)
def _normalise_host(raw: str) -> tuple[str, IPAddress | None]:
    """Lower-case, IDNA-encode and read IP literals; return the host and its IP if it is one.

    Remembered for the last few thousand hosts: a cycle checks every feed's URL, and many
    feeds share a host (a platform, or the scale bench's 64 addresses).  A refusal raises,
    and is never remembered."""
    if raw.startswith("[") or ":" in raw:
        return _ipv6_host(raw)
    if "%" in raw:
        raise RefusedURLError("percent-encoded host names are not allowed")
    host = raw.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise RefusedURLError(f"invalid international host name {raw!r}") from None
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if _ends_in_number(labels):
        v4 = _parse_ipv4(labels, raw)
        return str(v4), v4
    if not host or len(host) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise RefusedURLError(f"invalid host name {raw!r}")
    return host, None


def _ipv6_host(raw: str) -> tuple[str, IPAddress]:
    inner = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
    if "%" in inner:
        raise RefusedURLError("IPv6 zone indexes are not allowed in URLs")
    try:
        addr = ipaddress.IPv6Address(inner)
    except ValueError:
        raise RefusedURLError(f"invalid IPv6 address {raw!r}") from None
    return str(addr), addr


def _ends_in_number(labels: list[str]) -> bool:
    """WHATWG's rule: a host whose last label is numeric must be an IPv4 address."""
    last = labels[-1]
    return bool(_DEC_RE.match(last) or _HEX_RE.match(last))


def _parse_ipv4(labels: list[str], raw: str) -> ipaddress.IPv4Address:
    """Read the legacy forms ``inet_aton`` accepts: 1-4 parts, each decimal, octal or hex."""
    if len(labels) > 4 or any(label == "" for label in labels):
        raise RefusedURLError(f"invalid IPv4 address {raw!r}")
    numbers = [_ipv4_part(label, raw) for label in labels]
    head, last = numbers[:-1], numbers[-1]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise RefusedURLError(f"invalid IPv4 address {raw!r} (a part is out of range)")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_part(label: str, raw: str) -> int:
    try:
        if _HEX_RE.match(label):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label, 8)
        return int(label, 10)
    except ValueError:
        raise RefusedURLError(f"invalid IPv4 address {raw!r}") from None


# Names refused before any DNS lookup: cloud metadata services answer on them (a resolver inside
# a cloud maps them to the metadata address, and a hostile one could map them anywhere), and the
# private-use suffixes (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal) never name a member's site.
METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
     "instance-data.ec2.internal", "metadata.azure.internal", "metadata.tencentyun.com"}
)  # fmt: skip
PRIVATE_SUFFIXES = (".internal", ".local", ".home.arpa", ".lan", ".intranet", ".corp")


def _name_problem(host: str) -> str | None:
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is a loopback name"
    if name in METADATA_NAMES:
        return f"{host} is a cloud metadata service's name"
    if name.endswith(PRIVATE_SUFFIXES):
        return f"{host} is a private network name"
    return None


def _rebuild(
    scheme: str, host: str, ip: IPAddress | None, port: int | None, path: str, query: str
) -> str:
    netloc = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    url = f"{scheme}://{netloc}{path or '/'}"
    return f"{url}?{query}" if query else url
