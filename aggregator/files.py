"""The one way this package replaces a file that someone may be reading at that moment.

Published feeds and pages, digest previews, ``feeds.yaml`` edited by a command and the language
model cache are all read by someone else (a web server, a feed reader, a person, another
process) while we write them.  Every one of them goes through here, so they share three
guarantees:

* a reader never sees a half-written file: data goes to a temporary file in the *same*
  directory (so ``os.replace`` is a rename on one filesystem), is fsynced, then replaces the old
  file in one step; a crash leaves either the old file or the new one;
* a temporary file is named ``.tmp-<pid>-….part``: the web server refuses dotfiles, and
  ``sweep_orphans`` can tell the leftover of a killed writer from the file of a live one;
* ``write_atomic`` leaves a file whose bytes did not change alone, so its mtime, inode, ETag and
  Last-Modified stay put and feed readers polling with conditional requests get 304s.

The caller chooses the permissions, since they differ: published files are meant to be read by
anyone (0644), while an operator's ``feeds.yaml`` keeps the mode it had.

A text file may have a gzip twin beside it (``feed.atom.gz``), which ``serve`` sends to clients
that accept gzip.  ``fresh_twin`` makes it when it is first asked for, and again after its
original changed (the twin carries the original's modification time); publish removes it with
its original.  A batch can also write twins as it goes (``gzip_twins``), for a caller that wants
them ready before anyone asks.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from aggregator.errors import OutputError

TEMP_PREFIX = ".tmp-"  # the web server refuses to serve names starting with a dot
TEMP_SUFFIX = ".part"
PUBLIC_MODE = 0o644  # mkstemp creates 0600; published files are meant to be read
_TEMP_NAME = re.compile(r"^\.tmp-(?:(\d+)-)?.*\.part$")
# Text outputs get a gzip twin; images are compressed already.
GZIP_SUFFIXES = frozenset(
    {".atom", ".rss", ".json", ".opml", ".html", ".css", ".xml", ".txt", ".svg"}
)
IN_FLIGHT_PER_WORKER = 8  # queued writes per writer thread before ``put`` waits (see BatchWriter)
GZIP_LEVEL = 1  # see docs/performance.md ("publish"): 5:1 on our XML, at 4x the speed of level 6


@contextlib.contextmanager
def replacing(path: Path, *, mode: int = PUBLIC_MODE) -> Iterator[BinaryIO]:
    """A binary file to write into; on a clean exit it is fsynced and renamed over ``path``.

    For writers that stream (``numpy.savez``); an exception inside the block removes the
    temporary file and leaves ``path`` as it was.  The rename is durable once the directory is
    fsynced, which ``write_atomic`` does and a batch does once per directory.

    A full disk, a read-only or missing directory leaves as ``OutputError``: the path and the
    system's reason in one line, which commands print instead of a traceback.
    """
    with _as_output_error(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # the writer's pid in the name lets sweep_orphans tell a crashed writer's leftover apart
        prefix = f"{TEMP_PREFIX}{os.getpid()}-"
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with _as_output_error(path), os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with _as_output_error(path):
            tmp.chmod(mode)
            tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _as_output_error(path: Path) -> Iterator[None]:
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(str(path), exc.strerror or str(exc)) from exc


def write_atomic(path: Path, data: bytes, *, mode: int = PUBLIC_MODE) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly these bytes.

    Returns True when the file was created or replaced, False when it was left alone.
    """
    if _same_bytes(path, data):
        return False
    _replace(path, data, mode)
    _fsync_dir(path.parent)
    return True


def gzip_twin(path: Path) -> Path | None:
    """Where the gzip form of ``path`` lives, or None for a file that gets none."""
    if path.suffix.lower() not in GZIP_SUFFIXES:
        return None
    return path.with_name(path.name + ".gz")


def fresh_twin(path: Path) -> bool:
    """Make ``path``'s gzip twin hold exactly its bytes, writing it if needed; False when the
    file gets no twin or one cannot be made now (then send the file itself).

    The twin carries its original's modification time, so a twin whose time differs is stale:
    publish replaced the original since.  An original replaced while it was being read is left
    for the next request.  Two requests making the same twin at once both write the same bytes.
    """
    twin = gzip_twin(path)
    if twin is None:
        return False
    try:
        before = path.stat()
        with contextlib.suppress(FileNotFoundError):
            if twin.stat().st_mtime_ns == before.st_mtime_ns:
                return True
        data = path.read_bytes()
        after = path.stat()
        if (after.st_mtime_ns, after.st_size, len(data)) != (before.st_mtime_ns,) + (
            before.st_size,
        ) * 2:
            return False
        _replace(twin, _gzip(data), PUBLIC_MODE)
        os.utime(twin, ns=(after.st_atime_ns, after.st_mtime_ns))
    except OSError:
        return False
    return True


def remove_with_twin(path: Path) -> None:
    """Delete a file and its gzip twin, so no twin outlives its original."""
    twin = gzip_twin(path)
    if twin is not None:
        twin.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


class BatchWriter:
    """``write_atomic`` for many files at once, with their fsyncs overlapped.

    A publish writes hundreds of files, and one fsync after another costs a journal commit
    each; most of a first publish's wall time went there.  Here each file is still written to
    a temporary file, fsynced and renamed over the old one (readers never see half a file, a
    crash never leaves a renamed but empty one), but a few threads do it while the caller goes
    on building the next document, and the filesystem merges concurrent fsyncs into shared
    commits.  Each directory is fsynced once, at ``close``, which is when every write is
    durable and every file is in place (stat them after that, not before).

    With ``gzip_twins``, each text file (``GZIP_SUFFIXES``) is followed by its gzip twin, in
    the same job: compressed in the writer thread (zlib lets go of the GIL), written only when
    the original changed, or when the twin is missing or no longer matches an original that
    did not.
    """

    def __init__(self, workers: int = 4, *, gzip_twins: bool = False) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="write")
        self._pending: dict[Path, Future[None]] = {}
        self._twins = gzip_twins
        # Writes queued and not yet done hold their bytes: a caller producing faster than the
        # disk takes them (a first publish's thousands of archive pages) waits for the oldest
        # beyond this many, so the batch holds a bounded amount of data.
        self._in_flight: deque[Future[None]] = deque()
        self._most_in_flight = workers * IN_FLIGHT_PER_WORKER

    def put(self, path: Path, data: bytes) -> bool:
        """Queue ``data`` for ``path`` unless it already holds these bytes; True if queued."""
        earlier = self._pending.get(path)
        if earlier is not None:
            earlier.result()  # the same file twice: the second write must land last
        twin = gzip_twin(path) if self._twins else None
        if _same_bytes(path, data):
            if twin is not None:
                self._submit(path, self._pool.submit(_refresh_twin, twin, data))
            return False
        self._submit(path, self._pool.submit(_replace_with_twin, path, twin, data))
        return True

    def _submit(self, path: Path, future: Future[None]) -> None:
        self._pending[path] = future
        self._in_flight.append(future)
        while self._in_flight and (
            self._in_flight[0].done() or len(self._in_flight) > self._most_in_flight
        ):
            self._in_flight.popleft().exception()  # waits; failures are raised by close

    def ensure_twin(self, path: Path) -> None:
        """Give a final file that is never rewritten (an archive page) its twin if it has none."""
        twin = gzip_twin(path) if self._twins else None
        if twin is not None and not twin.is_file() and path.is_file():
            self._submit(twin, self._pool.submit(_refresh_twin, twin, path.read_bytes()))

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
        self._in_flight.clear()

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


def _gzip(data: bytes) -> bytes:
    """gzip with no name and mtime 0 in the header: the same bytes give the same twin."""
    return zlib.compress(data, level=GZIP_LEVEL, wbits=31)


def _replace_with_twin(path: Path, twin: Path | None, data: bytes) -> None:
    _replace(path, data, PUBLIC_MODE)
    if twin is not None:
        _replace(twin, _gzip(data), PUBLIC_MODE)


def _refresh_twin(twin: Path, data: bytes) -> None:
    """Rewrite ``twin`` unless it already decompresses to ``data``."""
    try:
        inflate = zlib.decompressobj(wbits=31)
        found = inflate.decompress(twin.read_bytes(), len(data) + 1)  # bounded: no bomb
        if found == data and inflate.eof and not inflate.unconsumed_tail:
            return
    except (OSError, zlib.error):
        pass
    _replace(twin, _gzip(data), PUBLIC_MODE)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file beside ``path``, fsync it, rename it over ``path``."""
    with replacing(path, mode=mode) as handle:
        handle.write(data)


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
