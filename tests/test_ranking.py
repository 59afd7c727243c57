from pathlib import Path

import pytest

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.hybrid import HybridIndex, Ranker, parts_of
from skillgate.search.lexical import SearchDocument, SearchIndex

DOCS = [
    SearchDocument("time-zones", "Tell the current time in any city and convert times between time zones."),
    SearchDocument(
        "web-search", "Search the web for pages, news and articles.", tools=["web_search Search the web."]
    ),
    SearchDocument("charts", "Draw bar, line and pie charts from a table of numbers."),
    SearchDocument(
        "pdf-reports", "Turn Markdown into a PDF report and save it.", tools=["save_pdf Save a PDF file."]
    ),
    SearchDocument(
        "slack", "Post and read messages in Slack channels.", tools=["post_message Post a message."]
    ),
    SearchDocument("news-digest", "A daily digest of news articles from the web."),
    SearchDocument("web-archive", "Archive web pages found by a web search."),
]


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory) -> HybridIndex:
    index = Ranker(BuiltinEmbedder(), tmp_path_factory.mktemp("cache")).index(
        DOCS, tmp_path_factory.mktemp("c")
    )
    assert index.hybrid
    return index


def test_a_request_is_cut_into_its_needs():
    assert parts_of("find this week's trending topics, chart them and save a PDF report") == [
        "find this week's trending topics",
        "chart them",
        "save a PDF report",
    ]
    assert parts_of("what time is it in Tokyo") == ["what time is it in Tokyo"]


def test_a_part_needs_two_content_words():
    assert parts_of("please, and then, um") == []


def test_a_multi_need_request_gets_each_need_in_the_top_five(hybrid):
    names = [
        h.name for h in hybrid.search("search the web for trending news, chart them and save a PDF report", 5)
    ]
    assert {"charts", "pdf-reports"} <= set(names)
    assert {"web-search", "news-digest", "web-archive"} & set(names)


def test_the_dense_half_finds_a_skill_that_shares_no_word_with_the_request(hybrid):
    for request in ["what hour is it in Tokyo", "clock in Berlin", "ping my coworkers"]:
        assert HybridIndex(DOCS, None, None).search(request) == []
    assert hybrid.search("what hour is it in Tokyo", 1)[0].name == "time-zones"
    assert hybrid.search("clock in Berlin", 1)[0].name == "time-zones"
    assert hybrid.search("ping my coworkers", 1)[0].name == "slack"


def test_hybrid_ranking_is_deterministic_and_sorted(hybrid):
    first = hybrid.search("post the report to the team channel")
    assert first == hybrid.search("post the report to the team channel")
    assert [h.score for h in first] == sorted((h.score for h in first), reverse=True)
    assert first[0].score == pytest.approx(1.0, abs=0.6)


def test_a_profile_filter_applies_before_the_limit(hybrid):
    hits, total = hybrid.top("search the web", 2, keep=lambda name: name != "web-search")
    assert "web-search" not in [h.name for h in hits] and len(hits) == 2 and total >= 2


def test_without_an_embedder_the_ranking_is_bm25():
    index = Ranker(None).index(DOCS, Path("."))
    assert not index.hybrid
    assert index.search("slack message")[0].name == "slack"


def test_each_hit_of_a_request_in_parts_says_which_part_it_matched(hybrid):
    hits = {
        h.name: h.part for h in hybrid.search("what hour is it in Tokyo, and post a message to the team", 5)
    }
    assert hits["time-zones"] == "what hour is it in Tokyo"
    assert hits["slack"] == "post a message to the team"
    assert all(h.part is None for h in hybrid.search("what hour is it in Tokyo"))  # one part: nothing to say


@pytest.mark.parametrize("embedder", [True, False], ids=["hybrid", "bm25"])
def test_the_floor_tells_nearest_from_found(hybrid, embedder):
    index = hybrid if embedder else HybridIndex(DOCS, None, None)
    assert index.find("post the report to the team channel").above
    assert index.find("draw a pie chart").above
    # words no skill has: either nothing is returned, or only the nearest, said so
    for request in ["order a large pepperoni pizza to my flat", "water the tomato plants on the balcony"]:
        found = index.find(request)
        assert not found.above and (found.hits or not embedder)


@pytest.mark.anyio
async def test_list_skills_says_when_nothing_matches_and_which_part_each_skill_matched():
    from skillgate.base.cursor import encode_cursor
    from skillgate.tools.models import SkillPage
    from tests.conftest import gateway_client, text_of

    catalog = Path(__file__).parent.parent / "skills"
    async with gateway_client(catalog, ranker=Ranker(BuiltinEmbedder())) as (client, _):
        nothing = await client.call_tool("list_skills", {"query": "order a large pepperoni pizza to my flat"})
        found = await client.call_tool(
            "list_skills", {"query": "what time is it in Tokyo, then show the last commits of the repo"}
        )
        past = await client.call_tool(  # a page past the end: nothing listed, so no "nearest" header
            "list_skills", {"query": "order a large pepperoni pizza to my flat", "cursor": encode_cursor(50)}
        )
    assert "nearest" not in text_of(past) and "noMatch" not in (past.structured_content or {})
    assert nothing.structured_content is not None and found.structured_content is not None
    page = SkillPage.model_validate(nothing.structured_content)
    assert page.no_match is True and page.skills  # the nearest are still shown
    assert text_of(nothing).startswith("No skill matches the query beyond chance; the nearest are:\n- ")
    page = SkillPage.model_validate(found.structured_content)
    assert page.no_match is None and "No skill matches" not in text_of(found)
    matched = {s.name: s.matched for s in page.skills}
    assert matched["time-zones"] == "what time is it in Tokyo"
    assert matched["git-history"] == "show the last commits of the repo"
    assert "(matched: 'what time is it in Tokyo')" in text_of(found)


def test_a_request_whose_own_text_is_the_oldest_cached_one_is_still_embedded(monkeypatch):
    import skillgate.search.hybrid as hybrid_module

    monkeypatch.setattr(hybrid_module, "QUERY_CACHE", 2)
    index = Ranker(BuiltinEmbedder()).index(DOCS, Path("/cache-order"))
    index.search("weather forecast")
    index.search("git commit")
    assert index.find("weather forecast, post a message to the team").hits  # evicted its own text once


def test_the_floor_looks_only_at_the_skills_a_profile_admits(hybrid):
    hidden = hybrid.find("post a slack message to the team channel", keep=lambda name: name != "slack")
    assert hybrid.find("post a slack message to the team channel").above
    assert hidden.hits and "slack" not in [h.name for h in hidden.hits]
    assert not HybridIndex(DOCS, None, None).find("slack", keep=lambda name: name != "slack").above


def test_a_common_word_is_not_made_rare_by_a_rare_word_it_starts():
    docs = [SearchDocument(f"lister-{i}", "list things") for i in range(50)]
    index = HybridIndex([*docs, SearchDocument("radio", "listen to the radio")], None, None)
    assert index.lexical.coverage(["list"]) <= 1.0


def test_a_skill_reached_by_no_part_names_no_part(hybrid):
    for hit in hybrid.search("weather. convert currency amounts. translate text languages", 10):
        assert hit.part in (None, "convert currency amounts", "translate text languages")
        if hit.part is not None:
            assert hybrid.find(hit.part).hits


def test_a_query_with_a_lone_surrogate_is_searched(hybrid):
    assert hybrid.find("time \udcff zone").hits  # a command-line argument that was not UTF-8


def test_a_very_long_query_word_is_matched_exactly_or_by_prefix_not_searched_for_typos() -> None:
    # typo candidates of an n-letter word number about n**2 strings of n letters: a 2,000-letter
    # word took gigabytes; past MAX_FUZZY_LETTERS only exact and prefix matches are tried
    long_word = "abcdefghij" * 200
    index = SearchIndex([SearchDocument(name="s", description=long_word[:-1] + "z", tools=[])])
    assert index.search(long_word) == []
    assert [hit.name for hit in index.search(long_word[:-1] + "z")] == ["s"]
