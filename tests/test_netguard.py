"""The SSRF guard: every spelling of a private address is refused, public URLs pass unchanged.

``check_url`` is tested on its own, without resolving anything: no DNS lookup of a public name
ever happens here.
"""

from __future__ import annotations

import asyncio

import pytest

from aggregator.config import FetchSettings
from aggregator.errors import RefusedURLError
from aggregator.ingest.fetch import Fetcher
from aggregator.ingest.netguard import AddressPolicy, address_problem, check_url, is_public_address
from aggregator.models import FetchRequest, FetchResult, FetchStatus
from tests.test_fetch import FakeDNS

REFUSED = [
    # loopback, in every IPv4 spelling inet_aton accepts
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://0x7f.0x0.0x0.0x1/",
    "http://127.1/",
    "http://127.0.1/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://127.0.0.1./",
    "http://１２７.０.０.１/",  # full-width digits fold to 127.0.0.1
    # IPv6 loopback and IPv4 hidden in IPv6
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]:8080/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of the metadata address
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    # unspecified, private, link-local, metadata, shared, multicast, reserved, special
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://10.1.2.3/feed",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",  # 169.254.169.254 as one number
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://198.18.0.1/",
    "http://192.0.2.1/",
    # loopback names
    "http://localhost/",
    "http://LOCALHOST:8080/",
    "http://api.localhost/",
    # cloud metadata and private-use names, refused before any lookup
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    "http://metadata.goog/",
    "http://instance-data.ec2.internal/latest/meta-data/",
    "http://printer.local/",
    "http://nas.home.arpa/",
    # credentials
    "http://user:pass@example.com/",
    "http://user@example.com/",
    "http://example.com@127.0.0.1/",
    "http://example.com:80@10.0.0.1/",
    # schemes
    "file:///etc/passwd",
    "ftp://example.com/feed.xml",
    "gopher://example.com:70/_GET",
    "javascript:alert(1)",
    "data:text/xml,<rss/>",
    "example.com/feed",
    "//example.com/feed",
    # control characters, spaces, bidi
    "http://exa mple.com/",
    "http://example.com/feed\n",
    "http://example.com/\x00",
    "http://example.com\t/feed",
    " http://example.com/",
    "http://example.com/\u202efeed",
    "http:\\\\127.0.0.1\\",
    # missing or malformed hosts and ports
    "",
    "http://",
    "http:///feed",
    "http://:80/",
    "http://[::1/",
    "http://1.2.3.4.5/",
    "http://256.1.1.1/",
    "http://%31%32%37.0.0.1/",
    "http://exa..mple.com/",
    "http://-example.com/",
    "http://example.com:0/",
    "http://example.com:99999/",
    "http://example.com:8o/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_spellings(url: str) -> None:
    with pytest.raises(RefusedURLError) as info:
        check_url(url)
    assert str(info.value)  # a reason a person can read
    assert info.value.kind == "refused"


def test_there_are_at_least_forty_refused_spellings() -> None:
    assert len(REFUSED) >= 40


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/", "metadata"),
        ("http://100.64.0.1/", "shared"),
        ("http://10.1.2.3/", "private"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://user:pw@example.com/", "user names and passwords"),
        ("ftp://example.com/", "scheme ftp: is not allowed"),
        ("http://exa mple.com/", "space or control character"),
        ("http:///feed", "no host"),
        ("http://localhost/", "loopback name"),
        ("http://metadata.google.internal/", "cloud metadata service's name"),
        ("http://build.corp.internal/feed", "private network name"),
    ],
)
def test_reasons_are_readable(url: str, words: str) -> None:
    with pytest.raises(RefusedURLError, match=words):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://93.184.216.34/feed", "http://93.184.216.34/feed"),
        ("http://1572395042/rss", "http://93.184.216.34/rss"),
        ("http://0x5d.0xb8.0xd8.0x22/", "http://93.184.216.34/"),
        ("https://Example.COM/Feed?x=1&y=2#top", "https://example.com/Feed?x=1&y=2"),
        ("HTTP://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/rss", "https://example.com:8443/rss"),
        ("http://example.com./", "http://example.com/"),
        ("http://[2606:4700:4700:0::1111]/", "http://[2606:4700:4700::1111]/"),
        ("http://[::ffff:93.184.216.34]/", "http://[::ffff:5db8:d822]/"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("https://www.uclg.org/en/media/news/feed", "https://www.uclg.org/en/media/news/feed"),
        ("https://cemr.eu/feed/?lang=fr", "https://cemr.eu/feed/?lang=fr"),
        ("https://sub_domain.example.org/x", "https://sub_domain.example.org/x"),
        ("https://example.org/path/with%20escape", "https://example.org/path/with%20escape"),
        ("https://example.org/@user/feed", "https://example.org/@user/feed"),
    ],
)
def test_public_urls_are_accepted_and_normalised(url: str, normalised: str) -> None:
    assert check_url(url) == normalised


def test_allowlist_is_exact_host_and_port() -> None:
    allow = ["127.0.0.1:8080"]
    assert check_url("http://127.0.0.1:8080/feed", allow) == "http://127.0.0.1:8080/feed"
    # another spelling of the same host is the same host
    assert check_url("http://2130706433:8080/feed", allow) == "http://127.0.0.1:8080/feed"
    for url in (
        "http://127.0.0.1:8081/feed",  # another port
        "http://127.0.0.1/feed",  # the default port
        "http://localhost:8080/feed",  # another name for the same address
        "http://127.0.0.2:8080/feed",
    ):
        with pytest.raises(RefusedURLError):
            check_url(url, allow)


def test_allowlist_skips_only_the_address_rule() -> None:
    allow = ["127.0.0.1:8080", "localhost:80"]
    assert check_url("http://localhost/", allow) == "http://localhost/"
    for url in (
        "ftp://127.0.0.1:8080/",
        "http://user@127.0.0.1:8080/",
        "http://127.0.0.1:8080/\r\nX-Injected: 1",
        "https://localhost/",  # port 443, not 80
    ):
        with pytest.raises(RefusedURLError):
            check_url(url, allow)


def test_allowlist_entries_are_normalised_and_validated() -> None:
    policy = AddressPolicy.from_allow(["LocalHost:8080", "[::1]:9000", "0x7f.1:81"])
    assert policy.allowed == frozenset({("localhost", 8080), ("::1", 9000), ("127.0.0.1", 81)})
    assert check_url("http://[::1]:9000/", policy) == "http://[::1]:9000/"
    for bad in ("127.0.0.1", "127.0.0.1:http", "host:0", ":80", "exa mple:80"):
        with pytest.raises(ValueError):
            AddressPolicy.from_allow([bad])


@pytest.mark.parametrize(
    "ip",
    [
        "93.184.216.34",
        "8.8.8.8",
        "2606:4700:4700::1111",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
        "2002:5db8:d822::1",
    ],
)
def test_public_addresses(ip: str) -> None:
    assert is_public_address(ip)
    assert address_problem(ip) is None


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.5",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:100.64.0.1",
        "2002:0a00:0001::",
        "64:ff9b::7f00:1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:db8::1",
        "fe80::1%eth0",
        "not an ip",
    ],
)
def test_non_public_addresses(ip: str) -> None:
    assert not is_public_address(ip)
    assert address_problem(ip)


def test_policy_refusal_respects_the_allowlist() -> None:
    policy = AddressPolicy.from_allow(["feeds.test:8080"])
    assert policy.refusal("127.0.0.1", 8080, host="feeds.test") is None
    assert policy.refusal("127.0.0.1", 8081, host="feeds.test") is not None
    assert policy.refusal("127.0.0.1", 8080, host="other.test") is not None
    assert policy.refusal("93.184.216.34", 443, host="example.com") is None


def test_a_metadata_name_is_refused_before_any_dns_lookup() -> None:
    dns = FakeDNS("93.184.216.34")  # would answer with a public address: never asked
    request = FetchRequest("s", "http://metadata.google.internal/computeMetadata/v1/")

    async def go() -> FetchResult:
        async with Fetcher(FetchSettings(), user_agent="t", resolver=dns) as fetcher:
            return await fetcher.fetch(request)

    result = asyncio.run(go())
    assert result.status is FetchStatus.ERROR and "metadata" in (result.error or "")
    assert dns.asked == []
