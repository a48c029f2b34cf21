"""Human output: rich tables; colour only on a terminal (rich decides)."""
import sys


def print_table(title, columns, rows, file=None):
    from rich.console import Console
    from rich.table import Table
    t = Table(title=title, title_justify="left", show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    Console(file=file or sys.stdout, width=None if (file or sys.stdout).isatty() else 200).print(t)
