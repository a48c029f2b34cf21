"""Every host-kernel kind: created, observed, modified in place, re-created
where the kernel cannot change it in place, and destroyed. The oracle is
`ip -j -d`, what a user would look at."""
import json

from lab import apply_json, info, plan_json


def test_bridge_in_place_and_destroy(sandbox):
    f = sandbox.write("t.yaml", "name: kb\ninterfaces:\n  - {name: br0, kind: bridge, stp: false, priority: 1000, ageing_time: 100}\n")
    apply_json(sandbox, f)
    br = sandbox.links()["br0"]
    assert br["linkinfo"]["info_kind"] == "bridge"
    assert info(br)["stp_state"] == 0 and info(br)["priority"] == 1000 and info(br)["ageing_time"] == 10000
    ifindex = br["ifindex"]
    sandbox.write("t.yaml", "name: kb\ninterfaces:\n  - {name: br0, kind: bridge, stp: true, forward_delay: 4, priority: 1000, ageing_time: 100}\n")
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link br0")]
    assert "stp false -> true" in changes[0]["reason"]
    r = apply_json(sandbox, f)
    assert r["requests"] == 1
    br = sandbox.links()["br0"]
    assert br["ifindex"] == ifindex, "changed in place, not re-created"
    assert info(br)["stp_state"] == 1 and info(br)["forward_delay"] == 400
    assert plan_json(sandbox, f) == []
    sandbox.vnet("destroy", "kb")
    assert "br0" not in sandbox.links()


def test_veth_peer_in_namespace_mtu_in_place_rename_recreates(sandbox):
    f = sandbox.write("t.yaml", """name: kv
namespaces: [n1]
interfaces:
  - {name: v0, kind: veth, mtu: 1400, addresses: [10.1.0.1/24, 'fd00::1/64'], peer: {name: p0, netns: n1, mtu: 1400, addresses: [10.1.0.2/24]}}
""")
    apply_json(sandbox, f)
    v0 = sandbox.links()["v0"]
    p0 = sandbox.links("n1")["p0"]
    assert v0["mtu"] == 1400 and p0["mtu"] == 1400
    assert v0["link_index"] == p0["ifindex"] and "UP" in p0["flags"]
    addrs = {a["local"] for a in sandbox.ip_json(what="addr") if a["ifname"] == "v0" for a in a["addr_info"]}
    assert {"10.1.0.1", "fd00::1"} <= addrs
    sandbox.write("t.yaml", open(f).read().replace("mtu: 1400, addresses: [10.1.0.1/24", "mtu: 1300, addresses: [10.1.0.1/24"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link v0")]
    apply_json(sandbox, f)
    assert sandbox.links()["v0"]["mtu"] == 1300 and sandbox.links()["v0"]["ifindex"] == v0["ifindex"]
    sandbox.write("t.yaml", open(f).read().replace("name: p0", "name: p1"))
    changes = plan_json(sandbox, f)
    assert changes[0]["action"] == "recreate" and "peer is n1/p0, declared n1/p1" in changes[0]["reason"]
    apply_json(sandbox, f)
    assert "p1" in sandbox.links("n1") and "p0" not in sandbox.links("n1")
    assert plan_json(sandbox, f) == []
    sandbox.vnet("destroy", f)
    assert "v0" not in sandbox.links()
    assert sandbox.sh("ip netns list") == ""


def test_tun_and_tap(sandbox):
    f = sandbox.write("t.yaml", """name: kt
namespaces: [n1]
interfaces:
  - {name: br0, kind: bridge}
  - {name: tap0, kind: tap, owner: 4242, group: 4343, master: br0, mtu: 9000}
  - {name: tun0, kind: tun, netns: n1, multi_queue: true, addresses: [10.9.0.1/24]}
""")
    apply_json(sandbox, f)
    tap = sandbox.links()["tap0"]
    assert info(tap)["type"] == "tap" and info(tap)["user"] == 4242 and info(tap)["group"] == 4343
    assert tap["master"] == "br0" and tap["mtu"] == 9000 and "UP" in tap["flags"]
    tun = sandbox.links("n1")["tun0"]
    assert info(tun)["type"] == "tun" and info(tun)["multi_queue"] is True
    assert plan_json(sandbox, f) == []
    sandbox.write("t.yaml", open(f).read().replace("owner: 4242", "owner: 4244"))
    changes = plan_json(sandbox, f)
    assert changes[0]["action"] == "recreate" and changes[0]["object"] == "link tap0"
    apply_json(sandbox, f)
    tap = sandbox.links()["tap0"]
    assert info(tap)["user"] == 4244 and tap["master"] == "br0"
    sandbox.vnet("destroy", "kt")
    assert "tap0" not in sandbox.links()


def test_vxlan_in_place_recreate_and_fdb(sandbox):
    sandbox.external("eth1", "192.0.2.1/24")
    body = """name: kx
interfaces:
  - {name: eth1, kind: external}
  - {name: vx0, kind: vxlan, vni: 100, local: 192.0.2.1, remote: 192.0.2.2, dev: eth1, dstport: 4789, ttl: 10,
     fdb: [{dst: 192.0.2.3}, {mac: '02:00:00:00:00:05', dst: 192.0.2.4}]}
  - {name: mv0, kind: macvlan, link: vx0, mode: bridge}
"""
    f = sandbox.write("t.yaml", body)
    apply_json(sandbox, f)
    vx = sandbox.links()["vx0"]
    d = info(vx)
    assert d["id"] == 100 and d["local"] == "192.0.2.1" and d["remote"] == "192.0.2.2"
    assert d["port"] == 4789 and d["ttl"] == 10 and d["link"] == "eth1"
    fdb = sandbox.sh("bridge fdb show dev vx0")
    assert "00:00:00:00:00:00 dst 192.0.2.3" in fdb and "02:00:00:00:00:05 dst 192.0.2.4" in fdb
    # ttl and fdb change in place
    f = sandbox.write("t.yaml", body.replace("ttl: 10", "ttl: 20").replace("192.0.2.3", "192.0.2.9"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link vx0")]
    apply_json(sandbox, f)
    assert info(sandbox.links()["vx0"])["ttl"] == 20 and sandbox.links()["vx0"]["ifindex"] == vx["ifindex"]
    fdb = sandbox.sh("bridge fdb show dev vx0")
    assert "192.0.2.9" in fdb and "192.0.2.3" not in fdb
    # a new VNI re-creates it, and the macvlan on top with it
    f = sandbox.write("t.yaml", body.replace("vni: 100", "vni: 200"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes][:2] == [("recreate", "link vx0"), ("recreate", "link mv0")]
    assert "vni 100 -> 200 cannot change in place" in changes[0]["reason"]
    apply_json(sandbox, f)
    assert info(sandbox.links()["vx0"])["id"] == 200
    assert sandbox.links()["mv0"]["link"] == "vx0"
    assert plan_json(sandbox, f) == []
    sandbox.vnet("destroy", "kx")
    assert set(sandbox.links()) == {"lo", "eth1", "eth1-p"}


def test_macvlan_modes_source_and_macvtap(sandbox):
    sandbox.external("eth1")
    sandbox.external("eth2")
    body = """name: km
namespaces: [n1]
interfaces:
  - {name: eth1, kind: external}
  - {name: eth2, kind: external}
  - {name: mpriv, kind: macvlan, link: eth1, mode: private}
  - {name: mvepa, kind: macvlan, link: eth1, mode: vepa}
  - {name: mbr, kind: macvlan, link: {name: eth1}, mode: bridge, netns: n1, addresses: [10.3.0.1/24]}
  - {name: msrc, kind: macvlan, link: eth1, mode: source, source_macs: ['02:00:00:00:00:01', '02:00:00:00:00:02']}
  - {name: mpass, kind: macvlan, link: eth2, mode: passthru}
  - {name: mvt0, kind: macvtap, link: eth1, mode: bridge}
"""
    f = sandbox.write("t.yaml", body)
    apply_json(sandbox, f)
    links, n1 = sandbox.links(), sandbox.links("n1")
    assert info(links["mpriv"])["mode"] == "private"
    assert info(links["mvepa"])["mode"] == "vepa"
    assert info(n1["mbr"])["mode"] == "bridge"
    assert info(links["mpass"])["mode"] == "passthru"
    assert info(links["mvt0"])["mode"] == "bridge" and links["mvt0"]["linkinfo"]["info_kind"] == "macvtap"
    assert "02:00:00:00:00:02" in sandbox.sh("ip -d link show msrc")
    assert plan_json(sandbox, f) == []
    shown = {d["name"]: d for d in json.loads(sandbox.vnet("show", "--json", f).stdout)["devices"]}
    assert shown["mvt0"]["tap_device"] == f"/dev/tap{links['mvt0']['ifindex']}"
    assert shown["mbr"]["options"]["link"] == "host/eth1" and shown["mbr"]["netns"] == "n1"
    # mode changes in place (not to or from passthru), source MACs too
    f = sandbox.write("t.yaml", body.replace("mode: private", "mode: bridge")
                      .replace("'02:00:00:00:00:02'", "'02:00:00:00:00:03'"))
    changes = plan_json(sandbox, f)
    assert sorted(c["object"] for c in changes) == ["link mpriv", "link msrc"]
    assert all(c["action"] == "modify" for c in changes)
    apply_json(sandbox, f)
    assert info(sandbox.links()["mpriv"])["mode"] == "bridge"
    assert sandbox.links()["mpriv"]["ifindex"] == links["mpriv"]["ifindex"]
    src = sandbox.sh("ip -d link show msrc")
    assert "02:00:00:00:00:03" in src and "02:00:00:00:00:02" not in src
    sandbox.vnet("destroy", "km")
    assert set(sandbox.links()) == {"lo", "eth1", "eth1-p", "eth2", "eth2-p"}
    assert sandbox.sh("ip netns list") == ""
