"""What a model reads: the text and structured content of each meta-tool's result, and the
wording of its tool errors (each names the problem and the fix)."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from pydantic import ValidationError

from skillgate.tools.models import LoadedFile, LoadedSkill, SkillPage, dump, signature

SECTIONS_LISTED_FROM = 500  # tokens: a shorter skill is read whole, its sections are not listed
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"


def first_text(result: types.CallToolResult) -> str | None:
    texts = [b.text for b in result.content if isinstance(b, types.TextContent)]
    return texts[0][:500] if texts else None


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def describe_validation(tool: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "missing":
            problems.append(f"{where!r} is required")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{where!r} is not an argument of {tool}")
        else:
            problems.append(f"{where!r}: {err['msg']}")
    return f"bad arguments for {tool}: {'; '.join(problems)}. See the tool's input schema"


def text_blocks(text: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=text)]


def page_result(page: SkillPage) -> types.CallToolResult:
    lines = []
    if page.no_match:
        lines.append("No skill matches the query beyond chance; the nearest are:")
    for s in page.skills:  # scores stay in structuredContent: the order already says it
        tools = f" [tools: {', '.join(s.tools)}]" if s.tools else ""
        matched = f" (matched: {s.matched!r})" if s.matched else ""
        lines.append(f"- {s.name}: {s.description}{tools}{matched}")
    if not lines:
        lines.append("No skill matches. Try other words, or list_skills() without a query.")
    if page.next_cursor:
        lines.append(f"{page.total} in all; more with cursor={page.next_cursor!r}")
    return types.CallToolResult(content=text_blocks("\n".join(lines)), structured_content=dump(page))


def skill_result(loaded: LoadedSkill, section: str | None = None) -> types.CallToolResult:
    """The text a model reads: instructions, then the tools with lean input schemas.

    A section load shows full schemas only for the tools its text names (the others by
    name); the section listing appears only for skills long enough to load in parts.
    """
    parts = [loaded.instructions.rstrip()]
    if loaded.variables:
        listing = ", ".join(
            f"{name} (default {default!r})" if default is not None else f"{name} (no default)"
            for name, default in loaded.variables.items()
        )
        parts.append(f"Variables (load_skill with variables={{...}}): {listing}")
    tools = loaded.tools
    if section is not None:
        tools = [t for t in loaded.tools if t.name in loaded.instructions]
        others = [t.name for t in loaded.tools if t not in tools]
        if others:
            parts.append(f"Other tools (schemas: load_skill without section): {', '.join(others)}")
    if tools:
        parts.append("## Tools (call them with call_skill)")
        for tool in tools:
            head, _, arguments = signature(tool.name, tool.input_schema).partition("\n")
            description = " ".join((tool.description or "").split())
            parts.append(
                f"- {head}"
                + (f": {description}" if description else "")
                + (f"\n{arguments}" if arguments else "")
            )
    top = min((s.level for s in loaded.sections), default=0)  # once: a skill may have thousands of headings
    whole = sum(s.tokens for s in loaded.sections if s.level == top)
    if len(loaded.sections) > 1 and whole > SECTIONS_LISTED_FROM:
        listing = ", ".join(f"{s.heading} ({s.tokens})" for s in loaded.sections)
        parts.append(f"Sections (tokens), for section=HEADING: {listing}")
    if loaded.warnings:
        parts.append("Warnings:\n" + "\n".join(f"- {w}" for w in loaded.warnings))
    if loaded.files:
        listing = ", ".join(f"{f.path} ({f.size} B)" for f in loaded.files)
        parts.append(f"Files (load_skill with file=PATH): {listing}")
    return types.CallToolResult(content=text_blocks("\n\n".join(parts)), structured_content=dump(loaded))


def file_result(loaded: LoadedFile) -> types.CallToolResult:
    text = loaded.text if loaded.text is not None else f"(binary file, {loaded.size} bytes, base64 in blob)"
    return types.CallToolResult(content=text_blocks(text), structured_content=dump(loaded))


def passthrough(result: types.CallToolResult) -> types.CallToolResult:
    """The upstream result unchanged, except: `structuredContent` mirrors the content when it had
    none, and the upstream's own server identity in `_meta` is dropped (the client talks to
    skillgate, which adds its own)."""
    update: dict[str, Any] = {}
    if result.meta and SERVER_INFO_META in result.meta:
        update["meta"] = {k: v for k, v in result.meta.items() if k != SERVER_INFO_META} or None
    if result.structured_content is None and not result.is_error:
        blocks = [b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in result.content]
        update["structured_content"] = {"content": blocks}
    return result.model_copy(update=update) if update else result
