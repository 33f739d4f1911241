"""An optional machine-translated title, for readers of a post in a language they may not read.

Off by default (``site.machine_translation: off``).  Enters: a post, its title and the reader's
language; an engine the operator installed.  Leaves: the title in the reader's language, which
every output labels as machine-translated, beside (never instead of) the member's own title.
A post the member published in several languages links its own versions (``siblings``); this
is only for the others.

``TitleEngine`` is the interface; ``ArgosEngine`` the one adapter, for Argos Translate with
the language packages the operator installed (``argos-translate-files`` models, offline: no
text leaves the server).  The library is imported when the adapter is built, so nothing needs
installing for the default; a missing library, model or language pair means no translated
title, logged once, never a failed publish.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from aggregator.i18n import base_language
from aggregator.models import Post

log = logging.getLogger(__name__)

MAX_CHARS = 300  # a title, not an article: longer text is cut before translating
CACHE_SIZE = 20_000


class TitleEngine(Protocol):
    """Translate short text from one language to another; None when it cannot."""

    def translate(self, text: str, source: str, target: str) -> str | None: ...


class MachineTitles:
    """Translated titles by (text, source, target), remembered between publishes of a process."""

    def __init__(self, engine: TitleEngine) -> None:
        self.engine = engine
        self.cache: dict[tuple[str, str, str], str] = {}

    def title(self, post: Post, title: str, language: str) -> str:
        """``title`` in ``language``, or "" when the post is in it already or nothing came."""
        source, target = base_language(post.language), base_language(language)
        if not title or not source or source == target:
            return ""
        key = (title[:MAX_CHARS], source, target)
        found = self.cache.get(key)
        if found is None:
            try:
                found = (self.engine.translate(key[0], source, target) or "").strip()
            except Exception:  # an engine's failure costs the translated title only
                log.warning("machine translation %s->%s failed", source, target, exc_info=True)
                found = ""
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            self.cache[key] = found
        return "" if found.casefold() == title.casefold() else found


class ArgosEngine:
    """Argos Translate, offline, with the language packages installed on this machine."""

    def __init__(self, loader: Callable[[str], Any] = importlib.import_module) -> None:
        self._translate = loader("argostranslate.translate")
        self._pairs: dict[tuple[str, str], Any] = {}

    def translate(self, text: str, source: str, target: str) -> str | None:
        pair = self._pairs.get((source, target))
        if pair is None:
            pair = self._pairs[source, target] = self._find(source, target)
        if pair is False:
            return None
        return str(pair.translate(text))

    def _find(self, source: str, target: str) -> Any:
        installed = {lang.code: lang for lang in self._translate.get_installed_languages()}
        if source not in installed or target not in installed:
            log.warning("no Argos Translate package for %s -> %s", source, target)
            return False
        return installed[source].get_translation(installed[target]) or False


_ENGINES: dict[str, Callable[[], TitleEngine]] = {"argos": ArgosEngine}
_BUILT: dict[str, MachineTitles | None] = {}


def machine_titles(setting: str) -> MachineTitles | None:
    """The translator the operator chose (``off``: None), built once per process."""
    if setting == "off":
        return None
    if setting not in _BUILT:
        try:
            _BUILT[setting] = MachineTitles(_ENGINES[setting]())
        except (ImportError, KeyError, OSError):
            log.warning("machine translation %r is not available: no translated titles", setting)
            _BUILT[setting] = None
    return _BUILT[setting]
