"""Fetched bytes + the HTTP content type -> the document as text, and a note when the declared
character encoding was wrong or a few bytes could not be read.

Everything after this step (DOCTYPE removal, entity checks, both XML readers) works on the text
decoded here, never on bytes: a declaration written in UTF-16, UTF-7 (``+ADw-!ENTITY``) or
split by ISO-2022 escapes looks like any other once decoded, so it cannot slip past the checks.
The readers are then handed UTF-8 that says so.

A UTF-8 document with a few invalid bytes (a truncated copy-paste, one field from another
system) stays UTF-8: each invalid sequence becomes one U+FFFD, where reading the whole document
as windows-1252 would garble every accented or Cyrillic letter in it.  Only a document that is
mostly not UTF-8 (more invalid sequences than valid multi-byte ones) is read as windows-1252.
Blank lines and a byte-order mark some CMSs print before the XML declaration are dropped, so
such a document stays well-formed.
"""

from __future__ import annotations

import codecs
import re

from aggregator.errors import ParseError

__all__ = ["codec_name", "declare_utf8", "decode_document"]

_XML_ENCODING = re.compile(
    rb"""^\s*(?:\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})"""
)
_XML_ENCODING_TEXT = re.compile(r"""^(\s*<\?xml[^>]{0,200}?encoding\s*=\s*["'])[^"']*""")
#: What may come before the XML declaration and is dropped: blank lines and byte-order marks.
_LEADING = "\ufeff \t\r\n"
_ASCII_BYTES = bytes(range(0x80))


def decode_document(body: bytes, content_type: str) -> tuple[str, str | None]:
    """The document as text, and a warning when its declared encoding was wrong.

    Order: byte-order mark or NUL pattern, HTTP charset, XML declaration, then UTF-8 (with
    U+FFFD for a minority of invalid bytes), cp1252, Latin-1.  EBCDIC is refused
    (``ParseError``).
    """
    detected = _detect_wide(body)
    if detected:
        return body.decode(detected, "replace").lstrip(_LEADING), None
    if body.startswith(b"\x4c\x6f\xa7\x94"):
        raise ParseError("unsupported character encoding (EBCDIC)", "invalid")
    declared = [_charset(content_type), _xml_encoding(body)]
    wanted = next((c for c in declared if c), None)
    candidates = [c for c in declared if c] + ["utf-8", "cp1252", "latin-1"]
    for name in dict.fromkeys(candidates):
        if name.startswith(("utf-16", "utf-32")):
            continue  # without a BOM or NULs these would turn ASCII into CJK
        read = _read_as(body, name)
        if read is None:
            continue
        text, note = read
        if note is None and wanted and wanted != name:
            note = f"declared character encoding {wanted} does not fit the document; read as {name}"
        return text.lstrip(_LEADING), note
    raise ParseError("the document cannot be decoded", "invalid")  # pragma: no cover


def _read_as(body: bytes, name: str) -> tuple[str, str | None] | None:
    """``body`` decoded as ``name``, or None; UTF-8 with a few invalid bytes is still UTF-8."""
    try:
        return body.decode(name), None
    except (UnicodeDecodeError, LookupError):
        return _mostly_utf8(body) if name == "utf-8" else None


def _mostly_utf8(body: bytes) -> tuple[str, str] | None:
    """``body`` read as UTF-8 with U+FFFD for each invalid sequence, and a note saying how many;
    None when the invalid sequences are not outnumbered by valid multi-byte characters.

    windows-1252 text is almost never valid UTF-8 by accident (an accented letter is one byte
    followed by ASCII), so its valid count is near zero; a UTF-8 document with a bad byte or two
    has hundreds of valid ones.
    """
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd") - body.count(b"\xef\xbf\xbd")  # minus those written as such
    high_bytes = len(body.translate(None, _ASCII_BYTES))
    # every ASCII byte is one character: the rest of the text came from high bytes
    non_ascii_chars = len(text) - (len(body) - high_bytes)
    if non_ascii_chars - bad <= bad:
        return None
    return text, f"{bad} invalid UTF-8 byte sequence(s) read as U+FFFD"


def _detect_wide(body: bytes) -> str | None:
    """UTF-16/UTF-32 by byte-order mark or by where the NUL bytes of ASCII markup fall."""
    for bom, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
    ):
        if body.startswith(bom):
            return codec if codec != "utf-8" else None
    sample = body[:64]
    if b"\x00" not in sample:
        return None
    zeros = [sum(1 for b in sample[k::4] if b == 0) for k in range(4)]
    quarter = len(sample[0::4])
    if zeros[1] == zeros[2] == quarter and zeros[3] == quarter and zeros[0] < quarter:
        return "utf-32-le"
    if zeros[0] == zeros[1] == zeros[2] == quarter and zeros[3] < quarter:
        return "utf-32-be"
    return "utf-16-le" if zeros[1] + zeros[3] >= zeros[0] + zeros[2] else "utf-16-be"


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return codec_name(value.strip().strip("\"'"))
    return None


def _xml_encoding(body: bytes) -> str | None:
    match = _XML_ENCODING.match(body[:300])
    return codec_name(match.group(1).decode("ascii")) if match else None


def codec_name(label: str) -> str | None:
    """Python's name for the encoding ``label`` names, or None when it names none."""
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declare_utf8(text: str) -> str:
    """``text`` with its XML declaration saying UTF-8: the readers are handed UTF-8 bytes."""
    return _XML_ENCODING_TEXT.sub(r"\1utf-8", text, count=1)
