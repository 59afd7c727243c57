"""Rendering: the sandboxed Jinja2 template, its worker processes, Markdown to HTML, sections. Imports
only the base.
"""
