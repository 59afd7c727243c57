"""Upstream MCP servers: one supervised connection each, and the pool that shares them. Imports observe
(tracing), skills and the base.
"""
