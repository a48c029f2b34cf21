#!/usr/bin/env python3
"""Write README.md's kinds table from the kinds registry: one row per kind
(kinds next to each other in the registry with the same options share one),
from each kind's ``options_doc`` and ``example``. The table sits between
the two marker comments; tests/unit/test_kind_tables.py fails while it is
out of date. Run after adding or changing a kind:

    .venv/bin/python scripts/kind_tables.py
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
BEGIN = "<!-- kinds table: written by scripts/kind_tables.py from src/vnet/kinds (edit the kinds, then run it) -->"
END = "<!-- end of the kinds table -->"


def _rows(registry):
    """[(kinds, options_doc)]: neighbours with the same options in one row."""
    rows = []
    for k in registry:
        if rows and rows[-1][1] == k.options_doc:
            rows[-1][0].append(k)
        else:
            rows.append(([k], k.options_doc))
    return rows


def table(registry=None):
    """The kinds table in Markdown, one line per row."""
    if registry is None:
        from vnet.kinds import REGISTRY as registry
    out = ["| kind | options | example |", "|---|---|---|"]
    for kinds, options in _rows(registry):
        examples = list(dict.fromkeys(k.example for k in kinds if k.example))
        out.append(f"| {', '.join(f'`{k.name}`' for k in kinds)} | {options or 'none'} | "
                   f"{', '.join(f'[{e}](examples/{e})' for e in examples) or '—'} |")
    return out


def with_table(text, lines):
    """``text`` (README.md) with the lines between the markers replaced."""
    head, sep, rest = text.partition(BEGIN + "\n")
    if not sep or END not in rest:
        raise SystemExit(f"README.md has no {BEGIN!r} ... {END!r} markers")
    return head + sep + "\n".join(lines) + "\n" + rest[rest.index(END):]


def main():
    sys.path.insert(0, os.path.join(ROOT, "src"))
    with open(README, encoding="utf-8") as f:
        text = f.read()
    new = with_table(text, table())
    if new != text:
        with open(README, "w", encoding="utf-8") as f:
            f.write(new)
    print("README.md's kinds table is " + ("rewritten" if new != text else "up to date"))


if __name__ == "__main__":
    main()
