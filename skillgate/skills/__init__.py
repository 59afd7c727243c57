"""Skills on disk: bundles (SKILL.md and files), frontmatter, bindings (mcp.json), locks, the catalog,
profiles. Imports the base and render (template checks).
"""
