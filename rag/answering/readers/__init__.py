"""Readers turn a prompt into answer text: gguf (llama.cpp), transformers, extractive (no model)."""
