"""Which of a post's images are republished: those a reader of the original could see, loaded
from the public web.

What enters: an entry's raw markup (before the sanitizer: ``show_images``), the sanitized
markup (``public_images_only``) and single image URLs (``is_public_image``, for the lead image).
What leaves: the same markup with every image that fails these rules removed, or the answer.

Why each rule:

* **Lazy loading.**  ``data-src`` and friends, or the first ``srcset`` candidate, become ``src``
  when ``src`` is missing or a placeholder: otherwise the image would show as the placeholder.
* **Images nobody sees.**  Tracking pixels are sized to 0 or 1 px (by attribute or inline CSS)
  or hidden (``display:none``, ``visibility:hidden``, ``opacity:0``, the ``hidden`` attribute,
  or inside an element hidden that way).  The sanitizer drops ``style`` and ``hidden``, so such
  an image became visible, full width as the digest's lead image, and each reader's open was
  reported to whoever served it.  They are removed before the sanitizer runs.
* **Private addresses.**  An image on a loopback, private, link-local or cloud metadata address
  (or a name such as ``localhost`` or ``metadata.google.internal``) means nothing on the public
  web and makes every reader's browser probe its own network.  Judged by ``netguard.check_url``
  from the URL alone, never by resolving it; the operator's ``fetch.allow_private`` pairs are
  honoured, because they name servers the operator declared to be members' sites.

The raw-markup rules use regexes that stop at the next ``<`` (linear on hostile input); what
they miss is still sanitized afterwards, and at worst an image stays an image.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache

from aggregator.errors import RefusedURLError
from aggregator.ingest.netguard import AddressPolicy, check_url

__all__ = ["NO_PRIVATE_HOSTS", "is_public_image", "public_images_only", "show_images"]

NO_PRIVATE_HOSTS = AddressPolicy()

_IMG_RE = re.compile(r"""<img\b(?:[^<>"']|"[^"<]*"|'[^'<]*')*>""", re.IGNORECASE)
_START_OR_END_RE = re.compile(r"""<(/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:[^<>"']|"[^"<]*"|'[^'<]*')*)>""")
_ATTR_RE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_LAZY_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-orig-file", "data-srcset")
_PLACEHOLDER_HINTS = ("data:", "placeholder", "blank.gif", "spacer.gif", "pixel.gif", "lazy")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
_IMG_START_RE = re.compile(r"<[iI][mM][gG]")
# What may hide an element, as written in its start tag: a style declaring one of the CSS
# rules of the module docstring, or a ``hidden`` attribute.  The style search starts at the
# literal "style" and reads only attribute values, so it costs about 3 µs on a 3 KB post and
# 0.4 µs per styled element on markup styled throughout (``border:none``, ``overflow:hidden``
# do not match).  CSS in capitals is not looked for here; an image hidden by its own
# attributes is caught however they are written (``_is_unseen_image``).
_HIDING_STYLE_RE = re.compile(
    r"""style\s*=\s*["']?[^"'<>]*?"""
    r"(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|opacity\s*:\s*[0.])"
)
_HIDDEN_ATTRIBUTE_RE = re.compile(r"(?:^|\s)hidden(?=[\s=/>]|$)")
_LENGTH_RE = re.compile(r"^([0-9]*\.?[0-9]+)\s*([a-z%]*)$")


def _attrs(inner: str) -> list[tuple[str, str | None]]:
    """(name, value) of each attribute in a tag's text after its name, entities decoded."""
    found: list[tuple[str, str | None]] = []
    for m in _ATTR_RE.finditer(inner):
        value = next((v for v in m.group(2, 3, 4) if v is not None), None)
        found.append((m.group(1).lower(), None if value is None else html.unescape(value)))
    return found


def _css(style: str) -> dict[str, str]:
    """An inline style's declarations, property -> value, lower case, ``!important`` dropped."""
    declarations: dict[str, str] = {}
    for part in style.lower().split(";"):
        prop, sep, value = part.partition(":")
        if sep:
            declarations[prop.strip()] = value.replace("!important", "").strip()
    return declarations


def _at_most_one_pixel(value: str | None) -> bool:
    """A width or height that shows nothing: 0 in any unit, or at most 1 px ("1", "1px")."""
    if not value:
        return False
    match = _LENGTH_RE.match(value.strip().lower())
    if match is None:
        return False
    number, unit = float(match.group(1)), match.group(2)
    return number == 0 or (number <= 1 and unit in ("", "px"))


def _is_zero(value: str | None) -> bool:
    match = _LENGTH_RE.match((value or "").strip().lower())
    return match is not None and float(match.group(1)) == 0


def _hides(style: dict[str, str]) -> bool:
    return (
        style.get("display") == "none"
        or style.get("visibility") in ("hidden", "collapse")
        or _is_zero(style.get("opacity"))
    )


def _is_hidden(values: dict[str, str | None]) -> bool:
    """``hidden``, or an inline style that hides the element (see the module docstring)."""
    if "hidden" in values:
        return True
    style = values.get("style")
    return bool(style) and _hides(_css(style or ""))


def _is_unseen_image(values: dict[str, str | None]) -> bool:
    """A tracking pixel: 0 or 1 px wide or high (attribute or inline CSS), or hidden."""
    if _at_most_one_pixel(values.get("width")) or _at_most_one_pixel(values.get("height")):
        return True
    if "hidden" in values:
        return True
    if not values.get("style"):
        return False
    style = _css(values["style"] or "")
    sizes = (style.get(k) for k in ("width", "height", "max-width"))
    return _hides(style) or any(_at_most_one_pixel(size) for size in sizes)


def _first_srcset(value: str) -> str | None:
    first = value.split(",")[0].strip().split()
    return first[0] if first else None


def _rewrite_img(match: re.Match[str]) -> str:
    attrs = _attrs(match.group(0)[4:-1])
    values = dict(attrs)
    if _is_unseen_image(values):
        return ""
    src = (values.get("src") or "").strip()
    if not src or any(h in src.lower() for h in _PLACEHOLDER_HINTS):
        lazy = next((values[a] for a in _LAZY_ATTRS if values.get(a)), None)
        if lazy is None and values.get("srcset"):
            lazy = values["srcset"]
        candidate = _first_srcset(lazy) if lazy else None
        if candidate:
            src = candidate
    kept = [(k, v) for k, v in attrs if k != "src"]
    out = [f'src="{html.escape(src)}"'] if src else []
    out += [k if v is None else f'{k}="{html.escape(v)}"' for k, v in kept]
    return "<img " + " ".join(out) + ">"


# Elements whose end tag may be left out: the next one of the same name ends them, and a
# paragraph also ends where a block starts (the HTML parser's rules, reduced to what matters
# here: where a hidden element's images stop).
_OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option", "rt", "rp"})
_ENDS_A_PARAGRAPH = frozenset(
    {"address", "article", "aside", "blockquote", "details", "div", "dl", "fieldset",
     "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
     "hgroup", "hr", "main", "menu", "nav", "ol", "p", "pre", "section", "table", "ul"}
)  # fmt: skip


@dataclass
class _HiddenScope:
    """An open hidden element while the markup is scanned, and the images met inside it."""

    name: str
    nesting: int = 1  # elements of the same name open inside it, itself included
    images: list[tuple[int, int]] = field(default_factory=list)

    def ended_by(self, closing: str, name: str, inner: str) -> bool:
        """Whether this tag ends the hidden element (it is then one tag past its content)."""
        implied_end = name == self.name or (self.name == "p" and name in _ENDS_A_PARAGRAPH)
        if not closing and self.name in _OPTIONAL_END and implied_end:
            return True
        if name == self.name and not inner.rstrip().endswith("/"):
            self.nesting += -1 if closing else 1
        return self.nesting == 0


def _may_hide(markup: str) -> bool:
    """Whether ``markup`` (a whole post, or one tag's attributes) may hide an element; the
    attributes of a tag are read only when this says so."""
    if _HIDING_STYLE_RE.search(markup):
        return True
    return "hidden" in markup and _HIDDEN_ATTRIBUTE_RE.search(markup) is not None


def _drop_images_in_hidden_elements(markup: str) -> str:
    """Remove the ``<img>`` tags inside an element hidden by ``hidden`` or its inline style.

    Only images go (hidden text stays text, as it always did).  The images of an element that
    is never closed are kept: where it ends would be a guess, and a guess must not cost the
    post a real photo.
    """
    removed: list[tuple[int, int]] = []
    scope: _HiddenScope | None = None
    for match in _START_OR_END_RE.finditer(markup):
        closing, name, inner = match.group(1), match.group(2).lower(), match.group(3)
        if scope is not None and name == "img" and not closing:
            scope.images.append(match.span())
            continue
        if scope is not None and scope.ended_by(closing, name, inner):
            removed += scope.images
            scope = None
        opens = scope is None and not closing and name not in _VOID and _may_hide(inner)
        if opens and _is_hidden(dict(_attrs(inner))):
            scope = _HiddenScope(name)
    if not removed:
        return markup
    pieces: list[str] = []
    last = 0
    for start, end in removed:
        pieces.append(markup[last:start])
        last = end
    pieces.append(markup[last:])
    return "".join(pieces)


def show_images(markup: str) -> str:
    """Raw markup with lazily loaded images given their real ``src`` and unseen images
    (tracking pixels, hidden images) removed."""
    if _IMG_START_RE.search(markup) is None:
        return markup
    if _may_hide(markup):
        markup = _drop_images_in_hidden_elements(markup)
    return _IMG_RE.sub(_rewrite_img, markup)


@lru_cache(maxsize=4096)  # images of a site share a few hosts
def _origin_is_public(scheme: str, netloc: str, policy: AddressPolicy) -> bool:
    try:
        check_url(f"{scheme}://{netloc}/", policy)
    except RefusedURLError:
        return False
    return True


# The scheme and authority of a web URL, the part ``check_url`` judges (``urlsplit`` costs
# several times more, for parts not needed here).
_ORIGIN_RE = re.compile(r"(https?)://([^/?#]+)", re.IGNORECASE)


def is_public_image(url: str | None, policy: AddressPolicy = NO_PRIVATE_HOSTS) -> bool:
    """Whether an absolute image URL loads from the public web (http or https, a public host)."""
    match = _ORIGIN_RE.match(url) if url else None
    if match is None:
        return False
    return _origin_is_public(match.group(1).lower(), match.group(2), policy)


# What nh3 writes for an image: every attribute value double-quoted, a quote inside escaped.
_SANITIZED_IMG_RE = re.compile(r'<img\b(?:[^<>"]|"[^"]*")*>')
_SANITIZED_SRC_RE = re.compile(r'\ssrc="([^"]*)"')


def _public_or_nothing(match: re.Match[str], policy: AddressPolicy) -> str:
    tag = match.group(0)
    src = _SANITIZED_SRC_RE.search(tag)
    if src is None:
        return tag
    url = html.unescape(src.group(1))
    if not url.lower().startswith(("http:", "https:")):  # mailto: goes, the image stays
        return tag[: src.start()] + tag[src.end() :]
    return tag if is_public_image(url, policy) else ""


def public_images_only(clean: str, policy: AddressPolicy = NO_PRIVATE_HOSTS) -> str:
    """Sanitized markup without the images that load from a private address.

    nh3 applies one list of schemes to every URL attribute, so an image may also come out with
    a ``mailto:`` source: that source is removed (the image's text alternative stays).  The
    images are found with ``str.find``, which costs half a regex scan of the whole text.
    """
    at = clean.find("<img")
    pieces: list[str] = []
    last = 0
    while at >= 0:
        match = _SANITIZED_IMG_RE.match(clean, at)
        if match is None:
            at = clean.find("<img", at + 4)
            continue
        kept = _public_or_nothing(match, policy)
        if kept != match.group():
            pieces += (clean[last:at], kept)
            last = match.end()
        at = clean.find("<img", match.end())
    if not pieces:
        return clean
    pieces.append(clean[last:])
    return "".join(pieces)
