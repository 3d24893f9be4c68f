#!/usr/bin/env bash
# README's first command: set up, then run the main job on the built-in default data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tt-gnn demo "$@"
