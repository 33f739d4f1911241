"""The gettext catalogs: ``locale/<lang>/LC_MESSAGES/messages.po``, compiled in memory at first use.

Why compile here rather than ship ``.mo`` files: a fresh clone and ``pip install -e .`` must show
French and Spanish without a build step, and a ``.mo`` left over from an older ``.po`` would show
stale words without anyone noticing.  Babel's reading of a ``.po`` costs about 27 ms a language,
in every process that speaks to people (a publish, a digest, each CLI command), so the compiled
bytes are kept as Python keeps bytecode: in ``__pycache__`` beside the ``.po``, named by a digest
of the ``.po``, Babel's version and how it was compiled, which a changed catalog cannot match (a
damaged file is compiled again).  Where the package
is read-only the catalog is compiled in memory each time, as before.  Fuzzy entries are left
out, as ``msgfmt`` leaves them out, so a guess a translator has not confirmed falls back to
English.

``Translator`` is what Python code holds: ``gettext``/``ngettext`` with
``%(name)s`` parameters (the same convention as the templates' newstyle ``_()``), and the
language's dates and numbers.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import babel
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from aggregator.files import write_atomic
from aggregator.i18n import formats
from aggregator.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES, supported

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> Translations:
    """The compiled catalog of a supported language, falling back to the English one."""
    compiled = _compile(language)
    if language != DEFAULT_LANGUAGE:
        compiled.add_fallback(translations(DEFAULT_LANGUAGE))
    return compiled


def _compile(language: str) -> Translations:
    """The language's .mo, from the cache when it was compiled from this very .po."""
    source = catalog_path(language).read_bytes()
    cached = compiled_path(language, source)
    try:
        return Translations(io.BytesIO(cached.read_bytes()), domain=DOMAIN)
    except Exception:  # not kept yet, or damaged (a bad magic number, a short file): compile
        compiled = _mo_bytes(language, source)
        _keep(cached, compiled)
    return Translations(io.BytesIO(compiled), domain=DOMAIN)


def compile_catalogs() -> list[Path]:
    """Compile and keep every language's catalog (an image build does this once, as it runs
    ``compileall``, so that its read-only code still starts without compiling)."""
    for language in LANGUAGES:
        translations(language)
    return [compiled_path(lang, catalog_path(lang).read_bytes()) for lang in LANGUAGES]


def compiled_path(language: str, source: bytes) -> Path:
    """Where the .mo compiled from ``source`` (a .po's bytes) is kept."""
    how = f"{babel.__version__}\0{_COMPILED_AS}\0".encode()
    key = hashlib.blake2b(how + source, digest_size=12)
    return catalog_path(language).parent / "__pycache__" / f"{DOMAIN}.{key.hexdigest()}.mo"


# How _mo_bytes compiles: change it with _mo_bytes, so that no .mo compiled the old way is read.
_COMPILED_AS = "read_po, write_mo without fuzzy entries"


def _mo_bytes(language: str, source: bytes) -> bytes:
    """Read the .po with Babel and write it as a .mo in memory."""
    catalog = read_po(io.BytesIO(source), locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def _keep(path: Path, compiled: bytes) -> None:
    """Write the .mo whole (``files.write_atomic``: a reader never meets half of one) and drop
    older ones; a read-only package keeps nothing."""
    try:
        write_atomic(path, compiled)
        for older in path.parent.glob(f"{DOMAIN}.*.mo"):
            if older != path:
                older.unlink(missing_ok=True)
    except OSError:
        return


@dataclass(frozen=True, slots=True)
class Translator:
    """One reader's language: words from its catalog, dates and numbers in its locale."""

    language: str

    def gettext(self, message: str, **values: object) -> str:
        """``message`` translated, then ``%(name)s`` filled from ``values`` (always applied, so
        a literal percent sign is written ``%%`` here as in the templates)."""
        return str(translations(self.language).gettext(message)) % values

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        """The form for ``count``; ``%(num)s`` is the count written in the language."""
        values.setdefault("num", self.number(count))
        return str(translations(self.language).ngettext(singular, plural, count)) % values

    def long_date(self, value: datetime | date) -> str:
        return formats.long_date(value, self.language)

    def numeric_date(self, value: datetime | date) -> str:
        return formats.numeric_date(value, self.language)

    def number(self, value: int | float) -> str:
        return formats.number(value, self.language)


def N_(message: str) -> str:
    """Mark a message for ``pybabel extract`` (which looks for this name) where no reader is
    known yet, as in a table of phrases; ``Translator.gettext`` translates it when one is."""
    return message


def translator(tag: str | None) -> Translator:
    """The translator for a reader's language tag (see ``supported``)."""
    return Translator(supported(tag))


def catalog_files() -> tuple[Path, ...]:
    """The .po files, for whoever must notice a change of wording (publish's output salt)."""
    return tuple(catalog_path(language) for language in LANGUAGES)
