"""Input formats: one module per format, found by suffix in :mod:`rag.loaders.registry`.

The formats are ``plain``, ``markdown``, ``jsonl`` and ``html``; :mod:`rag.loaders.files` finds and reads
the files.
"""
