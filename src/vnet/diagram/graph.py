"""Devices -> a drawing's graph: namespaces as clusters, devices as nodes,
relations as edges. The devices are either a topology file's (nothing is
asked of the kernel) or the live machine's; both come as observed-style
``Device`` records, so one function draws both. What a kind looks like and
which edges it has beyond the generic ones (peer, master, lower device) is
asked of the kind module."""
from ..state import Device
from ..topology.address import text
from ..topology.model import HOST, Ref
from ..topology.struct import Struct

# edge styles: (what it means, Graphviz attributes, Mermaid arrow)
EDGE_STYLES = {
    "peer": ("the two ends of a veth or vxcan pair", {"dir": "none", "penwidth": "2.2", "color": "#38761d"}, "==="),
    "port": ("a port of its master (bridge, bond, team)", {"color": "#1155cc", "arrowhead": "normal"}, "-->"),
    "lower": ("on its lower device (mode or VLAN id)", {"color": "#7f6000", "arrowhead": "onormal",
                                                         "style": "solid"}, "-->"),
    "tunnel": ("a tunnel over UDP (VNI, remote)", {"dir": "none", "style": "dashed", "color": "#990000",
                                                   "penwidth": "1.6"}, "-.-"),
    "process": ("the process reading a TUN/TAP device", {"dir": "none", "style": "dotted", "color": "#444444"},
                "-.-"),
}
DOWN_FILL, DOWN_FONT = "#eeeeee", "#999999"


class Node(Struct):
    # id: a stable DOT/Mermaid identifier; cluster: its namespace (HOST) or
    # "" for a node outside every namespace (a remote tunnel end)
    _fields = (("id", ""), ("name", ""), ("cluster", ""), ("kind", ""), ("shape", "box"), ("colour", "#eeeeee"),
               ("detail", ""), ("addresses", list), ("down", False))


class Edge(Struct):
    # level: whether the edge ranks its ends (a above b); a pair of equals
    # (two ends of a veth, two tunnel ends) is drawn side by side instead
    _fields = (("a", ""), ("b", ""), ("style", "port"), ("label", ""), ("level", True))


class Graph(Struct):
    # clusters: namespace -> node ids, in drawing order; kinds: kind name ->
    # (shape, colour) of the kinds drawn (the legend)
    _fields = (("title", ""), ("clusters", dict), ("nodes", dict), ("edges", list), ("kinds", dict),
               ("host_label", "host"))

    def add(self, node):
        self.nodes[node.id] = node
        if node.cluster != "":
            self.clusters.setdefault(node.cluster, []).append(node.id)
        return node


def node_id(ns, name):
    return f"{'host' if ns is HOST else 'ns_' + ns}/{name}"


def from_topology(topo):
    """The devices a topology file declares, as the kernel would show them."""
    devs = []
    for i in topo.interfaces:
        kind = i.kind_module
        opts = {k: (v.resolve(i.netns) if isinstance(v, Ref) else v) for k, v in i.options.items()}
        devs.append(Device(netns=i.netns, name=i.name, ifindex=0, kind_module=kind, up=i.up, mtu=i.mtu,
                           master=i.master_key(), peer=i.peer.key if i.peer else None,
                           addresses=list(i.addresses), options=opts, port=dict(i.port)))
        if i.peer:
            p = i.peer
            devs.append(Device(netns=p.netns, name=p.name, ifindex=0, kind_module=kind, up=p.up, mtu=p.mtu,
                               master=p.master_key(), peer=i.key, addresses=list(p.addresses), port=dict(p.port)))
    namespaces = [HOST] * any(d.netns is HOST for d in devs) + list(topo.namespaces)
    return build(devs, namespaces, title=f"topology {topo.name}", live=None)


def build(devs, namespaces, title, live):
    """The graph of ``devs`` in ``namespaces`` (HOST first if drawn). ``live``
    is None for a file, else a dict the kinds may cache machine facts in."""
    g = Graph(title=title, host_label="host (vnet's namespace)")
    for ns in namespaces:
        g.clusters.setdefault(ns, [])
    drawn = [d for d in devs if not d.loopback]
    if live is not None:
        live["devices"] = drawn
    by_key = {d.key: d for d in drawn}
    for d in drawn:
        kind, kname = d.kind_module, d.kind_name
        shape, colour = (kind.shape, kind.colour) if kind else ("box", "#ffffff")
        g.kinds.setdefault(kname, (shape, colour))
        g.add(Node(id=node_id(*d.key), name=d.name, cluster=d.netns, kind=kname, shape=shape, colour=colour,
                   detail=kind.diagram_detail(d.options) if kind else "",
                   addresses=[text(a, broadcast=False) for a in d.addresses], down=not d.up))
    ends = []
    by_address = {(d.netns, str(getattr(a, "ip", a))): node_id(*d.key) for d in drawn for a in d.addresses}
    for d in drawn:
        me = node_id(*d.key)
        if d.peer in by_key and _sortable(d.key) < _sortable(d.peer):
            # down the page: from the end without a master (a container's
            # side) to the end with one (the switch's side)
            a, b = (me, node_id(*d.peer))
            other = by_key[d.peer].master
            if d.master and not other:
                a, b = b, a
            g.edges.append(Edge(a=a, b=b, style="peer", label="", level=bool(d.master) != bool(other)))
        if d.master in by_key:
            master = by_key[d.master].kind_module
            label = master.port_label(d.port) if master and d.port else ""
            g.edges.append(Edge(a=me, b=node_id(*d.master), style="port", label=label))
        kind = d.kind_module
        if kind is None:
            continue
        low = d.options.get(kind.link_option) if kind.link_option else None
        if isinstance(low, tuple) and low in by_key:
            g.edges.append(Edge(a=me, b=node_id(*low), style="lower", label=kind.link_label(d.options)))
        for local, remote, label in kind.tunnels(d.options):
            ends.append((me, local, str(remote), label))
            # the device holding the local address carries the tunnel: drawn below it
            under = by_address.get((d.netns, local))
            if under and under != me and not any(e.a == me and e.b == under for e in g.edges):
                g.edges.append(Edge(a=me, b=under, style="lower", label="underlay"))
        for i, proc in enumerate(kind.processes(d, live)):
            pid = f"{me}/process{i}"
            g.add(Node(id=pid, name=proc, cluster=d.netns, kind="process", shape="component", colour="#ffffff"))
            g.edges.append(Edge(a=pid, b=me, style="process", label=""))
    _join_tunnels(g, ends)
    g.edges.sort(key=lambda e: (list(EDGE_STYLES).index(e.style), e.a, e.b))
    return g


def _sortable(key):
    ns, name = key
    return ("" if ns is HOST else ns, name)


def _join_tunnels(g, ends):
    """One dashed edge for two ends that name each other (a's remote is b's
    local and the other way round); an end with no partner drawn gets a
    node for its remote, outside every namespace."""
    done = set()
    for i, (a, local, remote, label) in enumerate(ends):
        if i in done:
            continue
        partner = next((j for j, (b, bl, br, _) in enumerate(ends)
                        if j != i and j not in done and bl == remote and (local is None or br == local)), None)
        if partner is not None:
            done.update((i, partner))
            g.edges.append(Edge(a=a, b=ends[partner][0], style="tunnel", label=f"{label}\n{local} - {remote}",
                                level=False))
            continue
        done.add(i)
        rid = f"remote/{remote}"
        if rid not in g.nodes:
            g.add(Node(id=rid, name=f"remote {remote}", cluster="", kind="remote", shape="ellipse",
                       colour="#ffffff"))
        g.edges.append(Edge(a=a, b=rid, style="tunnel", label=label))
