#!/usr/bin/env bash
# Create .venv and install Sanad into it. Usage: scripts/setup.sh [EXTRAS]   (default extras: llm,ui,eval,retrieval)
# torch is installed first, pinned, so pip takes the local CPU wheel instead of a multi-GB CUDA build;
# set TORCH_SPEC (e.g. TORCH_SPEC="torch --index-url ...") to choose another build on GPU machines.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-llm,ui,eval,retrieval}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # shellcheck disable=SC2086
  .venv/bin/python -m pip install --quiet ${TORCH_SPEC:-torch==2.13.0}
fi
# The packages the GPU check ships as wheels (scripts/gpu_wheels.sh) are installed at those versions here
# too, as constraints: a fresh machine then gets the pinned versions, not whatever the registry has newest
# that day (tests/test_gpu_check.py holds the two in step; lxml 6.2.0 appearing broke that once).
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
bash scripts/gpu_wheels.sh --list > "$constraints"
.venv/bin/python -m pip install --quiet -e ".[${extras}]" -c "$constraints"
echo "setup: .venv ready ($(.venv/bin/python -c 'import rag, torch; print("sanad", rag.__version__, "torch", torch.__version__)'))"
