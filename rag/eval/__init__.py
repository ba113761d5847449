"""`rag eval`: run a gold question set through the public :class:`rag.RAG` API and write a report.

Gold sets come in two formats: our JSONL (``eval/gold/README.md``) and SQuAD v1.1 JSON (XQuAD, ARCD), whose
paragraphs become the articles of a generated JSONL corpus. Every question is searched in each retrieval
mode and, in answer mode, asked; the per-item scores (:mod:`rag.metrics`) are aggregated into
``report.json`` (metrics, cost and the run's fingerprint), ``items.jsonl`` (per-item ranks, answers and
errors), ``report.md`` and PNG plots.

Modules: :mod:`~rag.eval.gold` (gold sets), :mod:`~rag.eval.scoring` (asking and scoring),
:mod:`~rag.eval.stages` (passage metrics and the answer funnel), :mod:`~rag.eval.report` (report files),
:mod:`~rag.eval.compare` (two reports side by side), :mod:`~rag.eval.command` (the ``rag eval`` options).
``rag eval --compare A B`` prints the metric deltas and setup differences of two reports.

Choices worth knowing when reading a report:

- Follow-up questions are retrieved with the last user turn of their history prepended, so retrieval
  metrics do not depend on the generator's question rewriting; answer mode passes the history to
  :meth:`rag.RAG.ask`, whose own retrieval is scored as ``sources_recall``.
- Search asks for :data:`CHUNK_DEPTH` chunks and keeps the first :data:`MAX_K` distinct articles, so an
  article with many chunks cannot push the others out of the top ten.
- Modes run hybrid first: the embedder caches query vectors, so hybrid latency includes embedding the
  question while the dense latency that follows is the vector search alone.
- Items whose question the library rejects (:class:`rag.errors.QuestionError`) are reported as errors
  and left out of the averages of the stage that failed.
"""
