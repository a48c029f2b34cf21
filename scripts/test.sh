#!/usr/bin/env bash
# Set up, then run every test layer: unit (no root), integration (root, this
# kernel, each test in its own private namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest -q tests "$@"
