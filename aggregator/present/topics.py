"""Which spelling of a topic each language's readers are shown.

Enters: the configured topics (key -> labels in any language), the labels declared per language
(``feeds.yaml``'s mapping form, ``Settings.topic_labels``) and the store's posts.  Leaves:
``TopicLabels``, asked for a topic's label in a language, and which of a post's tags are only
another spelling of one of its topics (shown once, as the topic).

A plain list does not say which label is which language, so the posts say it: each post with a
topic votes for one spelling for its language.  Members often tag in several languages
("Résilience, Resiliencia" on an English post), so the post's own words decide first: a label
both tagged and used as a word of its title or excerpt, accents and all; else a label its words
use that one of its tags spells without accents ("local resilience" beside the tag
"Résilience"); else its first tag that spells the topic.  A label mostly voted for by one
language is that language's; two languages never take the same label while another has votes
for them, and a language without votes (nor a declared label) shows the first configured
spelling, as before.  Topics whose labels the posts do not tell apart: declare them per
language.

Pure: the choice is a function of the configuration and the posts, recomputed by every publish
(the memo's salt covers it, so a changed choice rewrites the feeds that show it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aggregator.i18n import base_language
from aggregator.ingest.plaintext import fold
from aggregator.models import Post
from aggregator.present.text import clean_line

Evidence = dict[str, dict[str, Counter[int]]]  # topic key -> language -> label index -> votes
ENOUGH_POSTS = 100  # per topic and language tag: the newest posts speak for current usage


@dataclass(frozen=True)
class TopicLabels:
    """The label of each (topic, language), and how to recognise a tag that spells a topic."""

    configured: Mapping[str, tuple[str, ...]]  # key -> cleaned labels, in config order
    chosen: Mapping[tuple[str, str], str]  # (key, base language) -> label
    _spellings: dict[str, frozenset[str]] = field(  # key -> folded forms, filled when asked
        default_factory=dict, init=False, repr=False, compare=False
    )

    def label(self, key: str, language: str | None = None) -> str:
        """The label readers of ``language`` see; the first configured one without a language."""
        found = self.chosen.get((key, base_language(language))) if language else None
        if found:
            return found
        labels = self.configured.get(key)
        return labels[0] if labels else clean_line(key)

    def spells(self, tag: str, key: str) -> bool:
        """Whether ``tag`` is one of the topic's spellings (or its key), without case or accents."""
        forms = self._spellings.get(key)
        if forms is None:
            forms = self._spellings[key] = frozenset(
                fold(s) for s in (key, *self.configured.get(key, ()))
            )
        return fold(tag) in forms

    def tag_line(self, post: Post, language: str | None = None) -> str:
        """A post's tags as its meta line shows them before the date.  A tag that only spells
        one of its topics ("Résilience, Resiliencia" on a post about resilience) is that topic,
        shown once with its label in ``language`` (an edition's or a page set's; None for the
        all-languages ones: the post's own language).  Other tags are shown as the member
        wrote them."""
        shown = []
        for tag in (clean_line(x) for x in post.tags):
            key = next((k for k in post.topics if tag and self.spells(tag, k)), None)
            shown.append(self.label(key, language or post.language) if key else tag)
        return ", ".join(dict.fromkeys(label for label in shown if label))

    def table(self) -> str:
        """The whole choice as one stable string, for the memo's salt."""
        return repr(sorted(self.chosen.items()))


def choose_topic_labels(
    topics: Mapping[str, Sequence[str]],
    declared: Mapping[str, Mapping[str, str]],
    posts: Iterable[Post],
) -> TopicLabels:
    """Each topic's label per language: declared, else the posts' evidence, else none."""
    configured = {
        key: tuple(label for label in (clean_line(x) for x in labels) if label)
        for key, labels in topics.items()
    }
    evidence = _evidence(configured, posts)
    chosen: dict[tuple[str, str], str] = {}
    for key, labels in configured.items():
        own = {base_language(g): clean_line(label) for g, label in declared.get(key, {}).items()}
        own = {g: label for g, label in own.items() if label}
        by_evidence = _assign(labels, evidence.get(key, {}), taken=set(own.values()))
        chosen.update(((key, g), label) for g, label in {**by_evidence, **own}.items())
    return TopicLabels(configured, chosen)


@dataclass(frozen=True, slots=True)
class _Spellings:
    """One topic's labels, ready to be recognised in a post's tags and words."""

    labels: tuple[str, ...]
    exact: dict[str, int]  # label -> index
    folded: dict[str, int]  # folded label -> index of its first spelling
    casefolded: dict[str, int]  # casefolded label -> index of its first spelling
    words: re.Pattern[str]  # any label as a whole word of a casefolded text

    @classmethod
    def of(cls, labels: tuple[str, ...]) -> _Spellings:
        folded: dict[str, int] = {}
        casefolded: dict[str, int] = {}
        for i, label in enumerate(labels):
            folded.setdefault(fold(label), i)
            casefolded.setdefault(label.casefold(), i)
        longest_first = sorted(casefolded, key=len, reverse=True)
        alternatives = "|".join(re.escape(label) for label in longest_first)
        words = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        return cls(labels, {label: i for i, label in enumerate(labels)}, folded, casefolded, words)

    def vote(self, tags: Sequence[str], text: str) -> int | None:
        """The label a post of some language spells the topic with (see the module's text)."""
        written = sorted({self.casefolded[m] for m in self.words.findall(text)})
        if written:
            tagged = {tag.casefold() for tag in tags}
            for i in written:
                if self.labels[i].casefold() in tagged:
                    return i
            loosely = {fold(tag) for tag in tags}
            for i in written:
                if fold(self.labels[i]) in loosely:
                    return i
        for tag in tags:
            index = self.exact.get(tag)
            if index is None:
                index = self.folded.get(fold(tag))
            if index is not None:
                return index
        return None


def _evidence(configured: Mapping[str, tuple[str, ...]], posts: Iterable[Post]) -> Evidence:
    """For each topic and language, the votes each label got from that language's newest posts
    (``ENOUGH_POSTS`` of them: the choice follows current usage, at a bounded cost)."""
    spellings = {key: _Spellings.of(labels) for key, labels in configured.items() if labels}
    found: Evidence = {}
    asked: Counter[tuple[str, str]] = Counter()
    for post in posts:
        if not post.topics:
            continue
        text = ""
        for key in post.topics:
            topic = spellings.get(key)
            if topic is None or asked[key, post.language] >= ENOUGH_POSTS:
                continue
            asked[key, post.language] += 1
            text = text or f"{post.title}\n{post.excerpt}".casefold()
            index = topic.vote(post.tags, text)
            if index is not None:
                language = base_language(post.language)
                found.setdefault(key, {}).setdefault(language, Counter())[index] += 1
    return found


def _assign(
    labels: Sequence[str], evidence: Mapping[str, Counter[int]], taken: set[str]
) -> dict[str, str]:
    """Languages to labels: the most distinctive use first, each label to one language while
    another label has evidence; a language left over shares its best label."""
    scored = []
    for lang, counts in evidence.items():
        for index, count in counts.items():
            elsewhere = sum(c[index] for other, c in evidence.items() if other != lang)
            scored.append((-count / (1 + elsewhere), -count, index, lang))
    scored.sort()
    out: dict[str, str] = {}
    for _, _, index, lang in scored:
        if lang not in out and labels[index] not in taken:
            out[lang] = labels[index]
            taken.add(labels[index])
    for _, _, index, lang in scored:
        out.setdefault(lang, labels[index])
    return out
