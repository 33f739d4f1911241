"""Skip what did not change: the writer every output goes through, and the memo of inputs.

Enters: the output directory, the ``Site``, and each output's name and posts.  Leaves: files
written atomically and only when their bytes changed (with their gzip twins, see
``outputs.BatchWriter``), the lists of written and unchanged files for the ``PublishReport``,
and ``.publish-memo.json``.

The memo is why an unchanged publish is cheap: an output whose inputs did not change is not
even rebuilt (feedgen and jinja2 are most of a publish's cost).  A fingerprint covers the
output's posts (a digest of every field) and a salt over everything else its bytes depend on:
the settings, the sources and their states, the templates, the code of every module of
``publish/`` (``_CODE_FILES``), and which Atom entry writer is on.  A file changed or deleted
behind our back (size or mtime differ from what we wrote), gzip twins included, is rebuilt.
The memo is a dotfile the server never serves; deleting it only costs one full rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator import __version__
from aggregator.i18n import catalog_files, template_files
from aggregator.models import Post
from aggregator.publish import atom_fast
from aggregator.publish.outputs import BatchWriter, write_atomic
from aggregator.publish.site import Site, iso, source_info

MEMO_FILE = ".publish-memo.json"
_PACKAGE = Path(__file__).resolve().parent
# The code that shapes an output: a change to any of it rewrites every file (see ``salt``).
_CODE_FILES = (
    *sorted(_PACKAGE.glob("*.py")),
    *sorted((_PACKAGE.parent / "i18n").glob("*.py")),
    *catalog_files(),  # a reworded translation rewrites the pages that show it
)


@dataclass
class Writer:
    """Every output file of one publish goes through here (atomic, change-only, batched)."""

    root: Path
    files: BatchWriter
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)

    def put(self, relative: str, data: bytes) -> bool:
        path = self.root / relative
        changed = self.files.put(path, data)
        (self.written if changed else self.unchanged).append(path)
        return changed

    def keep(self, relatives: Iterable[str]) -> None:
        """Outputs the memo found fresh: reported as unchanged, not even read."""
        self.unchanged.extend(self.root / r for r in relatives if not r.endswith(".gz"))

    def keep_final(self, relative: str) -> None:
        """An output that is never rewritten once it exists (an archive page)."""
        path = self.root / relative
        self.files.ensure_twin(path)
        self.unchanged.append(path)


@dataclass
class Memo:
    """What each output was last built from, and the files that build left on disk."""

    root: Path
    salt: str
    entries: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, salt: str) -> Memo:
        try:
            data = json.loads((root / MEMO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(root, salt)
        if not isinstance(data, dict) or data.get("salt") != salt:
            return cls(root, salt)
        entries = data.get("outputs")
        return cls(root, salt, entries if isinstance(entries, dict) else {})

    def fingerprint(self, *parts: str) -> str:
        digest = hashlib.sha256(self.salt.encode())
        for part in parts:
            digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def fresh(self, key: str, fp: str) -> list[str] | None:
        """The files ``key`` wrote when built from the same inputs, if all are still as written."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or entry.get("fp") != fp:
            return None
        files = entry.get("files")
        if not isinstance(files, dict) or not files:
            return None
        for relative, seen in files.items():
            try:
                st = (self.root / relative).stat()
            except OSError:
                return None
            if [st.st_size, st.st_mtime_ns] != seen:
                return None
        return list(files)

    def remember(self, key: str, fp: str, relatives: Iterable[str]) -> None:
        """Note what ``key`` was built from; its files are stat-ed by ``save``.  (Their gzip
        twins are ``serve``'s, made on demand: the memo does not watch them.)"""
        self.entries[key] = {"fp": fp, "files": dict.fromkeys(relatives)}

    def save(self) -> None:
        """Record every output's files as they now are (call after the writes completed)."""
        for entry in self.entries.values():
            files = entry.get("files") if isinstance(entry, dict) else None
            if not isinstance(files, dict):
                continue
            for relative, seen in files.items():
                if seen is None:
                    st = (self.root / relative).stat()
                    files[relative] = [st.st_size, st.st_mtime_ns]
        data = {"salt": self.salt, "outputs": self.entries}
        write_atomic(self.root / MEMO_FILE, json.dumps(data, sort_keys=True).encode("utf-8"))


def salt(site: Site) -> str:
    """Everything but the posts that an output's bytes depend on."""
    digest = hashlib.sha256(__version__.encode())
    digest.update(b"fast atom entries" if atom_fast.ENABLED else b"reference atom entries")
    for path in _CODE_FILES:
        with contextlib.suppress(OSError):  # an install without sources still has __version__
            digest.update(path.read_bytes())
    for path in template_files():
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(site.settings.model_dump_json().encode())
    digest.update(site.topics.table().encode())  # labels chosen from the posts' own tags
    for sid in sorted(site.sources):
        digest.update(repr((site.sources[sid], source_info(site, sid))).encode())
    for sid in sorted(site.states):
        state = site.states[sid]
        digest.update(repr((sid, state.title, state.link, state.url)).encode())
    return digest.hexdigest()


def post_digests(site: Site, posts: Iterable[Post]) -> list[str]:
    """What each post's outputs depend on, as a short string for the memo's fingerprints."""
    out = []
    for post in posts:
        found = site.digests.get(post.id)
        if found is None:
            found = site.digests[post.id] = _post_digest(post)
        out.append(found)
    return out


def _post_digest(post: Post) -> str:
    """The content hash covers every normalised field (and the store rewrites a post only when
    it changes); first_seen and also_from are the store's own and outside it.  A post without
    a hash (hand-made, or from an old release) is digested whole."""
    if not post.content_hash:
        raw = repr(post).encode("utf-8", "surrogatepass")
        return hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    seen = iso(post.first_seen)
    return "\x1f".join((post.id, post.content_hash, seen, *post.also_from))
