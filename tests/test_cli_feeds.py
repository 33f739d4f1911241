"""The member-source commands, driven through click against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import lxml.etree
import pytest
from click.testing import CliRunner, Result

from aggregator import config
from aggregator.cli.main import main
from tests.httpserver import FixtureServer
from tests.test_discover import HTML, MEMBERS, RSS, feed, fixture_text, quiet


@pytest.fixture(autouse=True)
def quiet_server(http_server: FixtureServer) -> None:
    quiet(http_server)


@pytest.fixture
def feeds_yaml(http_server: FixtureServer, tmp_path: Path) -> Path:
    """The members' feeds.yaml fixture, allowing the test server; ``cemr`` is served by it."""
    cemr = http_server.url("/cemr.xml")
    http_server.route("/cemr.xml", feed(title="CEMR", host="cemr.example", self_url=cemr))
    path = tmp_path / "feeds.yaml"
    text = fixture_text("feeds.yaml", allow=http_server.hostport, existing=cemr)
    path.write_bytes(text.encode("utf-8"))
    return path


def run(path: Path, *args: str, input: str | None = None) -> Result:
    command, *rest = args
    return CliRunner().invoke(main, ["feeds", command, "--config", str(path), *rest], input=input)


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def assert_only_inserted(before: bytes, after: bytes) -> list[str]:
    """``after`` is ``before`` with one block of lines inserted; return that block."""
    old, new = lines(before.decode("utf-8")), lines(after.decode("utf-8"))
    start = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(old))
    size = len(new) - len(old)
    assert size > 0 and new[:start] + new[start + size :] == old
    return new[start : start + size]


# --------------------------------------------------------------------------------------------
# add


def test_add_previews_and_writes_the_source_keeping_the_file(
    http_server: FixtureServer, feeds_yaml: Path
) -> None:
    feed_url = http_server.url("/news/feed.xml")
    http_server.route("/", fixture_text("page-with-link.html"), headers=HTML)
    http_server.route("/news/feed.xml", feed(title="Riverside News", self_url=feed_url))
    before = feeds_yaml.read_bytes()

    result = run(feeds_yaml, "add", http_server.url("/"), "--yes", "--tags", "culture, europe")

    assert result.exit_code == 0, result.output
    assert f"Feed: {feed_url}  (advertised by the page)" in result.stdout
    assert "Riverside opens a green library for its neighbourhoods" in result.stdout
    assert "2026-11-12  Mayors meet on housing and local finance" in result.stdout
    assert "An older story" not in result.stdout  # only the latest three
    assert result.stdout.rstrip().endswith(f"Added source riverside-news to {feeds_yaml}")
    block = assert_only_inserted(before, feeds_yaml.read_bytes())
    assert block[0] == "  - id: riverside-news\n"
    added = config.load(feeds_yaml).sources[-1]
    assert (added.url, added.name, added.organisation) == (
        feed_url,
        "Riverside News",
        "Riverside News",
    )
    assert (added.language, added.tags, added.homepage) == (
        "en",
        ["culture", "europe"],
        "https://city.example/news",
    )


def test_add_uses_the_given_id_name_org_and_language(
    http_server: FixtureServer, feeds_yaml: Path
) -> None:
    url = http_server.route("/f.xml", feed(title="T", self_url="https://t.example/f"), headers=RSS)
    args = ["--id", "rv", "--name", "Riverside", "--org", "Ville de Riverside", "--lang", "fr-BE"]

    result = run(feeds_yaml, "add", url, *args, "--yes")

    assert result.exit_code == 0, result.output
    added = config.load(feeds_yaml).sources[-1]
    assert (added.id, added.name, added.organisation, added.language) == (
        "rv",
        "Riverside",
        "Ville de Riverside",
        "fr",
    )


def test_add_asks_before_writing(http_server: FixtureServer, feeds_yaml: Path) -> None:
    url = http_server.route("/f.xml", feed(title="Asked", self_url="https://a.example/f"))
    before = feeds_yaml.read_bytes()

    declined = run(feeds_yaml, "add", url, input="n\n")
    assert declined.exit_code == 1
    assert "Add this source to" in declined.stdout
    assert feeds_yaml.read_bytes() == before

    accepted = run(feeds_yaml, "add", url, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert config.load(feeds_yaml).sources[-1].id == "asked"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.xml", "error: refused: not reachable: HTTP 404 Not Found"),
        ("/cemr.xml", "error: refused: duplicate of source cemr ("),
        ("/page", "error: refused: not a feed: "),
    ],
)
def test_add_refusals_exit_non_zero_with_one_line(
    http_server: FixtureServer, feeds_yaml: Path, path: str, reason: str
) -> None:
    http_server.route("/page", fixture_text("page-no-link.html"), headers=HTML)
    before = feeds_yaml.read_bytes()

    result = run(feeds_yaml, "add", http_server.url(path), "--yes")

    assert result.exit_code == 1
    assert result.stderr.startswith(reason)
    assert result.stderr.count("\n") == 1
    assert feeds_yaml.read_bytes() == before


def test_add_refuses_an_id_already_in_use(http_server: FixtureServer, feeds_yaml: Path) -> None:
    url = http_server.route("/f.xml", feed(title="T", self_url="https://t.example/f"))
    result = run(feeds_yaml, "add", url, "--id", "uclg", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: refused: id 'uclg' is already used")
    assert http_server.hits("/f.xml") == []


# --------------------------------------------------------------------------------------------
# list / remove


def test_list_shows_every_source(feeds_yaml: Path) -> None:
    result = run(feeds_yaml, "list")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["uclg", "cemr", "vvsg"]
    assert rows[2].endswith("(disabled)")
    assert "https://www.uclg.org/en/rss.xml" in rows[0]


def test_remove_keeps_comments_and_order(feeds_yaml: Path) -> None:
    before = lines(feeds_yaml.read_text(encoding="utf-8"))
    first = before.index("  - id: cemr\n")
    last = before.index("    tags: [europe]   # keep this comment\n")

    result = run(feeds_yaml, "remove", "cemr")

    assert result.exit_code == 0, result.output
    assert lines(feeds_yaml.read_text(encoding="utf-8")) == before[:first] + before[last + 1 :]
    assert run(feeds_yaml, "remove", "cemr").exit_code == 1  # already gone


# --------------------------------------------------------------------------------------------
# check / validate


def test_check_reports_each_source(http_server: FixtureServer, feeds_yaml: Path) -> None:
    text = feeds_yaml.read_text(encoding="utf-8").replace(
        "https://www.uclg.org/en/rss.xml", http_server.url("/uclg-missing.xml")
    )
    feeds_yaml.write_text(text, encoding="utf-8")

    result = run(feeds_yaml, "check")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "uclg: not reachable: HTTP 404 Not Found",
        "cemr: ok, 4 entries",
    ]  # vvsg is disabled
    one = run(feeds_yaml, "check", "cemr")
    assert (one.exit_code, one.stdout) == (0, "cemr: ok, 4 entries\n")
    assert run(feeds_yaml, "check", "nope").exit_code == 2


VALIDATE = """\
fetch:
  allow_private: ["{hostport}"]
sources:
  - {{id: good, name: Good, organisation: G, url: "{base}/good.xml"}}
  - {{id: missing, name: M, organisation: M, url: "{base}/missing.xml"}}
  - {{id: page, name: P, organisation: P, url: "{base}/page.html"}}
  - {{id: copy, name: C, organisation: C, url: "{base}/good.xml?utm_source=x"}}
  - {{id: mirror, name: Mi, organisation: Mi, url: "{base}/mirror.xml"}}
  - {{id: badurl, name: B, organisation: B, url: "ftp://files.example/feed"}}
  - {{id: dead, name: D, organisation: D, url: "{base}/dead.xml", enabled: false}}
"""


def test_validate_prints_exactly_one_line_per_problem(
    http_server: FixtureServer, tmp_path: Path
) -> None:
    good = http_server.url("/good.xml")
    http_server.route("/good.xml", feed(title="Good", self_url=good), headers=RSS)
    http_server.route("/mirror.xml", feed(title="Mirror", self_url=good), headers=RSS)
    http_server.route("/page.html", fixture_text("page-with-link.html"), headers=HTML)
    path = tmp_path / "feeds.yaml"
    base = http_server.url("").rstrip("/")
    path.write_text(VALIDATE.format(hostport=http_server.hostport, base=base), encoding="utf-8")

    result = run(path, "validate")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "badurl: url: must be an absolute http:// or https:// URL, got 'ftp://files.example/feed'",
        "missing: not reachable: HTTP 404 Not Found",
        f"page: not a feed: this is an HTML page; it advertises {base}/news/feed.xml",
        f"copy: duplicate of good (same feed as {good})",
        f"mirror: duplicate of good (same feed as {good})",
    ]
    assert result.stderr == f"5 problem(s) in {path}\n"


def test_validate_passes_a_good_config(feeds_yaml: Path) -> None:
    text = feeds_yaml.read_text(encoding="utf-8")
    start = text.index("  # Global networks first.")
    feeds_yaml.write_text(text[:start] + text[text.index("  # Europe.") :], encoding="utf-8")

    result = run(feeds_yaml, "validate")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{feeds_yaml}: 2 source(s), no problems\n"


def test_validate_reports_yaml_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("sources:\n  - id: [unclosed\n", encoding="utf-8")
    result = run(path, "validate")
    assert result.exit_code == 1
    assert (
        result.stdout
        == "config: line 3: YAML syntax: expected ',' or ']', but got '<stream end>'\n"
    )


# --------------------------------------------------------------------------------------------
# import / export


def opml(urls: list[str]) -> str:
    outlines = "\n".join(
        f'    <outline type="rss" text="Feed {i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    head = '<?xml version="1.0"?>\n<opml version="2.0">\n  <head/>\n  <body>\n'
    return f"{head}{outlines}\n  </body>\n</opml>\n"


def test_import_of_twenty_feeds_reports_the_three_broken_ones(
    http_server: FixtureServer, feeds_yaml: Path, tmp_path: Path
) -> None:
    good = []
    for n in range(1, 18):
        url = http_server.url(f"/m{n}/feed.xml")
        http_server.route(f"/m{n}/feed.xml", feed(title=f"Member {n}", self_url=url), headers=RSS)
        good.append(url)
    for n in (1, 2):  # two members gave their home page: found through its <link>
        page = fixture_text("page-with-link.html").replace("/news/feed.xml", f"/m{n}/feed.xml")
        good[n - 1] = http_server.route(f"/m{n}/", page, headers=HTML)
    http_server.route("/nofeed/", fixture_text("page-no-link.html"), headers=HTML)
    http_server.route("/invalid.xml", (MEMBERS / "broken.xml").read_bytes(), headers=RSS)
    broken = [http_server.url(p) for p in ("/gone.xml", "/nofeed/", "/invalid.xml")]
    urls = good[:5] + broken[:1] + good[5:11] + broken[1:] + good[11:]
    assert len(urls) == 20
    source = tmp_path / "members.opml"
    source.write_text(opml(urls), encoding="utf-8")
    before = feeds_yaml.read_bytes()

    result = run(feeds_yaml, "import", str(source), "--yes")

    assert result.exit_code == 1, result.output
    out = result.stdout.splitlines()
    failed = [line for line in out if line.startswith("failed")]
    assert failed == [
        f"failed    {broken[0]}: not reachable: HTTP 404 Not Found",
        f"failed    {broken[1]}: not a feed: {broken[1]} is an HTML page that advertises no feed, "
        "and none of /feed, /rss.xml, /atom.xml, /feed.xml, /index.xml, /feed/ on its site is one",
        f"failed    {broken[2]}: not a valid feed: feed is not well-formed XML "
        "(<unknown>:3:0: no element found) and holds no complete entry",
    ]
    assert sum(line.startswith("added") for line in out) == 17
    assert out[-1] == "20 feed(s) in members.opml: 17 added, 0 duplicate, 3 failed"
    block = assert_only_inserted(before, feeds_yaml.read_bytes())
    assert sum(line.startswith("  - id: ") for line in block) == 17
    sources = config.load(feeds_yaml).sources
    expected = {http_server.url(f"/m{n}/feed.xml") for n in range(1, 18)}
    assert {s.url for s in sources[3:]} == expected
    assert {s.name for s in sources[3:]} == {f"Feed {i}" for i in range(20)} - {
        "Feed 5",
        "Feed 12",
        "Feed 13",
    }


def test_import_reports_duplicates_of_config_and_of_itself(
    http_server: FixtureServer, feeds_yaml: Path, tmp_path: Path
) -> None:
    one = http_server.route("/one.xml", feed(title="One", self_url="https://one.example/f"))
    cemr = http_server.url("/cemr.xml")
    source = tmp_path / "dupes.opml"
    source.write_text(opml([one, cemr, one + "?utm_medium=x"]), encoding="utf-8")

    result = run(feeds_yaml, "import", str(source), "--yes")

    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0].startswith(f"added     {one}: as feed-0")
    assert out[1].startswith(f"duplicate {cemr}: duplicate of source cemr")
    assert out[2].startswith(f"duplicate {one}?utm_medium=x: duplicate of source feed-0")
    assert out[-1] == "3 feed(s) in dupes.opml: 1 added, 2 duplicate, 0 failed"


def test_import_refuses_an_opml_with_a_doctype(feeds_yaml: Path, tmp_path: Path) -> None:
    source = tmp_path / "evil.opml"
    source.write_text('<!DOCTYPE opml [<!ENTITY x "y">]><opml version="2.0"/>', encoding="utf-8")
    before = feeds_yaml.read_bytes()
    result = run(feeds_yaml, "import", str(source), "--yes")
    assert result.exit_code == 1
    assert "DOCTYPE" in result.stderr and result.stderr.count("\n") == 1
    assert feeds_yaml.read_bytes() == before


def test_export_is_opml_2_with_every_source(feeds_yaml: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["feeds", "export", "--config", str(feeds_yaml)])
    assert result.exit_code == 0, result.output

    root = lxml.etree.fromstring(result.stdout_bytes)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Test network"
    exported = {o.get("xmlUrl"): o.get("text") for o in root.iterfind(".//outline[@xmlUrl]")}
    assert exported == {s.url: s.name for s in config.load(feeds_yaml).sources}

    out = tmp_path / "sources.opml"
    written = run(feeds_yaml, "export", "--out", str(out))
    assert written.exit_code == 0
    assert lxml.etree.fromstring(out.read_bytes()).get("version") == "2.0"
