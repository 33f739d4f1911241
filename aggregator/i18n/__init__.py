"""Every word a reader sees, in their language: gettext catalogs (en, fr, es) and Babel formats.

What enters: a reader's language tag (``fr``, ``fr-CA``, ``es``, None) and the messages, dates and
numbers to show.  What leaves: a ``Translator`` for Python code (``gettext``, ``ngettext``, dates,
numbers), jinja2 environments whose templates say ``_()`` and ``{% trans %}``, and a source's
error (an ``ErrorKind`` and its parameters) worded in the reader's language (``describe_error``).

The words live in ``locale/<lang>/LC_MESSAGES/messages.po``, extracted into
``locale/messages.pot`` by ``pybabel extract`` with ``babel.cfg`` (see CONTRIBUTING.md,
"Translations"); they are compiled in memory at first use, so nothing needs building.  This
package is the only one that imports babel, gettext or jinja2.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.i18n.catalogs import LOCALE_DIR, N_, Translator, catalog_files, translator
    from aggregator.i18n.errors import describe_error
    from aggregator.i18n.formats import autonym, long_date, number, numeric_date
    from aggregator.i18n.languages import (
        DEFAULT_LANGUAGE,
        LANGUAGES,
        base_language,
        preferred_language,
        supported,
    )
    from aggregator.i18n.templating import TEMPLATES_DIR, environment, render, template_files

_WHERE = {
    **dict.fromkeys(("LOCALE_DIR", "N_", "Translator", "catalog_files", "translator"), "catalogs"),
    "describe_error": "errors",
    **dict.fromkeys(("autonym", "long_date", "number", "numeric_date"), "formats"),
    **dict.fromkeys(
        ("DEFAULT_LANGUAGE", "LANGUAGES", "base_language", "preferred_language", "supported"),
        "languages",
    ),
    **dict.fromkeys(("TEMPLATES_DIR", "environment", "render", "template_files"), "templating"),
}


def __getattr__(name: str) -> Any:
    """``name``, imported from its module on first use and kept here from then on."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "TEMPLATES_DIR",
    "Translator",
    "autonym",
    "base_language",
    "catalog_files",
    "describe_error",
    "environment",
    "long_date",
    "number",
    "numeric_date",
    "preferred_language",
    "render",
    "supported",
    "template_files",
    "translator",
]
