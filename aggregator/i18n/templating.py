"""The one jinja2 environment, with localized strings and dates.

Pages and the digest share it so that a post looks the same wherever it appears.  Autoescape is
always on: feed text reaches templates as plain strings and is escaped; only ``content_html``
(already sanitized by ``sanitize``) may be marked safe, and templates do that explicitly.

Interface strings live in ``STRINGS`` below, one dict per language, and fall back to English.
Dates are formatted with babel so that month names and orders follow the reader's language.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date as _babel_format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "read_more": "(+)",
        "read_more_label": "Read the full post",
        "from": "From",
        "by": "By",
        "older": "Older posts",
        "newer": "Newer posts",
        "page": "Page",
        "feeds": "Feeds",
        "all_languages": "All languages",
        "latest": "Latest posts",
        "no_posts": "No posts yet.",
        "subscribe": "Subscribe",
        "digest_intro": "New posts from the network since the last edition.",
        "view_online": "View on the site",
        "more_on_site": "More posts on the site",
        "unsubscribe": "Unsubscribe",
        "footer": "You receive this digest as a subscriber of the network's news.",
        "topic": "Topic",
        "organisation": "Organisation",
        "other": "Other",
        "also_from": "Also published by",
    },
    "fr": {
        "read_more": "(+)",
        "read_more_label": "Lire l’article complet",
        "from": "Source",
        "by": "Par",
        "older": "Articles plus anciens",
        "newer": "Articles plus récents",
        "page": "Page",
        "feeds": "Flux",
        "all_languages": "Toutes les langues",
        "latest": "Derniers articles",
        "no_posts": "Aucun article pour le moment.",
        "subscribe": "S’abonner",
        "digest_intro": "Les nouveaux articles du réseau depuis la dernière édition.",
        "view_online": "Voir sur le site",
        "more_on_site": "Plus d’articles sur le site",
        "unsubscribe": "Se désabonner",
        "footer": "Vous recevez ce résumé en tant qu’abonné·e aux nouvelles du réseau.",
        "topic": "Thème",
        "organisation": "Organisation",
        "other": "Autres",
        "also_from": "Également publié par",
    },
    "es": {
        "read_more": "(+)",
        "read_more_label": "Leer el artículo completo",
        "from": "Fuente",
        "by": "Por",
        "older": "Artículos anteriores",
        "newer": "Artículos más recientes",
        "page": "Página",
        "feeds": "Fuentes",
        "all_languages": "Todos los idiomas",
        "latest": "Últimos artículos",
        "no_posts": "Todavía no hay artículos.",
        "subscribe": "Suscribirse",
        "digest_intro": "Los nuevos artículos de la red desde la última edición.",
        "view_online": "Ver en el sitio",
        "more_on_site": "Más artículos en el sitio",
        "unsubscribe": "Darse de baja",
        "footer": "Recibe este resumen como suscriptor de las noticias de la red.",
        "topic": "Tema",
        "organisation": "Organización",
        "other": "Otros",
        "also_from": "También publicado por",
    },
}


def strings(language: str | None) -> dict[str, str]:
    """Interface strings for a language tag ('fr-CA' uses 'fr'), English as the fallback."""
    base = (language or "en").split("-")[0].lower()
    merged = dict(STRINGS["en"])
    merged.update(STRINGS.get(base, {}))
    return merged


def numeric_date(value: datetime) -> str:
    """The seeds' day-first form: 25/03/2022."""
    return value.strftime("%d/%m/%Y")


def long_date(value: datetime, language: str | None = "en") -> str:
    """'25 March 2022', '25 mars 2022', '25 de marzo de 2022'."""
    locale = (language or "en").split("-")[0].lower()
    if locale not in STRINGS:
        locale = "en"
    return str(_babel_format_date(value.date(), format="long", locale=locale))


@lru_cache(maxsize=4)
def environment(templates_dir: str | None = None) -> Environment:
    """The shared environment; cached, since building it and compiling templates is not free."""
    env = Environment(
        loader=FileSystemLoader(templates_dir or str(TEMPLATES_DIR)),
        autoescape=select_autoescape(("html", "htm", "xml", "j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["numeric_date"] = numeric_date
    env.filters["long_date"] = long_date
    env.globals["strings"] = strings
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
