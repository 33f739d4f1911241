"""Absolute, comparable URLs for post links, images and identities.

Feeds give links that are relative (to ``xml:base`` or to the document), carry campaign
parameters (``utm_source``…) that differ per newsletter, or use a scheme a browser would run
(``javascript:``, ``data:``).  Everything that stores, compares or republishes a URL goes through
here so that one story has one URL and only ``http``/``https`` ever leave this module.

Pure string work on the standard library: no network, no DNS.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

WEB_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# WHATWG URL parsing drops ASCII tab and newlines anywhere and trims C0 controls and spaces at
# the ends; doing the same means "java\tscript:" is seen as what a browser would run.
_STRIP_INSIDE = re.compile(r"[\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_URL = 4096

# Query parameters that only say which campaign or click brought the reader.  They make one
# article look like many and leak newsletter identities, so they never reach stored links.
_TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "mkt_tok", "_hsenc",
        "_hsmi", "hsctatracking", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv",
        "wt_mc", "wt.mc_id", "at_medium", "at_campaign", "rb_clickid", "s_cid", "_ga", "_gl",
        "ncid", "sr_share", "cmpid", "spm",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "ga_", "__s")

# An absolute web address that ``urljoin`` gives back unchanged whatever the base: the scheme
# in lower case, a host of letters, digits, dots and hyphens, a number for a port, a path from
# "/" without parameters (";"), a query and a fragment that are not empty, and no white space
# or control character anywhere.  ``urljoin`` returns such an address as it is (another
# scheme than the base's) or split and put back together (the same scheme), which gives the
# same text; most links in feeds are written so, and each is joined more than once.
_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[^\x00-\x20\x7f?#;]*)?"
    r"(?:\?[^\x00-\x20\x7f#]+)?(?:#[^\x00-\x20\x7f]+)?"
)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def plain_absolute(url: str) -> bool:
    """Whether every ``urljoin`` (and feedparser's) gives ``url`` back as it is."""
    return _PLAIN_ABSOLUTE.fullmatch(url) is not None


def join_url(base: str, url: str) -> str:
    """``urljoin(base, url)``, without parsing both when ``url`` is a plain absolute address.

    The same result by definition (``tests/test_urls_join.py`` compares them on generated
    addresses); feedparser's ``_urljoin`` also gives such an address back unchanged.
    """
    return url if plain_absolute(url) else urljoin(base, url)


def _clean(raw: str) -> str:
    if raw.isprintable():  # no tab, newline or control character: nothing for the regexes
        return raw.strip()
    return _CONTROL.sub("", _STRIP_INSIDE.sub("", raw)).strip()


@lru_cache(maxsize=4096)  # pure; a feed's base and links recur within a document
def absolute_url(url: str | None, base: str | None = None) -> str | None:
    """Resolve ``url`` against ``base`` and return it when it is http(s) with a host.

    Unlike :func:`canonicalize`, the query and fragment are left alone: image CDNs need their
    parameters, and this is what the sanitizer and image picker use.
    """
    if not url:
        return None
    cleaned = _clean(url)
    if not cleaned or len(cleaned) > _MAX_URL:
        return None
    try:
        if base and not plain_absolute(cleaned):  # else the join gives it back
            base_clean = _clean(base)
            if urlsplit(base_clean).scheme.lower() in WEB_SCHEMES:
                cleaned = urljoin(base_clean, cleaned)
        parts = urlsplit(cleaned)
        if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
            return None
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    return cleaned


def _host(parts_host: str) -> str | None:
    host = parts_host.lower().rstrip(".")
    if not host:
        return None
    if host.startswith("[") or host.isascii():
        # an IPv6 literal is kept as written; an ASCII name is what the idna codec would give
        # back (or refuse, and then it was kept as written too), without its Python-level cost
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


@lru_cache(maxsize=4096)
def canonicalize(url: str | None, base: str | None = None) -> str | None:
    """The one comparable form of a web link, or ``None`` when it is not a usable web link.

    Rules, in order: resolve against ``base``; only ``http``/``https`` with a host survive
    (``javascript:``, ``data:``, ``mailto:``… give ``None`` so the caller falls back); scheme and
    host lower-cased (host in IDNA ASCII form); user name and password dropped (they can make
    ``https://trusted.example@evil.example/`` look trustworthy); the scheme's default port
    dropped; the fragment dropped; tracking parameters removed while the other parameters
    keep their order; characters that are not allowed in a URL are percent-encoded.
    """
    absolute = absolute_url(url, base)
    if absolute is None:
        return None
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    host = _host(parts.hostname or "")
    if host is None:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = ""
    if parts.query:
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
        if len(kept) == len(pairs):
            query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
        elif kept:
            query = urlencode(kept, doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


@lru_cache(maxsize=4096)
def identity_key(canonical: str) -> str:
    """The part of a canonical link that names the article, for post identities.

    Scheme, a leading ``www.`` and a trailing slash are left out: sites move from http to
    https and add or drop ``www.`` without the article changing, and the post must keep its id.
    """
    parts = urlsplit(canonical)
    host = parts.netloc
    host = host.removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def is_web_url(value: str | None) -> bool:
    """True for an absolute http(s) URL with a host (a guid that can serve as a link)."""
    return absolute_url(value) is not None
