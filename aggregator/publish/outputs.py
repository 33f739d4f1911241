"""Atomic, change-only file writes for everything the site publishes.

Two properties matter to subscribers and to the web server in front of the output directory:

* a reader never sees a half-written file: data goes to a temporary file in the *same*
  directory (so ``os.replace`` is a rename on one filesystem), is fsynced, then replaces the old
  file in one step;
* a file whose bytes did not change is not touched at all, so its mtime, inode, ETag and
  Last-Modified stay put and feed readers polling with conditional requests get 304s;
* a text output gets a gzip twin beside it (``feed.atom.gz``), which ``serve`` sends to clients
  that accept gzip.  The twin is written right after its original, in the same job, and is
  checked against it whenever the original is left alone, so a twin never lags its original
  past one publish, even after a crash between the two renames.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

TEMP_PREFIX = ".tmp-"  # the web server refuses to serve names starting with a dot
TEMP_SUFFIX = ".part"
_TEMP_NAME = re.compile(r"^\.tmp-(?:(\d+)-)?.*\.part$")
# XML 1.0 forbids C0 controls except tab/LF/CR, surrogates and U+FFFE/U+FFFF; C1 controls and
# DEL are allowed but only ever come from mis-decoded text, so they go too.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ANY_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
# Text outputs get a gzip twin; images are compressed already.
GZIP_SUFFIXES = frozenset(
    {".atom", ".rss", ".json", ".opml", ".html", ".css", ".xml", ".txt", ".svg"}
)
GZIP_LEVEL = 1  # see docs/performance.md ("publish"): 5:1 on our XML, at 4x the speed of level 6


def clean_text(value: str | None) -> str:
    """Drop what XML 1.0 cannot carry; a lone surrogate becomes U+FFFD so the gap shows.

    Every published format (Atom, RSS, OPML, JSON, HTML) goes through this: feedgen raises on
    ESC or BEL, and a lone surrogate cannot even be encoded to UTF-8.
    """
    if not value:
        return ""
    if _all_printable(value) or _ANY_BAD.search(value) is None:  # the common cases: no copy
        return value
    return _NOT_XML.sub("", _SURROGATE.sub("\ufffd", value))


def _all_printable(value: str) -> bool:
    """A quick proof that nothing needs dropping: every character we drop is non-printable.

    False only means "ask the regex" (a no-break space is legitimate yet not printable); why
    this shortcut exists is in docs/performance.md ("publish").
    """
    if "\n" in value or "\t" in value or "\r" in value:
        value = value.replace("\n", " ").replace("\t", " ").replace("\r", " ")
    return value.isprintable()


def clean_line(value: str | None) -> str:
    """A title or a name: cleaned and on one line (feed readers show CR/LF literally)."""
    if not value:
        return ""
    if "  " not in value and value.isprintable():  # nothing to drop, no run of spaces to fold
        return value.strip()
    return _SPACES.sub(" ", clean_text(value)).strip()


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly these bytes.

    Returns True when the file was created or replaced, False when it was left alone.
    """
    if _same_bytes(path, data):
        return False
    _replace(path, data)
    _fsync_dir(path.parent)
    return True


def gzip_twin(path: Path) -> Path | None:
    """Where the gzip form of ``path`` lives, or None for a file that gets none."""
    if path.suffix.lower() not in GZIP_SUFFIXES:
        return None
    return path.with_name(path.name + ".gz")


def remove_with_twin(path: Path) -> None:
    """Delete an output and its gzip twin, so no twin outlives its original."""
    twin = gzip_twin(path)
    if twin is not None:
        twin.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def _gzip(data: bytes) -> bytes:
    """gzip with no name and mtime 0 in the header: the same bytes give the same twin."""
    return zlib.compress(data, level=GZIP_LEVEL, wbits=31)


class BatchWriter:
    """``write_atomic`` for many files at once, with their fsyncs overlapped.

    Each file is still written to a temporary file, fsynced and renamed over the old one
    (readers never see half a file, a crash never leaves a renamed but empty one), but a few
    threads do it while the caller goes on building the next document, and the filesystem
    merges concurrent fsyncs into shared commits (docs/performance.md, "publish").  Each
    directory is fsynced once, at ``close``, which is when every write is durable and every
    file is in place (stat them after that, not before).

    With ``gzip_twins``, each text output (``GZIP_SUFFIXES``) is followed by its gzip twin, in
    the same job: compressed in the writer thread (zlib lets go of the GIL), written only when
    the original changed, or when the twin is missing or no longer matches an original that
    did not.
    """

    def __init__(self, workers: int = 4, *, gzip_twins: bool = False) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="write")
        self._pending: dict[Path, Future[None]] = {}
        self._twins = gzip_twins

    def put(self, path: Path, data: bytes) -> bool:
        """Queue ``data`` for ``path`` unless it already holds these bytes; True if queued."""
        earlier = self._pending.get(path)
        if earlier is not None:
            earlier.result()  # the same file twice: the second write must land last
        twin = gzip_twin(path) if self._twins else None
        if _same_bytes(path, data):
            if twin is not None:
                self._pending[path] = self._pool.submit(_refresh_twin, twin, data)
            return False
        self._pending[path] = self._pool.submit(_replace_with_twin, path, twin, data)
        return True

    def ensure_twin(self, path: Path) -> None:
        """Give a final output that is never rewritten (an archive page) its twin if it has none."""
        twin = gzip_twin(path) if self._twins else None
        if twin is not None and not twin.is_file() and path.is_file():
            self._pending[twin] = self._pool.submit(_refresh_twin, twin, path.read_bytes())

    def close(self) -> None:
        """Wait for every write (re-raising the first failure), then make the renames durable."""
        try:
            for future in self._pending.values():
                future.result()
        finally:
            self._pool.shutdown(wait=True)
        for directory in sorted({path.parent for path in self._pending}):
            _fsync_dir(directory)
        self._pending.clear()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self.close()
        else:  # let running writes finish (their temp files are cleaned up) and keep the error
            with contextlib.suppress(Exception):
                self.close()


def _replace_with_twin(path: Path, twin: Path | None, data: bytes) -> None:
    _replace(path, data)
    if twin is not None:
        _replace(twin, _gzip(data))


def _refresh_twin(twin: Path, data: bytes) -> None:
    """Rewrite ``twin`` unless it already decompresses to ``data``."""
    try:
        inflate = zlib.decompressobj(wbits=31)
        found = inflate.decompress(twin.read_bytes(), len(data) + 1)  # bounded: no bomb
        if found == data and inflate.eof and not inflate.unconsumed_tail:
            return
    except (OSError, zlib.error):
        pass
    _replace(twin, _gzip(data))


def _replace(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync it, rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name lets sweep_orphans tell a crashed writer's leftover apart
    prefix = f"{TEMP_PREFIX}{os.getpid()}-"
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)  # mkstemp creates 0600; published files are meant to be read
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _same_bytes(path: Path, data: bytes) -> bool:
    """Compare sizes first (a stat), then contents, so most changed files cost no read."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; some filesystems refuse to open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_orphans(root: Path) -> list[Path]:
    """Delete temporary files that a writer killed mid-write (``kill -9``, power loss) left.

    Only our own temp names are touched, and only when the process whose pid the name carries
    no longer exists on this host (a name without a pid comes from an older release).  A live
    writer's temp file is never removed, so this is safe without a lock.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        if match.group(1) is not None and _pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    """Whether that process exists here; unsure (EPERM, pid 0) counts as alive."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
