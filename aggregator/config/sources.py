"""The ``sources`` section: one member feed or listing page each."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from aggregator.config._base import ID_RE, LANG_RE, Strict, check_http_url
from aggregator.config.fulltext import FullTextMode
from aggregator.models import ScrapeRules, Source


class ScrapeSettings(Strict):
    """CSS selectors for a listing page (``type: html``)."""

    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    date_format: str = "%d/%m/%Y"
    tags: str | None = None
    excerpt: str | None = None


class SourceSettings(Strict):
    id: str
    name: str
    organisation: str
    url: str
    homepage: str | None = None
    language: str = "en"
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    type: Literal["feed", "html"] = "feed"
    scrape: ScrapeSettings | None = None
    day_first: bool = False
    contact: str | None = None
    full_text: FullTextMode | None = None  # None: the full_text section's default

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("must be lower-case letters, digits, '-' or '_' (at most 63)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v)

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        if not LANG_RE.match(v):
            raise ValueError(f"must be a language tag such as 'en' or 'fr', got {v!r}")
        return v

    @model_validator(mode="after")
    def _html_needs_rules(self) -> SourceSettings:
        if self.type == "html" and self.scrape is None:
            raise ValueError("a source of type 'html' needs 'scrape' selectors")
        return self

    def to_source(self) -> Source:
        rules = None
        if self.scrape is not None:
            rules = ScrapeRules(**self.scrape.model_dump())
        return Source(
            id=self.id,
            name=self.name,
            organisation=self.organisation,
            url=self.url,
            homepage=self.homepage,
            language=self.language,
            tags=tuple(self.tags),
            enabled=self.enabled,
            kind=self.type,
            scrape=rules,
            day_first=self.day_first,
            contact=self.contact,
        )
