"""The MCP server: the SDK's low-level Server over the Gateway, the stdio fast path, the HTTP edge,
skills as prompts and resources, hot reload. Imports tools and below.
"""
