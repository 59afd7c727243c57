"""Property-based fuzzing (Hypothesis) of everything an author or a caller can hand skillgate.

Properties:
- any SKILL.md, mcp.json, tools.lock.json or template beside a good skill: the catalog loads,
  the good skill is served, and a file that is not loaded has a diagnostic naming it;
- skillgate's frontmatter rules agree with the Agent Skills reference validator;
- any skillgate.toml is settings or a UsageError;
- any arguments to the three meta-tools get an answer, never "internal error".

`make test` runs the "ci" profile (bounded, derandomized, under a minute); `make fuzz` runs
the "fuzz" profile (many more examples, random). Inputs that ever failed live in
tests/fuzz_corpus/ and are replayed by every run.
"""

from __future__ import annotations

import json
import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import example, given
from hypothesis import strategies as st
from skills_ref.validator import validate as reference_validate

from skillgate.base.diagnostics import Severity
from skillgate.base.errors import RenderError, UsageError
from skillgate.render.template import check_template, render_template
from skillgate.server.stdio import StdioLane, parse
from skillgate.settings import load_settings
from skillgate.skills.catalog import Catalog
from tests.conftest import gateway_client, text_of, write_skill

CORPUS = Path(__file__).parent / "fuzz_corpus"
GOOD_BODY = "# Good\n\nDo the thing with {{ vars.x | default('y') }}.\n"


class Workspace:
    """A catalog folder reused across examples: one good skill and a slot for the fuzzed one."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="skillgate-fuzz-"))
        write_skill(self.root, "good", body=GOOD_BODY)

    def fresh(self, name: str = "fuzzed") -> Path:
        for child in self.root.iterdir():
            if child.name != "good":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        folder = self.root / name
        folder.mkdir()
        return folder

    def check(self, bad: str = "fuzzed") -> Catalog:
        """The property every fuzzed file must keep."""
        catalog = Catalog.load(self.root)
        assert "good" in catalog.skills, catalog.diagnostics
        if bad not in catalog.skills:
            assert any(f"/{bad}/" in d.path for d in catalog.errors), catalog.diagnostics
        for diagnostic in catalog.diagnostics:
            str(diagnostic).encode("utf-8")  # printable
        return catalog


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    space = Workspace()
    yield space
    shutil.rmtree(space.root, ignore_errors=True)


# -- strategies -------------------------------------------------------------------------

SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.,!?()éü名", max_size=30)
TRICKY = st.sampled_from(
    [
        "d",
        " ",
        "",
        "yes",
        "no",
        "1.0",
        "null",
        "~",
        "0x10",
        "'quoted'",
        '"dq"',
        "{}",
        "[]",
        "{a: 1}",
        "[1, 2]",
        "!!int x",
        "!!timestamp not-a-date",
        "&anchor x",
        "*alias",
        "|\n  multi\n  line",
        "x" * 1025,
        "- item",
        "true",
        "9" * 4400,
        "a #comment",
        "'it''s'",
        '"\\u00e9"',
    ]
)
VALUES = st.one_of(TRICKY, SAFE_TEXT)
NAMES = st.one_of(
    st.sampled_from(
        ["a", "abc", "a-b", "café", "Ab", "-a", "a-", "a--b", "x" * 64, "x" * 65, " a ", "名前", "a_b"]
    ),
    st.text(alphabet=string.ascii_lowercase + string.digits + "-é", min_size=1, max_size=12),
)
KEYS = st.sampled_from(["license", "compatibility", "allowed-tools", "version", "metadata"])


@st.composite
def frontmatters(draw: st.DrawFn) -> tuple[str, str]:
    """(folder name, SKILL.md text) with a frontmatter mixing valid and invalid fields."""
    name = draw(NAMES)
    lines = [f"name: {name}"] if draw(st.integers(0, 9)) > 0 else []
    if draw(st.integers(0, 9)) > 0:
        lines.append(f"description: {draw(VALUES)}")
    for key in draw(st.lists(KEYS, max_size=3, unique=True)):
        if key == "metadata" and draw(st.booleans()):
            items = draw(st.lists(st.tuples(st.sampled_from(["author", "version", "x"]), VALUES), max_size=2))
            block = "".join(f"\n  {k}: {v}" for k, v in dict(items).items())
            lines.append(f"metadata:{block or ' {}'}")
        else:
            lines.append(f"{key}: {draw(VALUES)}")
    folder = name.strip() if name.strip() and "/" not in name and name.strip() not in (".", "..") else "skill"
    return folder, "---\n" + "\n".join(lines) + "\n---\n# Body\n"


JINJA = st.sampled_from(
    [
        "{{ vars.a }}",
        "{{ vars.a | default('x') }}",
        "{% if vars.a %}",
        "{% endif %}",
        "{% for i in range(3) %}",
        "{% endfor %}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ 'x' * 10 ** 9 }}",
        "{% include vars.f %}",
        "{% include 'mcp.json' %}",
        "{{ (((((1))))) }}",
        "{{ x|upper|lower|trim }}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ lipsum(10 ** 6) }}",
        "{% set y = [1] * 5 %}",
        "{{ ''.__class__ }}",
        "{{ range(10 ** 6) | list }}",
        "{#",
        "#}",
        "{%",
        "%}",
        "{{",
        "}}",
        "{% raw %}",
        "{% endraw %}",
        "\n",
        "text ",
        "[link](../x.md)",
        "{% block b %}",
        "{% endblock %}",
        "{% with %}",
        "{% endwith %}",
        "{{ tools[0].name }}",
        "{{ 1/0 }}",
    ]
)
TEMPLATES = st.lists(JINJA, max_size=40).map("".join)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), SAFE_TEXT)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(SAFE_TEXT, inner, max_size=4)),
    max_leaves=20,
)
SERVER_ENTRIES = st.fixed_dictionaries(
    {},
    optional={
        "command": st.one_of(SAFE_TEXT, JSON_VALUES),
        "args": st.one_of(st.lists(SAFE_TEXT, max_size=3), JSON_VALUES),
        "url": st.one_of(st.just("http://127.0.0.1:1/mcp"), SAFE_TEXT),
        "env": st.one_of(st.dictionaries(SAFE_TEXT, SAFE_TEXT, max_size=2), JSON_VALUES),
        "allowedTools": st.one_of(st.lists(st.sampled_from(["*", "a", "b?", "[x"]), max_size=3), JSON_VALUES),
        "timeout": st.one_of(st.floats(allow_nan=True), st.integers(), SAFE_TEXT),
        "cwd": SAFE_TEXT,
        "drift": st.sampled_from(["block", "warn", "off", "maybe"]),
        "transport": st.sampled_from(["stdio", "http", "sse", "carrier-pigeon"]),
    },
)
MCP_JSON = st.one_of(
    st.dictionaries(SAFE_TEXT, SERVER_ENTRIES, max_size=3).map(lambda s: json.dumps({"mcpServers": s})),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=200),
)


# -- SKILL.md ---------------------------------------------------------------------------


@given(frontmatters())
@example(("café", "---\nname: café\ndescription: d\n---\n"))
@example(("a", "---\nname: a\ndescription: d\nmetadata:\n  version: 1.0\n---\n"))
@example(("a", "---\nname: a\ndescription: d\nmetadata: {}\n---\n"))
@example(("a", '---\nname: a\ndescription: " "\n---\n'))
def test_frontmatter_rules_agree_with_the_reference_validator(
    workspace: Workspace, case: tuple[str, str]
) -> None:
    folder_name, text = case
    folder = workspace.fresh(folder_name)
    (folder / "SKILL.md").write_text(text, encoding="utf-8")
    reference_ok = reference_validate(folder) == []
    catalog = workspace.check(folder_name)
    # `validate` agrees with the reference; serving may tolerate more (a long description)
    strict = [d.strict() for d in catalog.diagnostics if d.within(folder)]
    ours_ok = any(s.dir.name == folder_name for s in catalog) and all(
        d.severity is Severity.WARNING for d in strict
    )
    assert reference_ok == ours_ok, (text, reference_validate(folder), catalog.diagnostics)


@given(st.text(max_size=500))
def test_any_text_as_skill_md_keeps_the_neighbour(workspace: Workspace, text: str) -> None:
    folder = workspace.fresh()
    (folder / "SKILL.md").write_text(text, encoding="utf-8", errors="surrogatepass")
    workspace.check()


@given(TEMPLATES)
def test_any_template_keeps_the_neighbour_and_renders_or_says_why(workspace: Workspace, body: str) -> None:
    folder = workspace.fresh()
    (folder / "SKILL.md").write_text("---\nname: fuzzed\ndescription: d\n---\n" + body)
    (folder / "mcp.json").write_text('{"mcpServers": {}}')
    workspace.check()
    if check_template(body, folder).error is None:
        try:
            render_template(body, folder, skill={}, tools=[], variables={"a": 1, "f": "mcp.json"}, client={})
        except RenderError as exc:
            assert "command" not in str(exc)  # an include never shows configuration


# -- mcp.json, tools.lock.json, skillgate.toml -------------------------------------------------


@given(MCP_JSON)
def test_any_mcp_json_keeps_the_neighbour(workspace: Workspace, text: str) -> None:
    folder = workspace.fresh()
    (folder / "SKILL.md").write_text("---\nname: fuzzed\ndescription: d\n---\n# T\n")
    (folder / "mcp.json").write_text(text)
    workspace.check()


@given(
    st.one_of(
        JSON_VALUES.map(lambda v: json.dumps({"version": 1, "servers": {"s": v}})), st.text(max_size=200)
    )
)
def test_any_lock_file_keeps_the_neighbour(workspace: Workspace, text: str) -> None:
    folder = workspace.fresh()
    (folder / "SKILL.md").write_text("---\nname: fuzzed\ndescription: d\n---\n# T\n")
    (folder / "mcp.json").write_text('{"mcpServers": {"s": {"command": "x"}}}')
    (folder / "tools.lock.json").write_text(text)
    workspace.check()


TOML_LINES = st.sampled_from(
    [
        'host = "0.0.0.0"',
        "port = 99999",
        "port = 8000",
        'drift = "maybe"',
        "[render]",
        "timeout = 0",
        "timeout = 2.5",
        "memory_mb = 1",
        "[search]",
        'embedder = "http"',
        "[[tokens]]",
        'env = "X"',
        'profile = "nope"',
        "[profiles.a]",
        'include = ["x*"]',
        "a = " + "[" * 100 + "]" * 100,
        "[audit]",
        "max_bytes = 1",
        "= broken",
        "x = 1",
        "[reload]",
        "enabled = 'yes'",
    ]
)


@given(st.lists(TOML_LINES, max_size=12).map("\n".join))
def test_any_settings_file_is_settings_or_a_usage_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("toml") / "skillgate.toml"
    path.write_text(text)
    try:
        load_settings(path)
    except UsageError as exc:
        assert str(exc) and "Traceback" not in str(exc)


# -- the corpus of inputs that once failed ------------------------------------------------------


@pytest.mark.parametrize("case", sorted(p.name for p in CORPUS.iterdir()), ids=str)
def test_the_corpus_of_past_failures_keeps_the_neighbour(workspace: Workspace, case: str) -> None:
    """Each file is placed as what its name ends with: *.SKILL.md, *.mcp.json or *.tools.lock.json."""
    folder = workspace.fresh()
    data = (CORPUS / case).read_bytes()
    if case.endswith(".SKILL.md"):
        (folder / "SKILL.md").write_bytes(data)
    else:
        (folder / "SKILL.md").write_text("---\nname: fuzzed\ndescription: d\n---\n# T\n")
        (folder / "mcp.json").write_text('{"mcpServers": {"s": {"command": "x"}}}')
        (folder / ("mcp.json" if case.endswith(".mcp.json") else "tools.lock.json")).write_bytes(data)
    workspace.check()


# -- the MCP surface -------------------------------------------------------------------------------

ARGUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["good", "plain", "missing", ""]), SAFE_TEXT, JSON_VALUES),
        "query": st.one_of(SAFE_TEXT, st.text(max_size=300), JSON_VALUES),
        "limit": st.one_of(st.integers(), JSON_VALUES),
        "cursor": st.one_of(SAFE_TEXT, st.text(max_size=50)),
        "variables": st.one_of(st.dictionaries(SAFE_TEXT, JSON_VALUES, max_size=3), JSON_VALUES),
        "section": st.one_of(SAFE_TEXT, JSON_VALUES),
        "file": st.one_of(
            st.sampled_from(["../good/SKILL.md", "a\x00b", "/etc/passwd", "x" * 3000]), SAFE_TEXT
        ),
        "max_tokens": st.one_of(st.integers(), JSON_VALUES),
        "tool": st.one_of(SAFE_TEXT, JSON_VALUES),
        "arguments": JSON_VALUES,
    },
)


@pytest.fixture(scope="module")
def live_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BlockingPortal, Any]]:
    """One real SDK client talking to skillgate for the whole module (a portal runs its event loop)."""
    root = tmp_path_factory.mktemp("live")
    write_skill(root, "good", body=GOOD_BODY)
    write_skill(root, "plain", body="# Plain\n\n## Part\n\nText.\n")
    write_skill(root, "bound", servers={"gone": {"command": "/nonexistent/server", "timeout": 1}})

    async def hold(*, task_status: Any) -> None:  # the client lives in one task of the portal's loop
        async with gateway_client(root) as (client, _):
            stop = anyio.Event()
            task_status.started((client, stop))
            await stop.wait()

    with start_blocking_portal() as portal:
        done, (client, stop) = portal.start_task(hold)
        try:
            yield portal, client
        finally:
            portal.call(stop.set)
            done.result()


@given(st.sampled_from(["list_skills", "load_skill", "call_skill", "nope"]), ARGUMENTS)
def test_any_meta_tool_arguments_get_an_answer_never_an_internal_error(
    live_client: tuple[BlockingPortal, Any], tool: str, arguments: dict[str, Any]
) -> None:
    portal, client = live_client

    async def call() -> Any:
        with anyio.fail_after(10):
            return await client.call_tool(tool, arguments)

    result = portal.call(call)
    assert "internal error" not in text_of(result)


# -- the call lanes' readers -----------------------------------------------------------------

LANE_MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
        "id": st.one_of(JSON_LEAVES, st.lists(JSON_LEAVES, max_size=2)),
        "method": st.sampled_from(["tools/call", "initialize", "notifications/cancelled", "x"]),
        "params": st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries(
                {"name": st.sampled_from(["call_skill", "list_skills"])},
                optional={"arguments": JSON_VALUES, "_meta": JSON_VALUES, "requestId": JSON_LEAVES},
            ),
        ),
    },
)


@given(
    st.one_of(
        LANE_MESSAGES.map(json.dumps), st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace"))
    )
)
def test_the_stdio_lane_reads_any_line_without_failing(line: str) -> None:
    """Any line, parsed as the SDK parses it, is taken or handed on; nothing raises."""
    from types import SimpleNamespace

    async def check() -> None:
        started: list[Any] = []
        tasks = SimpleNamespace(start_soon=lambda fn, *args: started.append(args[0]))
        lane = StdioLane(SimpleNamespace(app=SimpleNamespace(dynamic=False)))  # type: ignore[arg-type]
        lane._outbound = SimpleNamespace()  # type: ignore[assignment]
        for modern in (None, True, False):  # before the first request, then on either connection
            lane.modern = modern
            message = parse(line)
            if not isinstance(message, Exception):
                lane.take(message, SimpleNamespace(notification=None), tasks)  # type: ignore[arg-type]
        for call in started:
            assert call.request.method == "tools/call"

    anyio.run(check)
