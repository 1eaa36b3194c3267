#!/usr/bin/env bash
# Install, then run the whole test suite (pytest) — the command CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MOVREC_DATA_DIR=${MOVREC_DATA_DIR:-$(cd .. && pwd)/shared/data}
.venv/bin/ruff check movrec_pipeline movrec_pipeline_tests bench
exec .venv/bin/python -m pytest -p no:cacheprovider -rfE "$@"
