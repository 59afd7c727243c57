import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx2
import numpy as np
import pytest

from skillgate.base.errors import EmbedderUnavailable
from skillgate.search.embedder import BuiltinEmbedder, Fallback, HttpEmbedder, embeddings_url
from skillgate.search.hybrid import Ranker
from skillgate.search.lexical import SearchDocument
from tests.conftest import REPO, free_port, wait_for_port, write_skill

DOCS = [
    SearchDocument("time-zones", "Tell the current time in any city and convert between time zones."),
    SearchDocument("repo-files", "Find and read files in this project."),
]


def test_builtin_embedder_gives_unit_vectors_that_put_related_texts_closer():
    vectors = BuiltinEmbedder().embed(["what hour is it in Tokyo", "current time in a city", "read a file"])
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_builtin_embedder_loads_and_embeds_with_no_network_at_all():
    """In a fresh network namespace there is no interface but a down loopback: any download fails."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "util-linux's unshare is part of the base image"
    script = (
        "import socket\n"
        "try:\n    socket.create_connection(('1.1.1.1', 443), timeout=2); print('NETWORK')\n"
        "except OSError:\n    pass\n"
        "from skillgate.search.embedder import BuiltinEmbedder\n"
        "v = BuiltinEmbedder().embed(['what time is it in Tokyo'])\n"
        "print(v.shape[1])\n"
    )
    done = subprocess.run(
        [unshare, "--net", sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["256"]


def test_embeddings_url_accepts_a_base_a_v1_base_or_the_endpoint():
    assert embeddings_url("http://h:11434") == "http://h:11434/v1/embeddings"
    assert embeddings_url("http://h:8080/v1/") == "http://h:8080/v1/embeddings"
    assert embeddings_url("http://h/v1/embeddings") == "http://h/v1/embeddings"


@pytest.fixture
def embedding_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.servers.embeddings", str(port)], cwd=REPO)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(10)


def test_http_embedder_matches_the_model_it_serves(embedding_server):
    url, _ = embedding_server
    remote = HttpEmbedder(f"{url}/v1", "wordllama-test").embed(["convert a time", "read a file"])
    local = BuiltinEmbedder().embed(["convert a time", "read a file"])
    assert np.allclose(remote, local, atol=1e-5)


def test_http_embedder_names_the_server_and_model_when_it_fails(embedding_server):
    url, _ = embedding_server
    with pytest.raises(EmbedderUnavailable, match="model 'no-such-model'"):
        HttpEmbedder(url, "no-such-model").embed(["x"])


def test_search_falls_back_to_bm25_with_one_warning_when_the_server_stops(embedding_server, tmp_path, caplog):
    url, process = embedding_server
    ranker = Ranker(HttpEmbedder(url, "wordllama-test", timeout=2), tmp_path)
    index = ranker.index(DOCS, tmp_path)
    assert index.hybrid
    assert index.search("is it still morning in Singapore")[0].name == "time-zones"  # no shared word
    process.terminate()
    process.wait(10)
    with caplog.at_level(logging.WARNING, logger="skillgate.search.embedder"):
        for _ in range(3):  # new queries need the server: BM25 answers, one warning in all
            assert [h.name for h in index.search("read the project files")] == ["repo-files"]
        rebuilt = ranker.index([*DOCS, SearchDocument("new-skill", "Something new.")], tmp_path)
    assert not rebuilt.hybrid
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "falls back to BM25" in warnings[0].getMessage()
    assert url in warnings[0].getMessage()


def test_fallback_tries_again_after_the_pause(monkeypatch):
    calls = []

    class Flaky:
        name = "flaky"

        def embed(self, texts):
            calls.append(texts)
            if len(calls) == 1:
                raise EmbedderUnavailable("down")
            return BuiltinEmbedder().embed(texts)

    clock = [100.0]
    monkeypatch.setattr("skillgate.search.embedder.time.monotonic", lambda: clock[0])
    fallback = Fallback(Flaky())
    assert fallback.embed(["a"]) is None
    assert fallback.embed(["a"]) is None and len(calls) == 1  # in the pause: not tried
    clock[0] += 31
    assert fallback.embed(["a"]) is not None and len(calls) == 2


def test_embedding_server_counts_requests(embedding_server):
    url, _ = embedding_server
    HttpEmbedder(url, "wordllama-test").embed([f"text {i}" for i in range(70)])
    stats = json.loads(httpx2.get(f"{url}/stats").text)
    assert stats == {"requests": 2, "inputs": 70}  # batches of 64


@pytest.mark.anyio
async def test_list_skills_over_stdio_uses_the_http_embedder_and_survives_its_outage(
    embedding_server, tmp_path
):
    from mcp import Client, StdioServerParameters

    url, process = embedding_server
    catalog = tmp_path / "skills"
    for doc in DOCS:
        write_skill(catalog, doc.name, doc.description)
    config = tmp_path / "skillgate.toml"
    config.write_text(
        f'[reload]\nenabled = false\n[search]\nembedder = "http"\nurl = "{url}/v1"\n'
        'model = "wordllama-test"\n'
        f'timeout = 2\ncache_dir = "{tmp_path / "cache"}"\n'
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "skillgate", "serve", str(catalog), "--config", str(config)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )
    async with Client(params) as client:
        found = await client.call_tool("list_skills", {"query": "what hour is it in Tokyo"})
        assert not found.is_error
        assert found.structured_content["skills"][0]["name"] == "time-zones"  # no shared word: dense
        process.terminate()
        process.wait(10)
        after = await client.call_tool("list_skills", {"query": "read the project files"})
        assert not after.is_error
        assert after.structured_content["skills"][0]["name"] == "repo-files"
    assert list((tmp_path / "cache").glob("vectors-http*.npz"))
