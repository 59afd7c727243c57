"""The base: errors, limits, reading files, wording for people, diagnostics, caches, token counts and
the SDK's private names. Imports nothing else of skillgate.
"""
