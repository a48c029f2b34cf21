#!/usr/bin/env python3
"""Write what lists the kinds from the kinds registry, each between two
marker comments of its file:

- README.md's kinds table: one row per kind (kinds next to each other in the
  registry with the same options share one), from each kind's
  ``options_doc`` and ``example``;
- examples/README.md's table and diagram sections: one row per file of
  examples/, its kinds (those it declares and those naming it as their
  ``example``) and its diagram written here; the figure, what its checks
  prove and where it runs are about the example, not a kind: they are
  written by hand in the table and kept as they are (a new example's row
  gets them empty, and a test asks for them);
- the devices of tests/golden/script/all-kinds.yaml: each kind's ``sample``,
  in the registry's order.

tests/unit/test_kind_tables.py fails while any of them is out of date. Run
after adding or changing a kind or an example:

    .venv/bin/python scripts/kind_tables.py
"""
import os
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
EXAMPLES = os.path.join(ROOT, "examples")
EXAMPLES_README = os.path.join(EXAMPLES, "README.md")
ALL_KINDS = os.path.join(ROOT, "tests", "golden", "script", "all-kinds.yaml")
BEGIN = "<!-- kinds table: written by scripts/kind_tables.py from src/vnet/kinds (edit the kinds, then run it) -->"
END = "<!-- end of the kinds table -->"
EX_BEGIN = ("<!-- examples table: its file, kinds and diagram columns are written by scripts/kind_tables.py "
            "(the other columns are yours; then run it) -->")
EX_END = "<!-- end of the examples table -->"
DIAGRAMS_BEGIN = "<!-- diagrams: written by scripts/kind_tables.py, one per row of the table -->"
DIAGRAMS_END = "<!-- end of the diagrams -->"
DEVICES_BEGIN = ("  # -- devices: written by scripts/kind_tables.py from each kind's `sample` "
                 "(edit the kinds, then run it)")
DEVICES_END = "  # -- end of the devices"
EX_HEADER = ["| figure | file | kinds | what its checks prove | where it runs | diagram |",
             "|---|---|---|---|---|---|"]


def _registry(registry):
    if registry is None:
        from vnet.kinds import REGISTRY as registry
    return registry


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
    out = ["| kind | options | example |", "|---|---|---|"]
    for kinds, options in _rows(_registry(registry)):
        examples = list(dict.fromkeys(k.example for k in kinds if k.example))
        out.append(f"| {', '.join(f'`{k.name}`' for k in kinds)} | {options or 'none'} | "
                   f"{', '.join(f'[{e}](examples/{e})' for e in examples) or '—'} |")
    return out


def with_table(text, lines, begin=BEGIN, end=END, name="README.md"):
    """``text`` with the lines between the markers ``begin`` and ``end``
    replaced (README.md's kinds table unless told)."""
    head, sep, rest = text.partition(begin + "\n")
    if not sep or end not in rest:
        raise SystemExit(f"{name} has no {begin!r} ... {end!r} markers")
    return head + sep + "".join(ln + "\n" for ln in lines) + rest[rest.index(end):]


def between(text, begin, end):
    """The lines between the markers ``begin`` and ``end`` of ``text``."""
    rest = text.partition(begin + "\n")[2]
    return rest[:rest.index(end)].splitlines() if end in rest else []


# ---- examples/README.md ------------------------------------------------------

def _cells(line):
    """The cells of a Markdown table row (a `\\|` stays inside its cell)."""
    cells = line.strip().strip("|").replace("\\|", "\0").split("|")
    return [c.strip().replace("\0", "\\|") for c in cells]


def example_kinds(example, registry=None):
    """The kinds ``example`` declares or that name it as theirs, in the registry's order."""
    import yaml
    with open(os.path.join(EXAMPLES, example), encoding="utf-8") as f:
        declared = {i.get("kind") for i in (yaml.safe_load(f) or {}).get("interfaces") or ()}
    return [k.name for k in _registry(registry) if k.name in declared or k.example == example]


def examples_table(text, examples=None, registry=None):
    """examples/README.md's table: the hand-written cells of ``text``'s rows
    kept, by file, in their order; a file with no row yet gets one at the end."""
    if examples is None:
        examples = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".yaml"))
    written = {}
    for line in between(text, EX_BEGIN, EX_END)[len(EX_HEADER):]:
        figure, file, _kinds, proves, where, _diagram = _cells(line)
        written[file.strip("`")] = (figure, proves, where)
    order = [e for e in written if e in examples] + [e for e in examples if e not in written]
    out = list(EX_HEADER)
    for e in order:
        figure, proves, where = written.get(e, ("", "", ""))
        kinds = ", ".join(f"`{k}`" for k in example_kinds(e, registry))
        out.append(f"| {figure} | `{e}` | {kinds} | {proves} | {where} | "
                   f"[svg](diagrams/{e[:-len('.yaml')]}.svg) |")
    return out


def diagrams(table_lines):
    """A section with its drawing for each row of the examples table."""
    out = []
    for line in table_lines[len(EX_HEADER):]:
        stem = _cells(line)[1].strip("`")[:-len(".yaml")]
        out += [f"### {stem}", "", f"![{stem}](diagrams/{stem}.svg)", ""]
    return out


def with_examples(text, registry=None):
    """examples/README.md's ``text`` with its table and diagrams rewritten."""
    rows = examples_table(text, registry=registry)
    text = with_table(text, rows, EX_BEGIN, EX_END, "examples/README.md")
    return with_table(text, diagrams(rows), DIAGRAMS_BEGIN, DIAGRAMS_END, "examples/README.md")


# ---- tests/golden/script/all-kinds.yaml ----------------------------------------

def devices(registry=None):
    """The interfaces of all-kinds.yaml: every kind's ``sample``, indented
    as items of the file's ``interfaces:``."""
    out = []
    for k in _registry(registry):
        if k.sample:
            out += ["  " + ln if ln else ln for ln in textwrap.dedent(k.sample).strip("\n").splitlines()]
    return out


def with_devices(text, registry=None):
    return with_table(text, devices(registry), DEVICES_BEGIN, DEVICES_END, "all-kinds.yaml")


def _rewrite(path, change):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = change(text)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    print(f"{os.path.relpath(path, ROOT)}: " + ("rewritten" if new != text else "up to date"))


def main():
    sys.path.insert(0, os.path.join(ROOT, "src"))
    _rewrite(README, lambda text: with_table(text, table()))
    _rewrite(EXAMPLES_README, with_examples)
    _rewrite(ALL_KINDS, with_devices)


if __name__ == "__main__":
    main()
