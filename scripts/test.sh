#!/usr/bin/env bash
# Install, then run the whole test suite — the command CI runs. Day to day: .venv/bin/pytest -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system_packages.sh
export MOVREC_DATA_DIR=${MOVREC_DATA_DIR:-$(cd .. && pwd)/shared/data}
.venv/bin/ruff check movrec_pipeline movrec_pipeline_tests bench
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -p no:cacheprovider -rfE "$@"
