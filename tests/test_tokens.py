"""Token counts: the one-vocabulary counter agrees with bpe_openai's public API, and the size
check loads no tokenizer when a byte count already answers it."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from skillgate.base.tokens import CHUNK_CHARS, count_tokens, public_counter

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=400)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_the_counter_agrees_with_the_public_api(text: str) -> None:
    assert count_tokens(text) == public_counter()(text)


def test_special_tokens_are_counted_as_text_not_refused() -> None:
    text = "end <|endoftext|> and <|fim_prefix|>"
    assert count_tokens(text) == public_counter()(text) > 4


def test_a_lone_surrogate_is_counted_not_raised() -> None:
    assert count_tokens("a\ud800b") >= 3


def test_long_texts_are_counted_in_pieces() -> None:
    line = "the quick brown fox jumps over the lazy dog\n"
    text = line * (3 * CHUNK_CHARS // len(line))
    assert count_tokens(text) == count_tokens(line) * (3 * CHUNK_CHARS // len(line))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_a_token_is_never_shorter_than_a_byte(text: str) -> None:
    # the size check's shortcut: a body of at most N bytes has at most N tokens
    assert count_tokens(text) <= len(text.encode("utf-8", "surrogatepass"))


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_counting_loads_one_vocabulary_not_the_package() -> None:
    loaded = _modules_after("from skillgate.base.tokens import count_tokens\ncount_tokens('hello')")
    assert "bpe_openai._bindings" in loaded
    assert "bpe_openai.compat" not in loaded  # the package import builds all three vocabularies


def test_validate_of_small_skills_loads_no_tokenizer() -> None:
    code = (
        "from pathlib import Path\n"
        "from skillgate.authoring.checks import authoring_diagnostics\n"
        "from skillgate.skills.catalog import Catalog\n"
        "authoring_diagnostics(Catalog.load(Path('skills')))"
    )
    assert not {m for m in _modules_after(code) if m.startswith("bpe_openai")}
