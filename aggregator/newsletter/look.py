"""What makes the digest look like the network's page: names, topics, images, language versions.

Enters: the store (the newest posts, for language versions and topic labels), the settings
and the output directory's stored images.  Leaves: a ``DigestLook`` that ``render`` reads
while it builds each item: the organisation and topic labels in the edition's language, the
thumbnail (a copy on our own site, so mail clients never contact a member's server) and the
"Also in" links.  ``look_for`` is the one function here that reads anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aggregator.config import Settings
from aggregator.models import Post
from aggregator.present.imagefetch import stored_images
from aggregator.present.images import ImageView, Stored, alt_text, view
from aggregator.present.names import Names
from aggregator.present.siblings import Sibling, find_siblings
from aggregator.present.topics import TopicLabels, choose_topic_labels
from aggregator.store.protocol import Store

CONTEXT_POSTS = 600  # the newest posts whose language versions and topic spellings count


@dataclass(frozen=True, slots=True)
class DigestLook:
    names: Names | None = None
    topics: TopicLabels | None = None
    siblings: Mapping[str, tuple[Sibling, ...]] = field(default_factory=dict)
    images: Mapping[str, Stored] = field(default_factory=dict)

    def picture(self, post: Post, site_url: str) -> ImageView | None:
        """The post's stored lead image, addressed on the site (an email has no relative URL)."""
        record = self.images.get(post.image or "")
        if record is None:
            return None
        return view(record, alt_text(post.content_html, post.image or ""), site_url)


def look_for(store: Store, settings: Settings, posts: Sequence[Post]) -> DigestLook:
    """The edition's look, from the store's newest posts and the stored images."""
    context = {p.id: p for p in store.recent_posts(CONTEXT_POSTS)}
    context.update((p.id, p) for p in posts)
    everything = list(context.values())
    return DigestLook(
        names=Names.of(settings, store.get_sources()),
        topics=choose_topic_labels(settings.topics, settings.topic_labels, everything),
        siblings=find_siblings(everything, settings.site.languages),
        images=stored_images(settings.output_dir),
    )
