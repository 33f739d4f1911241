"""Member organisations and feeds named as each reader's language names them.

Enters: the settings (per-language names from ``feeds.yaml``) and the store's sources (the
default names, and members added since).  Leaves: ``Names``, asked for a source's organisation,
short name or feed name in a language; CCRE for CEMR, CGLU for UCLG.  A source that declares no
label for a language shows its one default name, cleaned for every format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aggregator.config import Settings, SourceSettings
from aggregator.models import Source
from aggregator.present.text import clean_line, clean_name


@dataclass(frozen=True, slots=True)
class Names:
    """Names by source id; ``configured`` holds the per-language labels of ``feeds.yaml``."""

    sources: Mapping[str, Source]
    configured: Mapping[str, SourceSettings]

    @classmethod
    def of(cls, settings: Settings, sources: Mapping[str, Source]) -> Names:
        return cls(sources, {s.id: s for s in settings.sources})

    def organisation(self, source_id: str, language: str | None) -> str:
        """The member organisation behind a source, in ``language``; its id when unknown."""
        conf = self.configured.get(source_id)
        if conf is not None:
            return clean_name(conf.organisation_in(language))
        source = self.sources.get(source_id)
        if source is None:
            return clean_line(source_id)
        return clean_name(source.organisation) or clean_name(source.name)

    def short(self, source_id: str, language: str | None) -> str:
        """The short name (``CGLU``) where one is configured, else the organisation's name."""
        conf = self.configured.get(source_id)
        short = conf.short_name_in(language) if conf is not None else None
        return clean_name(short) if short else self.organisation(source_id, language)

    def feed(self, source_id: str, language: str | None) -> str:
        """The feed's own name (``Actualités CGLU``), else the organisation's."""
        conf = self.configured.get(source_id)
        if conf is not None:
            return clean_name(conf.name_in(language))
        source = self.sources.get(source_id)
        return clean_name(source.name) if source else self.organisation(source_id, language)

    def table(self) -> str:
        """Every configured label as one stable string, for the publish memo's salt."""
        return repr(
            sorted(
                (i, sorted(s.organisation_labels.items()), sorted(s.short_name_labels.items()),
                 sorted(s.name_labels.items()), s.short_name)
                for i, s in self.configured.items()
            )
        )  # fmt: skip
