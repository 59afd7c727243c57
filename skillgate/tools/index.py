"""The catalog as search sees it: each skill's name, description, headings and tools (from its
lock, else from its running upstream, never starting one), and the search index over them,
rebuilt when the catalog or a running upstream's tool list changes."""

from __future__ import annotations

import threading

from skillgate.search.hybrid import HybridIndex, Ranker
from skillgate.search.lexical import SearchDocument
from skillgate.skills.binding import ServerBinding
from skillgate.skills.bundle import Skill
from skillgate.skills.catalog import Catalog
from skillgate.upstream.pool import UpstreamPool


class SkillIndex:
    def __init__(self, pool: UpstreamPool, ranker: Ranker) -> None:
        self.pool = pool
        self.ranker = ranker
        self._index: HybridIndex | None = None
        self._lock = threading.Lock()
        self._version = 0
        self._catalog: Catalog | None = None

    def known_tools(self, skill: Skill, binding: ServerBinding) -> list[tuple[str, str]] | None:
        """(name, description) of the binding's allowed tools from its lock, else from its running
        upstream, without starting it; None when neither knows them."""
        locked = skill.locked(binding.name)
        if locked is not None:
            return locked
        upstream = self.pool.known(binding)
        live = upstream.cached_tools() if upstream is not None else None
        return (
            None if live is None else [(t.name, t.description or "") for t in live if binding.allows(t.name)]
        )

    def known_tool_names(self, skill: Skill) -> tuple[str, ...]:
        """The skill's tool names where known (lock or running upstream), else its allowlists as written."""
        names: list[str] = []
        for binding in skill.bindings:
            known = self.known_tools(skill, binding)
            names += [name for name, _ in known] if known is not None else binding.entry.allowed_tools or []
        return tuple(sorted(dict.fromkeys(names)))

    def index(self, catalog: Catalog) -> HybridIndex:
        """The search index of `catalog`, rebuilt when it or a running upstream's tool list changes
        (or, built while the embedder was down, once the embedder may be back)."""
        with self._lock:  # searches may run in worker threads (a remote embedder)
            version = self.pool.tools_version()
            index = self._index
            if (
                index is None
                or self._catalog is not catalog
                or version != self._version
                or self.ranker.wants_rebuild(index)
            ):
                index = self.ranker.index(self.documents(catalog), catalog.root)
                self._index, self._version, self._catalog = index, version, catalog
            return index

    def documents(self, catalog: Catalog) -> list[SearchDocument]:
        """What search knows of each skill: name, description, headings, tool names and descriptions."""
        return [
            SearchDocument(
                name=skill.name,
                description=skill.frontmatter.description,
                headings=[h.text for h in skill.headings],
                tools=self._tool_text(skill),
            )
            for skill in catalog
        ]

    def _tool_text(self, skill: Skill) -> tuple[str, ...]:
        texts: list[str] = []
        for binding in skill.bindings:
            known = self.known_tools(skill, binding)
            if known is None:
                texts += binding.entry.allowed_tools or []
                continue
            texts += [f"{name} {description}" for name, description in known]
        return tuple(texts)
