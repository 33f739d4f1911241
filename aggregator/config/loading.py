"""Reading the YAML with positions, so that every problem names its file, line and field."""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from aggregator.config._base import DEFAULT_CONFIG
from aggregator.config.settings import Settings
from aggregator.errors import ConfigError


def load(path: str | Path = DEFAULT_CONFIG) -> Settings:
    """Read, parse and validate a config file; raise ``ConfigError`` naming file, line, field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), [f"{p}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"{p}: cannot read: {exc}"]) from None
    return loads(text, p)


def loads(text: str, path: Path) -> Settings:
    plain = _plain_document(text, path)
    blob = _marshalled(plain)
    if blob is not None:  # the parse's survivors go first, then their packed copy is made
        plain = None
        plain = marshal.loads(blob)  # noqa: S302  # written just above, from our own values
    try:
        settings = Settings.model_validate(plain)
    except ValidationError as exc:  # parsed again, for the line of every problem
        raise ConfigError(str(path), _describe(exc, _parse_yaml(text, path), path)) from None
    return settings.model_copy(update={"path": path})


def _plain_document(text: str, path: Path) -> Any:
    """The document as plain dicts and lists; the YAML tree with its positions is dropped."""
    data = _parse_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"{path}:1: the file must be a mapping of settings"])
    return _plain(data)


def _marshalled(plain: Any) -> bytes | None:
    """``plain`` as bytes, to be read back as a fresh copy once the parser's garbage is gone.

    The round-trip parser makes dozens of short-lived objects per scalar, and the values that
    survive it sit scattered among them: the freed memory cannot go back to the system while
    one survivor remains in each block.  With 10,000 sources that held 62 MiB for the life of
    the process for 12 MiB of settings; read back from ``marshal`` (our own plain values, in
    memory), the survivors are packed together and the parse's blocks freed: 26 MiB.  None for
    a document marshal cannot carry (a YAML timestamp): it is then used as it is.
    """
    try:
        return marshal.dumps(plain)
    except ValueError:
        return None


def _parse_yaml(text: str, path: Path) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(str(path), [f"{path}:{line}: YAML syntax: {exc.problem}"]) from None
    except Exception as exc:  # ruamel raises plain errors for some malformed input
        raise ConfigError(str(path), [f"{path}: YAML syntax: {exc}"]) from None


def _plain(node: Any) -> Any:
    """Round-trip containers to plain dicts and lists for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _describe(exc: ValidationError, data: Any, path: Path) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = locate(data, loc)
        field = _dotted(loc) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown setting (misspelt?)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(f"{path}:{line}: {field}: {message}")
    return problems


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate(data: Any, loc: Sequence[int | str]) -> int:
    """The 1-based line of the deepest node of ``loc`` that exists in the YAML document."""
    line = 1
    node = data
    for part in loc:
        if isinstance(node, CommentedMap) and isinstance(part, str) and part not in node:
            part = part.removesuffix("_labels")  # a per-language mapping, split before checking
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            pos = node.lc.key(part)
            line = pos[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            pos = node.lc.item(part)
            line = pos[0] + 1
            node = node[part]
        else:
            break
    return line
