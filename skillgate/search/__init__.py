"""Search: lexical (BM25), dense (embedder, vectors) and the hybrid ranking. Imports skills, render and
the base.
"""
