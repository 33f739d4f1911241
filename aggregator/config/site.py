"""The ``site`` and ``fetch`` sections: what is published where, and how feeds are fetched."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from aggregator.config._base import Strict, check_http_url, check_timezone
from aggregator.config.labels import check_labels, pick_label, split_labels

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ColourSettings(Strict):
    """The network's colours, used by the pages' header and the digest's masthead."""

    primary: str = "#0b3d6e"  # header and headings: white text must read on it
    accent: str = "#c0392b"  # the thin band under the header, the read-more mark
    link: str = "#0b5cad"

    @field_validator("primary", "accent", "link")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _COLOUR.match(v):
            raise ValueError(f"must be a colour such as '#0b3d6e', got {v!r}")
        return v.lower()


class SiteSettings(Strict):
    title: str = "Local and regional governments: news from the network"
    title_labels: dict[str, str] = Field(default_factory=dict)  # ``title: {en: …, fr: …}``
    base_url: str = "http://localhost:8080/"
    description: str = "News from the members of the network."
    description_labels: dict[str, str] = Field(default_factory=dict)
    colors: ColourSettings = Field(default_factory=ColourSettings)
    # a translated title beside the member's, labelled machine-translated (present/machine.py)
    machine_translation: Literal["off", "argos"] = "off"
    intro: dict[str, str] = Field(default_factory=dict)  # per language: the page's intro text
    languages: list[str] = Field(default_factory=lambda: ["en", "fr", "es"])
    output_dir: str = "output"
    storage_url: str | None = None  # default: sqlite file beside the config
    fetch_interval_minutes: int = Field(default=60, ge=1, le=24 * 60)
    feed_entries: int = Field(default=100, ge=1, le=10_000)
    page_size: int = Field(default=30, ge=1, le=500)
    timezone: str = "UTC"
    icon: str | None = None
    logo: str | None = None
    hub: str | None = None
    author: str | None = None
    # posts first seen longer ago are deleted after each cycle; None or 0: keep forever
    retention_days: int | None = Field(default=365, ge=0, le=100 * 365)
    # undated posts one source brought in one fetch that the combined feed, the language and
    # topic editions and the pages show; the rest of such a backlog is in the archives and the
    # source's own edition (docs/decisions.md, "Undated backlogs")
    undated_per_fetch: int = Field(default=5, ge=0, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _per_language(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for field in ("title", "description"):
            data = split_labels(data, field, f"{field}_labels")
        return data

    @field_validator("title_labels", "description_labels")
    @classmethod
    def _labels(cls, v: dict[str, str], info: Any) -> dict[str, str]:
        return check_labels(v, str(info.field_name).removesuffix("_labels"))

    def title_in(self, language: str | None) -> str:
        """The site's title for readers of ``language``: its label, else the one title."""
        return pick_label(self.title_labels, language, self.title)

    def description_in(self, language: str | None) -> str:
        return pick_label(self.description_labels, language, self.description)

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        v = check_http_url(v)
        return v if v.endswith("/") else v + "/"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)


class FetchSettings(Strict):
    user_agent: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    read_timeout_s: float = Field(default=20.0, gt=0, le=300)
    total_timeout_s: float = Field(default=45.0, gt=0, le=600)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_redirects: int = Field(default=5, ge=0, le=10)
    max_entries: int = Field(default=200, ge=1, le=10_000)
    concurrency: int = Field(default=32, ge=1, le=512)
    per_host: int = Field(default=2, ge=1, le=32)
    failing_days: int = Field(default=7, ge=1, le=365)
    # a source with no new post for this many days is 'quiet': its contact gets one notice
    quiet_days: int = Field(default=60, ge=1, le=3650)
    max_backoff_s: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    # host:port pairs the operator lets us fetch although they resolve to private or loopback
    # addresses (the demo and tests need 127.0.0.1).  Never applied to member submissions.
    allow_private: list[str] = Field(default_factory=list)
    # where lead images may be fetched from (host or host:port); empty: any public host.  The
    # demo keeps its images on loopback with it; an operator may keep to members' own sites.
    image_hosts: list[str] = Field(default_factory=list)

    @field_validator("allow_private")
    @classmethod
    def _hostports(cls, v: list[str]) -> list[str]:
        for item in v:
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"entries must be 'host:port', got {item!r}")
        return v
