"""Why a URL a member gave cannot be added: the ``Refusal`` record, and its words.

What enters: the failures ``discover`` meets (a fetch that failed, a document that is not a
feed, a page whose advertised feeds all failed, a feed already configured).  What leaves: a
``Refusal`` carrying its kind, the error behind it (an ``ErrorKind`` with its parameters) and
one English line for the command line; ``refusal_reason`` words the same refusal in the
member's language for the web form.

Why both: ``feeds add`` prints English to the operator, while a member reads the form in their
own language, so the words are chosen when the refusal is shown, not when it is made.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from aggregator.i18n import describe_error, translator
from aggregator.models import ErrorKind, ErrorParams, FetchResult, Source

__all__ = [
    "Failed",
    "Refusal",
    "RefusalKind",
    "advertised_failed",
    "duplicate_refusal",
    "fetch_failed",
    "refusal_of",
    "refusal_reason",
]

#: The advertised feeds a refusal names: enough to act on, few enough to read.
MAX_NAMED_FEEDS = 3


class RefusalKind(enum.StrEnum):
    NOT_A_FEED = "not_a_feed"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a URL cannot be added.  ``message`` is one English line (the CLI shows it); the
    member form words the same from ``kind``, ``cause`` and ``params`` (``refusal_reason``)."""

    submitted: str
    kind: RefusalKind
    message: str
    duplicate_of: str | None = None  # the configured source id, for DUPLICATE
    cause: ErrorKind | None = None  # what failed: the fetch or the parse behind the refusal
    # the cause's parameters; for DUPLICATE, the source's ``url`` and ``how`` it matched
    params: ErrorParams = field(default_factory=dict)
    advertised: tuple[str, ...] = ()  # a page's advertised feeds, none of which could be read
    searched: tuple[str, ...] = ()  # the common paths tried on a page that advertises none


@dataclass(frozen=True, slots=True)
class Failed:
    """One try that found no feed: the refusal's kind, its English reason and its cause."""

    kind: RefusalKind
    reason: str
    cause: ErrorKind | None
    params: ErrorParams = field(default_factory=dict)
    advertised: tuple[str, ...] = ()
    searched: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Making refusals


def fetch_failed(result: FetchResult) -> Failed:
    """A fetch that did not end in a body: refused by the address policy, or unreachable."""
    refused = result.error_kind is ErrorKind.REFUSED
    return Failed(
        RefusalKind.REFUSED if refused else RefusalKind.UNREACHABLE,
        result.error or f"HTTP {result.http_status}",
        result.error_kind,
        result.error_params,
    )


def advertised_failed(links: tuple[str, ...], failures: list[Failed]) -> Failed:
    """Every feed a page advertises failed: one refusal naming them, caused by the first."""
    kinds = {f.kind for f in failures}
    kind = kinds.pop() if len(kinds) == 1 else RefusalKind.NOT_A_FEED
    reasons = "; ".join(f"{link}: {f.reason}" for link, f in zip(links, failures, strict=True))
    first = failures[0]
    reason = "the page advertises a feed, but " + reasons
    return Failed(kind, reason, first.cause, first.params, links[:MAX_NAMED_FEEDS])


def refusal_of(submitted: str, failed: Failed) -> Refusal:
    """The refusal of a URL whose every try failed; its English line says which way."""
    kind, reason = failed.kind, failed.reason
    if kind is RefusalKind.REFUSED and not reason.startswith("the page"):
        reason = f"refused address: {reason.removeprefix('refused: ')}"
    elif kind is RefusalKind.UNREACHABLE and not reason.startswith("the page"):
        reason = f"not reachable: {reason}"
    return Refusal(
        submitted,
        kind,
        reason,
        cause=failed.cause,
        params=failed.params,
        advertised=failed.advertised,
        searched=failed.searched,
    )


_HOW = {"url": "same feed URL", "self_link": "the feed's self link is that source's URL"}


def duplicate_refusal(submitted: str, source: Source, how: str) -> Refusal:
    """``how``: "url" (the same feed URL) or "self_link" (the feed names that URL as its own)."""
    return Refusal(
        submitted,
        RefusalKind.DUPLICATE,
        f"duplicate of source {source.id} ({source.url}): {_HOW[how]}",
        duplicate_of=source.id,
        params={"source": source.id, "url": source.url, "how": how},
    )


# --------------------------------------------------------------------------------------------
# Words


def refusal_reason(refusal: Refusal, language: str | None) -> str:
    """What the member form says after "We cannot add this address:", in ``language``: a
    phrase in lower case without a final full stop, like ``i18n.describe_error``'s."""
    t = translator(language)
    params = refusal.params
    if refusal.kind is RefusalKind.DUPLICATE:
        values = {"source": params.get("source", refusal.duplicate_of), "url": params.get("url")}
        if params.get("how") == "self_link":
            return t.gettext(
                "the feed gives as its own address that of source %(source)s (%(url)s), "
                "which is already in the network",
                **values,
            )
        return t.gettext(
            "this feed is already in the network as source %(source)s (%(url)s)", **values
        )
    if refusal.searched:
        return t.gettext(
            "%(url)s is a web page that points to no feed, and none of the usual feed addresses "
            "of its site (%(paths)s) holds one",
            url=params.get("url", refusal.submitted),
            paths=", ".join(refusal.searched),
        )
    if refusal.cause is ErrorKind.INVALID and params.get("xml") == "not_well_formed":
        problem = t.gettext("the feed is not well-formed XML, so some of its posts would be lost")
    else:
        problem = describe_error(refusal.cause, params, language, refusal.message)
    if refusal.advertised:
        return t.ngettext(
            "the page points to the feed %(feeds)s, but we could not read it, because %(problem)s",
            "the page points to the feeds %(feeds)s, but we could not read them, "
            "because %(problem)s",
            len(refusal.advertised),
            feeds=", ".join(refusal.advertised),
            problem=problem,
        )
    if refusal.kind is RefusalKind.UNREACHABLE and refusal.cause is not None:
        return t.gettext("we could not read it, because %(problem)s", problem=problem)
    return problem
