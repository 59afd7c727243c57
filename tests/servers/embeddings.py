"""An OpenAI-style embeddings server for tests: POST /v1/embeddings, serving the builtin model.

Run: python -m tests.servers.embeddings PORT
It speaks the same request and response shapes as Ollama, text-embeddings-inference and vLLM
({"model", "input": [...]} -> {"data": [{"index", "embedding"}], "model"}), and counts requests
at GET /stats.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from skillgate.search.embedder import BuiltinEmbedder

MODEL = "wordllama-test"
embedder = BuiltinEmbedder()
stats = {"requests": 0, "inputs": 0}


async def embeddings(request: Request) -> JSONResponse:
    body: dict[str, Any] = await request.json()
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if body.get("model") != MODEL or not isinstance(inputs, list):
        return JSONResponse({"error": {"message": f"model {body.get('model')!r} not found"}}, status_code=404)
    stats["requests"] += 1
    stats["inputs"] += len(inputs)
    vectors = embedder.embed(inputs)
    data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
    return JSONResponse({"object": "list", "data": data, "model": MODEL})


async def get_stats(request: Request) -> JSONResponse:
    return JSONResponse(stats)


app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"]), Route("/stats", get_stats)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
