"""The ``sources`` section: one member feed or listing page each."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from aggregator.config._base import ID_RE, LANG_RE, Strict, check_http_url
from aggregator.config.fulltext import FullTextMode
from aggregator.config.labels import check_labels, pick_label, split_labels
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
    """One source.  ``name``, ``organisation`` and ``short_name`` may be written per language
    (``organisation: {en: United Cities…, fr: Cités et Gouvernements Locaux Unis}``): the
    plain field then holds the default string and ``*_labels`` the mapping (``config.labels``).
    """

    id: str
    name: str
    organisation: str
    short_name: str | None = None  # "UCLG", "CGLU": where a compact name reads better
    name_labels: dict[str, str] = Field(default_factory=dict)
    organisation_labels: dict[str, str] = Field(default_factory=dict)
    short_name_labels: dict[str, str] = Field(default_factory=dict)
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

    @model_validator(mode="before")
    @classmethod
    def _per_language(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for field in ("name", "organisation", "short_name"):
            data = split_labels(data, field, f"{field}_labels")
        return data

    @field_validator("name_labels", "organisation_labels", "short_name_labels")
    @classmethod
    def _labels(cls, v: dict[str, str], info: Any) -> dict[str, str]:
        return check_labels(v, str(info.field_name).removesuffix("_labels"))

    def organisation_in(self, language: str | None) -> str:
        """The organisation's name as readers of ``language`` know it (CGLU for UCLG)."""
        return pick_label(self.organisation_labels, language, self.organisation)

    def short_name_in(self, language: str | None) -> str | None:
        return pick_label(self.short_name_labels, language, self.short_name or "") or None

    def name_in(self, language: str | None) -> str:
        return pick_label(self.name_labels, language, self.name)

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
