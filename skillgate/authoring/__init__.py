"""For skill authors: scaffolding, checks, findability evals, the preview page. Imports server and
below.
"""
