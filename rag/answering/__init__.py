"""Answering a question from retrieved hits, stage by stage, with the types a stream yields.

The stages: sentences → scoring → prompt → reader → grounding (see README, "How it works")."""
