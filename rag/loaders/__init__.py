"""Input formats: one module per format (``plain``, ``markdown``, ``jsonl``, ``html``), found by suffix in
:mod:`rag.loaders.registry`; :mod:`rag.loaders.files` finds and reads the files."""
