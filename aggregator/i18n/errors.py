"""A source's error in the reader's language: one phrase per ``ErrorKind``, filled from its
parameters.

What enters: the kind and parameters stored with a source (``SourceState.last_error_kind``,
``last_error_params``), the reader's language tag, and the English sentence stored beside them.
What leaves: one phrase, lower-case and without a final full stop, so that it reads the same in
a table cell (``/sources``), after "The last error was:" (owner notices) and after "We cannot
add this address:" (the member form).

Why kinds and not stored sentences: a sentence is written once, in one language, when the
error happens; a kind is worded each time someone reads it, in their language.  A state stored
before kinds existed (kind None), or with a kind this version does not know, reads as its
stored sentence; with neither, as "unknown error".  Missing parameters never fail: each phrase
has a form without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aggregator.i18n.catalogs import N_, Translator, translator
from aggregator.models import ErrorKind, ErrorParam

__all__ = ["describe_error", "size_text"]

Params = Mapping[str, ErrorParam]
_KIB = 1024
_MIB = 1024 * 1024


def describe_error(
    kind: ErrorKind | str | None,
    params: Params | None,
    language: str | None,
    stored: str | None = None,
) -> str:
    """The error in ``language`` (see the module docstring)."""
    t = translator(language)
    phrase = _PHRASES.get(str(kind)) if kind is not None else None
    if phrase is None:
        return stored or t.gettext("unknown error")
    return phrase(t, params or {})


def size_text(n: int, t: Translator) -> str:
    """A size limit as readers write it: ``5 MiB``, ``5 Mio``, ``512 KiB``, ``200 bytes``."""
    if n >= _MIB:
        return t.gettext("%(size)s MiB", size=t.number(round(n / _MIB, 1)))
    if n >= _KIB:
        return t.gettext("%(size)s KiB", size=t.number(round(n / _KIB, 1)))
    return t.ngettext("%(num)s byte", "%(num)s bytes", n)


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value else None


def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _refused(t: Translator, params: Params) -> str:
    url = _text(params, "url")
    if url is None:
        return t.gettext(
            "this is not a public web address; only public http and https addresses can be read"
        )
    return t.gettext(
        "%(url)s is not a public web address; only public http and https addresses can be read",
        url=url,
    )


def _dns(t: Translator, params: Params) -> str:
    host = _text(params, "host")
    if host is None:
        return t.gettext("the server name could not be found")
    return t.gettext("the server name %(host)s could not be found", host=host)


def _timeout(t: Translator, params: Params) -> str:
    seconds = params.get("seconds")
    if not isinstance(seconds, int | float):
        return t.gettext("the server did not answer in time")
    return t.gettext(
        "the server did not answer within %(seconds)s seconds", seconds=t.number(seconds)
    )


def _http_status(t: Translator, params: Params) -> str:
    status = _int(params, "status")
    if status is None:
        return t.gettext("the server answered with an error")
    if status == 404:
        return t.gettext(
            "the server answered that this address does not exist (HTTP %(status)s)",
            status=status,
        )
    if status in (401, 403):
        return t.gettext("the server refused access (HTTP %(status)s)", status=status)
    if status == 429:
        return t.gettext("the server asked us to come back later (HTTP %(status)s)", status=status)
    if status == 503:
        return t.gettext("the server is temporarily unavailable (HTTP %(status)s)", status=status)
    if 500 <= status < 600:
        return t.gettext("the server ran into an error of its own (HTTP %(status)s)", status=status)
    return t.gettext("the server answered with an error (HTTP %(status)s)", status=status)


def _bad_redirect(t: Translator, params: Params) -> str:
    status = _int(params, "status")
    if status is None:
        return t.gettext("the server redirects without saying where to")
    return t.gettext(
        "the server redirects without saying where to (HTTP %(status)s)", status=status
    )


def _too_many_redirects(t: Translator, params: Params) -> str:
    limit = _int(params, "limit")
    if limit is None:
        return t.gettext("the server redirects too many times in a row")
    return t.gettext(
        "the server redirects more than %(limit)s times in a row", limit=t.number(limit)
    )


def _too_large(t: Translator, params: Params) -> str:
    limit = _int(params, "limit")
    if limit is None:
        return t.gettext("the document is larger than our limit")
    return t.gettext("the document is larger than our limit of %(size)s", size=size_text(limit, t))


def _not_a_feed(t: Translator, params: Params) -> str:
    feeds = params.get("feeds")
    if isinstance(feeds, tuple) and feeds:
        return t.gettext(
            "this address is a web page, not a feed; the page points to these feeds: %(feeds)s",
            feeds=", ".join(feeds),
        )
    if params.get("page") == "html":
        return t.gettext("this address is a web page, not a feed, and the page points to no feed")
    selector = _text(params, "selector")
    if selector is not None:
        return t.gettext("no item on the page matches the selector %(selector)s", selector=selector)
    return t.gettext("the document is not an RSS, Atom or JSON feed")


def _fixed(message: str) -> Callable[[Translator, Params], str]:
    """A phrase without parameters (``message`` is marked for extraction where it is written)."""

    def phrase(t: Translator, params: Params) -> str:
        return t.gettext(message)

    return phrase


_PHRASES: dict[str, Callable[[Translator, Params], str]] = {
    ErrorKind.REFUSED: _refused,
    ErrorKind.DNS: _dns,
    ErrorKind.CONNECTION: _fixed(N_("the connection to the server failed or was cut off")),
    ErrorKind.TIMEOUT: _timeout,
    ErrorKind.TLS: _fixed(N_("the server's security certificate could not be verified")),
    ErrorKind.PROTOCOL: _fixed(N_("the server's answer is not valid HTTP")),
    ErrorKind.HTTP_STATUS: _http_status,
    ErrorKind.GONE: _fixed(N_("the server says the feed was removed for good (HTTP 410)")),
    ErrorKind.BAD_REDIRECT: _bad_redirect,
    ErrorKind.REDIRECT_LOOP: _fixed(N_("the server's redirects go round in a loop")),
    ErrorKind.TOO_MANY_REDIRECTS: _too_many_redirects,
    ErrorKind.TOO_LARGE: _too_large,
    ErrorKind.ENCODING: _fixed(N_("the server's answer is compressed in a way we cannot read")),
    ErrorKind.NO_VALIDATORS_304: _fixed(
        N_("the server answered “not modified” (HTTP 304) when we asked for the whole feed")
    ),
    ErrorKind.EMPTY: _fixed(N_("the server sent an empty document")),
    ErrorKind.NOT_A_FEED: _not_a_feed,
    ErrorKind.INVALID: _fixed(N_("the feed contains errors that keep it from being read")),
    ErrorKind.HOSTILE: _fixed(
        N_("the document was refused for safety: it is built to overload feed readers")
    ),
    ErrorKind.INTERNAL: _fixed(N_("an unexpected error occurred on our side")),
}
