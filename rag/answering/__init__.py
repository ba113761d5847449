"""Answering a question from retrieved hits, stage by stage: sentences → scoring → prompt → reader →
grounding, with the types a stream yields (see README, "How it works")."""
