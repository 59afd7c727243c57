"""Frontmatter YAML read the way the Agent Skills reference validator (strictyaml) reads it.

Every plain scalar is text; flow style, tags, anchors and aliases are refused from the token
stream, duplicate keys and nesting past the limit from the node tree (walked without
recursion). Never raises: the first problem comes back as a diagnostic with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import yaml

from skillgate.base.diagnostics import Diagnostic
from skillgate.base.limits import YAML_DEPTH

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TextLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Every plain scalar is text, as strictyaml reads it (`1.0` stays "1.0", `yes` stays "yes")."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}


# Tokens strictyaml refuses, and what to write instead.
_REFUSED = {
    yaml.FlowMappingStartToken: "flow style ({...}) is not allowed; write the mapping in block style, "
    "one 'key: value' per line, or quote the value if it is text",
    yaml.FlowSequenceStartToken: "flow style ([...]) is not allowed; write the list in block style, "
    "one '- item' per line, or quote the value if it is text",
    yaml.TagToken: "YAML tags (!!int, !!timestamp...) are not allowed; every value is text",
    yaml.AnchorToken: "YAML anchors (&name) are not allowed; write the value out",
    yaml.AliasToken: "YAML aliases (*name) are not allowed; write the value out",
}


def load_yaml(text: str, path: Path) -> tuple[Any, dict[str, int], Diagnostic | None]:
    """The frontmatter's data and its keys' lines in SKILL.md, or the first problem."""
    try:
        for token in yaml.scan(text, Loader=_TextLoader):
            refused = _REFUSED.get(type(token))
            if refused is not None:
                mark = token.start_mark
                return None, {}, Diagnostic.at(path, "SG102", refused, mark.line + 2, mark.column + 1)
        loader = _TextLoader(text)
        try:
            node = loader.get_single_node()
            problem = _check_nodes(node, path)
            if problem is not None:
                return None, {}, problem
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        col = mark.column + 1 if mark is not None else 1
        problem_text = getattr(exc, "problem", None) or str(exc)
        message = f"frontmatter is not valid YAML: {problem_text}; quote values that contain ': '"
        return None, {}, Diagnostic.at(path, "SG102", message, line, col)
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:  # defence in depth
        message = f"frontmatter could not be read: {type(exc).__name__}; simplify it"
        return None, {}, Diagnostic.at(path, "SG102", message, 2)
    return data, _key_lines(node), None


def _check_nodes(root: yaml.Node | None, path: Path) -> Diagnostic | None:
    """Depth and duplicate keys, walked without recursion."""
    stack = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        line = node.start_mark.line + 2
        if depth > YAML_DEPTH:
            message = f"frontmatter is nested more than {YAML_DEPTH} levels deep; flatten it"
            return Diagnostic.at(path, "SG102", message, line)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    message = f"key {name!r} appears twice; keep one"
                    return Diagnostic.at(path, "SG102", message, key.start_mark.line + 2)
                seen.add(name)
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, depth + 1) for item in node.value]
    return None


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """Map each top-level frontmatter key to its line in SKILL.md (1-based)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 2 for key, _ in node.value}
