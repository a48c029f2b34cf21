"""A diagram graph -> Graphviz DOT text, and DOT -> SVG or PNG through
Graphviz (the `graphviz` Python package driving Debian's `dot`)."""
from html import escape

from ..errors import VnetError
from ..topology.model import HOST
from .graph import DOWN_FILL, DOWN_FONT, EDGE_STYLES

FONT = "Helvetica"


def q(s):
    """A DOT quoted string."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(d):
    return ", ".join(f"{k}={v if str(v).startswith('<') else q(v)}" for k, v in d.items())


def _node(n):
    lines = [f"<b>{escape(n.name)}</b>"]
    kind_line = n.kind + (f" · {n.detail}" if n.detail else "") + (" (down)" if n.down else "")
    if n.kind not in ("process", "remote"):
        lines.append(f'<font point-size="9">{escape(kind_line)}</font>')
    lines += [f'<font point-size="9" color="#333333">{escape(a)}</font>' for a in n.addresses]
    attrs = {"label": "<" + "<br/>".join(lines) + ">", "shape": n.shape,
             "fillcolor": DOWN_FILL if n.down else n.colour}
    if n.down:
        attrs.update(fontcolor=DOWN_FONT, color=DOWN_FONT, style="filled,dashed")
    return f"    {q(n.id)} [{_attrs(attrs)}];"


def _legend(g):
    rows = []
    for kind, (shape, colour) in sorted(g.kinds.items()):
        rows.append(f'<tr><td bgcolor="{colour}" border="1" width="18"> </td>'
                    f'<td align="left">{escape(kind)}</td></tr>')
    used = {e.style for e in g.edges}
    for style, (meaning, attrs, _m) in EDGE_STYLES.items():
        if style in used:
            mark = {"dashed": "- - -", "dotted": "· · ·"}.get(attrs.get("style"), "———")
            rows.append(f'<tr><td><font color="{attrs["color"]}">{mark}</font></td>'
                        f'<td align="left">{escape(meaning)}</td></tr>')
    if any(n.down for n in g.nodes.values()):
        rows.append(f'<tr><td bgcolor="{DOWN_FILL}" border="1"> </td><td align="left">down (greyed, dashed)</td></tr>')
    table = ('<table border="0" cellborder="0" cellspacing="2" cellpadding="2">'
             '<tr><td colspan="2"><b>legend</b></td></tr>' + "".join(rows) + "</table>")
    return f'    "legend" [shape=plaintext, style="", label=<{table}>];'


def to_dot(g):
    out = [f"digraph {q(g.title)} {{",
           f'  graph [label={q(g.title)}, labelloc=t, fontname="{FONT}", fontsize=14, rankdir=TB, '
           'nodesep=0.35, ranksep=0.6, newrank=true];',
           f'  node [fontname="{FONT}", fontsize=11, style=filled, penwidth=1];',
           f'  edge [fontname="{FONT}", fontsize=9];']
    for i, (ns, ids) in enumerate(g.clusters.items()):
        host = ns is HOST
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f"    label={q(g.host_label if host else 'netns ' + ns)};")
        out.append('    style="rounded,filled,bold"; color="#434343"; fillcolor="#f3f3f3"; penwidth=2;' if host
                   else '    style="rounded,filled"; color="#999999"; fillcolor="#fcfcfc";')
        if not ids:
            out.append(f"    {q(f'empty/{i}')} [label=\"(no devices)\", shape=plaintext, style=\"\"];")
        out += [_node(g.nodes[n]) for n in ids]
        out.append("  }")
    out += [_node(n) for n in g.nodes.values() if n.cluster == ""]
    for e in g.edges:
        attrs = dict(EDGE_STYLES[e.style][1])
        if e.label:
            attrs["label"] = e.label
        out.append(f"  {q(e.a)} -> {q(e.b)} [{_attrs(attrs)}];")
        if not e.level:   # a pair of equals: side by side (newrank lets a rank span clusters)
            out.append(f"  {{ rank=same; {q(e.a)}; {q(e.b)}; }}")
    out.append("  subgraph cluster_legend {")
    out.append('    label=""; style=invis;')
    out.append(_legend(g))
    out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def render(dot_text, fmt):
    """SVG or PNG bytes of ``dot_text``."""
    import graphviz
    try:
        return graphviz.Source(dot_text, engine="dot").pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise VnetError(f"cannot draw .{fmt}: Graphviz's `dot` program is not installed "
                        "(Debian: apt-get install graphviz); .dot and .md (Mermaid) work without it") from None
    except graphviz.CalledProcessError as e:
        raise VnetError(f"Graphviz failed to draw .{fmt}: {(e.stderr or b'').decode(errors='replace').strip()}") \
            from None
