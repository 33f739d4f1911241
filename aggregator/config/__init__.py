"""Load and validate ``feeds.yaml``.

The file is read with ruamel.yaml's round-trip loader because it remembers where every key and
list item stands: a validation error can then name the file, the line and the field
(``feeds.yaml:42: sources[3].url: …``), which is what an operator editing YAML by hand needs.
pydantic does the validation; ``extra="forbid"`` turns a misspelt key into an error instead of a
silently ignored setting.

Nothing here touches the store or the network: a bad file stops a command before anything else.

What enters: the text of ``feeds.yaml``.  What leaves: one frozen ``Settings`` (or a
``ConfigError`` whose lines name file, line and field).  One module per section of the file
(``sources``, ``site``, ``digest``, ``subscribers``, ``web``, ``fulltext``, ``queue``),
``settings`` for the whole, ``loading`` for the YAML and the positions; a new section gets a
module of its own.
"""

from __future__ import annotations

from aggregator.config._base import DEFAULT_CONFIG
from aggregator.config.digest import DigestSettings, EditionSettings, SmtpSettings
from aggregator.config.fulltext import FullTextSettings
from aggregator.config.loading import load, loads, locate
from aggregator.config.queue import QueueSettings
from aggregator.config.settings import Settings
from aggregator.config.site import FetchSettings, SiteSettings
from aggregator.config.sources import ScrapeSettings, SourceSettings
from aggregator.config.subscribers import MailboxSettings, SubscriberSettings
from aggregator.config.web import WebSettings

__all__ = [
    "DEFAULT_CONFIG",
    "DigestSettings",
    "EditionSettings",
    "FetchSettings",
    "FullTextSettings",
    "MailboxSettings",
    "QueueSettings",
    "ScrapeSettings",
    "Settings",
    "SiteSettings",
    "SmtpSettings",
    "SourceSettings",
    "SubscriberSettings",
    "WebSettings",
    "load",
    "loads",
    "locate",
]
