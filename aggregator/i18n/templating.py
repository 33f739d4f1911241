"""The jinja2 environments, one per catalog language, with ``jinja2.ext.i18n`` installed.

Pages, member pages and the digest share them so that a post looks the same wherever it
appears.  Autoescape is always on: feed text reaches templates as plain strings and is escaped;
only ``content_html`` (already sanitized by ``sanitize``) may be marked safe, and templates do
that explicitly.

Templates write their words as ``{{ _("Latest posts") }}`` or ``{% trans %}…{% endtrans %}``
(newstyle gettext: ``_("Page %(number)s", number=page)`` escapes its values; the catalog's own
text is trusted markup, which ``tests/test_i18n.py`` keeps free of ``<``, ``&`` and quotes).  An
environment is bound to one language because ``install_gettext_translations`` is per
environment; the compiled templates are shared between them through an in-memory bytecode
cache, since the code jinja generates does not depend on the language.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.bccache import Bucket

from aggregator.files import write_atomic
from aggregator.i18n import formats
from aggregator.i18n.catalogs import translations
from aggregator.i18n.languages import LANGUAGES, supported

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


class _SharedBytecode(BytecodeCache):
    """Compiled templates shared by the per-language environments, and kept on disk.

    In memory for the environments of one process; on disk in ``templates/__pycache__`` (as
    Python keeps bytecode) so that the next process does not compile them again, which cost a
    publish, a digest or a page server's first request about 40 ms.  Jinja checks the code a
    file holds against the template's source (an edited template is compiled again), but not
    against the settings it was compiled with (autoescape, the i18n extension) nor jinja's
    release: the file name carries ``tag``, a digest of both (``code_tag``), so code compiled
    under other settings is never loaded.  A file that cannot be read back is compiled again
    and replaced; where the directory cannot be written, nothing is kept on disk.
    """

    def __init__(self, directory: Path, tag: str) -> None:
        self._code: dict[str, bytes] = {}
        self._directory = directory
        self._tag = tag

    def _path(self, key: str) -> Path:
        return self._directory / f"{key}.{self._tag}.jinja"

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is None:
            try:
                code = self._path(bucket.key).read_bytes()
            except OSError:
                return
        try:
            bucket.bytecode_from_string(code)  # resets the bucket when the source changed
        except Exception:  # a damaged file: compiled again, and replaced, by the caller
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = self._code[bucket.key] = bucket.bytecode_to_string()
        path = self._path(bucket.key)
        with contextlib.suppress(OSError):  # a folder that cannot be written keeps nothing
            write_atomic(path, code)
            for older in self._directory.glob(f"{bucket.key}.*.jinja"):
                if older != path:  # compiled under other settings
                    older.unlink(missing_ok=True)


def code_tag(jinja_version: str, settings_source: bytes) -> str:
    """What compiled template code depends on besides the template: jinja's release and the
    code that sets the environments up (this module)."""
    return hashlib.blake2b(
        jinja_version.encode() + b"\0" + settings_source, digest_size=8
    ).hexdigest()


_BYTECODE = _SharedBytecode(
    TEMPLATES_DIR / "__pycache__", code_tag(jinja2.__version__, Path(__file__).read_bytes())
)


def environment(language: str | None = None) -> Environment:
    """The environment for a reader's language tag (``fr-CA`` reads French; unknown: English)."""
    return _environment(supported(language))


@lru_cache(maxsize=len(LANGUAGES))
def _environment(language: str) -> Environment:
    """Built once per language: building one and compiling its templates is not free."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(("html", "htm", "xml", "j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=_BYTECODE,
    )
    # added by the i18n extension, so unknown to the type checker
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["numeric_date"] = _bound(formats.numeric_date, language)
    env.filters["long_date"] = _bound(formats.long_date, language)
    env.filters["decimal"] = _bound(formats.number, language)
    return env


def _bound(
    function: Callable[[Any, str], str], language: str
) -> Callable[[datetime | date | int | float], str]:
    def in_language(value: datetime | date | int | float) -> str:
        return function(value, language)

    return in_language


_NOT_TEMPLATES = ("static", "__pycache__")  # folders of templates/ that hold no template


def template_files(root: Path = TEMPLATES_DIR) -> list[Path]:
    """The templates and static files outputs are made from, for whoever must notice a change
    (publish's output salt); not the compiled code in ``__pycache__``, which any process may
    write at any time."""
    return sorted(
        path
        for path in root.rglob("*")
        if "__pycache__" not in path.relative_to(root).parts and path.is_file()
    )


def compile_templates() -> int:
    """Compile every template and keep its code (an image build does this once, beside
    ``compileall``); how many there are."""
    env = _environment(LANGUAGES[0])
    names = env.list_templates(filter_func=lambda name: name.split("/")[0] not in _NOT_TEMPLATES)
    for name in names:
        env.get_template(name)
    return len(names)


def render(name: str, /, language: str | None = None, **context: Any) -> str:
    """Render a template in a reader's language; ``lang`` (for ``<html lang>``) defaults to it."""
    lang = supported(language)
    context.setdefault("lang", lang)
    return _environment(lang).get_template(name).render(**context)
