"""A deterministic benchmark corpus: N sources x 20 entries, RSS 2.0 and Atom, en/fr/es bodies.

Same seed, same bytes: figures from two runs or two machines compare like with like.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

WORDS = {
    "en": [
        "city",
        "council",
        "residents",
        "mobility",
        "housing",
        "climate",
        "budget",
        "participation",
        "mayor",
        "region",
        "network",
        "cooperation",
        "resilience",
        "culture",
        "water",
        "transport",
        "schools",
        "public",
        "services",
        "green",
        "neighbourhood",
        "project",
        "partners",
        "citizens",
        "local",
        "government",
        "strategy",
    ],
    "fr": [
        "ville",
        "conseil",
        "habitants",
        "mobilité",
        "logement",
        "climat",
        "budget",
        "participation",
        "maire",
        "région",
        "réseau",
        "coopération",
        "résilience",
        "culture",
        "eau",
        "transports",
        "écoles",
        "services",
        "publics",
        "verts",
        "quartier",
        "projet",
        "partenaires",
        "citoyens",
        "collectivités",
        "stratégie",
    ],
    "es": [
        "ciudad",
        "consejo",
        "vecinos",
        "movilidad",
        "vivienda",
        "clima",
        "presupuesto",
        "participación",
        "alcalde",
        "región",
        "red",
        "cooperación",
        "resiliencia",
        "cultura",
        "agua",
        "transporte",
        "escuelas",
        "servicios",
        "públicos",
        "verdes",
        "barrio",
        "proyecto",
        "socios",
        "ciudadanía",
        "gobiernos",
        "locales",
        "estrategia",
    ],
}
LANGS = ("en", "fr", "es")
BASE_DATE = datetime(2026, 6, 1, tzinfo=UTC)


def _sentence(rng: random.Random, lang: str) -> str:
    words = [rng.choice(WORDS[lang]) for _ in range(rng.randint(8, 16))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _body(rng: random.Random, lang: str) -> str:
    target = rng.randint(1500, 4000)
    parts: list[str] = []
    size = 0
    while size < target:
        para = " ".join(_sentence(rng, lang) for _ in range(rng.randint(2, 5)))
        if rng.random() < 0.3:
            para += f' <a href="https://example.org/{lang}/{rng.randint(1, 10**6)}">{rng.choice(WORDS[lang])}</a>'
        chunk = f"<p>{para}</p>"
        parts.append(chunk)
        size += len(chunk)
    return "".join(parts)


def _entries(rng: random.Random, source: int, count: int) -> list[dict[str, object]]:
    out = []
    for i in range(count):
        lang = LANGS[(source + i) % 3]
        when = BASE_DATE + timedelta(hours=source * 7 + i * 13)
        out.append(
            {
                "id": f"https://member{source}.example.org/posts/{i}",
                "title": _sentence(rng, lang)[:80],
                "date": when,
                "lang": lang,
                "body": _body(rng, lang),
                "tags": [rng.choice(WORDS[lang]) for _ in range(2)],
            }
        )
    return out


def rss(source: int, entries: list[dict[str, object]]) -> str:
    items = []
    for e in entries:
        cats = "".join(f"<category>{escape(str(t))}</category>" for t in e["tags"])  # type: ignore[attr-defined]
        items.append(
            f"<item><title>{escape(str(e['title']))}</title><link>{e['id']}</link>"
            f"<guid>{e['id']}</guid><pubDate>{format_datetime(e['date'])}</pubDate>{cats}"  # type: ignore[arg-type]
            f"<description>{escape(str(e['body']))}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Member {source}</title><link>https://member{source}.example.org/</link>"
        f"<description>Benchmark source {source}</description>{''.join(items)}</channel></rss>"
    )


def atom(source: int, entries: list[dict[str, object]]) -> str:
    items = []
    for e in entries:
        cats = "".join(f'<category term="{escape(str(t))}"/>' for t in e["tags"])  # type: ignore[attr-defined]
        stamp = e["date"].isoformat()  # type: ignore[attr-defined]
        items.append(
            f'<entry xml:lang="{e["lang"]}"><title>{escape(str(e["title"]))}</title><id>{e["id"]}</id>'
            f'<link rel="alternate" href="{e["id"]}"/><updated>{stamp}</updated>'
            f"<published>{stamp}</published>{cats}"
            f'<content type="html">{escape(str(e["body"]))}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Member {source}</title><id>urn:bench:{source}</id>"
        f'<link rel="alternate" href="https://member{source}.example.org/"/>'
        f"<updated>{BASE_DATE.isoformat()}</updated>{''.join(items)}</feed>"
    )


def generate(directory: Path, sources: int, entries: int = 20, seed: int = 20261122) -> int:
    """Write one document per source; return the number of bytes written."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for s in range(sources):
        items = _entries(rng, s, entries)
        if s % 2 == 0:
            name, text = f"s{s}.rss", rss(s, items)
        else:
            name, text = f"s{s}.atom", atom(s, items)
        data = text.encode("utf-8")
        (directory / name).write_bytes(data)
        total += len(data)
    return total


def document_name(source: int) -> str:
    return f"s{source}.rss" if source % 2 == 0 else f"s{source}.atom"
