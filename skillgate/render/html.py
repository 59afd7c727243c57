"""Markdown to HTML for people: markdown-it-py (CommonMark + tables) with raw HTML off.

Raw HTML in a skill is shown as text, never interpreted, and unsafe link schemes
(javascript:, vbscript:, data: other than images) are refused by markdown-it's link check.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def markdown_to_html(text: str) -> str:
    html: str = _MARKDOWN.render(text)
    return html
