#!/usr/bin/env bash
# README's second command: set up, then run the test suite (slow tests too when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
extra=()
if [ "${CI:-}" = "true" ]; then
  extra+=(--runslow)
fi
exec .venv/bin/python -m pytest -q "${extra[@]}" "$@"
