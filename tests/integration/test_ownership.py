"""Ownership: vnet changes only what a topology owns. A namespace or device
it did not make is never taken over; destroying one topology leaves another
whole, even with the same device names; the machine's uplink (here a
stand-in with an address and the default route) is used but never changed."""
import json

LAB = """name: {name}
namespaces: [{name}-1, {name}-2]
interfaces:
  - {{name: br0, kind: bridge, netns: {name}-1}}
  - {{name: v1, kind: veth, netns: {name}-1, master: br0,
      peer: {{name: eth0, netns: {name}-2, addresses: [10.7.0.2/24]}}}}
  - {{name: tap0, kind: tap, netns: {name}-1, master: br0}}
"""


def uplink_state(sandbox, uppers=False):
    """What a user would notice of the uplink: its settings, addresses and
    routes. With upper devices on it, the kernel itself counts them in the
    promiscuity and allmulti counters: those are compared once they are gone."""
    link = json.loads(sandbox.sh("ip -j -d link show eth0"))[0]
    for volatile in ("operstate", "linkmode", "stats64", "stats") + (("promiscuity", "allmulti") if uppers else ()):
        link.pop(volatile, None)
    return link, sandbox.sh("ip addr show dev eth0"), sandbox.sh("ip route show dev eth0; ip -6 route show dev eth0")


def make_uplink(sandbox):
    import time
    sandbox.sh("ip netns add isp && ip link add eth0 type veth peer name wan netns isp"
               " && ip link set eth0 up && ip -n isp link set wan up"
               " && ip addr add 192.0.2.10/24 dev eth0 && ip -n isp addr add 192.0.2.1/24 dev wan"
               " && ip route add default via 192.0.2.1")
    # settled before the first look: an IPv6 address still in duplicate
    # address detection shows as "tentative", and changes on its own
    end = time.monotonic() + 10
    while sandbox.sh("ip -6 addr show dev eth0 tentative").strip() and time.monotonic() < end:
        time.sleep(0.1)


def test_a_namespace_it_did_not_make_is_not_taken_over(sandbox):
    sandbox.sh("ip netns add a-1 && ip -n a-1 link add keep type bridge")
    before = sandbox.dump_all()
    r = sandbox.vnet("apply", sandbox.write("a.yaml", LAB.format(name="a")), check=False)
    assert r.returncode == 6, r.stderr
    assert "namespace 'a-1' exists and is not owned by topology 'a'" in r.stderr
    assert sandbox.dump_all() == before
    r = sandbox.vnet("destroy", "a", check=False)
    assert "keep" in sandbox.links("a-1")


def test_destroying_one_topology_leaves_another_with_the_same_names_whole(sandbox):
    sandbox.vnet("apply", sandbox.write("a.yaml", LAB.format(name="a")))
    fb = sandbox.write("b.yaml", LAB.format(name="b"))
    sandbox.vnet("apply", fb)
    b_before = {ns: {n: ln["ifindex"] for n, ln in sandbox.links(ns).items()} for ns in ("b-1", "b-2")}
    assert set(b_before["b-1"]) == {"lo", "br0", "v1", "tap0"}
    sandbox.vnet("destroy", "a")
    assert sorted(__import__("os").listdir("/run/netns")) == ["b-1", "b-2"]
    assert {ns: {n: ln["ifindex"] for n, ln in sandbox.links(ns).items()} for ns in ("b-1", "b-2")} == b_before
    assert "no changes" in sandbox.vnet("plan", fb).stdout
    sandbox.vnet("destroy", "b")
    assert __import__("os").listdir("/run/netns") == []


UPLINK_USER = """name: edge
namespaces: [c1]
interfaces:
  - {name: eth0, kind: external}
  - {name: mv0, kind: macvlan, link: {name: eth0}, mode: bridge, netns: c1, addresses: [192.0.2.50/24]}
  - {name: vx0, kind: vxlan, vni: 42, dev: eth0, remote: 192.0.2.1, local: 192.0.2.10, dstport: 4789}
  - {name: br0, kind: bridge, addresses: [10.42.0.1/24]}
"""


def test_the_uplink_is_used_but_never_changed(sandbox):
    make_uplink(sandbox)
    before, counted = uplink_state(sandbox), uplink_state(sandbox, uppers=True)
    f = sandbox.write("edge.yaml", UPLINK_USER.replace("dstport: 4789}", "dstport: 4789, master: br0}"))
    sandbox.vnet("apply", f)
    links = sandbox.links()
    assert links["vx0"]["linkinfo"]["info_data"]["link"] == "eth0"
    assert "mv0" in sandbox.links("c1")
    assert uplink_state(sandbox, uppers=True) == counted
    # the macvlan really is on the uplink: the stand-in ISP reaches it
    sandbox.sh("ip netns exec isp ping -c 2 -W 5 192.0.2.50")
    assert "no changes" in sandbox.vnet("plan", f).stdout
    sandbox.vnet("apply", f)            # a second apply: nothing to do, still untouched
    assert uplink_state(sandbox, uppers=True) == counted
    sandbox.vnet("destroy", "edge")
    assert uplink_state(sandbox) == before
    assert set(sandbox.links()) == {"lo", "eth0"}


def test_declaring_the_uplink_as_a_device_is_refused_untouched(sandbox):
    make_uplink(sandbox)
    before, state = uplink_state(sandbox), sandbox.dump_all()
    f = sandbox.write("grab.yaml", "name: grab\ninterfaces:\n  - {name: eth0, kind: bridge}\n")
    for cmd in ("plan", "apply", "destroy"):
        r = sandbox.vnet(cmd, f if cmd != "destroy" else "grab", check=False)
        assert r.returncode != 0, (cmd, r.stdout)
        if cmd != "destroy":
            assert r.returncode == 6 and "device 'eth0' exists and is not owned by topology 'grab'" in r.stderr
    assert uplink_state(sandbox) == before and sandbox.dump_all() == state


def test_a_device_someone_made_on_one_of_vnet_s_stops_the_plan_that_would_delete_it(sandbox):
    """Someone's macvlan on a veth end vnet made: the kernel deletes it with
    its lower device. A change deleting the pair, or making it again (that
    end renamed), stops before any change (exit 6) naming the macvlan;
    once it is gone, the change applies."""
    lab = LAB.format(name="up")
    f0 = sandbox.write("up.yaml", lab)
    sandbox.vnet("apply", f0)
    sandbox.sh("ip -n up-2 link add mv0 link eth0 type macvlan mode bridge")
    before = sandbox.dump_all()
    gone = sandbox.write("up2.yaml", "\n".join(ln for ln in lab.splitlines() if "v1" not in ln and "eth0" not in ln))
    remade = sandbox.write("up3.yaml", lab.replace("name: eth0", "name: eth9"))
    for f, what in ((gone, "delete"), (remade, "make again")):
        r = sandbox.vnet("apply", f, check=False)
        assert r.returncode == 6, r.stdout + r.stderr
        assert "device up-2/mv0 (macvlan on up-2/eth0) is not owned" in r.stderr and f"would {what}" in r.stderr, r.stderr
        assert sandbox.dump_all() == before
    sandbox.sh("ip -n up-2 link del mv0")
    sandbox.vnet("apply", gone)
    sandbox.vnet("destroy", "up")


def test_destroy_names_a_device_of_someone_s_that_went_with_the_lab(sandbox):
    """Destroy removes the lab's devices; a macvlan someone made on one of
    them goes with it (the kernel's doing): destroy says so."""
    f = sandbox.write("dn.yaml", "name: dn\ninterfaces:\n" + "".join(
        f"  - {{name: d{i}, kind: veth, peer: {{name: p{i}}}}}\n" for i in range(5)))
    sandbox.vnet("apply", f)
    sandbox.sh("ip link add mv0 link p3 type macvlan mode bridge")
    out = sandbox.vnet("destroy", "dn").stdout
    assert "link mv0 (not vnet's: the kernel deleted it with its lower device p3)" in out, out
    assert "mv0" not in sandbox.sh("ip -br link")
