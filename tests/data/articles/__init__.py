"""The labelled set: articles in English, French and Spanish written for this project, the
queries that should find them, and (``pages/``) article pages in municipal CMS shapes."""

from __future__ import annotations

from tests.data.articles.articles_en import ARTICLES as EN
from tests.data.articles.articles_es import ARTICLES as ES
from tests.data.articles.articles_fr import ARTICLES as FR
from tests.data.articles.queries import QUERIES

ARTICLES = [*EN, *FR, *ES]

__all__ = ["ARTICLES", "QUERIES"]


def source_id(org: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in org.lower())[:40]


def language_of(article: dict) -> str:
    return article["id"].split("-", 1)[0]
