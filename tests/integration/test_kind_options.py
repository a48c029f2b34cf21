"""Options other kinds gained beside the bridge's (issue 20): a VXLAN's
tos, ageing and udp_csum, a MACVLAN's nopromisc and bcqueuelen, against
`ip -d -j link show`: applied, changed in place where the kernel allows and
re-created where it refuses ("Cannot change UDP_CSUM flag"), exported and
re-applied, and built by the `vnet script` commands run by bash."""
import pytest
from lab import apply_json, export_round_trip, info, plan_json

TOPO = """name: ko
interfaces:
  - {name: vx0, kind: vxlan, vni: 42, remote: 192.0.2.2, dstport: 4789, tos: 1, ageing: 120, udp_csum: false}
"""


def _vx(sandbox):
    d = info(sandbox.links()["vx0"])
    return d["tos"], d["ageing"], d["udp_csum"]


def test_vxlan_tos_ageing_udp_csum(sandbox):
    f = sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert _vx(sandbox) == ("0x1", 120, False)   # tos 1: inherit, as iproute2 writes it
    assert plan_json(sandbox, f) == []
    ifindex = sandbox.links()["vx0"]["ifindex"]
    sandbox.write("t.yaml", TOPO.replace("tos: 1, ageing: 120", "tos: 16, ageing: 60"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link vx0")], changes
    apply_json(sandbox, f)
    assert _vx(sandbox) == ("0x10", 60, False) and sandbox.links()["vx0"]["ifindex"] == ifindex
    sandbox.write("t.yaml", TOPO.replace("udp_csum: false", "udp_csum: true"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("recreate", "link vx0")], changes
    assert "udp_csum false -> true cannot change in place" in changes[0]["reason"]
    apply_json(sandbox, f)
    assert _vx(sandbox) == ("0x1", 120, True)
    assert plan_json(sandbox, f) == []
    export_round_trip(sandbox, "ko", ("tos: 1", "ageing: 120", "udp_csum: true"), lambda: _vx(sandbox),
                      ("0x1", 120, True))
    script = sandbox.vnet("script", f).stdout
    assert "tos inherit ageing 120 udpcsum" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _vx(sandbox) == ("0x1", 120, True)


def test_bad_vxlan_option_is_exit_2(sandbox):
    f = sandbox.write("t.yaml", TOPO.replace("tos: 1", "tos: 256"))
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and f"{f}: interfaces[0] (vx0).tos: 256 is out of range 0..255" in r.stderr, r.stderr
    assert "vx0" not in sandbox.links()


MACVLAN = """name: km
interfaces:
  - {name: eth1, kind: external}
  - {name: eth2, kind: external}
  - {name: mv0, kind: macvlan, link: eth1, mode: passthru, nopromisc: true}
  - {name: mv1, kind: macvlan, link: eth2, mode: bridge, bcqueuelen: 500}
"""


def _mv(sandbox):
    links = sandbox.links()
    return (info(links["mv0"]).get("nopromisc", False), info(links["mv1"])["bcqueuelen"],
            "PROMISC" in links["eth1"]["flags"] or links["eth1"].get("promiscuity", 0) > 0)


def test_macvlan_nopromisc_and_bcqueuelen(sandbox):
    sandbox.external("eth1")
    sandbox.external("eth2")
    f = sandbox.write("t.yaml", MACVLAN)
    apply_json(sandbox, f)
    # passthru with nopromisc: the lower device is not made promiscuous
    assert _mv(sandbox) == (True, 500, False)
    assert plan_json(sandbox, f) == []
    ifindexes = {n: sandbox.links()[n]["ifindex"] for n in ("mv0", "mv1")}
    sandbox.write("t.yaml", MACVLAN.replace("nopromisc: true", "nopromisc: false").replace("500", "700"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link mv0"), ("modify", "link mv1")], changes
    apply_json(sandbox, f)
    assert _mv(sandbox) == (False, 700, True)
    assert {n: sandbox.links()[n]["ifindex"] for n in ("mv0", "mv1")} == ifindexes
    assert plan_json(sandbox, f) == []
    sandbox.write("t.yaml", MACVLAN)
    apply_json(sandbox, f)
    export_round_trip(sandbox, "km", ("nopromisc: true", "bcqueuelen: 500"), lambda: _mv(sandbox), (True, 500, False))
    script = sandbox.vnet("script", f).stdout
    assert "mode passthru flag nopromisc" in script and "mode bridge bcqueuelen 500" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _mv(sandbox) == (True, 500, False)


def test_nopromisc_outside_passthru_is_exit_2(sandbox):
    f = sandbox.write("t.yaml", MACVLAN.replace("mode: bridge, bcqueuelen: 500", "mode: bridge, nopromisc: true"))
    r = sandbox.vnet("validate", f, check=False)
    assert r.returncode == 2 and f"{f}: interfaces[3] (mv1).nopromisc: only for mode passthru (mode is bridge)" \
        in r.stderr, r.stderr


BONDS = """name: kb
namespaces: [n1]
interfaces:
  - {name: ab0, kind: bond, netns: n1, mode: active-backup, arp_interval: 200, arp_ip_target: [10.0.0.1, 10.0.0.2],
     arp_validate: all, primary_reselect: better, fail_over_mac: active, all_slaves_active: true, resend_igmp: 3,
     num_grat_arp: 2}
  - {name: ad0, kind: bond, netns: n1, mode: 802.3ad, miimon: 100, ad_actor_sys_prio: 100, ad_user_port_key: 5,
     ad_actor_system: "02:00:00:00:00:99"}
  - {name: rr0, kind: bond, netns: n1, mode: balance-rr, packets_per_slave: 4}
  - {name: e0, kind: veth, netns: n1, master: ab0, peer: {name: x0, netns: n1}}
  - {name: e1, kind: veth, netns: n1, master: ad0, peer: {name: x1, netns: n1}}
  - {name: e2, kind: veth, netns: n1, master: rr0, peer: {name: x2, netns: n1}}
"""
BOND_KEYS = ("mode", "arp_interval", "arp_ip_target", "arp_validate", "primary_reselect", "fail_over_mac",
             "all_slaves_active", "resend_igmp", "num_peer_notif", "packets_per_slave", "ad_actor_sys_prio",
             "ad_user_port_key", "ad_actor_system", "miimon")


def _bonds(sandbox):
    links = sandbox.links("n1")
    return {n: {k: info(links[n]).get(k) for k in BOND_KEYS} for n in ("ab0", "ad0", "rr0")}


@pytest.mark.needs("bond", "veth")
def test_bond_options(sandbox):
    f = sandbox.write("t.yaml", BONDS)
    apply_json(sandbox, f)
    b = _bonds(sandbox)
    assert {k: b["ab0"][k] for k in ("arp_interval", "arp_ip_target", "arp_validate", "primary_reselect",
                                     "fail_over_mac", "all_slaves_active", "resend_igmp", "num_peer_notif")} == \
        {"arp_interval": 200, "arp_ip_target": ["10.0.0.1", "10.0.0.2"], "arp_validate": "all",
         "primary_reselect": "better", "fail_over_mac": "active", "all_slaves_active": 1, "resend_igmp": 3,
         "num_peer_notif": 2}, b
    assert (b["ad0"]["ad_actor_sys_prio"], b["ad0"]["ad_user_port_key"], b["ad0"]["ad_actor_system"]) == \
        (100, 5, "02:00:00:00:00:99"), b
    assert b["rr0"]["packets_per_slave"] == 4, b
    assert plan_json(sandbox, f) == []
    want = _bonds(sandbox)
    # in place where the kernel allows it
    sandbox.write("t.yaml", BONDS.replace("arp_interval: 200", "arp_interval: 300").replace("resend_igmp: 3", "resend_igmp: 4")
                  .replace("packets_per_slave: 4", "packets_per_slave: 5").replace("10.0.0.2]", "10.0.0.3]"))
    changes = plan_json(sandbox, f)
    assert sorted((c["action"], c["object"]) for c in changes) == [("modify", "link n1/ab0"), ("modify", "link n1/rr0")], \
        changes
    apply_json(sandbox, f)
    b = _bonds(sandbox)
    assert (b["ab0"]["arp_interval"], b["ab0"]["resend_igmp"], b["ab0"]["arp_ip_target"], b["rr0"]["packets_per_slave"]) \
        == (300, 4, ["10.0.0.1", "10.0.0.3"], 5)
    assert plan_json(sandbox, f) == []
    # the 802.3ad actor only with the bond down: re-created
    sandbox.write("t.yaml", BONDS.replace("ad_user_port_key: 5", "ad_user_port_key: 6"))
    changes = plan_json(sandbox, f)
    assert changes[0]["action"] == "recreate" and "ad_user_port_key 5 -> 6 cannot change in place" \
        in changes[0]["reason"], changes
    apply_json(sandbox, f)
    assert _bonds(sandbox)["ad0"]["ad_user_port_key"] == 6
    assert plan_json(sandbox, f) == []
    sandbox.write("t.yaml", BONDS)
    apply_json(sandbox, f)
    assert _bonds(sandbox) == want
    export_round_trip(sandbox, "kb", ("arp_ip_target: [10.0.0.1, 10.0.0.2]", "fail_over_mac: active",
                                      "ad_actor_system: '02:00:00:00:00:99'", "packets_per_slave: 4"),
                      lambda: _bonds(sandbox), want)
    script = sandbox.vnet("script", f).stdout
    assert "arp_ip_target 10.0.0.1,10.0.0.2" in script and "all_slaves_active 1" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _bonds(sandbox) == want


PORT_MTU = """name: pm
interfaces:
  - {name: bo0, kind: bond, mode: active-backup, miimon: 100}
  - {name: d0, kind: dummy, master: bo0, mtu: 1280, mac: "02:00:00:00:0d:00"}
  - {name: d1, kind: dummy, master: bo0}
"""


@pytest.mark.needs("bond", "dummy")
def test_a_bonds_port_keeps_its_own_mtu_and_mac_through_apply_and_the_script(sandbox):
    # the bond gives a port its own MTU and MAC as it joins: the port's are set after
    f = sandbox.write("t.yaml", PORT_MTU)
    apply_json(sandbox, f)
    mtus = lambda: {n: sandbox.links()[n]["mtu"] for n in ("bo0", "d0", "d1")}
    assert mtus() == {"bo0": 1500, "d0": 1280, "d1": 1500}
    links = sandbox.links()
    assert links["d0"]["address"] == "02:00:00:00:0d:00" and links["d1"]["address"] == links["bo0"]["address"]
    assert plan_json(sandbox, f) == []
    sandbox.write("t.yaml", PORT_MTU.replace("master: bo0, mtu: 1280", "master: bo0, mtu: 1400"))
    apply_json(sandbox, f)
    assert mtus() == {"bo0": 1500, "d0": 1400, "d1": 1500}
    sandbox.vnet("destroy", "pm")
    script = sandbox.vnet("script", f).stdout
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert mtus() == {"bo0": 1500, "d0": 1400, "d1": 1500}, script
    assert sandbox.links()["d0"]["address"] == "02:00:00:00:0d:00", script


@pytest.mark.needs("bond", "dummy", "vxlan", "veth")
def test_a_bonds_port_keeps_its_own_mtu_as_the_bond_s_changes_is_undone_and_leaves(sandbox):
    # the kernel gives every port a bond's new MTU (bond_change_mtu), and a
    # port leaving the MTU it joined with, closed (bond_release): a port the
    # file gives an MTU keeps it through both, and through an undo, and one
    # that leaves is up again
    f = sandbox.write("t.yaml", PORT_MTU)
    apply_json(sandbox, f)
    mtus = lambda: {n: sandbox.links()[n]["mtu"] for n in ("bo0", "d0", "d1")}
    bigger = PORT_MTU.replace("mode: active-backup,", "mode: active-backup, mtu: 9000,")
    sandbox.write("t.yaml", bigger)
    apply_json(sandbox, f)
    assert mtus() == {"bo0": 9000, "d0": 1280, "d1": 9000}
    assert plan_json(sandbox, f) == []
    # a verification that fails (the kernel clamps the VXLAN's MTU) undoes the bond's change back
    sandbox.external("eth1")
    sandbox.write("t.yaml", PORT_MTU + "  - {name: eth1, kind: external}\n"
                  "  - {name: vx0, kind: vxlan, vni: 5, dev: eth1, mtu: 1500, local: 10.0.0.1, remote: 10.0.0.2}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 4 and "the apply was undone" in r.stderr, r.stdout + r.stderr
    assert mtus() == {"bo0": 9000, "d0": 1280, "d1": 9000}
    sandbox.write("t.yaml", bigger.replace("master: bo0, mtu: 1280", "master: bo0, mtu: 1400"))
    apply_json(sandbox, f)
    assert mtus() == {"bo0": 9000, "d0": 1400, "d1": 9000}
    sandbox.write("t.yaml", bigger.replace("master: bo0, mtu: 1280", "mtu: 1400"))
    apply_json(sandbox, f)   # d0 leaves: closed, back to the 1280 it joined with; then up, its own again
    assert mtus() == {"bo0": 9000, "d0": 1400, "d1": 9000} and "master" not in sandbox.links()["d0"]
    assert "UP" in sandbox.links()["d0"]["flags"]
    assert plan_json(sandbox, f) == []


@pytest.mark.parametrize("opts,says", [
    ("mode: 802.3ad, arp_interval: 100", "(b0).arp_interval: not in mode 802.3ad"),
    ("mode: active-backup, packets_per_slave: 2", "(b0).packets_per_slave: not in mode active-backup: the kernel "
                                                  "refuses it there (only in balance-rr)"),
    ("mode: active-backup, miimon: 100, arp_interval: 100", "(b0).arp_interval: give arp_interval or miimon"),
    ("mode: active-backup, arp_validate: sometimes", "(b0).arp_validate: 'sometimes' is not one of none"),
])
def test_bad_bond_option_is_exit_2(sandbox, opts, says):
    f = sandbox.write("t.yaml", f"name: kb\ninterfaces:\n  - {{name: b0, kind: bond, {opts}}}\n")
    r = sandbox.vnet("validate", f, check=False)
    assert r.returncode == 2 and says in r.stderr, r.stderr
