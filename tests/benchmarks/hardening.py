"""The hardening probe of issue 11, re-run: hostile files, templates, paths and secret hunts.

Run: make bench   (or: python -m tests.benchmarks.hardening [--files 3450] [--seed 11])
Prints one table (inputs tried, crashes, hangs, internal errors, good skills lost, secrets
found, and the longest time another client waited while a hostile template ran) and writes
tests/benchmarks/results/hardening.json.

The mutations here are seeded and independent of the Hypothesis strategies in
tests/test_fuzz.py, so the probe does not only re-check what the suite was written against.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

from skillgate.skills.catalog import Catalog
from tests.benchmarks.core import publish
from tests.conftest import EXAMPLES, REPO, text_of, write_skill
from tests.support.replica import serving

SECRET = "probe-secret-4f1c9a"
HANG_SECONDS = 15.0

SNIPPETS = [
    "{{ " + "(" * 80 + "1" + ")" * 80 + " }}",
    "{{ 1" + "|string" * 400 + " }}",
    "{% if 1 %}" * 120,
    "{% endif %}" * 5,
    "{% for i in x %}" * 25,
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ 9**(9**9) }}",
    "{% include 'SKILL.md' %}",
    "{% include 'mcp.json' %}",
    "!!int notanint",
    "!!timestamp not-a-date",
    "&a x",
    "*a",
    "{a: [b, {c: d}]}",
    "9" * 4400,
    "[x](" + "y" * 300 + ".md)",
    "[x](a\x00b.md)",
    "\x00",
    "\ud800",
    "---",
    "name: other",
    "description: ' '",
    "metadata:\n  " + "  ".join(f"k{i}:\n" + "  " * (i + 2) for i in range(40)),
    "\t",
    ": :",
    "'unclosed",
    "{{",
    "{%",
    "{#",
]
JSON_SNIPPETS = [
    "[" * 1100,
    "]" * 3,
    "9" * 4400,
    '"\\ud800"',
    "{",
    "}",
    "null",
    '"mcpServers"',
    ":",
    ",",
    "1e999",
]


def mutate(rng: random.Random, text: str, snippets: list[str]) -> str:
    """One to three random edits: insert a hostile snippet, cut, repeat, flip or add noise."""
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(text))
        kind = rng.randrange(6)
        if kind <= 1:
            text = text[:at] + rng.choice(snippets) + text[at:]
        elif kind == 2:
            text = text[:at]
        elif kind == 3:
            lines = text.splitlines(keepends=True) or [text]
            line = rng.choice(lines)
            text = text + line * rng.choice([2, 100, 5000])
        elif kind == 4:
            text = text[:at] + chr(rng.randrange(0x20, 0x2FFF)) + text[at + 1 :]
        else:
            text = (
                text[:at]
                + "".join(chr(rng.randrange(0, 0x7F)) for _ in range(rng.randint(1, 30)))
                + text[at:]
            )
    return text


def _load_with_timeout(root: Path) -> tuple[str, Catalog | None]:
    """('ok'|'crash'|'hang', catalog) for one Catalog.load."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["catalog"] = Catalog.load(root)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    if thread.is_alive():
        return "hang", None
    if "error" in outcome:
        return "crash", None
    return "ok", outcome["catalog"]


def probe_files(count: int, seed: int) -> dict[str, Any]:
    """Fuzzed SKILL.md / mcp.json files, each placed beside the example catalog's good skills."""
    rng = random.Random(seed)
    good = sorted(Catalog.load(EXAMPLES).skills)
    base_md = (EXAMPLES / "time-zones" / "SKILL.md").read_text()
    base_json = (EXAMPLES / "time-zones" / "mcp.json").read_text()
    figures = {"inputs": 0, "crashes": 0, "hangs": 0, "good_skills_lost": 0, "undiagnosed": 0, "loaded": 0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "skills"
        shutil.copytree(EXAMPLES, root)
        for number in range(count):
            folder = root / "fuzzed"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            md = base_md.replace("name: time-zones", "name: fuzzed")
            if number % 2 == 0:
                md = mutate(rng, md, SNIPPETS)
            else:
                (folder / "mcp.json").write_text(
                    mutate(rng, base_json, JSON_SNIPPETS), errors="surrogatepass"
                )
            (folder / "SKILL.md").write_text(md, encoding="utf-8", errors="surrogatepass")
            figures["inputs"] += 1
            state, catalog = _load_with_timeout(root)
            if catalog is None:
                figures["crashes" if state == "crash" else "hangs"] += 1
                continue
            figures["good_skills_lost"] += sum(name not in catalog.skills for name in good)
            if "fuzzed" in catalog.skills:
                figures["loaded"] += 1
            elif not any("/fuzzed/" in d.path for d in catalog.errors):
                figures["undiagnosed"] += 1
    return figures


HOSTILE_TEMPLATES = {
    "power": "{{ 9**(9**9) }}",
    "caller-power": "{{ vars.a ** vars.b }}",
    "double-loop": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "join-1gb": '{{ range(100000) | join("x" * 10000) }}',
    "lipsum": "{{ lipsum(n=100000) }}",
    "repeat": '{{ "x" * 1000000000 }}',
    "list-repeat": "{{ [0] * 1000000000 }}",
    "product": "{{ (10 ** 4000) * (10 ** 4000) }}",
    "macro-recursion": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "self-include": "{% include 'SKILL.md' %}",
    "include-cycle": "{% include 'references/a.md' %}",
    "include-config": "{% include vars.f %}",
    "include-env": "{% include '.env' %}",
    "include-outside": "{% include '../good/SKILL.md' %}",
    "big-output": "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
    "sort-big": "{{ range(100000) | list | sort | join(',') | length }}"
    "{% for i in range(100000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}",
    "namespace-doubling": "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "dict-items": "{% for i in range(100000) %}{% for k, v in {'a': i}.items() %}{% for j in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "format": '{{ "%s" | format("x" * 100000) * 10 }}',
    "center": '{{ "x" | center(1000000000) }}',
    "indent": '{{ ("x\n" * 100000) | indent(10000) }}',
    "wordwrap": '{{ ("x " * 100000) | wordwrap(1) }}',
    "replace": '{{ ("x" * 100000) | replace("x", "xxxxxxxxxx") | replace("x", "xxxxxxxxxx") | length }}',
    "batch": "{{ range(100000) | batch(1) | list | length }}",
    "unique": "{% for i in range(1000000) %}{% endfor %}"
    "{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
    "sandbox-escape": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals": "{{ self._TemplateReference__context }}",
    "cycler": "{% set c = cycler(*range(100000)) %}{% for i in range(100000) %}{{ c.next() }}{% endfor %}",
    "urlize": '{{ ("http://x " * 100000) | urlize }}',
    "deep-list": "{{ " + "[" * 30 + "1" + "]" * 30 + " }}",
    "filesizeformat": "{{ (10 ** 300) | filesizeformat }}",
    "float-pow": "{{ 10.0 ** 400 }}",
    "truncate": '{{ ("x" * 199000) | truncate(199000) }}',
}


async def probe_templates() -> dict[str, Any]:
    """Each hostile template loaded over HTTP while another client keeps asking list_skills."""
    figures: dict[str, Any] = {
        "inputs": len(HOSTILE_TEMPLATES),
        "internal_errors": 0,
        "hangs": 0,
        "answers": {},
    }
    longest = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        write_skill(root, "good", body="# Good\n\nFine.\n")
        for name, body in HOSTILE_TEMPLATES.items():
            folder = write_skill(root, name, body=body + "\n")
            (folder / "mcp.json").write_text(json.dumps({"mcpServers": {}, "note": SECRET}))  # never served
            (folder / ".env").write_text(f"TOKEN={SECRET}\n")
            (folder / "references").mkdir()
            (folder / "references" / "a.md").write_text("{% include 'references/b.md' %}")
            (folder / "references" / "b.md").write_text("{% include 'references/a.md' %}")
        command = [sys.executable, "-m", "skillgate", "serve", str(root), "--http", "--port", "0"]
        with serving(command) as (_, url):
            async with Client(url) as loader, Client(url) as other:
                await other.call_tool("list_skills", {})
                for name in HOSTILE_TEMPLATES:
                    done = anyio.Event()
                    waits: list[float] = []
                    answer: dict[str, Any] = {}

                    async def load(
                        name: str = name, done: anyio.Event = done, answer: dict[str, Any] = answer
                    ) -> None:
                        with anyio.move_on_after(HANG_SECONDS):
                            result = await loader.call_tool(
                                "load_skill",
                                {"name": name, "variables": {"a": 9, "b": 30_000_000, "f": "mcp.json"}},
                            )
                            answer["text"] = text_of(result)
                            answer["error"] = bool(result.is_error)
                        done.set()

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(load)
                        while not done.is_set():
                            started = time.perf_counter()
                            await other.call_tool("list_skills", {"query": "good"})
                            waits.append(time.perf_counter() - started)
                            await anyio.sleep(0.02)
                    longest = max(longest, *waits)
                    text = answer.get("text")
                    if text is None:
                        figures["hangs"] += 1
                    elif "internal error" in text:
                        figures["internal_errors"] += 1
                    figures["secrets_found"] = figures.get("secrets_found", 0) + (SECRET in (text or ""))
                    figures["answers"][name] = (text or "(no answer)")[:160]
    figures["longest_wait_s"] = round(longest, 3)
    return figures


PATHS = [
    "../good/SKILL.md",
    "../../etc/passwd",
    "/etc/passwd",
    "mcp.json",
    "tools.lock.json",
    ".env",
    "SKILL.md",
    "references/../mcp.json",
    "./mcp.json",
    "references/./../.env",
    "a\x00b",
    "x" * 5000,
    "%2e%2e/mcp.json",
    "references\\..\\mcp.json",
    "references/link-out.md",
    "references/loop.md",
    "references/.hidden.md",
    "references/notes.md",
    "references/café.md",
    "",
    ".",
    "..",
    "references",
    "references/",
    "~/.ssh/id_rsa",
    "file:///etc/passwd",
    "references/a.md\n",
    " references/a.md",
    "REFERENCES/A.MD",
    "references//a.md",
]


async def probe_paths() -> dict[str, Any]:
    """load_skill(file=...) and resources/read with hostile paths: no internal error, nothing unserved."""
    figures = {"inputs": 0, "internal_errors": 0, "leaks": 0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        write_skill(root, "good")
        folder = write_skill(root, "target", servers={"s": {"command": f"/x/{SECRET}"}})
        (folder / ".env").write_text(SECRET)
        refs = folder / "references"
        refs.mkdir()
        (refs / "a.md").write_text("served")
        (refs / ".hidden.md").write_text(SECRET)
        (refs / "link-out.md").symlink_to(Path(tmp) / "outside.md")
        (Path(tmp) / "outside.md").write_text(SECRET)
        (refs / "loop.md").symlink_to("loop.md")
        (refs / "notes.md").symlink_to(".hidden.md")
        os.close(os.open(os.fsencode(refs) + b"/caf\xe9.md", os.O_CREAT | os.O_WRONLY))
        command = [sys.executable, "-m", "skillgate", "serve", str(root), "--http", "--port", "0"]
        with serving(command) as (_, url):
            async with Client(url) as client:
                for path in PATHS:
                    for variant in (path, path.replace("/", "/./"), path.upper()):
                        figures["inputs"] += 1
                        result = await client.call_tool("load_skill", {"name": "target", "file": variant})
                        text = text_of(result)
                        figures["internal_errors"] += "internal error" in text
                        figures["leaks"] += SECRET in text or "mcpServers" in text
                for path in PATHS[:20]:
                    figures["inputs"] += 1
                    try:
                        read = await client.read_resource(f"skill://target/{path}")
                        text = json.dumps(read.model_dump(mode="json"))
                        figures["leaks"] += SECRET in text or "mcpServers" in text
                    except Exception as exc:
                        figures["internal_errors"] += "internal" in str(exc).lower()
    return figures


async def probe_secrets() -> dict[str, Any]:
    """Every place a ${VAR} value could show, searched for it."""
    outputs: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        faulty = {
            "command": sys.executable,
            "args": ["-m", "tests.servers.faulty", "--echo-description", "token ${PROBE_SECRET}"],
            "env": {"LEAKED": "${PROBE_SECRET}"},
            "cwd": str(REPO),
        }
        write_skill(root, "described", servers={"f": faulty})
        write_skill(
            root, "elsewhere", servers={"g": {"command": "true", "cwd": "/nonexistent/${PROBE_SECRET}"}}
        )
        write_skill(
            root,
            "headers",
            servers={"h": {"url": "http://127.0.0.1:9/mcp", "headers": {"X": "${PROBE_SECRET}"}}},
        )
        audit = Path(tmp) / "audit.jsonl"
        config = Path(tmp) / "skillgate.toml"
        config.write_text(f'[audit]\npath = "{audit}"\nraw_arguments = true\n')
        env = {**os.environ, "PROBE_SECRET": SECRET}
        log = Path(tmp) / "stderr.log"
        with log.open("wb") as errors:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "skillgate",
                    "--log-level",
                    "debug",
                    "serve",
                    str(root),
                    "--http",
                    "--port",
                    "0",
                    "--config",
                    str(config),
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
            try:
                base = ""
                for _ in range(200):
                    found = [
                        line
                        for line in log.read_text().splitlines()
                        if "serving" in line and " at http" in line
                    ]
                    if found:
                        base = found[0].split(" at ")[1].split()[0].removesuffix("/mcp")
                        break
                    time.sleep(0.1)
                progress: list[str] = []

                async def on_progress(done: float, total: float | None, message: str | None) -> None:
                    progress.append(message or "")

                async with Client(base + "/mcp") as client:
                    calls = [
                        ("load_skill", {"name": "described"}),
                        (
                            "call_skill",
                            {"name": "described", "tool": "getenv", "arguments": {"name": "LEAKED"}},
                        ),
                        (
                            "call_skill",
                            {"name": "described", "tool": "leak", "arguments": {"name": "LEAKED"}},
                        ),
                        ("call_skill", {"name": "described", "tool": "echo", "arguments": {"text": "hi"}}),
                        ("call_skill", {"name": "elsewhere", "tool": "x", "arguments": {}}),
                        ("call_skill", {"name": "elsewhere", "tool": "x", "arguments": {}}),
                        ("call_skill", {"name": "headers", "tool": "x", "arguments": {}}),
                        ("list_skills", {"query": "token"}),
                        ("load_skill", {"name": "elsewhere"}),
                        ("load_skill", {"name": "headers"}),
                    ]
                    for tool, arguments in calls:
                        result = await client.call_tool(tool, arguments, progress_callback=on_progress)
                        outputs.append(json.dumps(result.model_dump(mode="json")))
                    outputs += progress
                    outputs.append(httpx2.get(base + "/readyz").text)
                    for path in ("/healthz", "/mcp/default", "/nope"):
                        outputs.append(httpx2.get(base + path).text)
                await anyio.sleep(0.5)
            finally:
                process.terminate()
                process.wait(20)
        outputs.append(log.read_text())
        outputs.append(audit.read_text())
        for command in ("lock", "render"):
            ran = subprocess.run(
                [sys.executable, "-m", "skillgate", command, str(root), "described"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            outputs += [ran.stdout, ran.stderr]
        outputs.append((root / "described" / "tools.lock.json").read_text())
    return {"inputs": len(outputs), "secrets_found": sum(SECRET in text for text in outputs)}


BEFORE = {
    "files": "3,450 files: 247 crashed validate/serve, 2 hangs (FIFO), reloads stalled",
    "templates": "33 templates: other clients waited up to 30 s; internal errors; SIGTERM ignored",
    "paths": "110 paths: internal errors for NUL and link loops; skills/list broken by one link",
    "secrets": "39 outputs: cwd, descriptions, progress, stderr leaked",
}


def main(files: int, seed: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"files": probe_files(files, seed)}
    figures["templates"] = anyio.run(probe_templates)
    figures["paths"] = anyio.run(probe_paths)
    figures["secrets"] = anyio.run(probe_secrets)
    return figures


def report(figures: dict[str, Any]) -> None:
    f, t, p, s = figures["files"], figures["templates"], figures["paths"], figures["secrets"]
    rows = [
        ("fuzzed SKILL.md/mcp.json", f["inputs"], f["crashes"], f["hangs"], 0, f["good_skills_lost"], 0),
        ("hostile templates", t["inputs"], 0, t["hangs"], t["internal_errors"], 0, t.get("secrets_found", 0)),
        ("hostile paths", p["inputs"], 0, 0, p["internal_errors"], 0, p["leaks"]),
        ("outputs searched for a secret", s["inputs"], 0, 0, 0, 0, s["secrets_found"]),
    ]
    print("| probe | inputs | crashes | hangs | internal errors | good skills lost | secrets/leaks |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(f"fuzzed files loaded as skills: {f['loaded']}; refused without a diagnostic: {f['undiagnosed']}")
    print(
        f"longest wait of another client while a hostile template ran: {t['longest_wait_s']} s "
        "(target <= 2.1)"
    )
    for name, answer in sorted(t["answers"].items()):
        print(f"  {name}: {answer.splitlines()[0] if answer else ''}"[:150])
    print("before (issue 11):")
    for line in BEFORE.values():
        print(f"  {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3450)
    parser.add_argument("--seed", type=int, default=11)
    options = parser.parse_args()
    result = main(options.files, options.seed)
    publish("hardening", result)
    report(result)
