#!/usr/bin/env bash
# The serving and signing benchmarks of BENCHMARKS.md ("Serving and signing (local disk)").
# Needs wrk and nginx (apt-get install -y wrk nginx). Each script runs < 2 minutes.
# To compare with the row cache off: AUDIOSTORE_CONTENT_CACHE_SECONDS=0 bench/run_serving.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
echo "== $(date -u +%FT%TZ)  $(git rev-parse --short HEAD 2>/dev/null || true)  $(nproc) cores"
echo "== signed-URL issue rate";          "$PY" bench/sign_urls.py
echo "== full-file and 64 KiB Range GETs"; "$PY" bench/serve_local.py
echo "== 1 GiB streaming upload";          "$PY" bench/upload_memory.py
