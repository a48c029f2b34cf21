#!/usr/bin/env bash
# Regenerate the committed diagrams of the examples (examples/diagrams/):
# each example's DOT and SVG, drawn from the file (nothing is applied).
# Run after changing an example or the drawing; tests/unit/test_diagram.py
# fails while they are out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p examples/diagrams
for f in examples/*.yaml; do
  n=$(basename "$f" .yaml)
  .venv/bin/python -m vnet diagram "$f" -o "examples/diagrams/$n.dot"
  .venv/bin/python -m vnet diagram "$f" -o "examples/diagrams/$n.svg"
done
echo "drew $(ls examples/*.yaml | wc -l) examples into examples/diagrams/"
