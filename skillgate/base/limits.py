"""Every bound on what skill authors and callers can make skillgate read, parse or render.

One place for each limit: parsers and the renderer import them from here, the README's
"Guarantees" section lists them, and each one, when hit, is a diagnostic or a tool error
that names it — never an exception that reaches a caller.
"""

from __future__ import annotations

# Files a skill author controls (regular files only; FIFOs, devices and sockets are refused).
SKILL_MD_BYTES = 1_000_000
MCP_JSON_BYTES = 1_000_000
LOCK_BYTES = 10_000_000
INCLUDE_BYTES = 1_000_000
SERVED_FILE_BYTES = 5_000_000  # a skill's other files (references, scripts, assets)
SERVED_FILES = 1_000  # files served per skill (the first, in path order); the rest get SG306
SETTINGS_BYTES = 1_000_000
PATH_CHARS = 1_024  # a relative link, include or `file=` path

# Nesting of parsed data and templates.
JSON_DEPTH = 64  # mcp.json, tools.lock.json, skillgate.toml values
YAML_DEPTH = 32  # frontmatter
TEMPLATE_NESTING = 16  # open blocks inside each other (Python allows 20 nested loops)
TEMPLATE_EXPRESSION_DEPTH = 32  # parentheses/brackets inside each other, or filters chained

# Requests.
HTTP_BODY_BYTES = 4 * 1024 * 1024  # one HTTP request to /mcp
ARGUMENT_BYTES = 1_000_000  # the arguments of one call_skill, as JSON
MESSAGE_BYTES = 64 * 1024 * 1024  # one JSON-RPC message: a stdio line (either way), an upstream's HTTP answer

# Rendering (in a worker process).
RENDER_SECONDS = 2.0  # default wall-clock limit per render; [render] timeout in the settings
RENDER_MEMORY_MB = 512  # address space of a render worker
RENDER_OUTPUT_CHARS = 200_000
RENDER_INT_DIGITS = 4_300  # the largest integer an expression may build (Python's own str limit)
RENDER_SEQUENCE_ITEMS = 200_000  # a string or list built by `*` may not be longer than this
