"""The labelled article pages: each labelled article inside one of four page shapes that
municipal sites use, with what a reader would call the article's text beside it.

Shapes (our own markup, modelled on what the CMSs that councils run put around an article):

* ``cms_node``: a node page with a cookie banner, a menu, a breadcrumb, the article, a share
  bar, a side column of related news and contact details, a footer;
* ``blog``: a blog theme: the entry, its categories, previous/next links naming other posts,
  a "you may also like" block under the article and a widget column;
* ``rubrique``: a French-style page: title box, lead paragraph apart from the text, the other
  articles "in the same section" right after the text, a newsletter box;
* ``table``: an old table layout: a menu cell, the content cell where related news follow the
  text in the same cell, an agenda cell.

The related-news blocks name other articles of the same language and quote their first
sentence: text an extractor must never take for the article (``leaks`` lists it).  Every
page of one organisation shares its menu, banner and footer, as a real site's pages do.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from tests.data.articles import ARTICLES, language_of, source_id

WORDS = {
    "en": {
        "cookies": "We use cookies to make this website work and to understand how it is used. You can accept all cookies or choose which ones to allow.",
        "accept": "Accept all cookies",
        "menu": [
            "Home",
            "Council and democracy",
            "Bins and recycling",
            "Housing",
            "Parking",
            "Jobs",
            "Contact us",
        ],
        "related": "Related news",
        "also": "You may also like",
        "latest": "Latest news",
        "contact": "Customer service centre, Town Hall, Market Square. Open Monday to Friday, 9am to 5pm. Telephone 0300 123 4567.",
        "share": "Share this page",
        "footer": "Accessibility statement · Privacy notice · Cookie settings · Freedom of information · © 2026",
        "published": "Published",
        "newsletter": "Sign up to our weekly e-newsletter to get the latest council news straight to your inbox.",
        "agenda": "What's on: farmers' market on Saturday, council meeting on Thursday at 7pm.",
        "prev": "Previous post",
        "next": "Next post",
        "section": "In the same section",
        "home": "Home",
        "news": "News",
    },
    "fr": {
        "cookies": "Ce site utilise des cookies pour mesurer l'audience et améliorer votre navigation. Vous pouvez les accepter ou paramétrer vos choix.",
        "accept": "Tout accepter",
        "menu": [
            "Accueil",
            "Mairie",
            "Vie pratique",
            "Culture et loisirs",
            "Enfance et jeunesse",
            "Démarches",
            "Nous contacter",
        ],
        "related": "Actualités liées",
        "also": "À lire aussi",
        "latest": "Dernières actualités",
        "contact": "Hôtel de ville, place de la République. Ouvert du lundi au vendredi de 8 h 30 à 17 h. Téléphone 02 40 00 00 00.",
        "share": "Partager cette page",
        "footer": "Mentions légales · Accessibilité : partiellement conforme · Plan du site · Gestion des cookies · © 2026",
        "published": "Publié le",
        "newsletter": "Inscrivez-vous à la lettre d'information pour recevoir chaque semaine l'actualité de votre commune.",
        "agenda": "Agenda : marché de Noël samedi, conseil municipal jeudi à 19 heures.",
        "prev": "Article précédent",
        "next": "Article suivant",
        "section": "Dans la même rubrique",
        "home": "Accueil",
        "news": "Actualités",
    },
    "es": {
        "cookies": "Utilizamos cookies propias y de terceros para mejorar nuestros servicios. Si continúa navegando, consideramos que acepta su uso.",
        "accept": "Aceptar todas",
        "menu": [
            "Inicio",
            "Ayuntamiento",
            "Sede electrónica",
            "Servicios",
            "Turismo",
            "Transparencia",
            "Contacto",
        ],
        "related": "Noticias relacionadas",
        "also": "También le puede interesar",
        "latest": "Últimas noticias",
        "contact": "Oficina de atención ciudadana, Plaza Mayor 1. Horario de lunes a viernes de 9:00 a 14:00. Teléfono 900 000 000.",
        "share": "Compartir en redes sociales",
        "footer": "Aviso legal · Política de privacidad · Accesibilidad · Mapa web · © 2026",
        "published": "Publicado el",
        "newsletter": "Suscríbase al boletín municipal para recibir las noticias del ayuntamiento en su correo.",
        "agenda": "Agenda: mercado de artesanía el sábado, pleno municipal el jueves a las 19:00.",
        "prev": "Noticia anterior",
        "next": "Noticia siguiente",
        "section": "En la misma sección",
        "home": "Inicio",
        "news": "Noticias",
    },
}

SHAPES = ("cms_node", "blog", "rubrique", "table")


@dataclass(frozen=True)
class LabelledPage:
    id: str
    source_id: str
    language: str
    shape: str
    html: str
    expected: str  # the article's text, paragraphs separated by blank lines
    leaks: tuple[str, ...]  # related-news text that must not be in the extraction


def _others(article: dict) -> list[dict]:
    """Three other articles of the same site, the next ones in its list (as "latest" shows)."""
    site = [a for a in ARTICLES if a["org"] == article["org"]]
    at = site.index(article)
    return (site[at + 1 :] + site[:at])[:3]


def _teaser(article: dict) -> str:
    return article["paragraphs"][0].split(". ")[0].rstrip(".") + "."


def _paras(paragraphs: list[str]) -> str:
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def _related(others: list[dict], heading: str, tag: str = "h2") -> str:
    items = "".join(
        f'<li><a href="/news/{o["id"]}">{escape(o["title"])}</a><p class="teaser">{escape(_teaser(o))}</p></li>'
        for o in others
    )
    return f'<{tag}>{escape(heading)}</{tag}><ul class="related">{items}</ul>'


def _head(article: dict, lang: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(article['title'])} | {escape(article['org'])}</title>"
        f'<link rel="stylesheet" href="/themes/site.css"></head><body>'
    )


def _chrome(article: dict, w: dict) -> tuple[str, str]:
    """The banner and header, and the footer, every page of the organisation shares."""
    menu = "".join(f'<li><a href="/{n}">{escape(m)}</a></li>' for n, m in enumerate(w["menu"]))
    top = (
        f'<div class="cookie-banner" role="dialog"><p>{escape(w["cookies"])}</p>'
        f"<button>{escape(w['accept'])}</button></div>"
        f'<header class="site-header"><a class="logo" href="/">{escape(article["org"])}</a>'
        f'<nav class="main-menu"><ul>{menu}</ul></nav></header>'
    )
    bottom = (
        f'<footer class="site-footer"><p>{escape(article["org"])}</p><p>{escape(w["contact"])}</p>'
        f"<p>{escape(w['footer'])}</p></footer></body></html>"
    )
    return top, bottom


def cms_node(article: dict, w: dict, others: list[dict]) -> str:
    top, bottom = _chrome(article, w)
    crumbs = f'<nav class="breadcrumb"><a href="/">{w["home"]}</a> › <a href="/news">{w["news"]}</a> › {escape(article["title"])}</nav>'
    body = (
        f'<main id="content"><div class="layout-row"><article class="node node--news">'
        f'<h1 class="page-title">{escape(article["title"])}</h1>'
        f'<div class="node__meta">{w["published"]} 03/11/2026</div>'
        f'<div class="field field--name-body">{_paras(article["paragraphs"])}</div>'
        f'<div class="share-bar">{escape(w["share"])}: Facebook · X · LinkedIn · Email</div></article>'
        f'<aside class="sidebar">{_related(others, w["related"])}'
        f'<div class="block-contact"><h2>{w["menu"][-1]}</h2><p>{escape(w["contact"])}</p></div></aside>'
        f"</div></main>"
    )
    return top + crumbs + body + bottom


def blog(article: dict, w: dict, others: list[dict]) -> str:
    top, bottom = _chrome(article, w)
    latest = "".join(
        f'<li><a href="/news/{o["id"]}">{escape(o["title"])}</a></li>' for o in others[1:]
    )
    body = (
        f'<div id="page" class="site"><div class="site-content"><div id="primary" class="content-area">'
        f'<article class="post type-post"><header class="entry-header"><h1 class="entry-title">{escape(article["title"])}</h1>'
        f'<span class="posted-on">{w["published"]} 3 nov 2026</span></header>'
        f'<div class="entry-content">{_paras(article["paragraphs"])}</div>'
        f'<footer class="entry-footer"><span class="cat-links">{escape(article["topic"])}</span></footer></article>'
        f'<nav class="post-navigation"><a rel="prev" href="/news/{others[0]["id"]}">{w["prev"]}: {escape(others[0]["title"])}</a> '
        f'<a rel="next" href="/news/{others[1]["id"]}">{w["next"]}: {escape(others[1]["title"])}</a></nav>'
        f'<section class="related-posts">{_related(others, w["also"], "h3")}</section></div>'
        f'<div id="secondary" class="widget-area"><section class="widget"><h2>{w["latest"]}</h2><ul>{latest}</ul></section>'
        f'<section class="widget"><p>{escape(w["newsletter"])}</p></section></div></div></div>'
    )
    return top + body + bottom


def rubrique(article: dict, w: dict, others: list[dict]) -> str:
    top, bottom = _chrome(article, w)
    lead, rest = article["paragraphs"][0], article["paragraphs"][1:]
    body = (
        f'<div class="page"><div class="wrap"><div class="contenu"><div class="cartouche">'
        f'<h1 class="titre">{escape(article["title"])}</h1><p class="info-publi">{w["published"]} 3 novembre 2026</p></div>'
        f'<div class="chapo"><p>{escape(lead)}</p></div><div class="texte">{_paras(rest)}</div>'
        f'<div class="meme-rubrique">{_related(others, w["section"])}</div></div>'
        f'<div class="aside"><div class="lettre"><p>{escape(w["newsletter"])}</p></div></div></div></div>'
    )
    return top + body + bottom


def table(article: dict, w: dict, others: list[dict]) -> str:
    top, bottom = _chrome(article, w)
    menu = "".join(f'<a href="/m{n}">{escape(m)}</a><br>' for n, m in enumerate(w["menu"]))
    body = (
        f'<table class="layout" width="100%"><tr><td class="left" width="180">{menu}</td>'
        f'<td class="content"><div class="csc-header"><h1>{escape(article["title"])}</h1></div>'
        f'<div class="news-single-timedata">03.11.2026</div>'
        f'<div class="csc-default">{_paras(article["paragraphs"])}</div>'
        f'<div class="news-related">{_related(others, w["related"], "h3")}</div></td>'
        f'<td class="right" width="200"><div class="agenda"><p>{escape(w["agenda"])}</p></div></td></tr></table>'
    )
    return top + body + bottom


BUILDERS = {"cms_node": cms_node, "blog": blog, "rubrique": rubrique, "table": table}


def labelled_pages() -> list[LabelledPage]:
    """One page per labelled article (42); each site has one shape, the shapes in turn."""
    sites = list(dict.fromkeys(a["org"] for a in ARTICLES))
    pages = []
    for article in ARTICLES:
        lang = language_of(article)
        shape = SHAPES[sites.index(article["org"]) % len(SHAPES)]
        others = _others(article)
        html = _head(article, lang) + BUILDERS[shape](article, WORDS[lang], others)
        leaks = tuple(t for o in others for t in (o["title"], _teaser(o)))
        expected = "\n\n".join(article["paragraphs"])
        pages.append(
            LabelledPage(
                article["id"], source_id(article["org"]), lang, shape, html, expected, leaks
            )
        )
    return pages
