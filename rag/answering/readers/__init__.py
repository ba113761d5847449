"""Readers turn a prompt into answer text: gguf (llama.cpp), transformers, extractive (no model).

They are listed by name in :mod:`rag.answering.readers.registry`.
"""
