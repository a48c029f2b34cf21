"""Static and proxy neighbours (`ip neigh add ... nud permanent`, `ip
neigh add proxy`) end to end, against `ip -j neigh show`: applied, planned
empty, carrying real traffic where ARP is off, changed by hand and put back,
made again with a device made again, removed with the file, undone as they
were after a later failure, exported and re-applied, built by the `vnet
script` commands run by bash, shown, and removed by destroy (on a device
vnet does not own too), an entry someone else made left alone."""
import json
import os

from lab import apply_json, export_round_trip, plan_json

# a and b do not answer ARP: each reaches the other only by its static entry
TOPO = """name: nb
namespaces: [a, b]
interfaces:
  - {name: e0, kind: veth, netns: a, mac: "02:00:00:00:0a:01", arp: false, addresses: [10.5.0.1/24, "fd05::1/64"],
     peer: {name: e0, netns: b, mac: "02:00:00:00:0b:01", arp: false, addresses: [10.5.0.2/24]}}
neighbours:
  - {netns: a, dev: e0, address: 10.5.0.2, lladdr: "02:00:00:00:0b:01"}
  - {netns: b, dev: e0, address: 10.5.0.1, lladdr: "02:00:00:00:0a:01"}
  - {netns: a, dev: e0, address: "fd05::9", lladdr: "02:00:00:00:0b:09"}
  - {netns: a, dev: e0, address: 10.5.0.50, proxy: true}
"""


def entries(sandbox, ns):
    """(address, dev, lladdr, state or 'proxy') of the entries someone made in ``ns``."""
    out = {(n["dst"], n["dev"], n.get("lladdr"), tuple(n.get("state", ())))
           for n in json.loads(sandbox.sh(f"ip -n {ns} -j neigh show nud permanent"))}
    return out | {(n["dst"], n["dev"], None, ("proxy",)) for n in json.loads(sandbox.sh(f"ip -n {ns} -j neigh show proxy"))}


WANT_A = {("10.5.0.2", "e0", "02:00:00:00:0b:01", ("PERMANENT",)), ("fd05::9", "e0", "02:00:00:00:0b:09", ("PERMANENT",)),
          ("10.5.0.50", "e0", None, ("proxy",))}
WANT_B = {("10.5.0.1", "e0", "02:00:00:00:0a:01", ("PERMANENT",))}


def reached(sandbox):
    return "100% packet loss" not in sandbox.sh("ip netns exec a ping -c 2 -i 0.2 -W 1 10.5.0.2; true")


def test_neighbours_apply_carry_traffic_converge_and_go(sandbox):
    f = sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert entries(sandbox, "a") == WANT_A and entries(sandbox, "b") == WANT_B
    assert plan_json(sandbox, f) == [] and reached(sandbox)
    shown = json.loads(sandbox.vnet("show", "nb", "--json").stdout)["neighbours"]
    assert {"netns": "a", "dev": "e0", "address": "10.5.0.50", "lladdr": None, "proxy": True} in shown, shown

    # a MAC changed and an entry deleted by hand: no traffic; the plan puts both back
    sandbox.sh("ip -n a neigh replace 10.5.0.2 lladdr 02:00:00:00:0b:99 dev e0 nud permanent && "
               "ip -n b neigh del 10.5.0.1 dev e0")
    assert not reached(sandbox)
    assert sorted((c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, f)) == [
        ("create", "neighbour 10.5.0.1 dev b/e0", "missing"),
        ("modify", "neighbour 10.5.0.2 dev a/e0", "lladdr 02:00:00:00:0b:99 -> 02:00:00:00:0b:01")]
    apply_json(sandbox, f)
    assert reached(sandbox) and entries(sandbox, "a") == WANT_A and plan_json(sandbox, f) == []

    # the pair made again (its peer renamed: a new pair): the entries on it come back with it
    moved = TOPO.replace("peer: {name: e0, netns: b,", "peer: {name: e9, netns: b,").replace(
        "{netns: b, dev: e0,", "{netns: b, dev: e9,")
    g = sandbox.write("t.yaml", moved)
    apply_json(sandbox, g)
    assert entries(sandbox, "a") == WANT_A and plan_json(sandbox, g) == []
    apply_json(sandbox, sandbox.write("t.yaml", TOPO))

    # someone's entry stays; one removed from the file goes
    sandbox.sh("ip -n a neigh add 10.5.0.7 lladdr 02:00:00:00:0b:07 dev e0 nud permanent")
    h = sandbox.write("t.yaml", TOPO.replace('  - {netns: a, dev: e0, address: "fd05::9", lladdr: "02:00:00:00:0b:09"}\n',
                                             ""))
    assert [(c["action"], c["object"]) for c in plan_json(sandbox, h)] == [("delete", "neighbour fd05::9 dev a/e0")]
    apply_json(sandbox, h)
    assert entries(sandbox, "a") == WANT_A - {("fd05::9", "e0", "02:00:00:00:0b:09", ("PERMANENT",))} | {
        ("10.5.0.7", "e0", "02:00:00:00:0b:07", ("PERMANENT",))}
    sandbox.sh("ip -n a neigh del 10.5.0.7 dev e0")
    apply_json(sandbox, sandbox.write("t.yaml", TOPO))

    # an apply that deletes one, changes one and adds one, then fails, puts them back as they were
    bad = TOPO.replace('"fd05::9", lladdr: "02:00:00:00:0b:09"', '"fd05::8", lladdr: "02:00:00:00:0b:08"') \
        .replace('address: 10.5.0.2, lladdr: "02:00:00:00:0b:01"', 'address: 10.5.0.2, lladdr: "02:00:00:00:0b:02"')
    bad += "sysctls:\n  - {netns: a, key: net.ipv4.ip_forward, value: notanumber}\n"
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert entries(sandbox, "a") == WANT_A and plan_json(sandbox, f) == []

    # export: the same entries; re-applied from nothing, the same kernel state
    export_round_trip(sandbox, "nb", ("neighbours:", "proxy: true", "lladdr: '02:00:00:00:0b:09'"),
                      lambda: (entries(sandbox, "a"), entries(sandbox, "b")), (WANT_A, WANT_B))

    # the iproute2 script, run by bash
    script = sandbox.vnet("script", f).stdout
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert entries(sandbox, "a") == WANT_A and entries(sandbox, "b") == WANT_B


def test_an_entry_on_a_device_vnet_does_not_own_goes_with_destroy(sandbox):
    sandbox.sh("ip link add x0 type veth peer name x1")
    f = sandbox.write("h.yaml", "name: h\ninterfaces: [{name: x0, kind: external}]\n"
                                "neighbours: [{dev: x0, address: 10.7.7.7, lladdr: '02:00:00:00:07:07'}]\n")
    apply_json(sandbox, f)
    assert "10.7.7.7 lladdr 02:00:00:00:07:07 PERMANENT" in sandbox.sh("ip neigh show dev x0")
    sandbox.vnet("destroy", "h")
    assert "10.7.7.7" not in sandbox.sh("ip neigh show dev x0")


BASE = """name: nr
namespaces: [a]
interfaces:
  - {name: e0, kind: veth, netns: a, addresses: [10.6.0.1/24], peer: {name: e1, netns: a}}
"""
ENTRY = "neighbours:\n  - {netns: a, dev: e0, address: 10.6.0.2, lladdr: '02:00:00:00:06:02'}\n"
FAIL = "sysctls:\n  - {netns: a, key: net.ipv4.ip_forward, value: notanumber}\n"


def all_entries(sandbox):
    return {(n["dst"], n.get("lladdr"), tuple(n.get("state", ()))) for n in
            json.loads(sandbox.sh("ip -n a -4 -j neigh show nud all dev e0"))}


def test_an_undo_puts_entries_back_as_they_were_and_vnet_never_takes_someone_s(sandbox):
    with_entry = sandbox.write("v1.yaml", BASE + ENTRY)
    apply_json(sandbox, with_entry)
    made = {("10.6.0.2", "02:00:00:00:06:02", ("PERMANENT",))}
    assert all_entries(sandbox) == made

    # the device deleted (its entry with it), then a failure: both come back
    gone = BASE.split("  - {name: e0")[0] + "  - {name: x0, kind: veth, netns: a, peer: {name: x1, netns: a}}\n" + FAIL
    r = sandbox.vnet("apply", sandbox.write("v5.yaml", gone), check=False)
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert all_entries(sandbox) == made and plan_json(sandbox, with_entry) == []

    # the pair made again without the entry: the record forgets it, so an
    # entry someone makes there later is not vnet's to delete
    renamed = BASE.replace("peer: {name: e1,", "peer: {name: e2,")
    apply_json(sandbox, sandbox.write("v3.yaml", renamed))
    assert '"neighbours"' not in sandbox.sh("cat /run/vnet/nr.json")
    sandbox.sh("ip -n a neigh add 10.6.0.2 lladdr 02:00:00:00:06:99 dev e0 nud permanent")
    assert plan_json(sandbox, sandbox.write("v3.yaml", renamed)) == []
    sandbox.vnet("destroy", "nr")

    # someone's `nud noarp` entry where the file declares one: made as declared,
    # put back as it was by an undo, and never recorded as vnet's
    apply_json(sandbox, sandbox.write("v0.yaml", BASE))
    sandbox.sh("ip -n a neigh add 10.6.0.2 lladdr 02:00:00:00:06:77 dev e0 nud noarp")
    theirs = {("10.6.0.2", "02:00:00:00:06:77", ("NOARP",))}
    assert [(c["action"], c["reason"]) for c in plan_json(sandbox, with_entry)] == \
        [("modify", "lladdr 02:00:00:00:06:77 -> 02:00:00:00:06:02, nud noarp -> permanent")]
    r = sandbox.vnet("apply", sandbox.write("w.yaml", BASE + ENTRY + FAIL), check=False)
    assert r.returncode == 3 and all_entries(sandbox) == theirs, r.stderr
    apply_json(sandbox, with_entry)
    assert all_entries(sandbox) == made
    apply_json(sandbox, sandbox.write("v0.yaml", BASE))   # not vnet's: left as the file had it
    assert all_entries(sandbox) == made


def test_entries_the_kernel_drops_with_a_change_in_place_are_made_again_or_put_back(sandbox):
    """The kernel drops a device's entries as it goes down or takes another
    MAC: the plan makes the declared ones again after the change, and an
    undo puts them back after putting the device back."""
    f = sandbox.write("v1.yaml", BASE + ENTRY)
    apply_json(sandbox, f)
    made = {("10.6.0.2", "02:00:00:00:06:02", ("PERMANENT",))}
    for change in ("addresses: [10.6.0.1/24], up: false", "addresses: [10.6.0.1/24], mac: '02:00:00:00:06:01'"):
        g = sandbox.write("v2.yaml", BASE.replace("addresses: [10.6.0.1/24]", change) + ENTRY)
        bad = sandbox.write("bad.yaml", BASE.replace("addresses: [10.6.0.1/24]", change) + ENTRY + FAIL)
        r = sandbox.vnet("apply", bad, check=False)
        assert r.returncode == 3 and all_entries(sandbox) == made and plan_json(sandbox, f) == [], r.stderr
        changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
        assert changes[-1][:2] == ("create", "neighbour 10.6.0.2 dev a/e0") and "drops it" in changes[-1][2], changes
        apply_json(sandbox, g)
        assert all_entries(sandbox) == made and plan_json(sandbox, g) == []
        apply_json(sandbox, f)
        assert all_entries(sandbox) == made and plan_json(sandbox, f) == []


SWITCH = """name: sw
namespaces: [p1, p2]
interfaces:
  - {name: br0, kind: bridge, addresses: [10.7.0.254/24]}
  - {name: v1, kind: veth, master: br0, mac: "02:00:00:00:07:01", peer: {name: e0, netns: p1}}
  - {name: v2, kind: veth, master: br0, mac: "02:00:00:00:07:02", peer: {name: e0, netns: p2}}
neighbours:
  - {dev: br0, address: 10.7.0.9, lladdr: "02:00:00:00:07:09"}
"""


def on_br0(sandbox):
    return {(n["dst"], n.get("lladdr"), tuple(n.get("state", ())))
            for n in json.loads(sandbox.sh("ip -4 -j neigh show nud permanent dev br0"))}


def test_a_bridge_s_entries_stay_as_its_ports_come_and_go(sandbox):
    """A bridge with no MAC of its own takes its lowest port's: a port
    deleted, moved or added makes it take another, and the kernel drops
    its entries then. The plan makes the declared ones again after the
    change (before: verification failed, exit 4), and an undo at any
    request puts back the entry, someone's too."""
    full = sandbox.write("s1.yaml", SWITCH)
    apply_json(sandbox, full)
    sandbox.sh("ip neigh add 10.7.0.8 lladdr 02:00:00:00:07:08 dev br0 nud permanent")   # someone's
    made = on_br0(sandbox)
    assert {(a, m) for a, m, _s in made} == {("10.7.0.9", "02:00:00:00:07:09"), ("10.7.0.8", "02:00:00:00:07:08")}
    port_gone = sandbox.write("s2.yaml", "\n".join(ln for ln in SWITCH.splitlines() if "name: v1" not in ln) + "\n")
    moved = sandbox.write("s3.yaml", SWITCH.replace("  - {name: v1, kind: veth, master: br0",
                                                    "  - {name: br1, kind: bridge}\n  - {name: v1, kind: veth, master: br1"))
    for g in (port_gone, moved):
        total = apply_json(sandbox, g)["requests"]
        assert ("10.7.0.9", "02:00:00:00:07:09", ("PERMANENT",)) in on_br0(sandbox) and plan_json(sandbox, g) == []
        apply_json(sandbox, full)   # the port back (the bridge takes its MAC again): the entry made again
        assert ("10.7.0.9", "02:00:00:00:07:09", ("PERMANENT",)) in on_br0(sandbox)
        assert plan_json(sandbox, full) == []
        sandbox.sh("ip neigh replace 10.7.0.8 lladdr 02:00:00:00:07:08 dev br0 nud permanent")
        for k in range(1, total + 1):
            os.environ.update(VNET_KILL_AT_REQUEST=str(k), VNET_KILL_SIGNAL="INT")
            try:
                r = sandbox.vnet("apply", g, check=False)
            finally:
                del os.environ["VNET_KILL_AT_REQUEST"], os.environ["VNET_KILL_SIGNAL"]
            assert r.returncode == 130 and "failed" not in r.stderr, r.stderr
            assert on_br0(sandbox) == made, f"SIGINT at request {k} of {total}"
            assert plan_json(sandbox, full) == []
    sandbox.vnet("destroy", "sw")


def test_a_bridge_s_entry_leaving_the_file_goes_as_a_port_comes_and_one_declared_stays_as_a_port_s_mac_changes(sandbox):
    """An entry vnet made that leaves the file is deleted, even as a port
    comes that leaves the bridge's MAC as it was (it was forgotten as if
    the kernel had dropped it, and left); a port taking a MAC lower than
    the bridge's makes the bridge take it, and the declared entry is made
    again (verification failed, exit 4)."""
    full = sandbox.write("s1.yaml", SWITCH)
    apply_json(sandbox, full)
    added = SWITCH.replace("neighbours:\n  - {dev: br0, address: 10.7.0.9, lladdr: \"02:00:00:00:07:09\"}\n", "") \
        + '  - {name: v3, kind: veth, master: br0, mac: "02:00:00:00:07:90", peer: {name: e1, netns: p1}}\n'
    apply_json(sandbox, sandbox.write("s2.yaml", added))
    assert on_br0(sandbox) == set()
    apply_json(sandbox, full)
    lower = sandbox.write("s3.yaml", SWITCH.replace('mac: "02:00:00:00:07:01"', 'mac: "02:00:00:00:07:00"'))
    apply_json(sandbox, lower)
    assert json.loads(sandbox.sh("ip -j link show br0"))[0]["address"] == "02:00:00:00:07:00"
    assert on_br0(sandbox) == {("10.7.0.9", "02:00:00:00:07:09", ("PERMANENT",))} and plan_json(sandbox, lower) == []
    sandbox.vnet("destroy", "sw")


def test_an_apply_killed_as_it_makes_entries_leaves_them_vnet_s(sandbox):
    """SIGKILL after each request of an apply that makes entries on a device
    vnet does not own: applied again and destroyed, none is left."""
    sandbox.sh("ip link add d0 type veth peer name d1 && ip link set d0 up")
    f = sandbox.write("k.yaml", "name: k\ninterfaces: [{name: d0, kind: external}]\nneighbours:\n"
                                "  - {dev: d0, address: 10.9.0.9, lladdr: '02:00:00:00:00:09'}\n"
                                "  - {dev: d0, address: 10.9.0.8, proxy: true}\n")
    for at in (1, 2):
        os.environ["VNET_KILL_AT_REQUEST"] = str(at)
        try:
            r = sandbox.vnet("apply", f, check=False)
        finally:
            del os.environ["VNET_KILL_AT_REQUEST"]
        assert r.returncode == -9, r.stderr
        apply_json(sandbox, f)
        sandbox.vnet("destroy", "k")
        assert sandbox.sh("ip neigh show nud permanent dev d0") == "" and sandbox.sh("ip neigh show proxy") == ""
