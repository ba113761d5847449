"""GPU speed of the real architectures at random weights (issue 18): run by ``scripts/gpu_check.sh``.

Model weights cannot travel to a GPU machine (64 MiB limit), and speed does not depend on their values, so
both models are built from their configs with random weights:

* **EmbeddingGemma-300M** (``EMBEDDINGGEMMA_CONFIG``, copied from the real ``config.json``) plus its
  sentence-transformers head (mean pooling, 768→3072→768 dense layers, L2 normalisation): document-embedding
  throughput in chunks/s at batch 32/128/256, float32 vs bfloat16, each chunk ``--seq-len`` tokens (the
  default chunk size, 160 tokens, plus the document prompt).
* **Qwen2.5-1.5B-Instruct** (``QWEN25_15B_CONFIG``) through the project's
  :class:`rag.answering.readers.transformers.TransformersGenerator` (its ``stream``, with the streamer and
  cancel hooks it uses in production) on a 500-token prompt: prefill tokens/s, time to first token and
  decode tokens/s. A stand-in tokenizer yields one text piece per token, since the real one cannot travel.

Results: ``bench/results/gpu-embedding.{json,md}`` and ``gpu-generation.{json,md}`` (the machine, GPU name
included, from ``_common.machine_info``). ``--dry-run`` runs everything on CPU at toy sizes and writes to a
temporary folder (or ``--out``) so the whole path is tested without a GPU.

    python bench/gpu_check.py              # on the GPU machine (scripts/gpu_check.sh)
    python bench/gpu_check.py --dry-run    # anywhere, in seconds
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _common

# ~/.cache/sanad/models/embeddinggemma-300m/config.json (transformers 4.57 export), verbatim but for the
# bookkeeping keys (architectures, dtype, transformers_version).
EMBEDDINGGEMMA_CONFIG: dict[str, Any] = {
    "_sliding_window_pattern": 6,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "final_logit_softcapping": None,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 1152,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 4,
    "max_position_embeddings": 2048,
    "num_attention_heads": 3,
    "num_hidden_layers": 24,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": 512,
    "use_bidirectional_attention": True,
    "use_cache": False,
    "vocab_size": 262144,
}
# sentence-transformers modules 2_Dense and 3_Dense of EmbeddingGemma (no bias, identity activation).
EMBEDDINGGEMMA_DENSE = (768, 3072, 768)

# Qwen/Qwen2.5-1.5B-Instruct config.json.
QWEN25_15B_CONFIG: dict[str, Any] = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "use_cache": True,
}

FULL = {
    "batches": [32, 128, 256],
    "dtypes": ["float32", "bfloat16"],
    "seq_len": 176,
    "prompt_tokens": 500,
    "new_tokens": 128,
    "repeats": 3,
    "min_time_s": 2.0,
}
# Toy sizes for --dry-run: the same code path in well under a minute on a busy CPU.
DRY = {
    "batches": [2],
    "dtypes": ["float32", "bfloat16"],
    "seq_len": 20,
    "prompt_tokens": 20,
    "new_tokens": 8,
    "repeats": 2,
    "min_time_s": 0.0,
}
DRY_EMBEDDER = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "query_pre_attn_scalar": 32,
    "layer_types": ["sliding_attention", "full_attention"],
    "vocab_size": 1000,
}
DRY_LM = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "bos_token_id": 1,
    "eos_token_id": 2,
}


def embedder_config(dry_run: bool) -> dict[str, Any]:
    config = dict(EMBEDDINGGEMMA_CONFIG)
    if dry_run:
        config.update(DRY_EMBEDDER)
    return config


def lm_config(dry_run: bool) -> dict[str, Any]:
    config = dict(QWEN25_15B_CONFIG)
    if dry_run:
        config.update(DRY_LM)
    return config


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


class _Embedder:
    """EmbeddingGemma's forward path: transformer, mean pooling over the mask, two dense layers, L2 norm."""

    def __init__(self, config: dict[str, Any], dense: tuple[int, ...], device: str, dtype: str) -> None:
        import torch
        from transformers import Gemma3TextConfig, Gemma3TextModel

        torch.manual_seed(0)
        with torch.device(device):  # initialise the random weights where they will run: faster on a GPU
            model = Gemma3TextModel(Gemma3TextConfig(**config))
        self.model = model.to(getattr(torch, dtype)).eval()
        self.dense = torch.nn.Sequential(
            *(torch.nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(dense))
        ).to(device, getattr(torch, dtype))

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        import torch

        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(self.dense(pooled).float(), dim=-1)


def bench_embedding(device: str, sizes: dict[str, Any], dry_run: bool) -> list[dict[str, Any]]:
    import torch

    config = embedder_config(dry_run)
    dense = (config["hidden_size"], 4 * config["hidden_size"], config["hidden_size"])
    if not dry_run:
        dense = EMBEDDINGGEMMA_DENSE
    rows = []
    for dtype in sizes["dtypes"]:
        embedder = _Embedder(config, dense, device, dtype)
        for batch in sizes["batches"]:
            generator = torch.Generator().manual_seed(batch)
            ids = torch.randint(3, config["vocab_size"], (batch, sizes["seq_len"]), generator=generator)
            ids, mask = ids.to(device), torch.ones_like(ids).to(device)
            with torch.inference_mode():
                embedder(ids, mask)  # warm-up: kernels, allocator
                _sync(device)
                rounds, start = 0, time.perf_counter()
                while rounds < sizes["repeats"] or time.perf_counter() - start < sizes["min_time_s"]:
                    vectors = embedder(ids, mask)
                    rounds += 1
                _sync(device)
                elapsed = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
            rows.append(
                {
                    "model": "EmbeddingGemma-300M (random weights)",
                    "dtype": dtype,
                    "batch": batch,
                    "seq_len": sizes["seq_len"],
                    "chunks_per_s": round(batch * rounds / elapsed, 1),
                    "ms_per_batch": round(elapsed / rounds * 1000, 2),
                    "dim": int(vectors.shape[-1]),
                    "peak_gpu_mib": round(peak, 1) if peak is not None else None,
                }
            )
            print(f"embedding {dtype} batch {batch}: {rows[-1]['chunks_per_s']} chunks/s", flush=True)
        del embedder
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    return rows


class PieceTokenizer:
    """Stand-in for Qwen's tokenizer (which cannot travel): the chat template yields ``prompt_tokens``
    random ids, and each generated id decodes to one word, so the streamer emits one piece per token."""

    def __init__(self, prompt_tokens: int, vocab_size: int, seed: int = 0) -> None:
        self.prompt_tokens, self.vocab_size, self.seed = prompt_tokens, vocab_size, seed

    def apply_chat_template(self, messages: Any, **kwargs: Any) -> Any:
        import torch
        from transformers import BatchEncoding

        generator = torch.Generator().manual_seed(self.seed)
        ids = torch.randint(3, self.vocab_size, (1, self.prompt_tokens), generator=generator)
        return BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids)})

    def decode(self, token_ids: Any, **kwargs: Any) -> str:
        count = len(token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids)
        return "w " * count


def make_generator(config: dict[str, Any], device: str, dtype: str, prompt_tokens: int) -> Any:
    """The project's TransformersGenerator around a random-weight Qwen2 (its __init__ only loads files)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rag.answering.readers.transformers import TransformersGenerator

    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(Qwen2Config(**config))
    model = model.to(getattr(torch, dtype)).eval()
    # Random weights would stop at a random EOS: always generate the full max_new_tokens.
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    generator = TransformersGenerator.__new__(TransformersGenerator)
    generator.tokenizer = PieceTokenizer(prompt_tokens, config["vocab_size"])
    generator.model = model
    generator.device = device
    generator._lock = threading.Lock()
    return generator


def _prompt() -> Any:
    from rag.answering.prompt import Prompt

    question = "ما الذي أعلنته الشركة؟"
    return Prompt(
        question=question, language="ar", sources=[], messages=[{"role": "user", "content": question}]
    )


def bench_generation(device: str, dtype: str, sizes: dict[str, Any], dry_run: bool) -> list[dict[str, Any]]:
    import torch

    config = lm_config(dry_run)
    generator = make_generator(config, device, dtype, sizes["prompt_tokens"])
    prompt_tokens, new_tokens = sizes["prompt_tokens"], sizes["new_tokens"]
    inputs = generator.tokenizer.apply_chat_template([]).to(device)
    prefill_s = []
    with torch.inference_mode():
        for _ in range(2):  # warm-up
            generator.model(**inputs)
        for _ in range(sizes["repeats"]):
            _sync(device)
            start = time.perf_counter()
            generator.model(**inputs, use_cache=True)
            _sync(device)
            prefill_s.append(time.perf_counter() - start)
    first_s, decode_rates, pieces_seen = [], [], []
    list(generator.stream(_prompt(), max_new_tokens=4))  # warm-up of generate()
    for _ in range(sizes["repeats"]):
        start = time.perf_counter()
        stamps = [time.perf_counter() for _piece in generator.stream(_prompt(), max_new_tokens=new_tokens)]
        if not stamps:
            raise RuntimeError("the transformers generator streamed nothing")
        first_s.append(stamps[0] - start)
        pieces_seen.append(len(stamps))
        if len(stamps) > 1:
            decode_rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    prefill = statistics.median(prefill_s)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    row = {
        "model": "Qwen2.5-1.5B (random weights)",
        "dtype": dtype,
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "streamed_pieces": min(pieces_seen),
        "prefill_tokens_per_s": round(prompt_tokens / prefill, 1),
        "prefill_ms": round(prefill * 1000, 2),
        "first_token_ms": round(statistics.median(first_s) * 1000, 2),
        "decode_tokens_per_s": round(statistics.median(decode_rates), 1) if decode_rates else None,
        "peak_gpu_mib": round(peak, 1) if peak is not None else None,
    }
    print(
        f"generation {dtype}: prefill {row['prefill_tokens_per_s']} tok/s, first token "
        f"{row['first_token_ms']} ms, decode {row['decode_tokens_per_s']} tok/s",
        flush=True,
    )
    return [row]


def main(argv: list[str] | None = None) -> dict[str, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, toy sizes, temporary results folder")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    parser.add_argument("--dtype", default=None, help="generator dtype (default: rag's device choice)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: bench/results)")
    parser.add_argument("--skip", choices=["embedding", "generation"], action="append", default=[])
    args = parser.parse_args(argv)

    from rag.devices import select_device

    choice = select_device(args.device or ("cpu" if args.dry_run else "cuda"))
    device, dtype = choice.device, args.dtype or choice.dtype
    sizes = DRY if args.dry_run else FULL
    out = args.out or (Path(tempfile.mkdtemp(prefix="gpu-check-")) if args.dry_run else None)
    if out is not None:
        _common.RESULTS_DIR = out  # write_results reads it at call time
    prefix = "gpu-dry-run" if args.dry_run else "gpu"
    extra = {"device": choice.to_dict(), "dry_run": args.dry_run, "sizes": sizes}
    written: dict[str, Path] = {}
    print(f"device {device} ({choice.name}), generator dtype {dtype}", flush=True)
    if "embedding" not in args.skip:
        rows = bench_embedding(device, sizes, args.dry_run)
        written["embedding"], _ = _common.write_results(
            f"{prefix}-embedding",
            rows,
            title=f"EmbeddingGemma-300M document embedding on {choice.name} (random weights)",
            extra={**extra, "config": embedder_config(args.dry_run)},
            notes=f"Each chunk is {sizes['seq_len']} tokens (176 on a GPU run: chunk_size 160 + the document "
            "prompt); throughput = batch × rounds / wall time, after one warm-up batch.",
        )
    if "generation" not in args.skip:
        rows = bench_generation(device, dtype, sizes, args.dry_run)
        written["generation"], _ = _common.write_results(
            f"{prefix}-generation",
            rows,
            title=f"Qwen2.5-1.5B through TransformersGenerator on {choice.name} (random weights)",
            extra={**extra, "config": lm_config(args.dry_run)},
            notes="Prefill: one forward pass of the prompt. First token: from calling "
            "TransformersGenerator.stream to its first piece. Decode: pieces after the first / their time.",
        )
    return written


if __name__ == "__main__":
    main()
