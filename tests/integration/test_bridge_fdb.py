"""Static entries of a bridge's forwarding database on its ports (`bridge
fdb add MAC dev PORT master static`, a port's `fdb` option) end to end,
against `bridge -j fdb show`: applied, carrying the only traffic a switch
that neither learns nor floods unknown unicast forwards, planned empty,
deleted by hand and put back, moved to another port (where traffic stops),
undone as they were after a later failure, exported and re-applied, built
by the `vnet script` commands run by bash, and gone with destroy."""
import json

import pytest

from lab import apply_json, export_round_trip, plan_json

# the ports neither learn MACs nor flood frames to unknown ones: ha and hb
# reach each other only through the entries the file gives
TOPO = """name: fdb
namespaces: [sw, ha, hb]
interfaces:
  - {name: br0, kind: bridge, netns: sw}
  - {name: pa, kind: veth, netns: sw, master: br0, learning: false, flood: false,
     fdb: [{mac: "02:00:00:00:0a:01"}, {mac: "02:00:00:00:0e:01", permanent: true}],
     peer: {name: eth0, netns: ha, mac: "02:00:00:00:0a:01", addresses: [10.27.0.1/24]}}
  - {name: pb, kind: veth, netns: sw, master: br0, learning: false, flood: false,
     fdb: [{mac: "02:00:00:00:0b:01"}],
     peer: {name: eth0, netns: hb, mac: "02:00:00:00:0b:01", addresses: [10.27.0.2/24]}}
"""
FAIL = "sysctls:\n  - {netns: sw, key: net.ipv4.ip_forward, value: notanumber}\n"
WANT = {("02:00:00:00:0a:01", "pa", "static"), ("02:00:00:00:0e:01", "pa", "permanent"),
        ("02:00:00:00:0b:01", "pb", "static")}


def entries(sandbox):
    """(MAC, port, state) of the static and permanent entries someone made on sw's ports."""
    own = {ln["address"] for ln in json.loads(sandbox.sh("ip -n sw -j link show"))}
    return {(e["mac"], e["ifname"], e["state"]) for e in json.loads(sandbox.sh("bridge -n sw -j fdb show br br0"))
            if "master" in e and e.get("state") in ("static", "permanent") and e["mac"] not in own
            and not e["mac"].startswith(("33:33:", "01:00:5e:"))}


def reached(sandbox):
    return "100% packet loss" not in sandbox.sh("ip netns exec ha ping -c 2 -i 0.2 -W 1 10.27.0.2; true")


def test_static_entries_forward_converge_move_undo_export_and_go(sandbox):
    f = sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert entries(sandbox) == WANT and plan_json(sandbox, f) == [] and reached(sandbox)

    # deleted by hand: frames to hb have nowhere to go; the plan puts it back
    sandbox.sh("bridge -n sw fdb del 02:00:00:00:0b:01 dev pb master")
    assert not reached(sandbox)
    assert [(c["object"], c["reason"]) for c in plan_json(sandbox, f)] == [
        ("port sw/pb", "fdb [] -> [02:00:00:00:0b:01 static]")]
    apply_json(sandbox, f)
    assert entries(sandbox) == WANT and reached(sandbox)

    # the entry on the wrong port (back where the frames come from): they stop
    moved = TOPO.replace('fdb: [{mac: "02:00:00:00:0b:01"}]', "fdb: []").replace(
        '{mac: "02:00:00:00:0e:01", permanent: true}]', '{mac: "02:00:00:00:0e:01", permanent: true}, '
                                                        '{mac: "02:00:00:00:0b:01"}]')
    g = sandbox.write("moved.yaml", moved)
    apply_json(sandbox, g)
    assert entries(sandbox) == WANT - {("02:00:00:00:0b:01", "pb", "static")} | {("02:00:00:00:0b:01", "pa", "static")}
    assert plan_json(sandbox, g) == [] and not reached(sandbox)
    apply_json(sandbox, f)
    assert entries(sandbox) == WANT and reached(sandbox)

    # an apply that moves one, drops one and adds one, then fails: all as they were
    bad = moved.replace('{mac: "02:00:00:00:0e:01", permanent: true}, ', '{mac: "02:00:00:00:0e:02"}, ') + FAIL
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert entries(sandbox) == WANT and plan_json(sandbox, f) == [] and reached(sandbox)

    # an entry someone adds on a port whose entries the file gives is removed
    sandbox.sh("bridge -n sw fdb add 02:00:00:00:0b:09 dev pb master static")
    assert [(c["object"], c["reason"]) for c in plan_json(sandbox, f)] == [
        ("port sw/pb", "fdb [02:00:00:00:0b:01 static, 02:00:00:00:0b:09 static] -> [02:00:00:00:0b:01 static]")]
    apply_json(sandbox, f)
    assert entries(sandbox) == WANT

    # export: the same entries; re-applied from nothing, the same kernel state
    export_round_trip(sandbox, "fdb", ("fdb:", "permanent: true", "'02:00:00:00:0b:01'"),
                      lambda: entries(sandbox), WANT)

    # the iproute2 script, run by bash (the export's round trip destroyed the lab)
    sandbox.sh(f"bash -e {sandbox.write('s.sh', sandbox.vnet('script', f).stdout)}")
    assert entries(sandbox) == WANT and reached(sandbox)
    sandbox.sh("ip netns del sw; ip netns del ha; ip netns del hb")

    apply_json(sandbox, f)
    sandbox.vnet("destroy", "fdb")
    assert sandbox.sh("ip netns list") == ""


def test_a_file_s_entries_are_checked_before_anything_changes(sandbox):
    for entries_, said in (
            ('{mac: "02:00:00:00:0b:01"}, {mac: "02:00:00:00:0b:01"}, {mac: "02:00:00:00:0b:03", vlan: 5}',
             ("interfaces[2] (pb).fdb[1]: 02:00:00:00:0b:01 is listed twice",
              "interfaces[2] (pb).fdb[2].vlan: bridge 'br0' does not filter VLANs")),
            ('{mac: "02:00:00:00:0a:01"}', ("interfaces[2] (pb).fdb[0]: 02:00:00:00:0a:01 is an entry of sw/pa already",)),
            ('{mac: "01:00:00:00:00:01"}', ("interfaces[2] (pb).fdb[0].mac: '01:00:00:00:00:01' is a multicast address",))):
        bad = TOPO.replace('fdb: [{mac: "02:00:00:00:0b:01"}]', f"fdb: [{entries_}]")
        r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        for s in said:
            assert s in r.stderr, r.stderr
        assert sandbox.sh("ip netns list") == ""


ALONE = """name: fa
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw}
  - {name: br1, kind: bridge, netns: sw}
  - {name: pc, kind: veth, netns: sw, master: br0, fdb: [{mac: "02:00:00:00:0c:01"}], peer: {name: qc, netns: sw}}
"""


def test_entries_alone_changed_or_moved_with_their_port_are_verified(sandbox):
    """A change of nothing but a port's entries is announced as neighbour
    messages, not link ones: the verification reads them again. A port
    moved to another bridge loses its entries in the kernel: they are set
    again on the new one."""
    f = sandbox.write("a.yaml", ALONE)
    apply_json(sandbox, f)
    got = lambda: {(e["mac"], e["ifname"], e.get("master"), e["state"]) for e in  # noqa: E731
                   json.loads(sandbox.sh("bridge -n sw -j fdb show")) if e.get("state") == "static"}
    assert got() == {("02:00:00:00:0c:01", "pc", "br0", "static")}
    sandbox.sh("bridge -n sw fdb del 02:00:00:00:0c:01 dev pc master")
    apply_json(sandbox, f)   # exit 0: verified
    assert got() == {("02:00:00:00:0c:01", "pc", "br0", "static")}
    g = sandbox.write("b.yaml", ALONE.replace('[{mac: "02:00:00:00:0c:01"}]', '[{mac: "02:00:00:00:0c:02"}]'))
    apply_json(sandbox, g)
    assert got() == {("02:00:00:00:0c:02", "pc", "br0", "static")}
    # moved to br1 with a later failure: back on br0 with what it had there
    # (the kernel drops a port's settings and entries as it leaves)
    f = sandbox.write("a.yaml", ALONE.replace("master: br0, fdb", "master: br0, learning: false, fdb"))
    apply_json(sandbox, f)
    learning = lambda: json.loads(sandbox.sh("ip -n sw -d -j link show pc"))[0][  # noqa: E731
        "linkinfo"]["info_slave_data"]["learning"]
    moved = ALONE.replace("master: br0, fdb", "master: br1, fdb")
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", moved + FAIL), check=False)
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert got() == {("02:00:00:00:0c:01", "pc", "br0", "static")} and learning() is False
    assert plan_json(sandbox, f) == []
    h = sandbox.write("c.yaml", moved)
    apply_json(sandbox, h)
    assert got() == {("02:00:00:00:0c:01", "pc", "br1", "static")} and plan_json(sandbox, h) == []


def test_an_undone_move_from_a_bridge_someone_made_puts_the_port_back_as_it_was(sandbox):
    sandbox.sh("ip link add brh type bridge && ip link set brh up")
    f = sandbox.write("h.yaml", """name: fh
interfaces:
  - {name: brh, kind: external}
  - {name: br1, kind: bridge}
  - {name: pc, kind: veth, master: brh, peer: {name: qc}}
""")
    apply_json(sandbox, f)
    sandbox.sh("ip link set pc type bridge_slave cost 7 learning off && "
               "bridge fdb add 02:00:00:00:0c:01 dev pc master static")
    port = lambda: json.loads(sandbox.sh("ip -d -j link show pc"))[0]["linkinfo"]["info_slave_data"]  # noqa: E731
    static = lambda: {(e["mac"], e["ifname"]) for e in json.loads(sandbox.sh("bridge -j fdb show"))  # noqa: E731
                      if e.get("state") == "static"}
    moved = sandbox.sh(f"cat {f}").replace("master: brh", "master: br1") + FAIL.replace("netns: sw, ", "")
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", moved), check=False)
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert (port()["cost"], port()["learning"]) == (7, False) and static() == {("02:00:00:00:0c:01", "pc")}
    assert json.loads(sandbox.sh("ip -j link show pc"))[0]["master"] == "brh"


@pytest.mark.needs("vxlan", "bridge", "veth")
def test_what_a_file_cannot_say_of_a_vxlan_s_entries_is_named_and_the_export_applies(sandbox):
    """A VXLAN that is a bridge port has a `fdb` of its own (its
    destinations), so a file cannot give it its bridge's static entries:
    an export names them rather than write them as the VXLAN's (which then
    fail to load: no dst). Its own entries are written with their VNI,
    port and device (`via`), made again, and the plan is empty."""
    sandbox.sh("ip netns add a && ip -n a link add br0 type bridge && ip -n a link set br0 up && "
               "ip -n a link add u0 type veth peer name u1 && ip -n a link set u0 up && ip -n a link set u1 up && "
               "ip -n a addr add 192.0.2.1/24 dev u0 && "
               "ip -n a link add vx0 type vxlan id 10 dstport 4789 local 192.0.2.1 dev u0 nolearning && "
               "ip -n a link set vx0 master br0 up && "
               "bridge -n a fdb add 02:00:00:00:11:14 dev vx0 master static && "
               "bridge -n a fdb add 02:00:00:00:11:16 dev vx0 dst 192.0.2.13 via u1 && "
               "bridge -n a fdb add 02:00:00:00:11:15 dev vx0 dst 192.0.2.12 vni 501 port 5555")
    r = sandbox.vnet("export", "--netns", "a")
    assert "vnet export: left out the bridge fdb entry 02:00:00:00:11:14 on vx0 (static) of namespace a" in r.stderr
    assert "02:00:00:00:11:16" not in r.stderr, r.stderr
    sandbox.sh("ip netns del a")
    path = sandbox.write("exported.yaml", r.stdout)
    sandbox.vnet("apply", path)
    got = {(e["mac"], e.get("dst"), e.get("vni"), e.get("port"))
           for e in json.loads(sandbox.sh("bridge -n a -j fdb show dev vx0")) if e["mac"].startswith("02:00:00:00:11")}
    assert got == {("02:00:00:00:11:16", "192.0.2.13", None, None), ("02:00:00:00:11:15", "192.0.2.12", 501, 5555)}
    assert [e.get("viaIf") for e in json.loads(sandbox.sh("bridge -n a -j fdb show dev vx0"))
            if e["mac"] == "02:00:00:00:11:16"] == ["u1"]
    assert plan_json(sandbox, path) == []


@pytest.mark.needs("vxlan", "veth")
def test_a_vxlan_entry_s_device_is_made_first_changed_in_place_and_checked(sandbox):
    """An fdb entry's `via` names a device of the VXLAN's namespace: made
    before the VXLAN (declared after it in the file), the entry changed in
    place to another, and one the file does not declare refused before
    anything changes."""
    def write(via):
        return sandbox.write("via.yaml", f"""name: via
namespaces: [a]
interfaces:
  - {{name: vx0, kind: vxlan, netns: a, vni: 10, local: 192.0.2.1, dev: u0, learning: false,
     fdb: [{{mac: "02:00:00:00:00:06", dst: 192.0.2.13, via: {via}}}]}}
  - {{name: u0, kind: veth, netns: a, addresses: [192.0.2.1/24], peer: {{name: u1, netns: a}}}}
""")
    vias = lambda: [e.get("viaIf") for e in json.loads(sandbox.sh("bridge -n a -j fdb show dev vx0"))  # noqa: E731
                    if e["mac"] == "02:00:00:00:00:06"]
    path = write("u1")
    apply_json(sandbox, path)
    assert vias() == ["u1"] and plan_json(sandbox, path) == []
    path = write("u0")
    assert [c["reason"] for c in plan_json(sandbox, path)] == [
        "fdb [192.0.2.13 via u1] -> [192.0.2.13 via u0]"]
    apply_json(sandbox, path)
    assert vias() == ["u0"] and plan_json(sandbox, path) == []
    r = sandbox.vnet("apply", write("u7"), check=False)
    assert r.returncode == 2 and "fdb[0].via: device 'u7' in namespace a is neither declared nor external" \
        in r.stderr, r.stderr
