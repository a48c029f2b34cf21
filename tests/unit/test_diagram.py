"""`vnet diagram` of the topology files: the DOT read back through Graphviz
itself (`dot -Tjson`) has a cluster per namespace, a node per device with its
kind and addresses, and an edge for every relation the file declares; SVG,
PNG and Mermaid come out; the committed diagrams of the examples are up to
date; without Graphviz the error says what to install."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
DIAGRAMS = ROOT / "examples" / "diagrams"
sys.path.insert(0, str(SRC))
# the relation an edge draws, by its colour (the legend's)
RELATION = {"#38761d": "peer", "#1155cc": "port", "#7f6000": "lower", "#990000": "tunnel", "#444444": "process"}


def vnet(*args, env=None):
    e = dict(os.environ, PYTHONPATH=str(SRC))
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "vnet", *map(str, args)], env=e, cwd=ROOT,
                          capture_output=True, timeout=60)


def text_of(label):
    """An HTML-like label as the lines a reader sees."""
    return [html.unescape(re.sub(r"<[^>]+>", "", part)) for part in label.split("<br/>")]


class Drawn:
    """A DOT text as Graphviz reads it: clusters (by label: the names of
    their devices), nodes (by id) and edges (tail, head, relation, label)."""

    def __init__(self, dot_text):
        r = subprocess.run(["dot", "-Tjson"], input=dot_text.encode(), capture_output=True, check=True)
        objs = json.loads(r.stdout)["objects"]
        edges = json.loads(r.stdout).get("edges", [])
        names = {o["_gvid"]: o["name"] for o in objs if "nodes" not in o}
        self.nodes = {o["name"]: o for o in objs if "nodes" not in o}
        self.clusters = {o["label"]: sorted(text_of(objs[i]["label"])[0] for i in o["nodes"])
                         for o in objs if "nodes" in o and o["name"].startswith("cluster_") and o["name"] != "cluster_legend"}
        self.edges = [(names[e["tail"]], names[e["head"]], RELATION[e["color"]], e.get("label", ""))
                      for e in edges]

    def lines(self, node):
        return text_of(self.nodes[node]["label"])

    def relations(self):
        return {(rel,) + (tuple(sorted((a, b))) if rel == "peer" else (a, b)) for a, b, rel, _ in self.edges}


def legend_of(d):
    """The legend's rows as text."""
    return [t.strip(" —-·") for t in text_of(d.nodes["legend"]["label"].replace("</tr>", "<br/>"))]


def drawn(path, *more):
    r = vnet("diagram", path, *more)
    assert r.returncode == 0, r.stderr.decode()
    return Drawn(r.stdout.decode())


def nid(ns, name):
    return f"{'host' if ns is None else 'ns_' + ns}/{name}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_example_draws_what_its_file_declares(example):
    """Expected from the file itself: every declared device (and peer end) a
    node in its namespace's cluster with its kind and addresses; a peer edge
    per pair, a port edge per master, a lower edge per lower device."""
    import vnet as api
    topo = api.load(str(example))
    d = drawn(example)
    want_nodes, want = {}, set()
    for i in topo.interfaces:
        for e in i.endpoints():
            want_nodes[nid(e.netns, e.name)] = (e.netns, e.name, i.kind, [str(a) for a in e.addresses], e.up)
            if e.master:
                want.add(("port", nid(e.netns, e.name), nid(*e.master_key())))
        if i.peer:
            want.add(("peer",) + tuple(sorted((nid(i.netns, i.name), nid(i.peer.netns, i.peer.name)))))
        low = i.kind_module.link_option and i.options.get(i.kind_module.link_option)
        if low:
            want.add(("lower", nid(i.netns, i.name), nid(*low.resolve(i.netns))))
    for node, (ns, name, kind, addrs, up) in want_nodes.items():
        lines = d.lines(node)
        assert lines[0] == name, lines
        assert re.match(rf"{kind}( ·.*)?( \(down\))?$", lines[1]), lines
        assert lines[2:] == addrs
        assert ("(down)" in lines[1]) == (not up)
        assert name in d.clusters["host (vnet's namespace)" if ns is None else f"netns {ns}"]
    hosts = {"host (vnet's namespace)"} if any(v[0] is None for v in want_nodes.values()) else set()
    assert set(d.clusters) == {f"netns {n}" for n in topo.namespaces} | hosts
    got = d.relations()
    assert want <= got, want - got
    extra = got - want   # a tunnel, its underlay, the process reading a TUN: nothing else
    assert {r[0] for r in extra} <= {"tunnel", "lower", "process"}, extra
    legend = legend_of(d)
    for kind in {v[2] for v in want_nodes.values()}:
        assert kind in legend, (kind, legend)


def test_fig10_bridge_and_its_ports():
    d = drawn(ROOT / "examples" / "fig10-bridge.yaml")
    assert d.clusters == {"host (vnet's namespace)": ["br0", "veth1", "veth2"], "netns net1": ["eth0"],
                          "netns net2": ["eth0"]}
    assert d.relations() == {("peer", "host/veth1", "ns_net1/eth0"), ("peer", "host/veth2", "ns_net2/eth0"),
                             ("port", "host/veth1", "host/br0"), ("port", "host/veth2", "host/br0")}
    assert d.lines("ns_net2/eth0") == ["eth0", "veth", "10.0.10.2/24"]
    assert d.nodes["host/br0"]["shape"] == "box3d"
    # the namespaces' ends above the bridge, as the reference draws it
    y = {n: float(d.nodes[n]["pos"].split(",")[1]) for n in d.nodes if "/" in n}
    assert y["ns_net1/eth0"] > y["host/veth1"] > y["host/br0"]


def test_fig8_vxlan_tunnel_joins_the_two_ends():
    d = drawn(ROOT / "examples" / "fig8-vxlan.yaml")
    tunnels = [e for e in d.edges if e[2] == "tunnel"]
    assert [(a, b) for a, b, *_ in tunnels] == [("ns_host1/vx0", "ns_host2/vx0")]
    assert tunnels[0][3] == "VXLAN VNI 100, UDP 4789\\n192.168.8.1 - 192.168.8.2"   # two lines, DOT-escaped
    assert ("ns_host1/vx0", "ns_host1/eth0", "lower", "underlay") in d.edges
    assert d.lines("ns_host1/vx0") == ["vx0", "vxlan · VNI 100", "10.8.0.1/24"]
    y = {n: float(d.nodes[n]["pos"].split(",")[1]) for n in ("ns_host1/vx0", "ns_host2/vx0", "ns_host1/eth0")}
    assert y["ns_host1/vx0"] == y["ns_host2/vx0"] > y["ns_host1/eth0"]   # the two ends side by side


def test_edge_labels_carry_modes_vlan_ids_and_port_vlans():
    qinq = drawn(ROOT / "examples" / "fig6-qinq.yaml")
    assert {e[3] for e in qinq.edges if e[2] == "lower"} == {"VLAN 100", "VLAN 20 (802.1ad)"}
    private = drawn(ROOT / "examples" / "fig12-macvlan-private.yaml")
    assert {e[3] for e in private.edges if e[2] == "lower"} == {"private"}
    vlans = drawn(ROOT / "examples" / "bridge-vlans.yaml")
    assert ("host/pb", "host/br0", "port", "VLAN 10 pvid untagged, 100-103") in vlans.edges
    macsec = drawn(ROOT / "examples" / "fig20-macsec.yaml")
    assert {e[3] for e in macsec.edges if e[2] == "lower"} == {"MACsec gcm-aes-128"}


def test_fig1b_tun_with_its_reader_and_the_tunnel():
    d = drawn(ROOT / "examples" / "fig1b-tun-tunnel.yaml")
    assert ("ns_site1/tun0/process0", "ns_site1/tun0", "process", "") in d.edges
    assert d.lines("ns_site1/tun0/process0") == ["vnet tunnel"]
    assert d.clusters["netns site1"] == ["tun0", "vnet tunnel", "wan"]
    t = [e for e in d.edges if e[2] == "tunnel"]
    assert len(t) == 1 and t[0][3].startswith("vnet tunnel, UDP 4789, sealed")
    assert ("ns_site1/tun0", "ns_site1/wan", "lower", "underlay") in d.edges


def test_a_down_device_is_greyed(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("name: t\ninterfaces:\n  - {name: br0, kind: bridge, up: false}\n  - {name: br1, kind: bridge}\n")
    d = drawn(f)
    assert d.lines("host/br0") == ["br0", "bridge (down)"]
    assert d.nodes["host/br0"]["fillcolor"] == "#eeeeee" and "dashed" in d.nodes["host/br0"]["style"]
    assert d.nodes["host/br1"]["fillcolor"] != "#eeeeee"
    assert "down (greyed, dashed)" in legend_of(d)


def test_a_remote_without_a_drawn_partner_gets_its_own_node(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("name: t\ninterfaces:\n  - {name: vx0, kind: vxlan, vni: 7, remote: 198.51.100.9}\n")
    d = drawn(f)
    assert ("host/vx0", "remote/198.51.100.9", "tunnel", "VXLAN VNI 7, UDP 4789") in d.edges
    assert d.lines("remote/198.51.100.9") == ["remote 198.51.100.9"]


def test_netns_filter(tmp_path):
    d = drawn(ROOT / "examples" / "fig10-bridge.yaml", "--netns", "net1", "--netns", "host")
    assert set(d.clusters) == {"host (vnet's namespace)", "netns net1"}
    assert ("peer", "host/veth1", "ns_net1/eth0") in d.relations()
    assert not any("net2" in a or "net2" in b for a, b, *_ in d.edges)


@pytest.mark.parametrize("fmt,magic", [("svg", b"<svg"), ("png", b"\x89PNG\r\n\x1a\n")])
def test_svg_and_png_render(tmp_path, fmt, magic):
    out = tmp_path / f"fig10.{fmt}"
    r = vnet("diagram", ROOT / "examples" / "fig10-bridge.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert (magic in data[:400]) and len(data) > 5000
    if fmt == "svg":
        assert b"netns net1" in data and b"10.0.10.2/24" in data and b"legend" in data


def test_mermaid_markdown(tmp_path):
    out = tmp_path / "fig8.md"
    assert vnet("diagram", ROOT / "examples" / "fig8-vxlan.yaml", "-o", out).returncode == 0
    md = out.read_text()
    assert md.startswith("# topology fig8\n\n```mermaid\nflowchart TB\n") and md.endswith("```\n")
    assert re.findall(r'subgraph c\d+\["([^"]+)"\]', md) == ["netns host1", "netns host2"]
    nodes = dict(re.findall(r'(n\d+)\["<b>([^<]+)</b>', md))
    edges = re.findall(r"(n\d+) (===|-->|-\.-)(?:\|\"([^\"]*)\"\|)? (n\d+)", md)
    named = {(nodes[a], arrow, label, nodes[b]) for a, arrow, label, b in edges}
    assert ("eth0", "===", "", "eth0") in named
    assert ("vx0", "-.-", "VXLAN VNI 100, UDP 4789<br/>192.168.8.1 - 192.168.8.2", "vx0") in named
    assert ("vx0", "-->", "underlay", "eth0") in named
    assert "classDef k_vxlan fill:#ffd966" in md


def test_without_graphviz_dot_and_md_work_and_svg_says_what_to_install(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()   # a PATH without `dot`
    env = {"PATH": str(bare)}
    ex = ROOT / "examples" / "fig10-bridge.yaml"
    for ok in ("x.dot", "x.md"):
        r = vnet("diagram", ex, "-o", tmp_path / ok, env=env)
        assert r.returncode == 0 and (tmp_path / ok).stat().st_size > 500, r.stderr
    for fmt in ("svg", "png"):
        r = vnet("diagram", ex, "-o", tmp_path / f"x.{fmt}", env=env)
        assert r.returncode == 1 and b"Traceback" not in r.stderr
        assert r.stderr.decode() == (f"vnet diagram: cannot draw .{fmt}: Graphviz's `dot` program is not installed "
                                     "(Debian: apt-get install graphviz); .dot and .md (Mermaid) work without it\n")
        assert not (tmp_path / f"x.{fmt}").exists()


def test_unknown_output_format_and_bad_file():
    r = vnet("diagram", ROOT / "examples" / "fig10-bridge.yaml", "-o", "/tmp/x.jpeg")
    assert r.returncode == 1 and b"cannot tell the format of '/tmp/x.jpeg'" in r.stderr
    r = vnet("diagram", ROOT / "tests" / "golden" / "errors" / "vni-zero.yaml")
    assert r.returncode == 2 and b"vni: 0 is out of range" in r.stderr


def test_committed_diagrams_are_up_to_date(tmp_path):
    """examples/diagrams holds each example's DOT and SVG, as
    scripts/diagrams.sh draws them: regenerate after a change."""
    assert sorted(p.stem for p in DIAGRAMS.glob("*.dot")) == [e.stem for e in EXAMPLES]
    for e in EXAMPLES:
        r = vnet("diagram", e)
        assert r.stdout.decode() == (DIAGRAMS / f"{e.stem}.dot").read_text(), \
            f"{e.stem}: run scripts/diagrams.sh"
        svg = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True, check=True).stdout
        assert svg == (DIAGRAMS / f"{e.stem}.svg").read_bytes(), f"{e.stem}.svg: run scripts/diagrams.sh"


def test_graphviz_is_there():
    """The tests above need Graphviz; setup installs it (never skipped)."""
    assert shutil.which("dot"), "Graphviz missing: scripts/setup.sh installs it"
