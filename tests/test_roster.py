"""feeds.yaml edited in place (every other line kept byte for byte) and OPML in and out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import pytest

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.members.roster import (
    NewSource,
    OpmlError,
    add_sources,
    add_to_text,
    read_opml,
    remove_from_text,
    remove_source,
    slugify,
    unique_id,
    write_opml,
)
from aggregator.models import Source
from tests.conftest import DATA

TEMPLATE = (DATA / "members" / "feeds.yaml").read_text(encoding="utf-8")
ORIGINAL = TEMPLATE.replace("@ALLOW@", "").replace("@EXISTING@", "https://www.ccre-cemr.org/feed/")
NEW = NewSource(
    id="riverside",
    name='Riverside: "news" & views #1',
    organisation="Ville de Riverside",
    url="https://riverside.example/feed.xml",
    homepage="https://riverside.example/",
    language="fr",
    tags=("culture", "a, b"),
)


def write(tmp_path: Path, text: str = ORIGINAL) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(text.encode("utf-8"))
    return path


def inserted_block(before: list[str], after: list[str]) -> tuple[int, list[str]]:
    """Where ``after`` differs from ``before`` by one contiguous insertion, and what it is."""
    assert len(after) > len(before)
    pairs = enumerate(zip(before, after, strict=False))
    start = next((i for i, (a, b) in pairs if a != b), len(before))
    size = len(after) - len(before)
    assert after[:start] + after[start + size :] == before, "lines outside the insertion changed"
    return start, after[start : start + size]


def test_add_appends_after_the_last_source_and_keeps_every_other_line(tmp_path: Path) -> None:
    path = write(tmp_path)

    settings = add_sources(path, [NEW])

    after = path.read_bytes().decode("utf-8").splitlines(keepends=True)
    start, block = inserted_block(ORIGINAL.splitlines(keepends=True), after)
    assert after[start - 1] == "    enabled: false    # Dutch only for now\n"
    assert after[start + len(block) :] == ["\n", "# Trailing comment at the end of the file.\n"]
    assert block[0] == "  - id: riverside\n"
    assert all(line.startswith("    ") for line in block[1:])
    added = settings.sources[-1]
    assert (added.id, added.name, added.organisation) == (NEW.id, NEW.name, NEW.organisation)
    assert (added.url, added.homepage, added.language) == (NEW.url, NEW.homepage, "fr")
    assert added.tags == ["culture", "a, b"]
    assert [s.id for s in config.load(path).sources] == ["uclg", "cemr", "vvsg", "riverside"]


def test_an_edit_keeps_the_files_permissions_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    path = write(tmp_path)
    path.chmod(0o640)  # an operator's choice: group-readable, nobody else

    add_sources(path, [NEW])
    remove_source(path, "vvsg")

    assert path.stat().st_mode & 0o777 == 0o640
    # the edit lock's file stays (flock locks an inode: removing it would let two editors in)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".feeds.yaml.lock", "feeds.yaml"]
    assert (tmp_path / ".feeds.yaml.lock").stat().st_mode & 0o777 == 0o600


def test_remove_deletes_only_that_entry_and_keeps_comments_and_order(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = ORIGINAL.splitlines(keepends=True)
    first = before.index("  - id: cemr\n")
    last = before.index("    tags: [europe]   # keep this comment\n")

    remove_source(path, "cemr")

    assert path.read_bytes().decode("utf-8").splitlines(keepends=True) == (
        before[:first] + before[last + 1 :]
    )
    assert "  # Europe.\n" in path.read_text(encoding="utf-8")
    assert [s.id for s in config.load(path).sources] == ["uclg", "vvsg"]


def test_add_then_remove_gives_back_the_original_bytes(tmp_path: Path) -> None:
    path = write(tmp_path)
    add_sources(path, [NEW, NewSource("second", "Second", "Org", "https://second.example/rss")])
    remove_source(path, "riverside")
    remove_source(path, "second")
    assert path.read_bytes() == ORIGINAL.encode("utf-8")


def test_removing_the_last_source_leaves_an_empty_list(tmp_path: Path) -> None:
    text = 'site:\n  title: "T"\nsources:   # members\n  - id: a\n    name: A\n'
    text += '    organisation: A\n    url: "https://a.example/feed"\n# end\n'
    result = remove_from_text(text, "a", Path("feeds.yaml"))
    assert result == 'site:\n  title: "T"\nsources: []   # members\n# end\n'
    assert config.loads(result, Path("feeds.yaml")).sources == []


@pytest.mark.parametrize(
    "text",
    ["site:\n  title: T\nsources: []   # none yet\n", "site:\n  title: T\n", "", "sources:\n"],
)
def test_add_to_a_file_without_sources(text: str) -> None:
    result = add_to_text(text, [NEW], Path("feeds.yaml"))
    settings = config.loads(result, Path("feeds.yaml"))
    assert [s.id for s in settings.sources] == ["riverside"]
    if "title: T" in text:
        assert result.startswith("site:\n  title: T\n")
    if "# none yet" in text:
        assert "sources:  # none yet\n" in result


def test_flat_sequence_style_is_followed() -> None:
    text = "sources:\n- id: a\n  name: A\n  organisation: A\n  url: https://a.example/f\n"
    result = add_to_text(text, [NEW], Path("feeds.yaml"))
    assert result.startswith(text)
    assert result[len(text) :].startswith("- id: riverside\n  name: ")
    assert len(config.loads(result, Path("feeds.yaml")).sources) == 2


def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL.replace("\n", "\r\n"))
    add_sources(path, [NEW])
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.startswith(ORIGINAL.replace("\n", "\r\n").split("\r\n\r\n# Trailing")[0].encode())


def test_an_edit_that_would_break_the_config_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(ConfigError) as caught:
        add_sources(path, [NewSource("uclg", "Again", "UCLG", "https://www.uclg.org/other")])
    assert "unique" in str(caught.value)
    with pytest.raises(ConfigError):
        add_sources(path, [NewSource("Bad Id!", "x", "x", "https://x.example/")])
    assert path.read_bytes() == ORIGINAL.encode("utf-8")
    assert not list(tmp_path.glob(".tmp-*"))  # no temp file left behind


def test_remove_unknown_id_raises_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        remove_source(write(tmp_path), "nope")


def test_slugs_and_unique_ids() -> None:
    assert slugify("Cités Unies France") == "cites-unies-france"
    assert slugify("  UCLG — Africa (CGLU Afrique)! ") == "uclg-africa-cglu-afrique"
    assert slugify("東京") == "feed"
    assert config.SourceSettings(id=slugify("X" * 200), name="n", organisation="o", url="http://a/")
    assert unique_id("uclg", {"uclg", "uclg-2"}) == "uclg-3"
    assert unique_id("cemr", {"uclg"}) == "cemr"


# --------------------------------------------------------------------------------------------
# OPML


OPML = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0">
  <head><title>Members</title></head>
  <body>
    <outline text="Ville de Riverside">
      <outline type="rss" text="Riverside news" xmlUrl="https://riverside.example/feed.xml"
               htmlUrl="https://riverside.example/" language="fr"
               category="/Culture,/Topics/Housing"/>
      <outline type="rss" text="Riverside blog" xmlUrl="https://riverside.example/blog.xml"/>
    </outline>
    <outline type="rss" title="Top level" text="ignored" xmlUrl="https://top.example/rss"/>
    <outline text="Empty folder"/>
  </body>
</opml>
"""


def test_read_opml_keeps_order_folders_and_categories() -> None:
    feeds = read_opml(OPML)
    assert [f.url for f in feeds] == [
        "https://riverside.example/feed.xml",
        "https://riverside.example/blog.xml",
        "https://top.example/rss",
    ]
    first = feeds[0]
    assert (first.title, first.organisation, first.language) == (
        "Riverside news",
        "Ville de Riverside",
        "fr",
    )
    assert first.homepage == "https://riverside.example/"
    assert first.tags == ("Culture", "Housing")
    assert (feeds[2].title, feeds[2].organisation) == ("Top level", None)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<opml version="2.0"><body><outline text="&b;" xmlUrl="http://x/"/></body></opml>',
            "DOCTYPE",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml/>',
            "DOCTYPE",
        ),
        (b"<opml><body><outline xmlUrl='x'></body>", "not well-formed"),
        (b'<rss version="2.0"><channel/></rss>', "not an OPML document"),
        (b'<opml version="2.0"><head/></opml>', "no <body>"),
    ],
)
def test_hostile_or_wrong_opml_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(OpmlError, match=reason):
        read_opml(data)


def test_write_opml_is_opml_2_and_reads_back() -> None:
    sources = [
        Source("uclg", "UCLG News", "UCLG", "https://www.uclg.org/rss.xml", "https://uclg.org/"),
        Source("cemr", "CEMR", "CEMR", "https://cemr.example/feed", language="fr", tags=("eu",)),
        Source("uclg-es", "CGLU <Noticias> & más", "UCLG", "https://www.uclg.org/es/rss.xml"),
    ]
    when = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    data = write_opml(sources, title="Network & friends", now=when)

    root = lxml.etree.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Network & friends"
    assert root.findtext("head/dateCreated") == "Fri, 20 Nov 2026 12:00:00 GMT"
    assert [o.get("text") for o in root.findall("body/outline")] == ["UCLG", "CEMR"]
    feeds = read_opml(data)
    assert [(f.url, f.title, f.organisation) for f in feeds] == [
        ("https://www.uclg.org/rss.xml", "UCLG News", "UCLG"),
        ("https://www.uclg.org/es/rss.xml", "CGLU <Noticias> & más", "UCLG"),
        ("https://cemr.example/feed", "CEMR", "CEMR"),
    ]
    assert feeds[2].tags == ("eu",) and feeds[2].language == "fr"
    assert feeds[0].homepage == "https://uclg.org/"
    assert all(o.get("type") == "rss" for o in root.iterfind(".//outline[@xmlUrl]"))
