#!/usr/bin/env bash
# The CUDA path on a real GPU, in one go (issue 18): at most ~8 minutes on an H100/H200.
#
#   1. installs the wheels that scripts/gpu_wheels.sh downloaded (gpu-wheels/) into a temporary target;
#   2. builds a tiny index and prints `python -m rag info --json`'s device choice;
#   3. runs the CUDA tests (tests/test_gpu_check.py's test_cuda_*, tests/test_devices.py's cuda tests):
#      embedding on CUDA at the chosen dtype, index build and search, the transformers generator streaming;
#   4. runs bench/gpu_check.py: EmbeddingGemma-300M and Qwen2.5-1.5B at random weights
#      -> bench/results/gpu-embedding.{json,md}, gpu-generation.{json,md}.
# When $OUT is set (the device tool's folder that comes back), the results and the log are copied there.
#
# Usage: bash scripts/gpu_check.sh [--dry-run]
#   --dry-run: the same steps on CPU at toy sizes, results in a temporary folder (well under a minute plus
#              the wheel install); used by tests/test_gpu_check.py's checks and before spending GPU time.
# Env: PYTHON (default python3; .venv/bin/python with --dry-run when present), GPU_WHEELS (default gpu-wheels).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
REPO="$(pwd)"
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [[ -z "${PYTHON:-}" ]]; then
  candidates=(python3 python python3.12)
  if [[ $DRY_RUN -eq 1 && -x .venv/bin/python ]]; then
    candidates=(.venv/bin/python "${candidates[@]}")
  fi
  for candidate in "${candidates[@]}"; do  # the first Python that has torch
    if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then
      PYTHON="$candidate"
      break
    fi
  done
  PYTHON="${PYTHON:-python3}"
fi
WHEELS="${GPU_WHEELS:-gpu-wheels}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
LOG="$WORK/gpu_check.log"
FAILED=()

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
run() {  # run NAME SECONDS CMD...: a step that may fail without stopping the others
  local name="$1" limit="$2"
  shift 2
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "!!! $name failed (exit $rc)"
    FAILED+=("$name")
  fi
  return 0
}

main() {
  step "machine"
  "$PYTHON" - <<'EOF'
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
print("gpu:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
EOF
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

  step "wheels"
  local site="$WORK/site"
  local version pins
  mapfile -t pins < <(bash scripts/gpu_wheels.sh --list)
  version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if compgen -G "$WHEELS/*.whl" >/dev/null && [[ "$version" != "3.12" && $DRY_RUN -eq 1 ]]; then
    # The wheels are for the GPU machine's Python 3.12: check that they install as a set, offline, but
    # leave them off this Python's path.
    run "wheel install (3.12, not used)" 180 "$PYTHON" -m pip install --quiet --disable-pip-version-check \
      --no-index --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
      --find-links "$WHEELS" --target "$WORK/site-3.12" "${pins[@]}"
    echo "$(find "$WORK/site-3.12" -maxdepth 1 -name '*.dist-info' | wc -l) of ${#pins[@]} wheels install for 3.12"
  elif compgen -G "$WHEELS/*.whl" >/dev/null && ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    # No pip there: a wheel is a zip file, and unpacking it is all a --no-deps install into a folder does.
    run "wheel unpack" 180 "$PYTHON" - "$site" "$WHEELS"/*.whl <<'EOF'
import sys, zipfile
for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])
print(len(sys.argv) - 2, "wheels unpacked (no pip) in", sys.argv[1])
EOF
  elif compgen -G "$WHEELS/*.whl" >/dev/null; then
    run "wheel install" 180 "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-index \
      --no-deps --find-links "$WHEELS" --target "$site" "${pins[@]}"
    echo "$(find "$site" -maxdepth 1 -name '*.dist-info' | wc -l) of ${#pins[@]} wheels installed in $site"
  elif [[ $DRY_RUN -eq 1 ]]; then
    echo "no $WHEELS/ (run scripts/gpu_wheels.sh); dry run goes on with $PYTHON's own packages"
  else
    echo "error: no wheels in $WHEELS/: run 'bash scripts/gpu_wheels.sh' and carry gpu-wheels" >&2
    FAILED+=("wheels")
  fi
  export PYTHONPATH="$site:$REPO${PYTHONPATH:+:$PYTHONPATH}"
  export RAG_MODELS_DIR="$WORK/models" RAG_FETCH_MODELS=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
  export PYTHONDONTWRITEBYTECODE=1
  if [[ $DRY_RUN -eq 1 ]]; then
    export RAG_EMBEDDING_RUNTIME=torch  # no OpenVINO export on the CPU dry run
  fi
  run "imports" 120 "$PYTHON" -c "import faiss, bm25s, trafilatura, langchain_text_splitters, pydantic_settings
import rag.pipeline, rag.answering.readers.transformers
print('imports ok: faiss', faiss.__version__, 'bm25s', bm25s.__version__)"

  step "rag info --json (tiny index of the demo articles)"
  run "tiny index" 180 "$PYTHON" - "$WORK" <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, "tests")
from conftest import DEMO_ARTICLES, build_tiny_embedder  # noqa: E402

from rag.pipeline import RAG  # noqa: E402

work = Path(sys.argv[1])
model = build_tiny_embedder(work / "embedder")
RAG.build([DEMO_ARTICLES], index_dir=work / "index", embedding_model=str(model))
EOF
  "$PYTHON" -m rag info --json --index-dir "$WORK/index" >"$WORK/info.json"
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    FAILED+=("rag info")
  fi
  "$PYTHON" - "$WORK/info.json" <<'EOF'
import json, sys
try:
    info = json.load(open(sys.argv[1]))
except (OSError, ValueError) as error:
    sys.exit(f"no rag info output: {error}")
print(json.dumps({"device": info["device"], "embedder": info["embedder"]}, indent=2))
EOF

  step "CUDA tests"
  run "pytest" 240 "$PYTHON" -m pytest -q -p no:cacheprovider -rs -k cuda \
    tests/test_gpu_check.py tests/test_devices.py

  step "benchmark"
  local results=()
  if [[ $DRY_RUN -eq 1 ]]; then
    results=(--dry-run --out "$WORK/results")
  fi
  run "bench" 330 "$PYTHON" bench/gpu_check.py "${results[@]}"

  if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
    if [[ $DRY_RUN -eq 1 ]]; then
      cp "$WORK"/results/*.json "$WORK"/results/*.md "$OUT"/ 2>/dev/null
    else
      cp bench/results/gpu-*.json bench/results/gpu-*.md "$OUT"/ 2>/dev/null
    fi
    cp "$WORK/info.json" "$OUT"/ 2>/dev/null
  fi

  step "done"
  if [[ ${#FAILED[@]} -gt 0 ]]; then
    echo "FAILED: ${FAILED[*]}"
    return 1
  fi
  echo "all steps passed; work folder $WORK"
}

main 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
  cp "$LOG" "$OUT"/
fi
exit "$status"
