"""Caches kept between runs (parsed catalog, startup text, token counts): never stale, never
required.

For each: an edit is seen after a restart; a corrupt file is ignored with one warning and
written again; a folder that cannot be written leaves everything working, with one warning.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from skillgate.base import tokens
from skillgate.base.disk_cache import DiskCache
from skillgate.base.tokens import CountCache
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway
from skillgate.tools.models import meta_tools
from skillgate.tools.startup import Entry, cached_fit_startup, fit_startup
from skillgate.upstream.pool import UpstreamPool
from tests.conftest import REPO, text_of, write_skill

pytestmark = pytest.mark.anyio


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.pickle"))


def test_a_restart_reuses_parses_and_sees_every_kind_of_edit(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    skill = write_skill(root, "edited", body="# One\n\n{% include 'part.md' %}\n[ref](ref.md)\n")
    (skill / "part.md").write_text("included")
    (root / "mcp.json").write_text('{"mcpServers": {}}')
    cache = DiskCache(tmp_path / "cache", "catalog")
    first = Catalog.load(root, cache)
    assert [d.code for d in first.diagnostics] == ["SG303"]  # ref.md is missing
    again = Catalog.load(root, cache)
    assert again.skills["edited"].body == first.skills["edited"].body
    assert again.parsed["edited"] is not first.parsed["edited"]  # read back from disk, not parsed

    write_skill(root, "edited", body="# Two\n\n{% include 'part.md' %}\n[ref](ref.md)\n")
    assert Catalog.load(root, cache).skills["edited"].headings[0].text == "Two"
    (skill / "ref.md").write_text("now it exists")  # a file the parse only looked for
    assert Catalog.load(root, cache).diagnostics == []
    (skill / "part.md").unlink()  # an include that disappears
    assert [d.code for d in Catalog.load(root, cache).errors] == ["SG302"]
    (skill / "part.md").write_text("back")
    (skill / "mcp.json").write_text('{"mcpServers": {"s": {"command": "x"}}}')
    assert [b.name for b in Catalog.load(root, cache).skills["edited"].bindings] == ["s"]
    (root / "mcp.json").write_text("{broken")  # the shared file every skill depends on
    assert any(d.code == "SG201" for d in Catalog.load(root, cache).diagnostics)
    (skill / "notes.md").write_text("a new file")  # the file list is read live
    assert "notes.md" in [f.path for f in Catalog.load(root, cache).skills["edited"].files]


async def test_an_edit_between_two_runs_of_the_server_is_served(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write_skill(root, "greet", body="# Greet\n\nSay hello.\n")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(root)], cwd=str(REPO), env=env
    )
    async with Client(params) as client:
        assert "Say hello." in text_of(await client.call_tool("load_skill", {"name": "greet"}))
    assert _files(tmp_path / "cache")  # the parse and the startup text were cached
    write_skill(root, "greet", description="Greet in French.", body="# Greet\n\nSay bonjour.\n")
    async with Client(params) as client:
        assert "Say bonjour." in text_of(await client.call_tool("load_skill", {"name": "greet"}))
        assert "Greet in French." in (client.instructions or "")


@pytest.mark.parametrize("kind", ["catalog", "startup", "tokens"])
def test_a_corrupt_cache_file_is_ignored_with_one_warning_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    root = tmp_path / "catalog"
    write_skill(root, "one")
    cache = DiskCache(tmp_path / "cache" / kind, kind)  # a folder of its own: warnings are once per folder
    fills = {
        "catalog": lambda: Catalog.load(root, cache),
        "startup": lambda: _fit(cache, "one"),
        "tokens": lambda: _counted(cache, ["a text", "another text"]),
    }
    fill = fills[kind]
    expected = fill()
    (written,) = _files(tmp_path / "cache" / kind)
    written.write_bytes(b"\x80\x05not a pickle at all")
    with caplog.at_level(logging.WARNING):
        assert _same(fill(), expected)
        assert _same(fill(), expected)
    warnings = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(warnings) == 1
    assert written.read_bytes()[:1] == b"\x80" and b"not a pickle" not in written.read_bytes()  # rebuilt


def test_a_cache_folder_that_cannot_be_written_leaves_everything_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "catalog"
    write_skill(root, "one")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    cache = DiskCache(blocker, "catalog")
    with caplog.at_level(logging.WARNING):
        assert list(Catalog.load(root, cache).skills) == ["one"]
        assert list(Catalog.load(root, cache).skills) == ["one"]
        startup = DiskCache(blocker, "startup")
        assert _fit(startup, "one") == _fit(None, "one")
        assert _counted(DiskCache(blocker, "tokens"), ["some words"]) == _counted(None, ["some words"])
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1


def test_a_cache_folder_others_may_write_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "catalog"
    write_skill(root, "one")
    cache = DiskCache(tmp_path / "shared", "catalog")
    Catalog.load(root, cache)
    assert cache.folder is not None
    os.chmod(cache.folder, 0o777)
    with caplog.at_level(logging.WARNING):
        loaded = Catalog.load(root, cache)
    assert list(loaded.skills) == ["one"] and loaded.parsed["one"] is not None
    assert any("writable by others" in r.getMessage() for r in caplog.records)


def test_the_cached_startup_text_equals_a_fresh_fit(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, "startup")
    for names in (["one"], ["one", "two"], [f"skill-{i}" for i in range(300)]):
        entries = [Entry(n, f"Does {n} things, well.") for n in names]
        fresh = fit_startup(entries, meta_tools)
        assert cached_fit_startup(entries, meta_tools, cache) == fresh  # computed and written
        assert cached_fit_startup(entries, meta_tools, cache) == fresh  # read back
    changed = [Entry("one", "Now does other things.")]
    assert "other things" in cached_fit_startup(changed, meta_tools, cache).instructions


def _counted(cache: DiskCache | None, texts: list[str]) -> list[int]:
    """Token counts through a CountCache on `cache` (saved, as a load does)."""
    counts = CountCache(cache, "catalog-digest")
    found = [counts.count(text) for text in texts]
    counts.save()
    return found


async def test_section_token_counts_come_back_without_the_tokenizer_and_follow_edits(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    skill = write_skill(
        root, "long", body="# Long\n\n## A\n\n" + "alpha words. " * 300 + "\n\n## B\n\nbeta\n"
    )
    disk = DiskCache(tmp_path / "cache", "tokens")

    async def sections(counts: CountCache) -> list[tuple[str, int]]:
        async with UpstreamPool(os.environ) as pool:
            loaded = await Gateway(Catalog.load(root), pool, counts=counts).load_skill("long")
            return [(s.heading, s.tokens) for s in loaded.sections]

    fresh = await sections(CountCache())
    assert await sections(CountCache(disk, "c")) == fresh  # counted, and written
    tokens._counter.cache_clear()
    assert await sections(CountCache(disk, "c")) == fresh  # as a restarted server reads them back
    assert tokens._counter.cache_info().currsize == 0  # without loading the tokenizer
    (skill / "SKILL.md").write_text(
        (skill / "SKILL.md").read_text().replace("beta", "beta gamma delta epsilon")
    )
    edited = await sections(CountCache(disk, "c"))
    assert edited == await sections(CountCache()) and edited != fresh  # an edited section is counted anew


def _fit(cache: DiskCache | None, name: str) -> object:
    return cached_fit_startup([Entry(name, "A skill for tests.")], meta_tools, cache)


def _same(a: object, b: object) -> bool:
    if isinstance(a, Catalog) and isinstance(b, Catalog):
        return json.dumps([s.name for s in a], sort_keys=True) == json.dumps(
            [s.name for s in b], sort_keys=True
        )
    return a == b


def test_the_search_index_cache_follows_the_documents_and_survives_a_corrupt_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from skillgate.search.hybrid import Ranker
    from skillgate.search.lexical import SearchDocument

    folder = tmp_path / "cache"
    before = [SearchDocument("alpha", "Tells the time in Tokyo."), SearchDocument("beta", "Reads files.")]
    after = [SearchDocument("alpha", "Converts currencies."), SearchDocument("beta", "Reads files.")]
    assert Ranker(None, folder).index(before, tmp_path).search("tokyo")[0].name == "alpha"
    (written,) = _files(folder / "search")
    assert Ranker(None, folder).index(before, tmp_path).search("tokyo")[0].name == "alpha"  # read back
    assert Ranker(None, folder).index(after, tmp_path).search("tokyo") == []  # changed: built again
    assert _files(folder / "search") == [written]  # one file per catalog, replaced
    written.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        assert Ranker(None, folder).index(after, tmp_path).search("currencies")[0].name == "alpha"
    assert any("cannot be read" in r.getMessage() for r in caplog.records)


def test_the_code_version_changes_with_any_module_of_any_layer(tmp_path: Path) -> None:
    """Caches hold pickled objects: an edit anywhere in the package must make them miss."""
    from skillgate.base.disk_cache import source_digest

    (tmp_path / "base").mkdir()
    (tmp_path / "skills").mkdir()
    (tmp_path / "base" / "cache.py").write_text("A = 1\n")
    (tmp_path / "skills" / "bundle.py").write_text("B = 1\n")
    before = source_digest(tmp_path)
    (tmp_path / "skills" / "bundle.py").write_text("B = 2\n")
    assert source_digest(tmp_path) != before


def test_a_cache_file_of_other_code_is_a_silent_miss_and_written_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every upgrade meets the files of the version before: older layout (a class that moved) or
    another version stamp. Neither is an error worth a warning; both are rebuilt."""
    import pickle

    cache = DiskCache(tmp_path / "cache", "startup")
    folder = tmp_path / "cache" / "startup"
    folder.mkdir(parents=True, mode=0o700)
    from collections import OrderedDict

    old_layout = pickle.dumps(("v", OrderedDict())).replace(b"collections", b"gone_module")  # moved away
    (folder / "old.pickle").write_bytes(old_layout)
    (folder / "other.pickle").write_bytes(pickle.dumps("another version") + pickle.dumps({"any": "value"}))
    with caplog.at_level(logging.WARNING):
        assert cache.read("old") is None and cache.read("other") is None
    assert not caplog.records
    cache.write("other", {"fresh": True})
    assert cache.read("other") == {"fresh": True}
