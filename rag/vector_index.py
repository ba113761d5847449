"""The dense vector index: FAISS Flat, HNSW or IVF-PQ behind one small class, chosen by corpus size.

* ``flat``: exact inner-product search; 4·d bytes a vector; latency grows linearly with the corpus.
* ``hnsw``: HNSW graph over the full vectors (M=32); near-exact recall and millisecond search up to a few
  hundred thousand vectors, about 4·d + 256 bytes a vector, slow to build.
* ``ivfpq``: inverted lists with product-quantized codes whose best candidates are re-ranked with 8-bit
  scalar-quantized copies (``IVF{nlist},PQ{m},Refine(SQ8)``); about d + d/16 bytes a vector instead of 4·d,
  trained on a sample of the vectors.

``auto`` picks by the number of vectors (see :func:`choose_index_type`; thresholds come from
``bench/ann_scale.py``). Every type sits in an ``IndexIDMap2`` so chunks keep stable ids across additions
and deletions. Types that cannot remove ids in place (HNSW, refined IVF-PQ) are rebuilt from their stored
vectors without the removed ones, keeping trained quantizers: a deletion never re-embeds or re-trains.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from rag.config import IndexType
from rag.errors import RagError

logger = logging.getLogger(__name__)

# Below this many vectors exact search is fast enough (bench/ann_scale.py) and needs no build or training.
FLAT_MAX_VECTORS = 50_000
# Up to this many HNSW has the best recall (0.993 at 100k, 1.3 ms); at 1M it fell to 0.69-0.82 while
# IVF-PQ kept 0.984 at 1.6 ms in a quarter of the memory (bench/ann_scale.py, synthetic 768-dim vectors).
HNSW_MAX_VECTORS = 200_000
# IVF-PQ needs enough vectors to train its coarse quantizer and 256 codes per sub-quantizer.
IVFPQ_MIN_VECTORS = 10_000
IVFPQ_TRAIN_SAMPLE = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
# IVF-PQ re-ranks this many times k candidates with the SQ8 copies: 16-dim PQ codes alone rank poorly
# (10k synthetic vectors, nprobe 128: recall@10 0.73 re-ranking 8·k candidates, 0.87 with 64·k, at 0.2 ms).
IVFPQ_REFINE_FACTOR = 64


def choose_index_type(requested: IndexType, n_vectors: int) -> str:
    """The concrete index type for ``n_vectors`` vectors; an explicit request wins, except that IVF-PQ
    falls back to exact search until there are enough vectors to train it."""
    if requested == "ivfpq" and n_vectors < IVFPQ_MIN_VECTORS:
        return "flat"
    if requested != "auto":
        return requested
    if n_vectors <= FLAT_MAX_VECTORS:
        return "flat"
    if n_vectors <= HNSW_MAX_VECTORS:
        return "hnsw"
    return "ivfpq"


def ivfpq_layout(n_vectors: int, dimension: int) -> tuple[int, int]:
    """(nlist, m): about 4·√n inverted lists (a power of two) and 16-dimensional PQ sub-vectors."""
    nlist = 2 ** round(math.log2(max(16.0, 4 * math.sqrt(max(n_vectors, 1)))))
    nlist = min(nlist, 65_536, max(16, n_vectors // 39))
    m = next(m for m in range(max(1, dimension // 16), 0, -1) if dimension % m == 0)
    return nlist, m


def _factory_string(kind: str, n_vectors: int, dimension: int) -> str:
    if kind == "flat":
        return "Flat"
    if kind == "hnsw":
        return f"HNSW{HNSW_M},Flat"
    if kind == "ivfpq":
        nlist, m = ivfpq_layout(n_vectors, dimension)
        return f"IVF{nlist},PQ{m},Refine(SQ8)"
    raise ValueError(f"unknown index type {kind!r} (expected flat, hnsw or ivfpq)")


def _kind_of(index: Any) -> str:
    import faiss

    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexRefine | faiss.IndexIVF):
        return "ivfpq"
    return "flat"


class VectorIndex:
    """Normalized float32 vectors under int64 ids, searched by inner product (= cosine)."""

    def __init__(self, index: Any, *, read_only: bool = False) -> None:
        self._index = index  # faiss.IndexIDMap2
        self.kind = _kind_of(index)
        self.read_only = read_only  # memory-mapped: FAISS aborts the process on a write, so refuse first

    @classmethod
    def empty(cls, dimension: int) -> VectorIndex:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def load(cls, path: str, *, mmap: bool = False) -> VectorIndex:
        """Read an index file; ``mmap`` maps flat vectors and inverted lists instead of copying them
        (shared between processes, instant to open) and makes the index read-only."""
        import faiss

        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(faiss.read_index(path, flags), read_only=mmap)

    def save(self, path: str) -> None:
        import faiss

        faiss.write_index(self._index, path)

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def configure(self, *, hnsw_ef_search: int, ivf_nprobe: int) -> None:
        """Search-time accuracy/speed knobs (ignored by types they do not apply to)."""
        import faiss

        inner = faiss.downcast_index(self._index.index)
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = hnsw_ef_search
        elif isinstance(inner, faiss.IndexRefine | faiss.IndexIVF):
            faiss.extract_index_ivf(inner).nprobe = ivf_nprobe
            if isinstance(inner, faiss.IndexRefine):
                inner.k_factor = IVFPQ_REFINE_FACTOR

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) arrays of shape (len(queries), k); missing results have id -1."""
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def _writable(self) -> None:
        if self.read_only:
            raise RagError("this index was opened read-only (memory-mapped); reload it to change it")

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self._writable()
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def vectors_and_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector (exact for flat/HNSW, 8-bit approximations for IVF-PQ) with its id."""
        import faiss

        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32), ids
        return self._index.index.reconstruct_n(0, len(ids)), ids

    def remove(self, ids: np.ndarray) -> None:
        self._writable()
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        try:
            self._index.remove_ids(ids)
            return
        except RuntimeError:
            pass  # HNSW and refined IVF-PQ cannot remove in place; FAISS raises before changing anything
        vectors, stored = self.vectors_and_ids()
        keep = ~np.isin(stored, ids)
        logger.info("rebuilding the %s index without %d vectors", self.kind, int((~keep).sum()))
        self._index = self._emptied_copy()
        self.add(vectors[keep], stored[keep])

    def _emptied_copy(self) -> Any:
        import faiss

        inner = faiss.clone_index(self._index.index)  # keeps trained quantizers and graph parameters
        inner.reset()
        return faiss.IndexIDMap2(inner)

    @classmethod
    def new(
        cls, kind: str, dimension: int, *, expected_vectors: int, training: np.ndarray | None = None
    ) -> VectorIndex:
        """An empty index of ``kind`` sized for ``expected_vectors``. IVF-PQ is trained here on
        ``training`` (a sample of the vectors to come; at most :data:`IVFPQ_TRAIN_SAMPLE` rows are used),
        so vectors can then be added shard by shard."""
        import faiss

        inner = faiss.index_factory(
            dimension, _factory_string(kind, expected_vectors, dimension), faiss.METRIC_INNER_PRODUCT
        )
        if kind == "hnsw":
            faiss.downcast_index(inner).hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        if not inner.is_trained:
            if training is None or len(training) < IVFPQ_MIN_VECTORS:
                raise ValueError(f"{kind} needs a training sample of at least {IVFPQ_MIN_VECTORS} vectors")
            rows = np.random.default_rng(0).permutation(len(training))[:IVFPQ_TRAIN_SAMPLE]
            inner.train(np.ascontiguousarray(training[np.sort(rows)], dtype=np.float32))
        return cls(faiss.IndexIDMap2(inner))

    def converted(self, kind: str) -> VectorIndex:
        """This index as ``kind`` (itself when it already is), with the same vectors and ids."""
        if kind == self.kind:
            return self
        self._writable()
        vectors, ids = self.vectors_and_ids()
        logger.info("converting the dense index from %s to %s (%d vectors)", self.kind, kind, len(ids))
        result = VectorIndex.new(kind, self.dimension, expected_vectors=len(ids), training=vectors)
        result.add(vectors, ids)
        return result

    def describe(self) -> dict[str, Any]:
        return {"type": self.kind, "vectors": self.ntotal, "dimension": self.dimension}
