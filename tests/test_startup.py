import mcp_types as types

from skillgate.tools.models import meta_tools
from skillgate.tools.startup import MAX_LINE_CHARS, Entry, brief, fit_startup, tools_tokens

TIME = (
    "Tell the current time in any city or time zone and convert a time between time zones "
    "(what time is it in Tokyo, when is 9am New York in Berlin)."
)
LONG = (
    "Read the complete contents of a file from the file system. Handles various text encodings and "
    "provides detailed error messages if the file cannot be read. Use this tool when you need to examine "
    "the contents of a single file. Only works within allowed directories."
)


def test_a_description_that_fits_is_kept_whole_with_its_trigger_phrases():
    assert brief(TIME) == TIME


def test_a_long_description_is_cut_at_a_sentence_end():
    cut = brief(LONG)
    assert len(cut) <= MAX_LINE_CHARS and cut.endswith("of a single file.")


def test_without_a_sentence_end_the_cut_is_at_a_clause_and_marked():
    cut = brief(TIME, 100)
    assert cut == "Tell the current time in any city or time zone and convert a time between time zones…"


def test_a_cut_is_never_mid_word():
    words = set(("lorem ipsum dolor sit amet consectetur " * 20).split())
    cut = brief("lorem ipsum dolor sit amet consectetur " * 20, 100).rstrip("…")
    assert set(cut.split()) <= words and len(cut) < 100


def test_a_tight_budget_lists_fewer_skills_with_whole_descriptions():
    entries = [Entry(f"skill-{i:03d}", TIME) for i in range(200)]
    text = fit_startup(entries, meta_tools).instructions
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert 0 < len(lines) < 200
    assert all(line.endswith(TIME) for line in lines)
    assert f"…and {200 - len(lines)} more: search them with list_skills(query)." in text


def test_a_blank_description_does_not_break_the_catalog_text():
    assert "- blank: " in fit_startup([Entry("blank", "")], meta_tools).instructions


def without_output_schemas(description: str) -> list[types.Tool]:
    return [tool.model_copy(update={"output_schema": None}) for tool in meta_tools(description)]


def test_output_schemas_are_not_counted_against_the_startup_budget():
    assert tools_tokens(meta_tools("Find skills.")) == tools_tokens(without_output_schemas("Find skills."))
    entries = [Entry(f"skill-{i:03d}", TIME) for i in range(200)]
    assert fit_startup(entries, meta_tools) == fit_startup(entries, without_output_schemas)
