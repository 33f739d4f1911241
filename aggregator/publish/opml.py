"""OPML 2.0: every enabled member feed, so a reader can follow the members one by one.

Enters: the ``Site`` (its settings' sources).  Leaves: the document's bytes.
"""

from __future__ import annotations

from lxml import etree

from aggregator.publish.outputs import clean_line, clean_name
from aggregator.publish.site import Site


def opml_document(site: Site) -> bytes:
    settings = site.settings
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = clean_line(settings.site.title)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for source in sorted(settings.source_list(), key=lambda s: (s.organisation, s.name, s.id)):
        if not source.enabled:
            continue
        attrs = {
            "type": "rss",
            "text": clean_name(source.name),
            "title": clean_name(source.name),
            "xmlUrl": clean_line(source.url),
        }
        if source.homepage:
            attrs["htmlUrl"] = clean_line(source.homepage)
        attrs["language"] = source.language
        if source.tags:
            attrs["category"] = ",".join(clean_line(t).replace(",", " ") for t in source.tags)
        attrs["description"] = clean_name(source.organisation)
        etree.SubElement(body, "outline", attrs)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
