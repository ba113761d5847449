#!/usr/bin/env bash
# The main job from nothing: set up, fetch and verify the models, index the demo corpus, open the chat UI.
# Usage: scripts/demo.sh [rag serve options, e.g. --port 7860 --host 0.0.0.0]
# (listening on a non-loopback --host turns the chat page's uploads off unless --allow-upload is given)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh llm,ui,eval,retrieval
.venv/bin/rag models fetch
# An index left with other settings by an older release is stale (one that only differs in its normalization
# version is updated by `rag index`): the demo corpus is five articles, so it is rebuilt rather than
# stopping the demo.
if ! .venv/bin/rag index data/articles; then
  echo "demo: rebuilding the demo index (rag index data/articles --rebuild)" >&2
  .venv/bin/rag index data/articles --rebuild
fi
.venv/bin/rag search "لماذا أجلت ديب سيك إطلاق نموذج R2؟" -k 3
exec .venv/bin/rag serve "$@"
