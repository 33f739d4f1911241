"""Load and validate ``feeds.yaml``.

The file is read with ruamel.yaml's round-trip loader because it remembers where every key and
list item stands: a validation error can then name the file, the line and the field
(``feeds.yaml:42: sources[3].url: …``), which is what an operator editing YAML by hand needs.
pydantic does the validation; ``extra="forbid"`` turns a misspelt key into an error instead of a
silently ignored setting.

Nothing here touches the store or the network: a bad file stops a command before anything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from aggregator.errors import ConfigError
from aggregator.models import ScrapeRules, Source

DEFAULT_CONFIG = "feeds.yaml"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http:// or https:// URL, got {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ScrapeSettings(_Strict):
    """CSS selectors for a listing page (``type: html``)."""

    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    date_format: str = "%d/%m/%Y"
    tags: str | None = None
    excerpt: str | None = None


class SourceSettings(_Strict):
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

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("must be lower-case letters, digits, '-' or '_' (at most 63)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v)

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        if not _LANG_RE.match(v):
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


class SiteSettings(_Strict):
    title: str = "Local and regional governments: news from the network"
    base_url: str = "http://localhost:8080/"
    description: str = "News from the members of the network."
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

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        v = _check_http_url(v)
        return v if v.endswith("/") else v + "/"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)


class FetchSettings(_Strict):
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

    @field_validator("allow_private")
    @classmethod
    def _hostports(cls, v: list[str]) -> list[str]:
        for item in v:
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"entries must be 'host:port', got {item!r}")
        return v


class SmtpSettings(_Strict):
    """Credentials come from AGGREGATOR_SMTP_USER / AGGREGATOR_SMTP_PASSWORD, never this file."""

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: str = "digest@localhost"
    from_name: str | None = None
    reply_to: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    rate_per_minute: int = Field(default=60, ge=1, le=6000)


class EditionSettings(_Strict):
    name: str
    language: str | None = None  # None: every language
    schedule: str = "0 8 * * mon"  # cron: minute hour day month weekday
    timezone: str = "UTC"
    subject: str | None = None  # None: "{site}: {count} new posts" in the edition's language
    recipients: list[str] = Field(default_factory=list)
    intro: str | None = None
    group_by: Literal["organisation", "topic"] = "organisation"
    max_items: int = Field(default=50, ge=1, le=1000)
    skip_empty: bool = True
    topics: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("must be lower-case letters, digits, '-' or '_'")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        """Checked by the library that will run it, so the two can never disagree: a
        schedule the scheduler would refuse is refused here, by every command, with its line."""
        if len(v.split()) != 5:
            raise ValueError(f"must be a five-field cron expression, got {v!r}")
        try:
            CronTrigger.from_crontab(v, timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"not a cron expression the scheduler reads ({exc}): {v!r}") from None
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)

    @field_validator("recipients")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for addr in v:
            if "@" not in addr or any(c in addr for c in "\r\n<>, "):
                raise ValueError(f"not an email address: {addr!r}")
        return v


class DigestSettings(_Strict):
    output_dir: str | None = None  # default: <site.output_dir>/digest
    unsubscribe_url: str | None = None  # may hold {email} and {edition}
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    editions: list[EditionSettings] = Field(
        default_factory=lambda: [EditionSettings(name="weekly")]
    )

    @model_validator(mode="after")
    def _unique(self) -> DigestSettings:
        names = [e.name for e in self.editions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"edition names must be unique: {', '.join(dupes)}")
        return self


class Settings(_Strict):
    site: SiteSettings = Field(default_factory=SiteSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
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
                if not _LANG_RE.match(lang):
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


def _check_timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r}") from exc
    return v


# --------------------------------------------------------------------------------------------
# Loading with positions


def load(path: str | Path = DEFAULT_CONFIG) -> Settings:
    """Read, parse and validate a config file; raise ``ConfigError`` naming file, line, field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), [f"{p}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"{p}: cannot read: {exc}"]) from None
    return loads(text, p)


def loads(text: str, path: Path) -> Settings:
    data = _parse_yaml(text, path)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"{path}:1: the file must be a mapping of settings"])
    try:
        settings = Settings.model_validate(_plain(data))
    except ValidationError as exc:
        raise ConfigError(str(path), _describe(exc, data, path)) from None
    return settings.model_copy(update={"path": path})


def _parse_yaml(text: str, path: Path) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(str(path), [f"{path}:{line}: YAML syntax: {exc.problem}"]) from None
    except Exception as exc:  # ruamel raises plain errors for some malformed input
        raise ConfigError(str(path), [f"{path}: YAML syntax: {exc}"]) from None


def _plain(node: Any) -> Any:
    """Round-trip containers to plain dicts and lists for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _describe(exc: ValidationError, data: Any, path: Path) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = locate(data, loc)
        field = _dotted(loc) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown setting (misspelt?)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(f"{path}:{line}: {field}: {message}")
    return problems


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate(data: Any, loc: Sequence[int | str]) -> int:
    """The 1-based line of the deepest node of ``loc`` that exists in the YAML document."""
    line = 1
    node = data
    for part in loc:
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            pos = node.lc.key(part)
            line = pos[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            pos = node.lc.item(part)
            line = pos[0] + 1
            node = node[part]
        else:
            break
    return line
