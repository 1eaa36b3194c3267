#!/usr/bin/env bash
# Install, then materialize the whole asset graph headless on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/movrec materialize "$@"
