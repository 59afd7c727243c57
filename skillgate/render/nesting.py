"""How deeply a template nests, read from Jinja's token stream before it is parsed: templates
nested deeper than Jinja and Python can compile are refused when the catalog loads."""

from __future__ import annotations

import jinja2

from skillgate.base.limits import TEMPLATE_EXPRESSION_DEPTH, TEMPLATE_NESTING

_OPENERS = frozenset({"for", "if", "macro", "call", "filter", "block", "with", "autoescape", "trans"})
_CHAIN = frozenset({"|", ".", "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">="})


def too_nested(env: jinja2.Environment, body: str) -> tuple[int, str] | None:
    """The first place the template nests deeper than the limits Jinja and Python can compile.

    Read from the token stream, which has no recursion: blocks inside blocks (Python allows
    20 nested loops), brackets inside brackets, and operators or filters chained in one
    expression (each becomes one more level of nesting in the generated code).
    """
    blocks: list[str] = []
    brackets = chain = 0
    tag: list[str] | None = None  # the words of the block tag being read, if inside one
    for line, kind, value in env.lex(body):
        if kind in ("variable_begin", "block_begin"):
            brackets = chain = 0
            tag = [] if kind == "block_begin" else None
        elif kind == "block_end" and tag:
            word = tag[0]
            if word in _OPENERS or (word == "set" and "=" not in tag):
                blocks.append(word)
                if len(blocks) > TEMPLATE_NESTING:
                    return line, f"blocks are nested more than {TEMPLATE_NESTING} deep; split the template"
            elif word.startswith("end") and blocks:
                blocks.pop()
            tag = None
        elif kind in ("name", "operator") and tag is not None:
            tag.append(value)
        if kind == "operator":
            if value in ("(", "[", "{"):
                brackets += 1
            elif value in (")", "]", "}"):
                brackets -= 1
            elif value in _CHAIN:
                chain += 1
            if brackets > TEMPLATE_EXPRESSION_DEPTH or chain > 2 * TEMPLATE_EXPRESSION_DEPTH:
                return line, (
                    f"an expression nests brackets more than {TEMPLATE_EXPRESSION_DEPTH} deep or chains "
                    f"more than {2 * TEMPLATE_EXPRESSION_DEPTH} operators and filters; split it with "
                    "{% set %}"
                )
    return None
