"""skillgate: one MCP server in front of many, serving skills on demand."""

__version__ = "0.1.0"
