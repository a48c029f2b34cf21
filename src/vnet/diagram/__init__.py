"""`vnet diagram`: a topology file or the live machine drawn the way the
reference's figures are (graph.py builds, dot.py and mermaid.py write)."""
import os

from ..errors import VnetError

FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".md": "md"}


def fmt_of(out):
    ext = os.path.splitext(out)[1].lower()
    if ext not in FORMATS:
        raise VnetError(f"cannot tell the format of {out!r}: give a file ending in "
                        + ", ".join(sorted(set(FORMATS) - {".gv"})))
    return FORMATS[ext]


def of_live(devs, namespaces, title):
    from .graph import build
    return build(devs, namespaces, title, live={})


def write(g, out, fmt=None):
    """Write graph ``g`` to ``out`` ('-': stdout) as dot, svg, png or md."""
    from .dot import render, to_dot
    from .mermaid import to_markdown
    fmt = fmt or ("dot" if out == "-" else fmt_of(out))
    if fmt == "md":
        data = to_markdown(g).encode()
    elif fmt == "dot":
        data = to_dot(g).encode()
    else:
        data = render(to_dot(g), fmt)
    if out == "-":
        import sys
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(out, "wb") as f:
            f.write(data)
    except OSError as e:
        raise VnetError(f"cannot write {out}: {e.strerror or e}") from None
