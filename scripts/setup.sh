#!/usr/bin/env bash
# Create ./.venv and install tt-gnn with its test extras. Safe to run any number of times:
# it reinstalls only when setup.cfg, pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.tt-gnn-$(cat setup.cfg pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # Pin torch first: an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  rm -f .venv/.tt-gnn-*
  touch "$stamp"
fi
