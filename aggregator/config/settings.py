"""The whole file: every section, the topics, and the paths derived from where the file is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from aggregator.config._base import DEFAULT_CONFIG, LANG_RE, Strict
from aggregator.config.digest import DigestSettings, EditionSettings
from aggregator.config.fulltext import FullTextSettings
from aggregator.config.queue import QueueSettings
from aggregator.config.site import FetchSettings, SiteSettings
from aggregator.config.sources import SourceSettings
from aggregator.config.subscribers import SubscriberSettings
from aggregator.config.web import WebSettings
from aggregator.errors import ConfigError
from aggregator.models import Source


class Settings(Strict):
    site: SiteSettings = Field(default_factory=SiteSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    subscribers: SubscriberSettings = Field(default_factory=SubscriberSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    full_text: FullTextSettings = Field(default_factory=FullTextSettings)
    # network-wide topics: key -> the labels members use for it, in any language; a topic may
    # instead map languages to its labels (``fr: Résilience``), which ``_topic_languages``
    # splits into the plain list here and the label each language shows in ``topic_labels``
    topics: dict[str, list[str]] = Field(default_factory=dict)
    topic_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    sources: list[SourceSettings] = Field(default_factory=list)

    # set by load(), not by the file
    path: Path = Field(default=Path(DEFAULT_CONFIG), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _topic_languages(cls, data: Any) -> Any:
        """Accept ``topics: {key: {language: label or [labels]}}`` beside plain lists.

        Every stage that matches tags reads ``topics`` as lists of labels, so the mapping is
        flattened there (a language's spellings in order); the first spelling of each language
        is the label its readers are shown (``topic_labels``).
        """
        if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
            return data
        topics: dict[str, Any] = {}
        declared: dict[str, Any] = dict(data.get("topic_labels") or {})
        for key, value in data["topics"].items():
            if not isinstance(value, dict) or not all(
                isinstance(v, str | list) for v in value.values()
            ):
                topics[key] = value  # not this form: the list type reports it, with its line
                continue
            spellings = {lang: [v] if isinstance(v, str) else v for lang, v in value.items()}
            topics[key] = [label for labels in spellings.values() for label in labels]
            declared[key] = {lang: labels[0] for lang, labels in spellings.items() if labels}
        return {**data, "topics": topics, "topic_labels": declared}

    @field_validator("topic_labels")
    @classmethod
    def _label_languages(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for key, labels in v.items():
            for lang in labels:
                if not LANG_RE.match(lang):
                    raise ValueError(f"{key}: not a language tag such as 'en' or 'fr': {lang!r}")
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        ids = [s.id for s in self.sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"source ids must be unique: {', '.join(dupes)}")
        return self

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent

    @property
    def output_dir(self) -> Path:
        return (self.base_dir / self.site.output_dir).resolve()

    @property
    def digest_dir(self) -> Path:
        if self.digest.output_dir:
            return (self.base_dir / self.digest.output_dir).resolve()
        return self.output_dir / "digest"

    @property
    def storage_url(self) -> str:
        if self.site.storage_url:
            return self.site.storage_url
        return f"sqlite:///{self.base_dir / 'aggregator.sqlite3'}"

    def source_list(self) -> list[Source]:
        return [s.to_source() for s in self.sources]

    def edition(self, name: str) -> EditionSettings:
        for e in self.digest.editions:
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.digest.editions) or "none"
        raise ConfigError(str(self.path), [f"no digest edition named {name!r} (known: {known})"])
