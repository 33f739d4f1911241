"""The list of member sources as files: ``feeds.yaml`` edited in place, and OPML in and out.

``feeds.yaml`` is written by people: it carries comments explaining why a feed is disabled, a
chosen key order, aligned trailing comments and quoted URLs.  A command that adds or removes a
source must leave every other line exactly as it was, so that the change reads as a one-entry
diff in review.  Dumping the whole ruamel.yaml round-trip tree does not guarantee that (it
re-wraps long strings and re-attaches comments that sit between two entries to the wrong one),
so this module uses ruamel.yaml to *locate* the ``sources`` entries (it records the line of
every node) and to *render* the new entry, then splices lines.  The result is validated with
``config.loads`` before it replaces the file, atomically.

**One editor at a time.**  Two approvals at once (``feeds approve 1 & feeds approve 2``, or two
clicks in the console) each read the file, add their entry and rename their version over it: the
last rename wins and the other source is lost although both said "added".  Every
read-validate-rewrite therefore holds an exclusive lock on a file beside it
(``.feeds.yaml.lock``, filelock's ``flock``); ``editing`` holds it for a caller whose decision
spans more than the write (moderation reads the sources, picks an id, writes and records).

OPML (the subscription-list format every feed reader imports and exports) is read with lxml with
DTDs, entities and network access off, after refusing any document that declares a DOCTYPE: an
OPML file is a member's upload, and entity expansion is a classic way to exhaust memory.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import filelock
import lxml.etree
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.files import write_atomic
from aggregator.models import Source

__all__ = [
    "MAX_OPML_BYTES",
    "NewSource",
    "OpmlError",
    "OpmlFeed",
    "add_sources",
    "add_to_text",
    "editing",
    "load_yaml",
    "read_opml",
    "remove_from_text",
    "remove_source",
    "slugify",
    "unique_id",
    "write_opml",
]

MAX_OPML_BYTES = 5 * 1024 * 1024
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT)", re.IGNORECASE)
_EMPTY_SOURCES = re.compile(r"^sources:[ \t]*(?:\[\s*\]|null|~)?[ \t]*(#.*)?$")


class OpmlError(ValueError):
    """An OPML document we cannot or will not read."""


@dataclass(frozen=True, slots=True)
class NewSource:
    """A source about to be written to ``feeds.yaml``: only the fields the file needs."""

    id: str
    name: str
    organisation: str
    url: str
    homepage: str | None = None
    language: str = "en"
    tags: tuple[str, ...] = ()
    contact: str | None = None  # who gets notices about this source (members_web approvals)


# --------------------------------------------------------------------------------------------
# Ids


def slugify(text: str, *, limit: int = 40) -> str:
    """A config id from a name: ASCII lower case, digits, '-' (``Cités Unies``: ``cites-unies``)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    slug = slug[:limit].rstrip("-")
    return slug or "feed"


def unique_id(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… whichever is not taken yet."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# --------------------------------------------------------------------------------------------
# feeds.yaml: locating entries


@dataclass(frozen=True, slots=True)
class _Entry:
    id: str | None
    first: int  # 0-based line of the entry's dash
    last: int  # 0-based line of its last content line
    dash_col: int
    key_col: int


def load_yaml(text: str, path: Path) -> Any:
    """The round-trip tree of ``text``; a syntax error is a ``ConfigError`` with one line,
    ``line N: YAML syntax: problem`` (this module owns ruamel.yaml for the commands)."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(str(path), [f"line {line}: YAML syntax: {exc.problem}"]) from None
    except YAMLError as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(str(path), [f"YAML syntax: {message}"]) from None


_load = load_yaml


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _entries(lines: Sequence[str], seq: CommentedSeq) -> list[_Entry]:
    """Where each item of the block sequence ``sources`` starts and ends in ``lines``."""
    found: list[_Entry] = []
    for i, item in enumerate(seq):
        line, key_col = seq.lc.item(i)
        first = line
        while first > 0 and not lines[first][_indent(lines[first]) :].startswith("-"):
            first -= 1  # an item written as "-" alone on its line, mapping below
        dash_col = _indent(lines[first])
        last = first
        for j in range(first + 1, len(lines)):
            if not _is_content(lines[j]):
                continue
            if _indent(lines[j]) <= dash_col:
                break
            last = j
        ident = item.get("id") if isinstance(item, dict) else None
        found.append(
            _Entry(str(ident) if ident is not None else None, first, last, dash_col, key_col)
        )
    return found


def _render(source: NewSource, dash_col: int, key_col: int, newline: str) -> list[str]:
    """The YAML lines of one ``sources`` item, rendered by ruamel.yaml (so quoting is right)."""
    node = CommentedMap()
    node["id"] = source.id
    node["name"] = source.name
    node["organisation"] = source.organisation
    node["url"] = DoubleQuotedScalarString(source.url)
    if source.homepage:
        node["homepage"] = DoubleQuotedScalarString(source.homepage)
    node["language"] = source.language
    if source.tags:
        tags = CommentedSeq(list(source.tags))
        tags.fa.set_flow_style()
        node["tags"] = tags
    if source.contact:
        node["contact"] = source.contact
    yaml = YAML(typ="rt")
    yaml.width = 4096  # one line per key: never wrap a long name
    buffer = io.StringIO()
    yaml.dump(node, buffer)
    body = buffer.getvalue().splitlines()
    lead = " " * dash_col + "-" + " " * max(1, key_col - dash_col - 1)
    rest = " " * key_col
    return [(lead if n == 0 else rest) + text + newline for n, text in enumerate(body)]


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def add_to_text(text: str, sources: Sequence[NewSource], path: Path) -> str:
    """``text`` with ``sources`` appended to its ``sources`` list; every other line unchanged."""
    if not sources:
        return text
    doc = _load(text, path)
    newline = _newline(text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    seq = doc.get("sources") if isinstance(doc, dict) else None
    if isinstance(seq, CommentedSeq) and len(seq) and not seq.fa.flow_style():
        entries = _entries(lines, seq)
        tail = entries[-1]
        rendered = [
            line for s in sources for line in _render(s, tail.dash_col, tail.key_col, newline)
        ]
        lines[tail.last + 1 : tail.last + 1] = rendered
        return "".join(lines)
    rendered = [line for s in sources for line in _render(s, 2, 4, newline)]
    if isinstance(doc, CommentedMap) and "sources" in doc:
        key_line = doc.lc.key("sources")[0]
        match = _EMPTY_SOURCES.match(lines[key_line].rstrip("\r\n"))
        if match is None:
            raise ConfigError(
                str(path), [f"{path}:{key_line + 1}: sources: not a block list; edit it by hand"]
            )
        comment = f"  {match.group(1)}" if match.group(1) else ""
        lines[key_line] = f"sources:{comment}{newline}"
        lines[key_line + 1 : key_line + 1] = rendered
        return "".join(lines)
    if doc is not None and not isinstance(doc, dict):
        raise ConfigError(str(path), [f"{path}:1: the file must be a mapping of settings"])
    return "".join(lines) + f"sources:{newline}" + "".join(rendered)


def remove_from_text(text: str, source_id: str, path: Path) -> str:
    """``text`` without the ``sources`` item whose id is ``source_id``; other lines unchanged."""
    doc = _load(text, path)
    seq = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(seq, CommentedSeq) or seq.fa.flow_style():
        raise KeyError(source_id)
    lines = text.splitlines(keepends=True)
    entries = _entries(lines, seq)
    target = next((e for e in entries if e.id == source_id), None)
    if target is None:
        raise KeyError(source_id)
    del lines[target.first : target.last + 1]
    if len(entries) == 1:  # the list is now empty: say so, or it would read as null
        key_line = doc.lc.key("sources")[0]
        head = lines[key_line].rstrip("\r\n")
        lines[key_line] = head.replace("sources:", "sources: []", 1) + _newline(text)
    return "".join(lines)


# --------------------------------------------------------------------------------------------
# feeds.yaml: reading and writing the file


LOCK_TIMEOUT_S = 60.0  # an edit takes milliseconds; a minute means a stuck or stopped editor
_held = threading.local()  # paths this thread holds the lock of: editing() is reentrant


def lock_path(path: Path) -> Path:
    """The lock file of a configuration file: a dotfile beside it (the web server skips those)."""
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def editing(path: Path, *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the configuration file's edit lock (reentrant within a thread).

    Raises ``ConfigError`` naming the lock file if another editor keeps it past ``timeout_s``;
    the lock goes with its holder's process, so a killed command never leaves it behind.
    """
    key = str(path.resolve())
    held: set[str] = getattr(_held, "paths", set())
    if key in held:
        yield
        return
    lock = filelock.FileLock(str(lock_path(path)), timeout=timeout_s, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise ConfigError(
            str(path), [f"{path}: another command is editing it (lock {lock_path(path)})"]
        ) from exc
    _held.paths = held | {key}
    try:
        yield
    finally:
        _held.paths = held - {key}
        lock.release()


def _write_config(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, so a crash never leaves half a config behind.

    The file keeps its permissions (an operator may have made it group-readable, or not); a
    new one is private to its owner, since a config lists the digest's recipients' addresses.
    """
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o600
    write_atomic(path, text.encode("utf-8"), mode=mode)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")  # not read_text: CRLF files must stay CRLF
    except FileNotFoundError:
        return ""


def add_sources(path: Path, sources: Sequence[NewSource]) -> config.Settings:
    """Append ``sources`` to the file; raise ``ConfigError`` (file untouched) if it would break."""
    with editing(path):
        text = _read(path)
        new_text = add_to_text(text, sources, path)
        settings = config.loads(new_text, path)
        _write_config(path, new_text)
    return settings


def remove_source(path: Path, source_id: str) -> config.Settings:
    """Remove one source; ``KeyError`` if no source has that id."""
    with editing(path):
        new_text = remove_from_text(_read(path), source_id, path)
        settings = config.loads(new_text, path)
        _write_config(path, new_text)
    return settings


# --------------------------------------------------------------------------------------------
# OPML


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One ``<outline xmlUrl=…>`` of an OPML document."""

    url: str
    title: str | None = None
    homepage: str | None = None
    language: str | None = None
    organisation: str | None = None  # the text of the enclosing outline, when nested
    tags: tuple[str, ...] = ()


def _safe_parser() -> lxml.etree.XMLParser:
    return lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def read_opml(data: bytes) -> list[OpmlFeed]:
    """Every feed an OPML document lists, in document order; ``OpmlError`` if unreadable."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"OPML file larger than {MAX_OPML_BYTES // (1024 * 1024)} MiB")
    if _DECLARATION.search(data):
        raise OpmlError("OPML files with a DOCTYPE or entity declarations are refused")
    try:
        root = lxml.etree.fromstring(data, parser=_safe_parser())
    except lxml.etree.XMLSyntaxError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from None
    if not isinstance(root.tag, str) or lxml.etree.QName(root).localname != "opml":
        raise OpmlError("not an OPML document (the root element is not <opml>)")
    body = next((el for el in root if _local(el) == "body"), None)
    if body is None:
        raise OpmlError("not an OPML document (no <body>)")
    return list(_outlines(body, None))


def _local(el: Any) -> str:
    return lxml.etree.QName(el).localname if isinstance(el.tag, str) else ""


def _outlines(parent: Any, group: str | None) -> Iterable[OpmlFeed]:
    for el in parent:
        if _local(el) != "outline":
            continue
        url = (el.get("xmlUrl") or el.get("xmlurl") or "").strip()
        text = (el.get("title") or el.get("text") or "").strip() or None
        if url:
            yield OpmlFeed(
                url=url,
                title=text,
                homepage=(el.get("htmlUrl") or "").strip() or None,
                language=(el.get("language") or "").strip() or None,
                organisation=group,
                tags=_categories(el.get("category")),
            )
        yield from _outlines(el, text if not url else group)


def _categories(value: str | None) -> tuple[str, ...]:
    """OPML ``category`` is comma-separated, each a ``/``-path; we keep the last segment."""
    if not value:
        return ()
    tags = (part.strip().rstrip("/").rsplit("/", 1)[-1].strip() for part in value.split(","))
    return tuple(dict.fromkeys(t for t in tags if t))


def write_opml(sources: Sequence[Source], *, title: str, now: datetime) -> bytes:
    """OPML 2.0 of ``sources``, grouped by organisation (one outline per organisation)."""
    root = lxml.etree.Element("opml", version="2.0")
    head = lxml.etree.SubElement(root, "head")
    lxml.etree.SubElement(head, "title").text = title
    lxml.etree.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = lxml.etree.SubElement(root, "body")
    groups: dict[str, Any] = {}
    for source in sources:
        group = groups.get(source.organisation)
        if group is None:
            group = lxml.etree.SubElement(body, "outline", text=source.organisation)
            groups[source.organisation] = group
        outline = lxml.etree.SubElement(
            group, "outline", type="rss", text=source.name, title=source.name
        )
        outline.set("xmlUrl", source.url)
        if source.homepage:
            outline.set("htmlUrl", source.homepage)
        outline.set("language", source.language)
        if source.tags:
            outline.set("category", ",".join(source.tags))
    data: bytes = lxml.etree.tostring(
        root, xml_declaration=True, encoding="utf-8", pretty_print=True
    )
    return data
