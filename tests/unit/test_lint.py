"""Lint: each rule with the text a user reads. Errors stop validation with
exit code 2 (the golden error files hold more); warnings let it pass and
are printed."""
import subprocess
import sys
from pathlib import Path

import pytest

from vnet.errors import SpecError
from vnet.topofile.loader import load_text

ROOT = Path(__file__).resolve().parents[2]


def warnings_of(text):
    return load_text(text.encode(), "lab.yaml").warnings


def errors_of(text):
    with pytest.raises(SpecError) as e:
        load_text(text.encode(), "lab.yaml")
    return str(e.value)


def test_two_receive_handlers_on_one_device_is_an_error():
    msg = errors_of("""name: t
interfaces:
  - {name: br0, kind: bridge}
  - {name: eth1, kind: veth, master: br0, peer: {name: eth1p}}
  - {name: mv0, kind: macvlan, link: eth1, mode: bridge}
""")
    assert ("lab.yaml: interfaces[1] (eth1): device 'eth1' would need 2 receive handlers: bridge port (eth1); "
            "macvlan/macvtap (mv0). The kernel gives a device one (the second fails with EBUSY)") in msg


def test_vxlan_mtu_without_room_for_the_overhead_is_an_error():
    msg = errors_of("""name: t
interfaces:
  - {name: u0, kind: veth, peer: {name: u1}, addresses: [192.0.2.1/24]}
  - {name: vx0, kind: vxlan, vni: 5, remote: 192.0.2.2, dev: u0, mtu: 1500}
""")
    assert ("lab.yaml: interfaces[1] (vx0).mtu: 1500 leaves no room for the 50 bytes VXLAN adds on u0 "
            "(mtu 1500): at most 1450, or raise u0's mtu to 1550") in msg


def test_vxlan_without_underlay_warns():
    w = warnings_of("""name: t
interfaces:
  - {name: vx0, kind: vxlan, vni: 5, remote: 192.0.2.2}
""")
    assert w == ["lab.yaml: interfaces[0] (vx0).mtu: no underlay dev: the MTU is 1500 and outer packets reach "
                 "1550 bytes, more than a 1500-byte underlay carries; give dev (the kernel then sizes the MTU) "
                 "or mtu: 1450"]


VEPA = """name: t
namespaces: [n1, n2, sw]
interfaces:
  - {name: up, kind: veth, peer: {name: d0, netns: sw, master: br0, hairpin: HAIRPIN}}
  - {name: br0, kind: bridge, netns: sw}
  - {name: m1, kind: macvlan, link: {name: up}, mode: vepa, netns: n1, addresses: [10.1.0.1/24]}
  - {name: m2, kind: macvlan, link: {name: up}, mode: vepa, netns: n2, addresses: [10.1.0.2/24]}
checks:
  - {name: talk, ping: {from: n1, to: 10.1.0.2}}
"""


def test_vepa_expected_to_talk_without_hairpin_warns():
    w = warnings_of(VEPA.replace("HAIRPIN", "false"))
    assert w == ["lab.yaml: checks[0] (talk): n1/m1 and n2/m2 are VEPA macvlans of 'up': their frames to each "
                 "other leave through it and come back only if the switch upstream reflects them (hairpin), "
                 "which this file does not set up; 'talk' expects them to talk. Put hairpin: true on the bridge "
                 "port on the other end of 'up', or use mode bridge"]
    assert warnings_of(VEPA.replace("HAIRPIN", "true")) == []


def test_passthru_shared_is_an_error():
    msg = errors_of("""name: t
interfaces:
  - {name: up, kind: veth, peer: {name: up2}}
  - {name: m1, kind: macvlan, link: up, mode: passthru}
  - {name: m2, kind: macvlan, link: up, mode: bridge}
""")
    assert "lab.yaml: interfaces[1] (m1).mode: passthru takes the whole of 'up', which 1 other macvlan/macvtap also uses" in msg


def test_ipvlan_l3_without_routes_warns():
    w = warnings_of("""name: t
namespaces: [a, b]
interfaces:
  - {name: low, kind: dummy}
  - {name: ip0, kind: ipvlan, link: {name: low}, mode: l3, netns: a, addresses: [10.1.1.1/24]}
  - {name: ip0, kind: ipvlan, link: {name: low}, mode: l3, netns: b, addresses: [10.1.2.1/24]}
routes:
  - {netns: b, to: default, dev: ip0}
""")
    assert w == ["lab.yaml: interfaces[1] (ip0): a/ip0 is in ipvlan l3 mode, which resolves no neighbours: it "
                 "reaches b/ip0 (10.1.2.1) only with a route; add {netns: a, to: 10.1.2.0/24, dev: ip0} to routes"]


def test_validate_prints_warnings_and_passes(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text(VEPA.replace("HAIRPIN", "false"))
    r = subprocess.run([sys.executable, "-m", "vnet", "validate", str(f)], capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0
    assert r.stderr.startswith(f"warning: {f}: checks[0] (talk): n1/m1 and n2/m2 are VEPA macvlans")


def test_examples_have_no_warnings():
    import vnet
    for f in sorted((ROOT / "examples").glob("*.yaml")):
        assert vnet.load(str(f)).warnings == [], f.name


def test_an_ipvtap_with_its_lower_device_in_another_namespace_is_an_error():
    """The kernel reports an ipvtap's lower device without its namespace:
    the apply could not be verified. An ipvlan may."""
    msg = errors_of("""name: t
namespaces: [a]
interfaces:
  - {name: low, kind: dummy}
  - {name: ivt0, kind: ipvtap, link: {name: low}, netns: a, mode: l2}
  - {name: ivt1, kind: ipvtap, link: low, mode: l2}
  - {name: iv0, kind: ipvlan, link: {name: low}, netns: a, mode: l2}
""")
    assert ("lab.yaml: interfaces[1] (ivt0).link: must be in the ipvtap's own namespace: the kernel does not say "
            "which namespace an ipvtap's lower device is in") in msg
    assert "ivt1" not in msg and "iv0" not in msg


def test_a_bridge_port_carrying_an_ipvlan_is_an_error():
    msg = errors_of("""name: t
interfaces:
  - {name: br0, kind: bridge}
  - {name: d0, kind: dummy, master: br0}
  - {name: iv0, kind: ipvlan, link: d0, mode: l2}
""")
    assert "device 'd0' would need 2 receive handlers: bridge port (d0); ipvlan/ipvtap (iv0)" in msg


# ---- what the kernel refuses, found before anything is touched (issue 19) ----
# (more cases with their texts: tests/golden/errors/lint-*.yaml, route-*.yaml,
# external-in-created-namespace.yaml, tunnels-one-listen-address.yaml)

def test_onlink_route_parsed_and_needs_a_device():
    t = load_text(b"name: t\nnamespaces: [n]\ninterfaces:\n  - {name: d0, kind: dummy, netns: n}\nroutes:\n"
                  b"  - {netns: n, to: default, via: 192.0.2.1, dev: d0, onlink: true}\n"
                  b"  - {netns: n, to: 10.0.0.0/8, dev: d0}\n", "lab.yaml")
    assert [r.onlink for r in t.routes] == [True, False]
    msg = errors_of("name: t\nroutes:\n  - {to: default, via: 192.0.2.1, onlink: true}\n")
    assert msg == "lab.yaml: routes[0].onlink: says the gateway (via) is on the link of dev: give both"


def test_onlink_is_in_the_schema():
    from vnet.topofile.schema import schema
    route = schema()["properties"]["routes"]["items"]["properties"]
    assert route["onlink"]["type"] == "boolean" and route["onlink"]["default"] is False


def test_a_gateway_in_the_host_namespace_is_not_judged():
    """The host holds addresses the file does not list (eth0's)."""
    t = load_text(b"name: t\nroutes:\n  - {to: 10.9.0.0/16, via: 192.168.1.1}\n", "lab.yaml")
    assert t.routes[0].via is not None


def test_onlink_through_a_device_that_is_down():
    msg = errors_of("name: t\nnamespaces: [n]\ninterfaces:\n  - {name: d0, kind: dummy, netns: n, up: false}\n"
                    "routes:\n  - {netns: n, to: default, via: 192.0.2.1, dev: d0, onlink: true}\n")
    assert msg == ("lab.yaml: routes[0].dev: 'd0' is down (up: false): the kernel refuses a route through a "
                   "device that is down")


def test_a_check_naming_a_device_or_expectation_that_does_not_exist():
    msg = errors_of("name: t\nnamespaces: [n1]\ninterfaces:\n  - {name: veth1, kind: veth, netns: n1, "
                    "peer: {name: veth2, netns: n1}}\nchecks:\n"
                    "  - {name: p, ping: {from: n1, to: 10.0.0.1}, expect: reachble}\n"
                    "  - {capture: {netns: n1, dev: veth3, during: p, vlan: 5}}\n"
                    "  - {can: {from: {netns: n1, dev: vcan0}, to: {netns: n1, dev: veth2}}}\n")
    assert msg.splitlines() == [
        "lab.yaml: checks[0] (p).expect: 'reachble' is not one of reachable, unreachable (did you mean 'reachable'?)",
        "lab.yaml: checks[1].capture.dev: device 'veth3' in namespace n1 is neither declared nor external "
        "(did you mean 'veth2'?)",
        "lab.yaml: checks[2].can.from.dev: device 'vcan0' in namespace n1 is neither declared nor external"]


def test_a_bond_primary_that_is_its_port_passes():
    t = load_text(b"name: t\ninterfaces:\n  - {name: bond0, kind: bond, mode: active-backup, primary: p0}\n"
                  b"  - {name: p0, kind: veth, master: bond0, peer: {name: p0x}}\n", "lab.yaml")
    assert t.interfaces[0].options["primary"].name == "p0"


def test_one_vni_on_one_port_in_two_namespaces_or_families_passes():
    t = load_text(b"name: t\nnamespaces: [n]\ninterfaces:\n"
                  b"  - {name: vx0, kind: vxlan, vni: 7, remote: 192.0.2.2, mtu: 1400}\n"
                  b"  - {name: vx1, kind: vxlan, vni: 7, remote: 192.0.2.2, mtu: 1400, netns: n}\n"
                  b"  - {name: vx2, kind: vxlan, vni: 7, remote: 'fd00::2', mtu: 1400}\n", "lab.yaml")
    assert len(t.interfaces) == 3
