"""A diagram graph -> a Mermaid flowchart in a Markdown file (GitHub and
most Markdown viewers draw it; no Graphviz needed)."""
import re

from ..topology.model import HOST
from .graph import DOWN_FILL, DOWN_FONT, EDGE_STYLES


def _text(s):
    """Mermaid label text: quotes and markup characters as entities."""
    return (str(s).replace("&", "&amp;").replace('"', "#quot;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br/>"))


def _cls(kind):
    return "k_" + re.sub(r"\W", "_", kind)


def to_mermaid(g):
    ids = {nid: f"n{i}" for i, nid in enumerate(g.nodes)}
    out = ["flowchart TB"]

    def node(n):
        parts = [f"<b>{_text(n.name)}</b>"]
        if n.kind not in ("process", "remote"):
            parts.append(_text(n.kind + (f" · {n.detail}" if n.detail else "") + (" (down)" if n.down else "")))
        parts += [_text(a) for a in n.addresses]
        return f'{ids[n.id]}["{"<br/>".join(parts)}"]'

    for i, (ns, members) in enumerate(g.clusters.items()):
        label = g.host_label if ns is HOST else f"netns {ns}"
        out.append(f'  subgraph c{i}["{_text(label)}"]')
        out += [f"    {node(g.nodes[m])}" for m in members]
        out.append("  end")
    out += [f"  {node(n)}" for n in g.nodes.values() if n.cluster == ""]
    for e in g.edges:
        arrow = EDGE_STYLES[e.style][2]
        label = f'|"{_text(e.label)}"|' if e.label else ""
        out.append(f"  {ids[e.a]} {arrow}{label} {ids[e.b]}")
    for kind, (_shape, colour) in sorted(g.kinds.items()):
        out.append(f"  classDef {_cls(kind)} fill:{colour},stroke:#555555,color:#000000")
    out.append(f"  classDef down fill:{DOWN_FILL},stroke:{DOWN_FONT},color:{DOWN_FONT},stroke-dasharray:4 3")
    for n in g.nodes.values():
        if n.kind in g.kinds:
            out.append(f"  class {ids[n.id]} {'down' if n.down else _cls(n.kind)}")
    return "```mermaid\n" + "\n".join(out) + "\n```\n"


def to_markdown(g):
    return f"# {g.title}\n\n" + to_mermaid(g)
