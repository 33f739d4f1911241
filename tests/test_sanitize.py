"""sanitize.py: what reaches a reader's browser or mailbox from a feed's HTML.

The judge is html5lib, a parser that follows the WHATWG algorithm browsers use: sanitized output
is parsed again the way a browser would, and must hold no element that can run script or load
active content, no event handler, no ``style`` and no URL whose scheme is not http(s)/mailto.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.ingest.bidi import balance_bidi, has_bidi_controls
from aggregator.ingest.netguard import AddressPolicy
from aggregator.ingest.sanitize import (
    MAX_DEPTH,
    blocks_of,
    bound_markup,
    excerpt,
    excerpt_of_blocks,
    html_to_blocks,
    html_to_text,
    prepare_markup,
    sanitize_html,
)

BASE = "https://members.example.org/blog/feed.xml"

SAFE_ATTRIBUTES = {
    "lang", "dir", "title", "href", "hreflang", "rel", "src", "alt", "width", "height",
    "colspan", "rowspan", "scope", "span", "start", "reversed", "value", "datetime",
}  # fmt: skip
FORBIDDEN_ELEMENTS = {
    "script", "style", "iframe", "object", "embed", "svg", "math", "form", "input", "button",
    "base", "meta", "link", "frame", "frameset", "applet", "template", "noscript", "textarea",
    "select", "video", "audio", "source", "isindex", "marquee", "body", "head", "html", "title",
    "xmp", "param", "canvas", "keygen",
}  # fmt: skip


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def unsafe_parts(output: str) -> list[str]:
    """Everything in ``output`` a browser could run or load unsafely, as readable strings."""
    root: Element = html5lib.parseFragment(output, treebuilder="etree", namespaceHTMLElements=False)
    problems: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element is root:
            continue
        tag = _local(element.tag)
        if "}" in element.tag:
            problems.append(f"foreign element {element.tag}")
        if tag in FORBIDDEN_ELEMENTS:
            problems.append(f"element <{tag}>")
        for raw_name, value in element.attrib.items():
            name = _local(raw_name)
            if name.startswith("on") or name not in SAFE_ATTRIBUTES:
                problems.append(f"attribute {name}={value!r} on <{tag}>")
            if name in ("href", "src"):
                scheme = urlsplit(value.strip()).scheme.lower()
                allowed = {"http", "https", "mailto"} if name == "href" else {"http", "https"}
                if scheme not in allowed:
                    problems.append(f"URL {name}={value!r} on <{tag}>")
    return problems


# 60 vectors: classic payloads, encodings that hide "javascript:", parser-confusion (mutation
# XSS) tricks and the ones PITFALLS.md says feedparser lets through.
XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href='javascript:alert(1)'>x</math>",
    "<iframe src='javascript:alert(1)'></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<object data='javascript:alert(1)'></object>",
    "<object type='text/x-scriptlet' data='http://evil.example/x.sct'></object>",
    "<embed src='javascript:alert(1)'>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='JaVaScRiPt:alert(1)'>x</a>",
    "<a href='&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)'>x</a>",
    "<a href='&#x6A;avascript:alert(1)'>x</a>",
    "<a href='&#0000106&#0000097vascript:alert(1)'>x</a>",
    "<a href='java&#x09;script:alert(1)'>x</a>",
    "<a href='java&#x0A;script:alert(1)'>x</a>",
    "<a href='java\tscript:alert(1)'>x</a>",
    "<a href='java\nscript:alert(1)'>x</a>",
    "<a href=' &#14;  javascript:alert(1)'>x</a>",
    "<a href='javascript&colon;alert(1)'>x</a>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>x</a>",
    "<a href='data:image/svg+xml,<svg onload=alert(1)>'>x</a>",
    "<a href='file:///etc/passwd'>x</a>",
    "<a href='smb://evil.example/share'>x</a>",
    "<form action='javascript:alert(1)'><input type=submit></form>",
    "<button formaction='javascript:alert(1)'>x</button>",
    "<video poster='javascript:alert(1)'><source src=x onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)></audio>",
    "<body onload=alert(1)>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<div style='width: expression(alert(1))'>x</div>",
    "<style>@import 'http://evil.example/x.css';</style>",
    "<link rel=stylesheet href='http://evil.example/x.css'>",
    "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
    "<base href='javascript:alert(1)//'>",
    "<img src='javascript:alert(1)'>",
    "<img dynsrc='javascript:alert(1)' lowsrc='javascript:alert(1)'>",
    "<img srcset='javascript:alert(1)'>",
    "<table background='javascript:alert(1)'><tr><td>x</td></tr></table>",
    "<input type=image src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<isindex action=javascript:alert(1) type=image>",
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
    "<!--<img src='--><img src=x onerror=alert(1)//'>",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><img src=x onerror=alert(1)></title>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    '<img """><script>alert(1)</script>">',
    "<template><script>alert(1)</script></template>",
    "<select><style></select><img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)' id='x' class='y' name='z' style='color:red'>x</a>",
    "<frameset onload=alert(1)>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
]


def test_the_table_has_enough_vectors() -> None:
    assert len(XSS_VECTORS) >= 47
    assert len(set(XSS_VECTORS)) == len(XSS_VECTORS)


@pytest.mark.parametrize("vector", XSS_VECTORS)
@pytest.mark.parametrize("base", [None, BASE])
def test_no_vector_survives(vector: str, base: str | None) -> None:
    output = sanitize_html(f"<p>before</p>{vector}<p>after</p>", base)
    assert unsafe_parts(output) == []
    assert "<p>before</p>" in output  # a vector never eats the content before it


def test_harmless_markup_is_kept() -> None:
    source = (
        "<h2>Housing</h2><p>The <strong>city</strong> <em>plans</em> "
        "<a href='https://city.example/plan'>a plan</a>.</p>"
        "<ul><li>one</li><li>two</li></ul><blockquote>quoted</blockquote>"
        "<table><tr><th scope='col'>a</th></tr><tr><td colspan='2'>b</td></tr></table>"
    )
    output = sanitize_html(source, BASE)
    for piece in (
        "<h2>Housing</h2>",
        "<strong>city</strong>",
        "<em>plans</em>",
        "<li>one</li>",
        "<blockquote>quoted</blockquote>",
        'scope="col"',
        'colspan="2"',
    ):
        assert piece in output
    assert '<a href="https://city.example/plan" rel="noopener noreferrer">a plan</a>' in output


def test_relative_urls_are_resolved_against_the_base() -> None:
    output = sanitize_html(
        "<a href='../post/2'>next</a><img src='/files/a.jpg' alt='A'>"
        "<img src='//cdn.example/b.png'>",
        BASE,
    )
    assert 'href="https://members.example.org/post/2"' in output
    assert 'src="https://members.example.org/files/a.jpg"' in output
    assert 'src="https://cdn.example/b.png"' in output


def test_relative_urls_without_a_base_are_removed_not_left_pointing_at_our_site() -> None:
    output = sanitize_html("<a href='/post/2'>next</a><img src='a.jpg' alt='A'>", None)
    assert "href" not in output and "src" not in output
    assert "next" in output


def test_fragment_only_links_are_dropped() -> None:
    assert "href" not in sanitize_html("<a href='#note-1'>1</a>", BASE)


def test_mailto_links_allowed_but_not_as_image_sources() -> None:
    output = sanitize_html(
        "<a href='mailto:press@city.example'>m</a><img src='mailto:x@y.z'>", BASE
    )
    assert 'href="mailto:press@city.example"' in output
    assert "src=" not in output


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        ("<img data-src='/a.jpg' alt='x'>", "https://members.example.org/a.jpg"),
        (
            "<img src='data:image/gif;base64,R0lGOD' data-lazy-src='b.jpg'>",
            "https://members.example.org/blog/b.jpg",
        ),
        (
            "<img src='/spacer.gif' data-original='https://cdn.example/c.jpg'>",
            "https://cdn.example/c.jpg",
        ),
        (
            "<img srcset='https://cdn.example/d-400.jpg 400w, https://cdn.example/d-800.jpg 800w'>",
            "https://cdn.example/d-400.jpg",
        ),
        (
            "<img src='placeholder.png' data-srcset='/e.jpg 1x, /e2.jpg 2x'>",
            "https://members.example.org/e.jpg",
        ),
        ("<IMG SRC='real.jpg' DATA-SRC='other.jpg'>", "https://members.example.org/blog/real.jpg"),
    ],
)
def test_lazy_loaded_images_get_a_real_src(img: str, expected: str) -> None:
    output = sanitize_html(img, BASE)
    assert f'src="{expected}"' in output
    assert "data-" not in output and "srcset" not in output


def test_tracking_pixels_are_dropped() -> None:
    output = sanitize_html(
        "<p>text</p><img src='https://track.example/p.gif' width='1' height='1'>", BASE
    )
    assert "<img" not in output and "text" in output


@pytest.mark.parametrize(
    "img",
    [
        "<img src='{src}' style='width:1px;height:1px'>",
        "<img src='{src}' style='width: 0; height: 200px'>",
        "<img src='{src}' style='max-width:1px'>",
        "<img src='{src}' style='display:none'>",
        "<img src='{src}' style='border:0;display : none !important'>",
        "<img src='{src}' style='visibility:hidden'>",
        "<img src='{src}' style='visibility: collapse'>",
        "<img src='{src}' style='opacity:0'>",
        "<img src='{src}' style='opacity: .0'>",
        "<img src='{src}' style='opacity:0%'>",
        "<img src='{src}' STYLE='DISPLAY:NONE'>",
        "<img src='{src}' hidden>",
        "<img src='{src}' hidden=''>",
        "<img src='{src}' width='0' height='0'>",
        "<img src='{src}' width='1.0'>",
        "<img src='{src}' height='1px'>",
        "<div style='display:none'><p><img src='{src}'></p></div>",
        "<span hidden><img src='{src}'></span>",
        "<p style='visibility:hidden'><img src='{src}'></p>",
        "<p hidden><img src='{src}'><p>next paragraph",
        "<div style='opacity:0'><div><img src='/x.gif'></div><img src='{src}'></div>",
    ],
)
def test_images_nobody_sees_are_dropped(img: str) -> None:
    markup = "<p>Kept text</p>" + img.format(src="https://track.example/p.gif")
    output = sanitize_html(markup, BASE)
    assert "<img" not in output and "Kept text" in output


@pytest.mark.parametrize(
    "img",
    [
        "<img src='https://cdn.example/a.jpg' style='width:100%;opacity:0.9'>",
        "<img src='https://cdn.example/a.jpg' width='2' height='2'>",
        "<img src='https://cdn.example/a.jpg' style='width:1em'>",
        "<div style='display:none'></div><img src='https://cdn.example/a.jpg'>",
        "<div hidden>x</div><p><img src='https://cdn.example/a.jpg'></p>",
        "<div style='display:none'><div>inner</div></div><img src='https://cdn.example/a.jpg'>",
        "<p hidden>x<p><img src='https://cdn.example/a.jpg'></p>",  # the next <p> ends it
        "<p hidden>x<div><img src='https://cdn.example/a.jpg'></div>",  # so does a block
        # where an element never closed ends is a guess, which must not cost a real photo
        "<div style='display:none'>x<img src='https://cdn.example/a.jpg'>",
    ],
)
def test_images_readers_see_are_kept(img: str) -> None:
    assert 'src="https://cdn.example/a.jpg"' in sanitize_html(img, BASE)


@pytest.mark.parametrize(
    "src",
    [
        "http://10.0.0.1/a.png", "http://172.16.5.4/a.png", "http://192.168.1.1/a.png",
        "http://127.0.0.1/a.png", "http://127.1/a.png", "http://2130706433/a.png",
        "http://0x7f000001/a.png", "http://[::1]/a.png", "http://[::ffff:127.0.0.1]/a.png",
        "http://169.254.169.254/latest/a.png", "http://[fe80::1]/a.png", "http://0.0.0.0/a.png",
        "http://localhost:8080/a.png", "http://metadata.google.internal/a.png",
        "http://printer.local/a.png", "https://user:pw@cdn.example/a.png",
    ],
)  # fmt: skip
def test_images_on_private_addresses_are_dropped(src: str) -> None:
    output = sanitize_html(f"<p>text</p><img src='{src}' alt='a'>", BASE)
    assert "<img" not in output and "text" in output


def test_images_on_a_private_address_the_operator_allowed_are_kept() -> None:
    markup = "<img src='http://127.0.0.1:8081/a.png'><img src='http://127.0.0.1:8082/b.png'>"
    output = sanitize_html(markup, BASE, AddressPolicy.from_allow(["127.0.0.1:8081"]))
    assert output == '<img src="http://127.0.0.1:8081/a.png">'


def test_line_separators_are_breaks_in_html_and_spaces_in_text() -> None:
    markup = "<p title='a\u2028b'>one\u2028two\u2029three&#x2028;four&#8233;five</p>"
    output = sanitize_html(markup, None)
    assert output == '<p title="a b">one<br>two<br>three<br>four<br>five</p>'
    assert html_to_text(markup) == "one two three four five"
    assert excerpt("one\u2028two\x85three") == "one two three"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>a\u202eb</p><p>c</p>", "<p>ab</p><p>c</p>"),
        ("<p>a&#x202E;b</p>", "<p>ab</p>"),
        ("<p>a&#8238b</p>", "<p>ab</p>"),
        ("<p>\u202bשלום\u202c world</p>", "<p>\u202bשלום\u202c world</p>"),
        ("<p>\u202b<b>across</b>\u202c a tag</p>", "<p><b>across</b> a tag</p>"),
        ("<p>\u2067عربي\u2069 and \u202c stray</p>", "<p>\u2067عربي\u2069 and  stray</p>"),
    ],
)
def test_direction_controls_left_open_in_a_text_run_are_removed(markup: str, expected: str) -> None:
    assert sanitize_html(markup, None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\u202eb", "ab"),
        ("a\u202eb\u202cc", "a\u202eb\u202cc"),
        ("a\u202cb", "ab"),  # a closer without its opener
        ("\u202a\u202b x \u202c", "\u202b x \u202c"),  # PDF closes the latest; LRE stays open
        ("\u2068a\u202ab\u2069c", "\u2068ab\u2069c"),  # PDI closes what its isolate opened
        ("\u202ax\u2068y\u202c\u2069", "x\u2068y\u2069"),  # PDF cannot leave an isolate
        ("\u2069\u2066\u2069\u2067", "\u2066\u2069"),
    ],
)
def test_balance_bidi_follows_the_unicode_pairing_rules(text: str, expected: str) -> None:
    assert balance_bidi(text) == expected


def test_deep_nesting_is_bounded_before_sanitizing() -> None:
    deep = "<div>" * 50_000 + "deep text" + "</div>" * 50_000
    bounded = bound_markup(deep)
    assert bounded.count("<div>") == MAX_DEPTH
    output = sanitize_html(deep, None)
    assert "deep text" in output
    assert output.count("<div>") <= MAX_DEPTH


def test_unclosed_paragraphs_do_not_count_as_nesting() -> None:
    many = "<div>" + "<p>para" * 1000 + "</div>"
    assert bound_markup(many) == many
    assert sanitize_html(many, None).count("<p>") == 1000


def test_huge_input_is_cut() -> None:
    big = "<p>" + "word " * 200_000 + "</p><p>tail</p>"
    output = sanitize_html(big, None)
    assert "tail" not in output
    assert len(output) < 300_000


def test_html_to_text_decodes_and_flattens() -> None:
    text = html_to_text(
        "<p>Caf&eacute; &amp; <b>bar</b></p>\n\n<p>  next&nbsp;one</p><script>x()</script>"
    )
    assert text == "Café & bar next one"


def test_html_to_blocks_keeps_paragraphs_apart() -> None:
    blocks = html_to_blocks("<p>By Ann Lee, UCLG\n officer</p><p>Body <i>text</i>.</p>")
    assert blocks == "By Ann Lee, UCLG officer\nBody text."


def test_plain_text_double_spaces_separate_paragraphs() -> None:
    assert html_to_blocks("By X, officer  Dicen que") == "By X, officer\nDicen que"


def test_escaped_markup_in_text_does_not_come_back_as_tags() -> None:
    assert "<" not in html_to_text("&lt;script&gt;alert(1)&lt;/script&gt; and &lt;&lt;b&gt;b&gt;")


def test_excerpt_cuts_at_a_word_with_an_ellipsis() -> None:
    text = "Local governments " * 40
    cut = excerpt(text)
    assert len(cut) <= 300 and cut.endswith("…")
    assert cut[:-1].split()[-1] in ("Local", "governments")  # whole words only


def test_excerpt_drops_read_more_trailers() -> None:
    assert excerpt("The city opened a library. (+)") == "The city opened a library."
    assert excerpt("A short post [&#8230;]".replace("&#8230;", "…")) == "A short post"
    post = "Budget news. The post Budget news appeared first on City Hall Blog."
    assert excerpt(post) == "Budget news."


# --------------------------------------------------------------------------------------------
# Properties

_TAGS = [
    "p",
    "div",
    "a",
    "img",
    "script",
    "style",
    "svg",
    "math",
    "iframe",
    "form",
    "b",
    "table",
    "td",
    "noscript",
    "template",
    "textarea",
    "title",
    "select",
    "object",
    "li",
    "xmp",
    "video",
    "base",
    "meta",
    "mglyph",
    "malignmark",
    "foreignObject",
    "desc",
    "option",
]
_ATTRS = [
    "href",
    "src",
    "onerror",
    "onclick",
    "style",
    "xlink:href",
    "action",
    "formaction",
    "poster",
    "srcset",
    "data-src",
    "background",
    "title",
    "id",
    "class",
    "is",
]
_VALUES = [
    "javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "java\tscript:x",
    "data:text/html,x",
    "https://ok.example/a",
    "/rel",
    "x",
    "</noscript><img src=x onerror=alert(1)>",
    "mailto:a@b.example",
    "vbscript:x",
    '" onmouseover="alert(1)',
    "'><svg onload=x>",
]


@st.composite
def html_fragments(draw: st.DrawFn) -> str:
    pieces: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 4))
        tag = draw(st.sampled_from(_TAGS))
        if kind == 0:
            attrs = draw(
                st.lists(st.tuples(st.sampled_from(_ATTRS), st.sampled_from(_VALUES)), max_size=3)
            )
            quote = draw(st.sampled_from(["'", '"', ""]))
            rendered = "".join(f" {n}={quote}{v}{quote}" for n, v in attrs)
            pieces.append(f"<{tag}{rendered}{draw(st.sampled_from(['>', '/>', '']))}")
        elif kind == 1:
            pieces.append(f"</{tag}>")
        elif kind == 2:
            pieces.append(draw(st.text(max_size=20)))
        elif kind == 3:
            pieces.append(
                draw(
                    st.sampled_from(
                        [
                            "<!--",
                            "-->",
                            "<![CDATA[",
                            "]]>",
                            "&lt;",
                            "&",
                            "<",
                            ">",
                            "'",
                            '"',
                            "&#0;",
                            "\x00",
                        ]
                    )
                )
            )
        else:
            pieces.append(draw(st.sampled_from(_VALUES)))
    return "".join(pieces)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markup=html_fragments(), base=st.sampled_from([None, BASE]))
def test_property_sanitized_output_is_safe(markup: str, base: str | None) -> None:
    assert unsafe_parts(sanitize_html(markup, base)) == []


@settings(max_examples=150, deadline=None)
@given(markup=st.text(max_size=300))
def test_property_any_text_sanitizes_safely(markup: str) -> None:
    assert unsafe_parts(sanitize_html(markup, BASE)) == []


@settings(max_examples=150, deadline=None)
@given(markup=html_fragments())
def test_property_sanitizing_twice_changes_nothing_unsafe(markup: str) -> None:
    once = sanitize_html(markup, BASE)
    assert unsafe_parts(sanitize_html(once, BASE)) == []


@settings(max_examples=200, deadline=None)
@given(markup=st.one_of(st.text(max_size=1200), html_fragments()))
def test_property_excerpt_is_short_plain_text(markup: str) -> None:
    for text in (excerpt(markup), excerpt(html_to_text(markup))):
        assert len(text) <= 300
        assert not re.search(r"<[A-Za-z/!?][^<>]*>", text)
        assert "\n" not in text and "  " not in text


# --------------------------------------------------------------------------------------------
# The text read from sanitized markup (what normalise uses) equals the text cleaner's

_TEXT_CASES = [
    "<p>One</p><p>Two <b>bold</b> and <a href='/x' title='a > b'>a link</a></p>",
    "<ul><li>first</li><li>second<br>line</li></ul><table><tr><td colspan=2>cell</td></tr></table>",
    "<p lang='fr' title='x\"y'>Caf&eacute;&nbsp;cr&egrave;me &amp; co &lt;b&gt;not&lt;/b&gt;</p>",
    "<div><script>alert(1)</script>kept<style>p{}</style> text</div><img alt='no' src=x.png>",
    "By Ana Ruiz – UCLG<br/>Dicen que&#8230; <em>todo</em>&#1; cambia&#127;<p>fin",
    "<pre>  spaced\n\n  code </pre><h2>Heading</h2>\n\n<p> after  heading </p>",
    "<p><span> </span></p><p>\u00a0</p><p>x&#x200b;y&ZeroWidthSpace;z</p>",
    "Plain text  with two spaces\nand a line break, no tags at all &amp; an entity",
    "<p>a <<b>b>c</p><p>&lt;<b>i</b>&gt;</p><!-- comment --><p>end</p>",
    "<figure><img src=a.jpg><figcaption>Caption</figcaption></figure>",
    "<details><summary>S</summary>D</details><p lang=fr>Un</p><p title=x>Deux</p>",
]


@pytest.mark.parametrize("markup", _TEXT_CASES)
def test_text_of_sanitized_markup_is_the_text_cleaners(markup: str) -> None:
    assert blocks_of(prepare_markup(markup), sanitize_html(markup, BASE)) == html_to_blocks(markup)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    markup=st.one_of(html_fragments(), st.text(max_size=300)), base=st.sampled_from([None, BASE])
)
def test_property_text_of_sanitized_markup_is_the_text_cleaners(
    markup: str, base: str | None
) -> None:
    # The sanitizer drops control characters and rewrites lazy images and fragment links in
    # the raw markup first; hostile markup can hide a control in a comment opener or a tag in
    # an attribute value, so the text cleaner is given the markup the sanitizer really read.
    prepared = prepare_markup(markup)
    assert blocks_of(prepared, sanitize_html(markup, base)) == html_to_blocks(prepared)


@pytest.mark.parametrize("markup", _TEXT_CASES)
def test_excerpt_of_blocks_is_the_excerpt(markup: str) -> None:
    blocks = html_to_blocks(markup)
    assert excerpt_of_blocks(blocks, 60) == excerpt(blocks, 60)


def test_control_characters_from_references_do_not_reach_the_output() -> None:
    # raw ones were always removed; decoded ones would make the Atom feed invalid XML
    assert sanitize_html("a&#1;b&#127;c&#x80;d\x02e", None) == "abc\u20acde"


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.one_of(
            st.sampled_from(
                "aé€ -\x00\x01\x0c\x1f\x7f\x80\x85\x9f\xa0\u200b\u2028\u2029\ufeff\u202a"
                "\u202c\u202e\u2066\u2069\u2027\u202f\u2065\u206a"
            ),
            st.characters(),
        ),
        min_size=120,
        max_size=400,
    )
)
def test_property_control_check_agrees_with_the_regex(text: str) -> None:
    from aggregator.ingest import sanitize

    expected = bool(sanitize._CONTROL_RE.search(text)) or has_bidi_controls(text)
    assert sanitize._has_controls(text) == expected
