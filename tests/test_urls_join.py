"""``urls.join_url`` is ``urljoin`` (and feedparser's ``_urljoin``), whatever the addresses.

The join skips parsing for a plain absolute address (``urls.plain_absolute``): most links in
feeds are written so and each is joined several times on its way to a post.  The rule is only
right if ``urljoin`` really gives every such address back unchanged, against any base; the
cases here are the ones where it rewrites a look-alike (an empty query or fragment, ";"
parameters, an upper-case scheme, white space or controls, a port that is not a number).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin

import pytest
from feedparser.urls import _urljoin as feedparser_urljoin
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest.urls import join_url, plain_absolute

BASES = (
    "https://city.example/feed/",
    "http://city.example/a/b/c?x=1#f",
    "https://other.example",
    "",
    "ftp://files.example/",
    "mailto:press@city.example",
)

# pieces that make a URL look plain or almost plain
_PIECES = st.sampled_from(
    ["http", "https", "HTTP", "://", ":", "/", "//", ".", "..", "?", "#", ";", "&", "=", "@",
     "[", "]", "%20", " ", "\t", "\n", "\x01", "\x7f", "é", "a", "b", "city.example", "8080",
     "x=1", "index.html", "www"]
)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(
    url=st.one_of(
        st.lists(_PIECES, max_size=12).map("".join),
        st.text(max_size=40),
        st.builds(
            lambda scheme, rest: f"{scheme}://{rest}",
            st.sampled_from(["http", "https"]),
            st.lists(_PIECES, max_size=10).map("".join),
        ),
    ),
    base=st.sampled_from(BASES),
)
def test_property_the_join_is_urljoin(url: str, base: str) -> None:
    assert _outcome(join_url, base, url) == _outcome(urljoin, base, url)
    if plain_absolute(url):
        assert feedparser_urljoin(base, url) == url


def _outcome(join: Callable[[str, str], str], base: str, url: str) -> str:
    """The joined address, or the error it raises ("[" opens an IPv6 address)."""
    try:
        return join(base, url)
    except ValueError as exc:
        return f"ValueError: {exc}"


@pytest.mark.parametrize(
    "url",
    [
        "https://city.example/news/2026/budget?lang=fr#top",
        "http://city.example",
        "https://city.example:8443/a/b",
        "https://city.example/a/./b/../c",  # urljoin keeps dot segments of an absolute address
    ],
)
def test_plain_addresses_come_back_as_they_are(url: str) -> None:
    assert plain_absolute(url)
    for base in BASES:
        assert join_url(base, url) == url == urljoin(base, url)


@pytest.mark.parametrize(
    "url",
    [
        "https://city.example/a?",  # urljoin drops an empty query
        "https://city.example/a#",  # and an empty fragment
        "https://city.example/a;",  # and empty parameters
        "HTTPS://city.example/a",  # and lower-cases the scheme
        "https://city.example/a b",
        "https://city.example/a\tb",
        "https://user@city.example/a",
        "https://[::1]/a",
        "https://city.example:/a",
        "/relative/path",
        "//city.example/a",
    ],
)
def test_look_alikes_are_joined_the_long_way(url: str) -> None:
    assert not plain_absolute(url)
    assert join_url(BASES[0], url) == urljoin(BASES[0], url)
