"""Every example of the reference article's figures: applied, proven with
real traffic (and isolation where the figure promises it), idempotent,
destroyed without a trace."""
import json
import os

import pytest

from vnet.check.can import frame_passes
from vnet.check.ping import ping

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")

CASES = {
    "fig9-veth.yaml": ([("net1", "10.0.9.2"), ("net2", "10.0.9.1")], []),
    "fig10-bridge.yaml": ([("net1", "10.0.10.2"), ("net2", "10.0.10.1")], []),
    "fig8-vxlan.yaml": ([("host1", "10.8.0.2"), ("host2", "10.8.0.1")], []),
    "fig11-macvlan-bridge.yaml": ([("net1", "10.0.11.2"), ("net2", "10.0.11.1"), ("net1", "10.0.11.254"),
                                   ("outside", "10.0.11.2")], []),
    "fig12-macvlan-private.yaml": ([("net1", "10.0.12.254"), ("net2", "10.0.12.254")],
                                   [("net1", "10.0.12.2"), ("net2", "10.0.12.1")]),
    "fig19-macvtap.yaml": ([], []),
    "fig6-vlan.yaml": ([("h1", "10.6.2.2"), ("h2", "10.6.2.1")], [("h1", "10.6.2.3"), ("h3", "10.6.2.2")]),
    "fig6-qinq.yaml": ([("pe1", "10.100.0.2")], []),
    "fig2-bond.yaml": ([("server", "10.2.0.254")], []),
    "fig16-ipvlan-l2.yaml": ([("ns1", "10.16.0.2"), ("ns2", "10.16.0.1")], []),
    "fig18-ipvlan-l3.yaml": ([("ns1", "10.18.2.1"), ("ns2", "10.18.1.1")], []),
    "bridge-vlans.yaml": ([("a", "10.10.0.2"), ("b", "10.10.0.1")], [("a", "10.10.0.3"), ("c", "10.10.0.2")]),
    "fig3-team.yaml": ([("server", "10.3.0.254")], []),
    "fig20-macsec.yaml": ([("net1", "10.20.0.2"), ("net2", "10.20.0.1")], []),
    # CAN: frames (AF_CAN) from one (netns, device) to another
    "vcan.yaml": ([], [], [(("can1", "vcan0"), ("can1", "vcan0"))]),
    "vxcan.yaml": ([], [], [(("net1", "vxcan1"), ("net2", "vxcan2")), (("net2", "vxcan2"), ("net1", "vxcan1"))]),
}


def needs(example):
    """What an example needs of the kernel: what its kinds say they need."""
    import vnet
    t = vnet.load(os.path.join(EX, example))
    return sorted(set().union(*(i.kind_module.kernel_features(i) for i in t.interfaces)))


@pytest.mark.parametrize("example", [pytest.param(e, marks=pytest.mark.needs(*needs(e))) for e in sorted(CASES)])
def test_example(sandbox, example):
    path = os.path.join(EX, example)
    before = sandbox.dump_all()
    sandbox.vnet("apply", path)
    reach, isolated, *more = CASES[example]
    for src, dst in (more[0] if more else []):
        assert frame_passes(src, dst), f"{example}: a CAN frame sent on {src} does not arrive on {dst}"
    for ns, addr in reach:
        assert ping(ns, addr, timeout=2), f"{example}: {ns} cannot reach {addr}"
    for ns, addr in isolated:
        assert not ping(ns, addr, timeout=1), f"{example}: {ns} reaches {addr}, which must be isolated"
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)
    assert plan["changes"] == [], f"second plan not empty: {plan}"
    again = json.loads(sandbox.vnet("apply", "--json", path).stdout)
    assert again["applied"] == [] and again["requests"] == 0
    sandbox.vnet("destroy", path)
    assert sandbox.dump_all() == before


@pytest.mark.needs("vxlan", "veth")
def test_fig8_vxlan_carries_overlay_in_udp(sandbox):
    """The overlay ping crosses the underlay as VXLAN (UDP 4789), proven by
    the underlay's counters moving while the direct path does not exist."""
    path = os.path.join(EX, "fig8-vxlan.yaml")
    sandbox.vnet("apply", path)
    routes = sandbox.sh("ip -n host1 route")
    assert "10.8.0.0/24 dev vx0" in routes
    def tx(dev):
        return json.loads(sandbox.sh(f"ip -n host1 -j -s link show {dev}"))[0]["stats64"]["tx"]["packets"]
    before = tx("vx0"), tx("eth0")
    for _ in range(3):
        assert ping("host1", "10.8.0.2")
    assert tx("vx0") >= before[0] + 3
    assert tx("eth0") >= before[1] + 3   # each overlay packet went out on the underlay


@pytest.mark.needs("macvtap", "bridge", "veth")
def test_fig19_show_reports_tap_devices(sandbox):
    path = os.path.join(EX, "fig19-macvtap.yaml")
    sandbox.vnet("apply", path)
    shown = json.loads(sandbox.vnet("show", "--json", path).stdout)["devices"]
    taps = {d["name"]: d for d in shown if d["kind"] == "macvtap"}
    links = sandbox.links()
    for name in ("macvtap0", "macvtap1"):
        assert taps[name]["tap_device"] == f"/dev/tap{links[name]['ifindex']}"
    assert links["tap0"]["master"] == "br0"
    human = sandbox.vnet("show", path).stdout
    assert f"/dev/tap{links['macvtap0']['ifindex']}" in human
