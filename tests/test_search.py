from skillgate.search.lexical import SearchDocument, SearchIndex, edit_distance, tokenize

DOCS = [
    SearchDocument("kubernetes-deploy", "Deploy services to a Kubernetes cluster.", ["Rollouts"]),
    SearchDocument("time-zones", "Current time in a timezone; convert between time zones.", ["Converting"]),
    SearchDocument(
        "git-history", "Explore commits of a repository.", ["Recent commits"], ["git_log Show logs"]
    ),
    SearchDocument("weather", "Forecasts for a city.", []),
]


def test_empty_catalog_finds_nothing() -> None:
    assert SearchIndex([]).search("anything") == []


def test_single_skill_catalog_still_ranks_it() -> None:
    (hit,) = SearchIndex([DOCS[0]]).search("kubernetes")
    assert hit.name == "kubernetes-deploy" and hit.score > 0


def test_typos_and_prefixes_are_tolerated() -> None:
    index = SearchIndex(DOCS)
    assert index.search("kubenetes")[0].name == "kubernetes-deploy"
    assert index.search("timez")[0].name == "time-zones"


def test_tool_names_and_headings_are_indexed() -> None:
    index = SearchIndex(DOCS)
    assert index.search("git log")[0].name == "git-history"
    assert index.search("rollouts")[0].name == "kubernetes-deploy"


def test_ties_are_broken_by_name() -> None:
    docs = [SearchDocument(n, "same words here") for n in ["b-skill", "a-skill", "c-skill"]]
    assert [h.name for h in SearchIndex(docs).search("words")] == ["a-skill", "b-skill", "c-skill"]


def test_stopwords_only_query_matches_nothing() -> None:
    assert SearchIndex(DOCS).search("what is it") == []


def test_tokenize_splits_identifiers_and_folds_plurals() -> None:
    assert tokenize("getCurrentTime git_log kebab-case Zones staged commits") == [
        "current",
        "time",
        "git",
        "log",
        "kebab",
        "case",
        "zone",
        "stage",
        "commit",
    ]  # fmt: skip  ("get" is a stopword)


def test_cjk_characters_are_words() -> None:
    assert tokenize("東京の時間") == ["東", "京", "の", "時", "間"]
    index = SearchIndex([SearchDocument("tokyo-time", "東京の時間を調べる"), SearchDocument("other", "天気")])
    assert index.search("東京")[0].name == "tokyo-time"


def test_edit_distance_counts_transpositions_once() -> None:
    assert edit_distance("kubenetes", "kubernetes", 2) == 1
    assert edit_distance("tiem", "time", 1) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # past the limit


def test_everyday_synonyms_reach_the_tool_words() -> None:
    index = SearchIndex(
        [SearchDocument("mkdir", "Create a new directory."), SearchDocument("paint", "Generate an image.")]
    )
    assert index.search("make a folder")[0].name == "mkdir"
    assert index.search("draw a picture")[0].name == "paint"
