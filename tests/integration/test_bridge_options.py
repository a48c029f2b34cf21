"""Bridge and bridge-port options end to end, against what `ip -d -j link
show` and `bridge -d -j link show` say: applied, planned empty, each changed
in place, exported and re-applied, and built by the `vnet script` commands
run by bash, each giving the same kernel state. Bad values are exit 2."""
import json
import os

import pytest
from lab import apply_json, export_round_trip, info, plan_json

BRIDGE = {"stp": True, "hello_time": 3, "max_age": 30, "forward_delay": 5, "ageing_time": 120, "priority": 4096,
          "group_fwd_mask": "0x4000", "mcast_snooping": False, "mcast_querier": True}
# the same, as `ip -d -j link show` writes them (times in centiseconds)
IP_BRIDGE = {"stp_state": 1, "hello_time": 300, "max_age": 3000, "forward_delay": 500, "ageing_time": 12000,
             "priority": 4096, "group_fwd_mask": "0x4000", "mcast_snooping": 0, "mcast_querier": 1}
PORT = {"hairpin": True, "isolated": True, "learning": False, "flood": False, "mcast_flood": False,
        "bcast_flood": False, "neigh_suppress": True, "guard": True, "root_block": True, "fastleave": True,
        "proxy_arp": True, "cost": 77, "priority": 9}


def _file(bridge=BRIDGE, port=PORT):
    b = ", ".join(f"{k}: {json.dumps(v) if not isinstance(v, str) else v}" for k, v in bridge.items())
    p = ", ".join(f"{k}: {json.dumps(v)}" for k, v in port.items())
    return f"""name: bo
namespaces: [n1]
interfaces:
  - {{name: br0, kind: bridge, {b}}}
  - {{name: v0, kind: veth, master: br0, {p}, peer: {{name: e0, netns: n1}}}}
  - {{name: v1, kind: veth, master: br0, peer: {{name: e1, netns: n1}}}}
"""


def _bridge(sandbox):
    return info(sandbox.links()["br0"])


def _ports(sandbox):
    """Each port's options, as `ip -d -j link show` gives them."""
    return {n: ln["linkinfo"]["info_slave_data"] for n, ln in sandbox.links().items()
            if ln.get("linkinfo", {}).get("info_slave_kind") == "bridge"}


def _state(sandbox):
    """What a user compares: the bridge's options and each port's."""
    keep = set(IP_BRIDGE)
    pk = set(PORT) | {"cost", "priority"}
    return ({k: v for k, v in _bridge(sandbox).items() if k in keep},
            {n: {k: v for k, v in p.items() if k in pk} for n, p in _ports(sandbox).items()})


def _expect_port(p, port):
    for k, v in port.items():
        assert p[k] == v, (k, p[k], v)


def test_bridge_and_port_options_apply_change_export_script(sandbox):
    f = sandbox.write("t.yaml", _file())
    apply_json(sandbox, f)
    br = _bridge(sandbox)
    for k, v in IP_BRIDGE.items():
        assert br[k] == v, (k, br[k], v)
    ports = _ports(sandbox)
    _expect_port(ports["v0"], PORT)
    # the other port keeps the kernel's defaults
    _expect_port(ports["v1"], {"hairpin": False, "isolated": False, "learning": True, "flood": True, "priority": 32})
    assert plan_json(sandbox, f) == []
    ifindex = sandbox.links()["br0"]["ifindex"]
    before = _state(sandbox)

    # each option changed: in place, one modify, nothing re-created
    changed_b = {"stp": False, "hello_time": 4, "max_age": 25, "forward_delay": 6, "ageing_time": 200,
                 "priority": 8192, "group_fwd_mask": "0x8", "mcast_snooping": True, "mcast_querier": False}
    changed_p = {k: (not v if isinstance(v, bool) else v + 1) for k, v in PORT.items()}
    sandbox.write("t.yaml", _file(changed_b, changed_p))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link br0"), ("modify", "port v0")]
    assert "hello_time 3 -> 4" in changes[0]["reason"] and "group_fwd_mask 0x4000 -> 0x8" in changes[0]["reason"]
    assert "isolated true -> false" in changes[1]["reason"] and "cost 77 -> 78" in changes[1]["reason"]
    apply_json(sandbox, f)
    assert sandbox.links()["br0"]["ifindex"] == ifindex
    br = _bridge(sandbox)
    assert (br["stp_state"], br["hello_time"], br["max_age"], br["group_fwd_mask"], br["mcast_snooping"]) == \
        (0, 400, 2500, "0x8", 1)
    _expect_port(_ports(sandbox)["v0"], changed_p)
    assert plan_json(sandbox, f) == []

    # back, then export: the export plans empty and re-builds the same state
    sandbox.write("t.yaml", _file())
    apply_json(sandbox, f)
    assert _state(sandbox) == before
    export_round_trip(sandbox, "bo", ("hello_time: 3", "max_age: 30", "group_fwd_mask: 16384", "mcast_snooping: false",
                                      "isolated: true", "learning: false", "cost: 77"), lambda: _state(sandbox), before)

    # the `ip`/`bridge` script, run by bash, builds the same
    script = sandbox.vnet("script", f).stdout
    assert "hello_time 300" in script and "group_fwd_mask 0x4000" in script
    assert "ip link set dev v0 type bridge_slave hairpin on guard on root_block on mcast_fast_leave on learning off" \
        in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _state(sandbox) == before


@pytest.mark.parametrize("field,value,says", [
    ("hello_time", 0, "br0).hello_time: 0 is out of range 1..10"),
    ("max_age", 41, "br0).max_age: 41 is out of range 6..40"),
    ("group_fwd_mask", 1, "br0).group_fwd_mask: 0x1 sets bit 0, 1 or 2"),
    ("mcast_snooping", "maybe", "br0).mcast_snooping: expected true or false"),
    ("vlan_protocol", "802.1x", "br0).vlan_protocol: '802.1x' is not one of 802.1Q, 802.1ad"),
    ("vlan_default_pvid", 4095, "br0).vlan_default_pvid: 4095 is out of range 0..4094"),
])
def test_bad_bridge_option_is_exit_2(sandbox, field, value, says):
    f = sandbox.write("t.yaml", f"name: bo\ninterfaces:\n  - {{name: br0, kind: bridge, {field}: {value}}}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and f"{f}: interfaces[0] (br0" in r.stderr and says in r.stderr, r.stderr
    assert "br0" not in sandbox.links()


@pytest.mark.parametrize("field,value,says", [
    ("cost", 0, "v0).cost: 0 is out of range 1..65535"),
    ("priority", 64, "v0).priority: 64 is out of range 0..63"),
    ("isolated", "yes please", "v0).isolated: expected true or false"),
])
def test_bad_port_option_is_exit_2(sandbox, field, value, says):
    f = sandbox.write("t.yaml", "name: bo\ninterfaces:\n  - {name: br0, kind: bridge}\n"
                                f"  - {{name: v0, kind: veth, master: br0, {field}: {value}, peer: {{name: p0}}}}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert not {"br0", "v0"} & set(sandbox.links())


def test_port_option_without_master_is_exit_2(sandbox):
    f = sandbox.write("t.yaml", "name: bo\ninterfaces:\n  - {name: v0, kind: veth, isolated: true, peer: {name: p0}}\n")
    r = sandbox.vnet("validate", f, check=False)
    assert r.returncode == 2 and "interfaces[0] (v0).isolated: only for a port of a master: set master" in r.stderr


@pytest.mark.needs("bridge_vlan_filtering", "veth")
def test_bridge_vlan_protocol_and_default_pvid(sandbox):
    f = sandbox.write("t.yaml", """name: bv
interfaces:
  - {name: br0, kind: bridge, vlan_filtering: true, vlan_protocol: 802.1ad, vlan_default_pvid: 10}
  - {name: v0, kind: veth, master: br0, peer: {name: p0}}
""")
    apply_json(sandbox, f)
    br = _bridge(sandbox)
    assert (br["vlan_filtering"], br["vlan_protocol"], br["vlan_default_pvid"]) == (1, "802.1ad", 10)
    # a new port gets the default pvid, untagged
    vl = {e["ifname"]: e["vlans"] for e in json.loads(sandbox.sh("bridge -j vlan show"))}
    assert [(v["vlan"], sorted(v.get("flags", []))) for v in vl["v0"]] == [(10, ["Egress Untagged", "PVID"])]
    assert plan_json(sandbox, f) == []
    ifindex = sandbox.links()["br0"]["ifindex"]
    sandbox.write("t.yaml", open(f).read().replace("802.1ad", "802.1Q").replace("pvid: 10", "pvid: 20"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link br0")], changes
    apply_json(sandbox, f)
    br = sandbox.links()["br0"]
    assert br["ifindex"] == ifindex and (info(br)["vlan_protocol"], info(br)["vlan_default_pvid"]) == ("802.1Q", 20)
    assert plan_json(sandbox, f) == []
    exported = sandbox.vnet("export", "bv").stdout
    assert "vlan_protocol: 802.1Q" in exported and "vlan_default_pvid: 20" in exported, exported
    state = _state(sandbox)
    sandbox.vnet("destroy", "bv")
    script = sandbox.vnet("script", f).stdout
    assert "vlan_protocol 802.1Q vlan_default_pvid 20" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _state(sandbox) == state
    assert (info(sandbox.links()["br0"])["vlan_default_pvid"]) == 20
    assert os.path.exists(f)


def test_a_bridge_without_ports_told_the_kernels_defaults_keeps_its_carrier(sandbox):
    """As one made by `ip link add br0 type bridge`: a new bridge is not
    told the default priority (setting it runs the ports' state selection,
    which takes the carrier of a bridge without ports), by apply or by the
    script; routes through it are not linkdown. Found by random labs: an
    export writes the observed priority."""
    def text(ns):
        return (f"name: bc\nnamespaces: [{ns}]\ninterfaces:\n  - {{name: br0, kind: bridge, netns: {ns}, "
                "priority: 32768, stp: false, vlan_filtering: false, addresses: [10.70.0.1/24]}\n")
    sandbox.vnet("apply", sandbox.write("bc.yaml", text("n1")))
    sandbox.sh(sandbox.vnet("script", sandbox.write("bd.yaml", text("n3"))).stdout)
    sandbox.sh("ip netns add n2 && ip -n n2 link add br0 type bridge && ip -n n2 link set br0 up")
    for ns in ("n1", "n2", "n3"):
        flags = json.loads(sandbox.sh(f"ip -n {ns} -j link show br0"))[0]["flags"]
        assert "LOWER_UP" in flags and "NO-CARRIER" not in flags, (ns, flags)
    routes = json.loads(sandbox.sh("ip -n n1 -j route show 10.70.0.0/24"))
    assert routes and "linkdown" not in routes[0].get("flags", []), routes


def test_a_bridge_that_is_not_the_stp_root_plans_empty_with_the_root_s_timers(sandbox):
    """With STP on, a bridge that is not the root uses, and the kernel
    reports, the root's timers (learned from its hellos), not its own: the
    plan takes them as matching the file's, rather than setting the
    bridge's own again at every apply and never seeing them."""
    import time
    f = sandbox.write("stp.yaml", """name: stp
interfaces:
  - {name: bra, kind: bridge, stp: true, priority: 0, forward_delay: 30, hello_time: 2, max_age: 20}
  - {name: brb, kind: bridge, stp: true, priority: 61440, forward_delay: 4, hello_time: 1, max_age: 6}
  - {name: ja, kind: veth, master: bra, peer: {name: jb, master: brb}}
""")
    apply_json(sandbox, f)
    info = lambda: json.loads(sandbox.sh("ip -d -j link show brb"))[0]["linkinfo"]["info_data"]  # noqa: E731
    end = time.monotonic() + 15
    while info()["forward_delay"] != 3000 and time.monotonic() < end:
        time.sleep(0.2)
    assert (info()["forward_delay"], info()["hello_time"], info()["max_age"]) == (3000, 200, 2000), info()
    assert plan_json(sandbox, f) == []
    assert json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"] == 0
    sandbox.vnet("destroy", "stp")
