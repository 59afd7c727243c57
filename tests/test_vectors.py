import logging
import os

import numpy as np

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.vectors import VectorCache


class Counting:
    """The builtin embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.inner = BuiltinEmbedder()

    def __call__(self, texts):
        self.texts += texts
        return self.inner.embed(texts)


def test_a_restart_reads_vectors_from_disk_instead_of_recomputing(tmp_path):
    first = Counting()
    vectors = VectorCache(tmp_path, "m", tmp_path / "catalog").vectors(["a skill", "another"], first)
    assert sorted(first.texts) == ["a skill", "another"]
    again = Counting()
    cached = VectorCache(tmp_path, "m", tmp_path / "catalog").vectors(["a skill", "another"], again)
    assert again.texts == []
    assert np.array_equal(vectors, cached)


def test_a_changed_text_is_recomputed_and_the_rest_is_not(tmp_path):
    VectorCache(tmp_path, "m", tmp_path).vectors(["keep me", "old description"], Counting())
    later = Counting()
    cache = VectorCache(tmp_path, "m", tmp_path)
    cache.vectors(["keep me", "new description"], later)
    assert later.texts == ["new description"]
    assert (cache.hits, cache.misses) == (1, 1)


def test_another_model_never_reuses_the_vectors(tmp_path):
    VectorCache(tmp_path, "model-a", tmp_path).vectors(["text"], Counting())
    other = Counting()
    VectorCache(tmp_path, "model-b", tmp_path).vectors(["text"], other)
    assert other.texts == ["text"]


def test_the_file_keeps_only_what_the_catalog_uses_now(tmp_path):
    VectorCache(tmp_path, "m", tmp_path).vectors([f"skill {i}" for i in range(10)], Counting())
    VectorCache(tmp_path, "m", tmp_path).vectors(["skill 1"], Counting())
    (path,) = tmp_path.glob("vectors-*.npz")
    with np.load(path) as data:
        assert data["keys"].shape == (1, 16)


def test_a_corrupt_cache_file_is_ignored_with_one_warning_and_rebuilt(tmp_path, caplog):
    VectorCache(tmp_path, "m", tmp_path).vectors(["text"], Counting())
    (path,) = tmp_path.glob("vectors-*.npz")
    path.write_bytes(b"not a zip file at all")
    recount = Counting()
    with caplog.at_level(logging.WARNING, logger="skillgate.search.vectors"):
        vectors = VectorCache(tmp_path, "m", tmp_path).vectors(["text"], recount)
    assert recount.texts == ["text"] and vectors.shape == (1, 256)
    assert [r.getMessage() for r in caplog.records if "ignoring the vector cache" in r.getMessage()]
    assert VectorCache(tmp_path, "m", tmp_path).vectors(["text"], Counting()) is not None
    with np.load(path) as data:  # rewritten whole
        assert data["vectors"].shape == (1, 256)


def test_a_cache_folder_that_cannot_be_created_still_gives_vectors_with_one_warning(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    cache = VectorCache(blocker / "cache", "m", tmp_path)
    with caplog.at_level(logging.WARNING, logger="skillgate.search.vectors"):
        assert cache.vectors(["one"], Counting()).shape == (1, 256)
        assert cache.vectors(["one", "two"], Counting()).shape == (2, 256)
    assert len([r for r in caplog.records if "cannot write the vector cache" in r.getMessage()]) == 1


def test_vectors_of_another_dimension_under_the_same_model_name_are_all_embedded_again(tmp_path):
    VectorCache(tmp_path, "m", tmp_path).vectors(["old text"], Counting())  # 256 dims
    asked: list[list[str]] = []

    def smaller(texts):
        asked.append(list(texts))
        return np.ones((len(texts), 8), dtype=np.float32)

    vectors = VectorCache(tmp_path, "m", tmp_path).vectors(["old text", "new text"], smaller)
    assert vectors.shape == (2, 8)
    assert asked == [["new text"], ["new text", "old text"]]


def test_a_cache_path_that_is_not_a_regular_file_is_ignored(tmp_path, caplog):
    cache = VectorCache(tmp_path, "m", tmp_path)
    os.mkfifo(cache.path)
    with caplog.at_level(logging.WARNING, logger="skillgate.search.vectors"):
        assert VectorCache(tmp_path, "m", tmp_path).vectors(["text"], Counting()).shape == (1, 256)
    assert any("ignoring the vector cache" in r.getMessage() for r in caplog.records)
