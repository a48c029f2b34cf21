"""Property-based: for random valid topologies built from the kinds this
machine's kernel has, apply then plan is empty (vnet observes what it
made exactly as it declared it), a second apply sends nothing, and destroy
leaves the sandbox as it was."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@st.composite
def topologies(draw):
    nss = draw(st.lists(st.sampled_from(["n1", "n2", "n3"]), unique=True, max_size=3))
    where = st.sampled_from([None] + nss)
    lines, names = [], set()

    def name(prefix):
        n = f"{prefix}{len(names)}"
        names.add(n)
        return n

    def ns_part(ns):
        return f", netns: {ns}" if ns else ""
    br_ns = draw(where)
    br = name("br")
    lines.append(f"  - {{name: {br}, kind: bridge{ns_part(br_ns)}, stp: {str(draw(st.booleans())).lower()}, "
                 f"ageing_time: {draw(st.integers(10, 1000))}}}")
    for _ in range(draw(st.integers(0, 3))):
        peer_ns = draw(where)
        v = name("v")
        mtu = draw(st.sampled_from(["", ", mtu: 1400", ", mtu: 9000"]))
        port = draw(st.sampled_from(["", ", hairpin: true"]))
        addr = draw(st.sampled_from(["", ", addresses: [10.90.%d.1/24]" % len(names)]))
        lines.append(f"  - {{name: {v}, kind: veth{ns_part(br_ns)}, master: {br}{port}{mtu}, "
                     f"peer: {{name: p{v}{ns_part(peer_ns)}{addr}}}}}")
        if draw(st.booleans()):
            mode = draw(st.sampled_from(["private", "vepa", "bridge", "source"]))
            src = ', source_macs: ["02:00:00:00:00:0a"]' if mode == "source" else ""
            lines.append(f"  - {{name: {name('m')}, kind: macvlan{ns_part(peer_ns)}, link: p{v}, mode: {mode}{src}}}")
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["tun", "tap"]))
        lines.append(f"  - {{name: {name('t')}, kind: {kind}{ns_part(draw(where))}, "
                     f"multi_queue: {str(draw(st.booleans())).lower()}}}")
    if draw(st.booleans()):
        lines.append(f"  - {{name: {name('vx')}, kind: vxlan{ns_part(br_ns)}, vni: {draw(st.integers(1, 16777215))}, "
                     f"remote: 192.0.2.{draw(st.integers(1, 254))}, dstport: {draw(st.sampled_from([4789, 8472]))}, "
                     f"learning: {str(draw(st.booleans())).lower()}, mtu: 1400}}")
    ns_line = f"namespaces: [{', '.join(nss)}]\n" if nss else ""
    return f"name: fz\n{ns_line}interfaces:\n" + "\n".join(lines) + "\n"


@pytest.mark.needs("bridge", "veth", "macvlan", "vxlan")
def test_random_topologies_apply_to_an_empty_plan_and_destroy_clean(sandbox):
    before = sandbox.dump_all()
    tried = []

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(topologies())
    def check(text):
        f = sandbox.write("fz.yaml", text)
        try:
            r = sandbox.vnet("apply", "--json", f, check=False)
            assert r.returncode == 0, f"{text}\n{r.stdout}{r.stderr}"
            assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == [], text
            assert json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"] == 0, text
        finally:
            sandbox.vnet("destroy", "fz", check=False)
        assert sandbox.dump_all() == before, text
        tried.append(text)
    check()
    assert len(tried) >= 10
