#!/usr/bin/env bash
# Download the wheels that a GPU machine lacks, for `scripts/gpu_check.sh` (issue 18).
#
# The GPU machine has Python 3.12 with torch, transformers, sentence-transformers, accelerate and onnxruntime
# (and with them numpy, packaging, pyyaml, regex, tqdm, filelock, huggingface-hub), but no
# network. This fetches the rest of Sanad's core import closure (pyproject.toml's dependencies minus the
# lazily imported openvino/nncf/onnx and the optional xllamacpp; typing-extensions too, as pydantic needs
# a recent one; pytest for the device tests) as Python 3.12 manylinux x86-64 wheels,
# pinned to the versions in .venv (tests/test_gpu_check.py checks that they match), into gpu-wheels/.
# The folder travels with the working tree, which may be 64 MiB in all: this fails above 56 MiB.
#
# Usage: bash scripts/gpu_wheels.sh [DEST]      (DEST defaults to gpu-wheels/, git-ignored)
set -euo pipefail

cd "$(dirname "$0")/.."
DEST="${1:-gpu-wheels}"
LIMIT_MIB="${GPU_WHEELS_LIMIT_MIB:-56}"
PIP="${PIP:-.venv/bin/pip}"

# One pin a line: `name==version`. Keep in step with .venv (`.venv/bin/pip show NAME`).
PINS=(
  faiss-cpu==1.15.1
  bm25s==0.3.16
  langchain-text-splitters==1.1.3
  langchain-core==1.8.3
  langchain-protocol==0.0.20
  langsmith==0.15.1
  jsonpatch==1.48
  jsonpointer==3.12
  tenacity==9.2.1
  orjson==3.13.0
  zstandard==0.25.0
  uuid-utils==0.19.0
  xxhash==4.1.0
  websockets==17.4
  requests==2.34.2
  requests-toolbelt==1.0.0
  urllib3==2.8.0
  certifi==2026.10.19.post1
  charset-normalizer==3.5.3
  idna==3.20
  httpx==0.29.0
  httpcore==1.0.9
  h11==0.16.0
  httpx2==2.16.2
  httpcore2==2.16.2
  truststore==0.10.5
  anyio==4.16.0
  sniffio==1.3.1
  distro==1.9.0
  trafilatura==2.3.1
  courlan==1.4.0
  htmldate==1.11.0
  justext==3.0.2
  lxml==6.1.3
  dateparser==1.5.0
  python-dateutil==4.0.0
  pytz==2026.6
  tzdata==2026.6
  tzlocal==5.4.5
  babel==2.19.0
  tld==0.13.2
  pydantic-settings==2.16.3
  python-dotenv==1.2.4
  pydantic==2.14.4
  pydantic-core==2.50.5
  annotated-types==0.8.0
  typing-inspection==0.4.5
  platformdirs==4.14.9
  typing-extensions==4.16.0
  # to run the device tests there
  pytest==9.2.0
  pluggy==1.7.0
  iniconfig==2.3.1
  pygments==2.21.0
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PINS[@]}"
  exit 0
fi

mkdir -p "$DEST"
"$PIP" download --quiet --disable-pip-version-check \
  --only-binary=:all: --no-deps \
  --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 --platform any \
  -d "$DEST" "${PINS[@]}"

# Only the pinned wheels may travel: drop leftovers of earlier pins.
keep=()
for pin in "${PINS[@]}"; do
  name="${pin%%==*}"
  keep+=("$(printf '%s' "$name" | tr '[:upper:]-.' '[:lower:]__')-${pin#*==}-")
done
for wheel in "$DEST"/*.whl; do
  base="$(basename "$wheel" | tr '[:upper:]' '[:lower:]')"
  wanted=0
  for prefix in "${keep[@]}"; do
    [[ "$base" == "$prefix"* ]] && wanted=1 && break
  done
  if [[ $wanted -eq 0 ]]; then
    echo "removing stale $wheel"
    rm -f -- "$wheel"
  fi
done

count=$(find "$DEST" -name '*.whl' | wc -l)
bytes=$(du -sb "$DEST" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
echo "$count wheels, ${mib} MiB in $DEST (limit ${LIMIT_MIB} MiB)"
if (( count != ${#PINS[@]} )); then
  echo "error: expected ${#PINS[@]} wheels, found $count" >&2
  exit 1
fi
if (( bytes > LIMIT_MIB * 1048576 )); then
  echo "error: $DEST is ${mib} MiB, over the ${LIMIT_MIB} MiB that may travel with the working tree" >&2
  exit 1
fi
