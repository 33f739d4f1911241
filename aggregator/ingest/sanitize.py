"""Make feed HTML safe to republish and to mail, and turn it into plain text.

This is the only module that imports nh3 (Rust's ammonia, an HTML5 parser with an allowlist).
It was chosen over bleach because it is about 30 times faster on a 3 KB entry and, with the strict
allowlist below, leaves nothing active from the 60+ vectors of ``tests/test_sanitize.py`` when
the output is parsed again the way a browser does (html5lib).

The pipeline for ``sanitize_html``:

1. **Bound the work** (before nh3): cut the input at ``MAX_HTML_CHARS`` and drop opening tags
   nested deeper than ``MAX_DEPTH``.  html5ever's tree building is superlinear in nesting depth
   (50,000 nested ``<div>`` take seconds), so a hostile feed could stall a cycle.
2. **Lazy-loaded images**: ``data-src``/``data-lazy-src``/``data-original`` or the first
   ``srcset`` candidate becomes ``src`` when ``src`` is missing or a placeholder, and 1×1
   tracking pixels are dropped; ``href="#…"`` is removed (it would point at the feed).  These
   edit raw markup, which is safe because nh3 runs after.
3. **nh3** with a strict allowlist: no script/style/iframe/form/object/embed/svg/math, no event
   handlers, no ``style``/``class``/``id``; ``href`` may be http, https or mailto and ``src``
   only http or https (nh3 decodes entities and drops tabs/newlines first, so
   ``&#106;avascript:`` and ``java\\tscript:`` are caught); relative URLs are resolved against
   the base or removed when there is none; links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3

from aggregator.ingest.urls import absolute_url

MAX_HTML_CHARS = 256_000
MAX_DEPTH = 200

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
# Elements whose end tag is optional: an unclosed one is closed by its next sibling, so it
# does not deepen the tree and must not count towards the depth cap.
_OPTIONAL_END = frozenset(
    {"p", "li", "dt", "dd", "rt", "rp", "optgroup", "option", "colgroup", "caption", "thead",
     "tbody", "tfoot", "tr", "td", "th"}
)  # fmt: skip

ALLOWED_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
     "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4",
     "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
     "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
     "tfoot", "th", "thead", "time", "tr", "u", "ul"}
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "time": {"datetime"},
}
# Removed with everything inside them (the rest of unknown tags keep their text).
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "svg", "math", "template", "noscript",
     "noembed", "noframes", "frameset", "frame", "xmp", "title", "head", "select", "textarea",
     "applet", "audio", "video", "canvas", "map", "button"}
)  # fmt: skip
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "h1", "h2", "h3",
     "h4", "h5", "h6", "hr", "table", "tr", "td", "th", "figure", "figcaption", "caption",
     "details", "summary"}
)  # fmt: skip

# Every scan below stops at the next "<", so hostile input without ">" stays linear.
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^<>]*?(/?)>")
_IMG_RE = re.compile(r"""<img\b(?:[^<>"']|"[^"<]*"|'[^'<]*')*>""", re.IGNORECASE)
_ATTR_RE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_LAZY_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-orig-file", "data-srcset")
_PLACEHOLDER_HINTS = ("data:", "placeholder", "blank.gif", "spacer.gif", "pixel.gif", "lazy")
_OUT_TAG_RE = re.compile(r"</?([a-z0-9]+)>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff]")
_TAGLIKE_RE = re.compile(r"<[a-zA-Z/!?][^<>]*>")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")


# Controls that separate words (form feed, line separator…): a space, not nothing, so that
# "one\x0ctwo" does not become "onetwo" (and the text stays what the text cleaner reads).
_SPACING_CONTROLS = frozenset("\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def _control_replacement(match: re.Match[str]) -> str:
    return " " if match.group() in _SPACING_CONTROLS else ""


def _may_decode_to_control(markup: str) -> bool:
    """Whether a character reference in ``markup`` could decode to a control character.

    Numeric ones all start with "&#"; the only named ones that do are the zero-width spaces
    ("&ZeroWidthSpace;", "&NegativeThinSpace;"…), which all end in "Space;".
    """
    return "&#" in markup or "Space;" in markup


# Every character str.split() splits on, but the space itself (all are below U+3001).
_OTHER_SPACES = tuple(ch for ch in map(chr, range(0x3001)) if ch.isspace() and ch != " ")
_ASCII_SPACES = tuple(ch for ch in _OTHER_SPACES if ch.isascii())


def collapse_spaces(text: str) -> str:
    """``" ".join(text.split())``, without splitting a text that has nothing to collapse.

    Splitting builds one string per word; looking for each kind of space first is a few
    substring searches, which is what most sanitized content needs.
    """
    if text[:1] == " " or text[-1:] == " " or "  " in text:
        return " ".join(text.split())
    spaces = _ASCII_SPACES if text.isascii() else _OTHER_SPACES
    if any(ch in text for ch in spaces):
        return " ".join(text.split())
    return text


def strip_controls(text: str) -> str:
    """``text`` without control characters; those that separate words become a space."""
    if len(text) >= _SCAN_MIN_CHARS and not _has_controls(text):
        return text
    return _CONTROL_RE.sub(_control_replacement, text)


# Below this length the regex costs no more than the byte-level check.
_SCAN_MIN_CHARS = 128
# bytes.translate tables: 0 where a byte is (the start of) a character _CONTROL_RE matches
_LATIN1_CONTROLS = bytes(0 if _CONTROL_RE.match(chr(i)) else 1 for i in range(256))
_UTF8_ASCII_CONTROLS = bytes(0 if i < 0x80 and _CONTROL_RE.match(chr(i)) else 1 for i in range(256))
_UTF8_C1_RE = re.compile(b"\xc2[\x80-\x9f]")
# U+200B, U+2028, U+2029, U+FEFF in UTF-8
_UTF8_WIDE_CONTROLS = (b"\xe2\x80\x8b", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xef\xbb\xbf")


def _has_controls(text: str) -> bool:
    """``_CONTROL_RE.search(text)``, at a fifth of its cost on a typical 3 KB body.

    The regex walks every character (about 5 ns each); encoding and one table lookup per byte
    in C is much cheaper.  Latin-1 text is checked byte for byte; other text as UTF-8, where
    an ASCII control is its own byte, a C1 control is C2 80-9F and the four wide ones have
    fixed three-byte forms.
    """
    try:
        return b"\x00" in text.encode("latin-1").translate(_LATIN1_CONTROLS)
    except UnicodeEncodeError:
        pass
    raw = text.encode("utf-8", "surrogatepass")
    if b"\x00" in raw.translate(_UTF8_ASCII_CONTROLS):
        return True
    if b"\xc2" in raw and _UTF8_C1_RE.search(raw):
        return True
    return any(wide in raw for wide in _UTF8_WIDE_CONTROLS)


def bound_markup(markup: str) -> str:
    """Cut ``markup`` to ``MAX_HTML_CHARS`` and drop opening tags nested beyond ``MAX_DEPTH``.

    The depth is estimated with a tag regex, not a parser: it only has to bound nh3's work,
    and whatever it leaves behind is still sanitized afterwards.
    """
    if len(markup) > MAX_HTML_CHARS:
        cut = markup.rfind("<", 0, MAX_HTML_CHARS)
        markup = markup[: cut if cut > MAX_HTML_CHARS // 2 else MAX_HTML_CHARS]
    if markup.count("<") <= MAX_DEPTH:
        return markup
    depth = 0
    pieces: list[str] = []
    last = 0
    for match in _TAG_RE.finditer(markup):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if name in _VOID or name in _OPTIONAL_END or self_closing:
            continue
        if closing:
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > MAX_DEPTH:
            depth -= 1
            pieces.append(markup[last : match.start()])
            last = match.end()
    if not pieces:
        return markup
    pieces.append(markup[last:])
    return "".join(pieces)


def _attrs(tag: str) -> list[tuple[str, str | None]]:
    inner = tag[4:-1]
    found: list[tuple[str, str | None]] = []
    for m in _ATTR_RE.finditer(inner):
        value = next((v for v in m.group(2, 3, 4) if v is not None), None)
        found.append((m.group(1).lower(), None if value is None else html.unescape(value)))
    return found


def _first_srcset(value: str) -> str | None:
    first = value.split(",")[0].strip().split()
    return first[0] if first else None


def _is_pixel(values: dict[str, str | None]) -> bool:
    return any((values.get(k) or "").strip() in ("0", "1", "1px") for k in ("width", "height"))


def _rewrite_img(match: re.Match[str]) -> str:
    attrs = _attrs(match.group(0))
    values = dict(attrs)
    if _is_pixel(values):
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


def fix_lazy_images(markup: str) -> str:
    """Give lazily loaded images a real ``src`` and drop 1×1 tracking pixels."""
    if "<img" not in markup and "<IMG" not in markup:
        return markup
    return _IMG_RE.sub(_rewrite_img, markup)


_FRAGMENT_HREF_RE = re.compile(
    r"""\shref\s*=\s*(?:"\s*#[^"]*"|'\s*#[^']*'|#[^\s>]*)""", re.IGNORECASE
)


def drop_fragment_links(markup: str) -> str:
    """Remove ``href="#…"``: resolved against the feed's URL it would point at the feed.

    A regex on raw markup is enough because nh3 runs afterwards; at worst a link stays a link.
    """
    if "#" not in markup:
        return markup
    return _FRAGMENT_HREF_RE.sub("", markup)


@lru_cache(maxsize=64)
def _cleaner(base: str | None) -> nh3.Cleaner:
    # nh3 resolves relative URLs itself (a Python callback per URL cost twice as much).
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        link_rel="noopener noreferrer",
        url_relative=("rewrite_with_base", base) if base else "deny",
    )


_SRC_RE = re.compile(r'<img src="([^"]*)"')


def _only_web_images(clean: str) -> str:
    """nh3 applies one scheme list to every URL attribute; images must not be ``mailto:``."""
    if "mailto:" not in clean:
        return clean
    return _SRC_RE.sub(lambda m: "<img" if m.group(1).startswith("mailto:") else m.group(0), clean)


def prepare_markup(markup: str) -> str:
    """Steps 1 and 2 above: the raw markup as the HTML5 parser of ``sanitize_html`` reads it."""
    return drop_fragment_links(fix_lazy_images(bound_markup(strip_controls(markup))))


def sanitize_html(markup: str, base_url: str | None) -> str:
    """Return ``markup`` reduced to the allowlist above, safe to republish and to mail.

    ``base_url`` resolves relative ``href``/``src``; without one (or when it is not http(s))
    relative URLs are removed, because they would point at our own site.
    """
    return sanitize_prepared(prepare_markup(markup), base_url)


def sanitize_prepared(prepared: str, base_url: str | None) -> str:
    """``sanitize_html`` of markup already through ``prepare_markup``.

    For a caller that also wants the text (``blocks_of``) of exactly what was sanitized.
    """
    if not prepared or not prepared.strip():
        return ""
    base = absolute_url(base_url) if base_url else None
    clean = _cleaner(base).clean(prepared)
    if _may_decode_to_control(prepared):
        clean = strip_controls(clean)
    return _only_web_images(clean.strip())


@lru_cache(maxsize=1)
def _text_cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(_BLOCKS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        # "*": without it ammonia keeps its generic lang/title, and "<p lang=…>" was no break
        attributes={"*": set()},
        strip_comments=True,
        link_rel=None,
    )


def _strip_taglike(text: str) -> str:
    """Remove what still looks like a tag after decoding (``&lt;b&gt;`` written as text).

    Plain text may be put into HTML by a careless consumer; repeating until nothing changes
    catches ``<<b>b>`` that would rebuild a tag after one pass.
    """
    if "<" not in text:  # nothing can look like a tag
        return text
    for _ in range(50):
        stripped = _TAGLIKE_RE.sub("", text)
        if stripped == text:
            return stripped
        text = stripped
    return text.replace("<", "")


_HAS_TAG_RE = re.compile(r"<[a-zA-Z/!]")
_PLAIN_BREAK_RE = re.compile(r"\n|[ \t]{2,}")


def html_to_blocks(markup: str) -> str:
    """Plain text with one line per block (paragraph, list item, heading…).

    Byline detection needs to know where the first paragraph ends; everything else calls
    :func:`html_to_text`.  Text without any tag is taken as plain text, where a line break or
    a run of spaces separates paragraphs (as in the seeds' "officer  Dicen que…").
    """
    if not markup:
        return ""
    if _HAS_TAG_RE.search(markup):
        cleaned = " ".join(_text_cleaner().clean(bound_markup(markup)).split())
        # the text cleaner keeps only block tags, without attributes: each one is a break
        text = _OUT_TAG_RE.sub("\n", cleaned)
        text = html.unescape(text)
    else:
        text = _PLAIN_BREAK_RE.sub("\n", html.unescape(markup[:MAX_HTML_CHARS]))
    text = _CONTROL_RE.sub("", text.replace("\r", "\n").replace("\xa0", " "))
    text = _strip_taglike(text)  # after removing controls: "<\x1fb>" must not become "<b>"
    # one space for each run of other whitespace, no blank lines, no spaces around line breaks
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# What html5ever's serializer writes for a tag: attribute values are always double-quoted, and
# may hold a raw ">" (only "&", '"' and no-break spaces are escaped in them).
_SERIALIZED_TAG_RE = re.compile(r'<[^<>"]*(?:"[^"]*"[^<>"]*)*>')
_BLOCK_NAMES = "|".join(sorted(_BLOCKS, key=len, reverse=True))  # "pre" is tried before "p"
_SERIALIZED_BLOCK_RE = re.compile(rf'</?(?:{_BLOCK_NAMES})\b[^<>"]*(?:"[^"]*"[^<>"]*)*>')
_MULTI_SPACE_RE = re.compile(r" {2,}")


def blocks_of(prepared: str, clean: str) -> str:
    """``html_to_blocks(prepared)``, reusing ``clean = sanitize_prepared(prepared, …)``.

    A post needs both its sanitized HTML and its text; taking the text from the sanitized
    markup spares a second HTML5 parse of the same content and most of the text passes (a
    quarter of an entry's normalising time).  The sanitizer's output is what the text cleaner
    would have seen, with more tags kept: block tags become line breaks, every other tag goes,
    and what is left is text escaped by one serializer, with no control characters.  Markup
    without any tag is plain text, read by ``html_to_blocks`` itself.
    """
    if not prepared or not _HAS_TAG_RE.search(prepared):
        return html_to_blocks(prepared)
    flat = collapse_spaces(clean)
    text = _SERIALIZED_TAG_RE.sub("", _SERIALIZED_BLOCK_RE.sub("\n", flat))
    if "&" in text:
        text = html.unescape(text).replace("\xa0", " ")
    text = _strip_taglike(text)
    # Only spaces and line breaks are left.  What html_to_blocks does line by line: runs of
    # spaces become one, blank lines and the spaces around a break go.  Each pass runs only
    # when its pattern is there (a regex over every space of the text costs more than the rest).
    if "  " in text:
        text = _MULTI_SPACE_RE.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = text.replace(" \n", "\n").replace("\n ", "\n")
    while "\n\n" in text:
        text = text.replace("\n\n", "\n")
    return text.strip(" \n")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: no markup, entities decoded, whitespace collapsed."""
    return " ".join(html_to_blocks(markup).split())


def decode_entities(text: str) -> str:
    """Decode well-formed entities once more (``&amp;eacute;`` seen in double-escaped titles)."""
    if "&" not in text:
        return text
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)


def clean_text(text: str) -> str:
    """One line of plain text: control characters out, whitespace collapsed."""
    return " ".join(_CONTROL_RE.sub("", text).split())


_ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ``…`` included."""
    if len(text) <= limit:
        return text
    room = max(1, limit - len(_ELLIPSIS))
    cut = text[: room + 1]
    space = cut.rfind(" ")
    head = cut[:space] if space > room // 2 else text[:room]
    return head.rstrip(" ,;:-–—.…") + _ELLIPSIS


_TRAILERS = re.compile(
    r"\s*(?:\(\+\)|\[(?:…|\.\.\.)\]|(?:read more|continue reading|lire la suite|leer más|"
    r"seguir leyendo|en savoir plus)\s*(?:→|»|\.\.\.|…)?|The post .{1,300} appeared first on "
    r".{1,200}\.)\s*$",
    re.IGNORECASE,
)


def excerpt(text: str, limit: int = 300) -> str:
    """A teaser of plain ``text``: one line, read-more trailers removed, cut at a word.

    The result never holds markup and is at most ``limit`` characters.
    """
    return _teaser(clean_text(text), limit)


def excerpt_of_blocks(blocks: str, limit: int = 300) -> str:
    """``excerpt`` of ``html_to_blocks`` or ``blocks_of`` output, which is clean already.

    That text has no control characters and single spaces, with one line per block, so
    ``clean_text`` would only join its lines: two passes over the whole text saved per post.
    """
    return _teaser(blocks.replace("\n", " "), limit)


def _teaser(flat: str, limit: int) -> str:
    if "<" in flat:  # clean_text is idempotent: without "<" the second pass changes nothing
        flat = clean_text(_strip_taglike(flat))
    for _ in range(3):
        trimmed = _drop_trailer(flat)
        if trimmed == flat:
            break
        flat = trimmed
    return truncate(flat.strip(), limit)


# A trailer is at most about 530 characters (see _TRAILERS) and ``flat`` has single spaces, so
# a match always starts inside this many final characters: searching only there keeps the
# regex from being tried at every position of a long text (it cost 0.6 ms per entry).
_TRAILER_WINDOW = 1_000


# Every trailer ends with one of these (compared lower-cased); a text ending otherwise cannot
# match, which spares most teasers the regex.  Characters that Python's case-insensitive
# matching folds differently from ``str.lower`` send the text to the regex anyway.
_TRAILER_ENDINGS = (")", "]", "…", "→", "»", "...", "more", "reading", "suite", "más", "leyendo",
                    "plus")  # fmt: skip
_ODD_FOLDS = frozenset("ſıİ")


def _may_have_trailer(flat: str) -> bool:
    end = flat[-12:]
    if not _ODD_FOLDS.isdisjoint(end):
        return True
    low = end.lower()
    if low.endswith(_TRAILER_ENDINGS):
        return True
    if low.endswith("."):  # "The post … appeared first on …."
        window = flat[-260:]
        return "appeared" in window.lower() or not _ODD_FOLDS.isdisjoint(window)
    return False


def _drop_trailer(flat: str) -> str:
    if not _may_have_trailer(flat):
        return flat
    if len(flat) <= _TRAILER_WINDOW:
        return _TRAILERS.sub("", flat)
    cut = len(flat) - _TRAILER_WINDOW
    tail = flat[cut:]
    match = _TRAILERS.search(tail)
    if match is None:
        return flat
    if match.start() == 0:  # could reach further back: let the full search decide
        return _TRAILERS.sub("", flat)
    return flat[: cut + match.start()]
