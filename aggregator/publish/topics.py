"""Which spelling of a topic each language's readers are shown: now ``present.topics``, shared
with the digest; kept here so that publish's modules and older imports still find it."""

from aggregator.present.topics import TopicLabels, choose_topic_labels

__all__ = ["TopicLabels", "choose_topic_labels"]
