"""The render worker process: one JSON request line in, one JSON reply line out, until stdin closes.

Run as `python -m skillgate.render.worker MEMORY_MB` by `skillgate.render.workers`, which holds
the server's side and imports this module only for its two constants (Jinja is imported when
the loop starts). A worker imports what rendering needs and nothing of the server's (no event
loop, no subprocess handling).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

from skillgate.base.errors import RenderError
from skillgate.base.limits import RENDER_MEMORY_MB

READY = b"ready\n"
EXITING = b'{"exit": true'  # a reply that starts so: the worker ends after it


def serve(memory_mb: int) -> None:
    """The worker's loop: one JSON request line in, one JSON reply line out, until stdin closes."""
    from skillgate.render.template import render_template  # here: the server imports this module's constants

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(READY)
    stdout.flush()
    for line in stdin:
        exhausted = False
        try:
            job = json.loads(line)
            text = render_template(
                job["body"],
                Path(job["folder"]),
                skill=job["skill"],
                tools=job["tools"],
                variables=job["vars"],
                client=job["client"],
                line_offset=job["line_offset"],
            )
            reply: dict[str, Any] = {"text": text}
        except RenderError as exc:
            reply = {"error": exc.detail, "line": exc.line, "col": exc.col, "people": exc.people}
        except MemoryError:
            exhausted = True
            reply = {
                "exit": True,
                "error": f"the template needed more than {memory_mb} MB to render; build less text",
            }
        except Exception as exc:  # the worker answers every request; the server decides what to say
            reply = {"error": f"the template failed ({type(exc).__name__}); simplify it"}
        stdout.write(json.dumps(reply).encode() + b"\n")
        stdout.flush()
        if exhausted:
            return  # memory may be fragmented: a fresh worker takes the next render


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else RENDER_MEMORY_MB)
