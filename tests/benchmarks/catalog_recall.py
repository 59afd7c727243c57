"""Catalog recall: how often the startup `instructions` already show the skill a request needs,
with a description that mentions the need, before the agent searches at all.

For each request of the voice set (fixtures/voice_queries.json) and each catalog size (5, 100,
1,000 skills), the catalog is the needed skills plus fillers drawn (seeded per request) from a
pool of real tool descriptions: the 15 recorded servers' tools, MetaTool's plugins and locked
skills built from the recorded tools. A need counts when its skill's line is in the
instructions and the description shown there shares a content word with the request.
"before" cuts descriptions at 100 characters mid-word (the old rule); "after" is `brief()`.

Run: make bench   (or: python -m tests.benchmarks.catalog_recall)
Writes tests/benchmarks/results/catalog_recall.json.
"""

from __future__ import annotations

import random
import re
from typing import Any

from skillgate.search.lexical import tokenize
from skillgate.tools import startup
from skillgate.tools.models import meta_tools
from skillgate.tools.startup import Entry, fit_startup
from tests.benchmarks.catalogs import recorded_servers
from tests.benchmarks.core import publish
from tests.benchmarks.search_quality import kebab, metatool, voice

SIZES = [5, 100, 1000]


def old_cut(summary: str, limit: int = 100) -> str:
    return summary if len(summary) <= limit else summary[: limit - 1].rstrip() + "…"


def pool() -> dict[str, str]:
    entries = {d.name: d.description for d in voice()[0]}
    entries |= {f"mt-{d.name}"[:64]: d.description for d in metatool()[0]}
    for server, tools in recorded_servers().items():
        for tool in tools:
            for variant in ("read", "write", "review", "audit", "sync", "report", "plan", "check"):
                name = f"{server}-{kebab(tool['name'])}-{variant}"[:64]
                entries[name] = " ".join((tool.get("description") or "").split())
    return {name: text for name, text in entries.items() if text}


def shown(instructions: str) -> dict[str, str]:
    return dict(re.findall(r"^- ([a-z0-9-]+): (.*)$", instructions, re.M))


def measure(cut: Any) -> dict[str, dict[str, float]]:
    entries = pool()
    names = sorted(entries)
    cases = voice()[1]
    original = startup.brief
    startup.brief = cut
    try:
        figures = {}
        for size in SIZES:
            found = needs = listed_needs = kept = mentioned = 0
            for number, (query, gold) in enumerate(cases):
                rng = random.Random(number)
                fillers = [n for n in rng.sample(names, size + len(gold)) if n not in gold][
                    : size - len(gold)
                ]
                catalog = sorted({*gold, *fillers})
                text = fit_startup([Entry(n, entries[n]) for n in catalog], meta_tools).instructions
                listed = shown(text)
                words = set(tokenize(query))
                for skill in gold:
                    needs += 1
                    if skill not in listed:
                        continue
                    listed_needs += 1
                    hit = bool(words & set(tokenize(listed[skill])))
                    found += hit
                    if words & set(tokenize(entries[skill])):  # the whole description mentions it
                        mentioned += 1
                        kept += hit
            figures[str(size)] = {
                "recall": round(found / needs, 4),
                "listed": round(listed_needs / needs, 4),
                "kept": round(kept / mentioned, 4) if mentioned else 1.0,
            }
        return figures
    finally:
        startup.brief = original


def main() -> dict[str, Any]:
    return {"before": measure(old_cut), "after": measure(startup.brief)}


if __name__ == "__main__":
    figures = main()
    publish("catalog_recall", figures)
    print("recall: need's skill listed with a description that mentions the need; listed: its name is")
    print("in the instructions; kept: of listed skills whose whole description mentions the need, the")
    print("share whose shown (possibly cut) description still does")
    print(f"{'skills':>7} {'':>7} {'recall':>7} {'listed':>7} {'kept':>7}")
    for size in SIZES:
        for when in ("before", "after"):
            m = figures[when][str(size)]
            print(f"{size:>7} {when:>7} {m['recall']:>7} {m['listed']:>7} {m['kept']:>7}")
