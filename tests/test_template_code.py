"""Compiled templates kept on disk (``i18n.templating._SharedBytecode``): the next process
renders without compiling, an edited template is compiled again, and a directory that cannot
be written costs nothing but the compiling."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from aggregator.i18n import templating


def _environment(
    templates: Path, kept: Path, tag: str = "t1", autoescape: bool = False
) -> tuple[Environment, list[str]]:
    """A fresh environment (as in a new process), counting what it compiles."""
    compiled: list[str] = []

    class Counting(Environment):
        def _compile(self, source: str, filename: str) -> object:
            compiled.append(Path(filename).name)
            return super()._compile(source, filename)

    env = Counting(
        loader=FileSystemLoader(str(templates)),
        bytecode_cache=templating._SharedBytecode(kept, tag),
        auto_reload=False,
        autoescape=autoescape,
    )
    return env, compiled


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "hello.html").write_text("Hello {{ name }}!")
    return folder


def test_the_next_process_renders_without_compiling(templates: Path) -> None:
    kept = templates / "__pycache__"
    first, compiled = _environment(templates, kept)
    assert first.get_template("hello.html").render(name="Lyon") == "Hello Lyon!"
    assert compiled == ["hello.html"] and len(list(kept.glob("*.jinja"))) == 1
    second, compiled_again = _environment(templates, kept)
    assert second.get_template("hello.html").render(name="Lyon") == "Hello Lyon!"
    assert compiled_again == []


def test_an_edited_template_is_compiled_again(templates: Path) -> None:
    kept = templates / "__pycache__"
    _environment(templates, kept)[0].get_template("hello.html").render(name="Lyon")
    (templates / "hello.html").write_text("Bonjour {{ name }} !")
    env, compiled = _environment(templates, kept)
    assert env.get_template("hello.html").render(name="Lyon") == "Bonjour Lyon !"
    assert compiled == ["hello.html"]
    third, compiled_third = _environment(templates, kept)
    assert third.get_template("hello.html").render(name="Lyon") == "Bonjour Lyon !"
    assert compiled_third == []


def test_a_directory_that_cannot_be_written_keeps_nothing(templates: Path) -> None:
    blocked = templates / "__pycache__"
    blocked.write_text("not a directory")
    env, compiled = _environment(templates, blocked)
    assert env.get_template("hello.html").render(name="Lyon") == "Hello Lyon!"
    assert compiled == ["hello.html"]
    assert blocked.read_text() == "not a directory"


def test_an_image_build_compiles_every_template() -> None:
    assert templating.compile_templates() >= 40
    assert "compile_templates()" in (Path(__file__).parents[1] / "Dockerfile").read_text()


def test_code_compiled_under_other_settings_is_never_loaded(templates: Path) -> None:
    """Jinja checks kept code against the template only: code compiled without autoescape,
    loaded by an environment with it, would write a member's markup as it is."""
    kept = templates / "__pycache__"
    plain, _ = _environment(templates, kept, tag="plain")
    assert plain.get_template("hello.html").render(name="<b>") == "Hello <b>!"
    escaping, compiled = _environment(templates, kept, tag="escaping", autoescape=True)
    assert escaping.get_template("hello.html").render(name="<b>") == "Hello &lt;b&gt;!"
    assert compiled == ["hello.html"]
    assert [p.name.split(".")[1] for p in kept.glob("*.jinja")] == ["escaping"]
    assert templating.code_tag("3.1.6", b"x") != templating.code_tag("3.1.7", b"x")
    assert templating.code_tag("3.1.6", b"x") != templating.code_tag("3.1.6", b"y")


def test_a_damaged_file_is_compiled_again_and_replaced(templates: Path) -> None:
    kept = templates / "__pycache__"
    _environment(templates, kept)[0].get_template("hello.html").render(name="Lyon")
    [code] = kept.glob("*.jinja")
    whole = code.read_bytes()
    code.write_bytes(whole[:40])
    env, compiled = _environment(templates, kept)
    assert env.get_template("hello.html").render(name="Lyon") == "Hello Lyon!"
    assert compiled == ["hello.html"] and code.read_bytes() == whole


def test_the_publish_salt_reads_templates_not_their_compiled_code(templates: Path) -> None:
    """Any process may compile a template at any time: the outputs' salt must not move."""
    before = templating.template_files(templates)
    _environment(templates, templates / "__pycache__")[0].get_template("hello.html").render()
    (templates / "__pycache__" / ".tmp-1-x.part").write_bytes(b"half")
    assert templating.template_files(templates) == before == [templates / "hello.html"]
    assert templating.template_files() and all(
        "__pycache__" not in p.parts for p in templating.template_files()
    )
