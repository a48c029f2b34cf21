"""Human output: aligned tables, bold headers and colour only on a terminal
(and not with NO_COLOR). Our own few lines instead of rich: importing rich
costs about 60 ms, more than the whole start-up budget of `vnet plan`."""
import os
import sys

_COLOURS = {"create": "32", "delete": "31", "recreate": "33", "modify": "36", "up": "32", "down": "31",
            "UP": "32", "DOWN": "31", "LOWERLAYERDOWN": "31", "DOWN (NO-CARRIER)": "31"}


def print_table(title, columns, rows, file=None, below=None):
    """``below``: for each row, lines of their own printed under it,
    indented under its second column (nested values: a device's SAs)."""
    out = file or sys.stdout
    colour = out.isatty() and "NO_COLOR" not in os.environ
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells, bold=False):
        parts = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            text = c.ljust(w) if i < len(cells) - 1 else c
            if colour and (bold or c in _COLOURS):
                text = f"\033[{'1' if bold else _COLOURS[c]}m{text}\033[0m"
            parts.append(text)
        return "  ".join(parts).rstrip()

    if title:
        print(title, file=out)
    print(line(columns, bold=True), file=out)
    indent = " " * ((widths[0] + 2 if len(widths) > 1 else 0) + 4)
    for i, r in enumerate(rows):
        print(line(r), file=out)
        for extra in (below[i] if below else ()):
            print(indent + extra, file=out)
