#!/usr/bin/env bash
# Set up, then run every test layer: unit (no root), integration (root, this
# kernel, each test in its own private namespaces), and the tests this kernel
# cannot run, in one full-kernel QEMU guest booted for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --guest
export PATH="$PWD/.venv/bin:$PATH"   # virtme-ng's helpers
exec .venv/bin/python -m pytest -q -rfE tests "$@"
