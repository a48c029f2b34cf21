"""Nexthop objects (`ip nexthop`) and the routes through them (nhid), end
to end against `ip -j nexthop` and `ip route`: applied, planned empty,
changed in place (the routes through them stay), made again with their
device, undone, destroyed, exported from a lab built by hand and made again
from the export, and built by the `vnet script` commands run by bash."""
import json
import re

import pytest
from lab import apply_json, plan_json

TOPO = """name: nh
namespaces: [n1]
interfaces:
  - {name: a0, kind: veth, netns: n1, addresses: [10.1.0.1/24, "fd01::1/64"],
     peer: {name: b0, netns: n1, addresses: [10.2.0.1/24]}}
nexthops:
  - {netns: n1, id: 5, via: 10.1.0.254, dev: a0}
  - {netns: n1, id: 6, via: 10.2.0.254, dev: b0}
  - {netns: n1, id: 7, group: [{id: 5}, {id: 6, weight: 2}]}
  - {netns: n1, id: 8, blackhole: true}
  - {netns: n1, id: 9, dev: a0, family: ipv6}
  - {netns: n1, id: 10, via: "fd01::254", dev: a0, onlink: true}
routes:
  - {netns: n1, to: 10.9.0.0/16, nhid: 7}
  - {netns: n1, to: 10.8.0.0/16, nhid: 8, metric: 5}
  - {netns: n1, to: "fd09::/64", nhid: 10}
  - {netns: n1, to: "fd08::/64", nhid: 9}
  - {netns: n1, to: default, nhid: 5, table: 100}
"""

NEXTHOPS = {(5, "10.1.0.254", "a0", None, (), False), (6, "10.2.0.254", "b0", None, (), False),
            (7, None, None, None, ((5, 1), (6, 2)), False), (8, None, None, "blackhole", (), False),
            (9, None, "a0", None, (), False), (10, "fd01::254", "a0", None, (), True)}
ROUTES = {"10.9.0.0/16 nhid 7", "blackhole 10.8.0.0/16 nhid 8 dev lo metric 5", "fd09::/64 nhid 10 via fd01::254 dev "
          "a0 metric 1024 onlink pref medium", "fd08::/64 nhid 9 dev a0 metric 1024 pref medium",
          "default nhid 5 via 10.1.0.254 dev a0 table 100"}


def nexthops(sandbox, ns="n1"):
    out = set()
    for n in json.loads(sandbox.sh(f"ip -n {ns} -j nexthop show") or "[]"):
        out.add((n["id"], n.get("gateway"), n.get("dev"), "blackhole" if "blackhole" in n else None,
                 tuple((g["id"], g.get("weight", 1)) for g in n.get("group", [])), "onlink" in n.get("flags", [])))
    return out


def routes(sandbox, ns="n1"):
    """The routes through nexthop objects as `ip route` says them (first
    line; protocol and the carrier's linkdown aside)."""
    text = sandbox.sh(f"ip -n {ns} route show table all; ip -n {ns} -6 route show table all")
    return {re.sub(r" proto \w+| linkdown| rt_offload\S*", "", ln).strip() for ln in text.splitlines() if " nhid " in ln}


@pytest.mark.needs("veth")
def test_nexthops_applied_converged_replaced_in_place_undone_and_destroyed(sandbox):
    f = sandbox.write("nh.yaml", TOPO)
    apply_json(sandbox, f)
    assert nexthops(sandbox) == NEXTHOPS
    assert routes(sandbox) == ROUTES
    assert plan_json(sandbox, f) == []
    shown = json.loads(sandbox.vnet("show", "--json", "nh").stdout)["nexthops"]
    assert {(n["id"], n["nexthop"]) for n in shown} == {(5, "via 10.1.0.254 dev a0"), (6, "via 10.2.0.254 dev b0"),
                                                        (7, "group 5/6,2"), (8, "blackhole (IPv4)"), (9, "dev a0"),
                                                        (10, "via fd01::254 dev a0 onlink")}

    # the group's weights and a member's gateway changed: replaced in place, the routes through them stay
    g = sandbox.write("nh2.yaml", TOPO.replace("{id: 6, weight: 2}", "{id: 6, weight: 3}").replace(
        "via: 10.2.0.254, dev: b0", "via: 10.2.0.253, dev: b0"))
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
    assert changes == [("modify", "nexthop 6 in n1", "via 10.2.0.254 dev b0 -> via 10.2.0.253 dev b0: replaced in "
                        "place (the routes through it stay)"),
                       ("modify", "nexthop 7 in n1", "group 5/6,2 -> group 5/6,3: replaced in place (the routes "
                        "through it stay)")], changes
    apply_json(sandbox, g)
    assert nexthops(sandbox) == NEXTHOPS - {(6, "10.2.0.254", "b0", None, (), False),
                                            (7, None, None, None, ((5, 1), (6, 2)), False)} | {
        (6, "10.2.0.253", "b0", None, (), False), (7, None, None, None, ((5, 1), (6, 3)), False)}
    assert routes(sandbox) == ROUTES and plan_json(sandbox, g) == []

    # changed by hand: put back as declared
    sandbox.sh("ip -n n1 nexthop replace id 5 via 10.1.0.9 dev a0 && ip -n n1 nexthop del id 8")
    apply_json(sandbox, f)
    assert nexthops(sandbox) == NEXTHOPS and routes(sandbox) == ROUTES and plan_json(sandbox, f) == []

    # an apply that replaces nexthop 5, deletes 9 (and its route) and then fails puts them back as they were
    bad = TOPO.replace("via: 10.1.0.254, dev: a0}", "via: 10.1.0.253, dev: a0}").replace(
        "  - {netns: n1, id: 9, dev: a0, family: ipv6}\n", "").replace('  - {netns: n1, to: "fd08::/64", nhid: 9}\n', "")
    bad = bad.replace("interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n")
    bad += "  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"   # not an address here: the kernel refuses it
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "route 10.6.0.0/16 dev lo" in r.stderr, r.stderr
    assert nexthops(sandbox) == NEXTHOPS and routes(sandbox) == ROUTES and plan_json(sandbox, f) == []

    # no longer declared: deleted, groups first, with the routes through them
    h = sandbox.write("nh3.yaml", TOPO.split("  - {netns: n1, id: 7,")[0] + "routes: []\n")
    apply_json(sandbox, h)
    assert nexthops(sandbox) == {(5, "10.1.0.254", "a0", None, (), False), (6, "10.2.0.254", "b0", None, (), False)}
    assert routes(sandbox) == set() and plan_json(sandbox, h) == []
    sandbox.vnet("destroy", "nh")
    assert sandbox.sh("ip netns list") == ""


@pytest.mark.needs("veth")
def test_nexthops_through_a_device_made_again_are_made_again_with_their_routes(sandbox):
    """The kernel drops a nexthop with its device (and the routes through
    it): a plan that makes the device again makes them again after it."""
    f = sandbox.write("nh.yaml", TOPO)
    apply_json(sandbox, f)
    g = sandbox.write("nh2.yaml", TOPO.replace("peer: {name: b0,", "peer: {name: c0,").replace("dev: b0", "dev: c0"))
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
    assert [c for c in changes if c[1].startswith(("nexthop", "route"))] == [
        ("create", f"nexthop {i} in n1", "its device is made again (the kernel drops it)") for i in (5, 6, 9, 10, 7)] + [
        ("create", f"route {r} in n1", "missing") for r in ("10.9.0.0/16 nhid 7", "fd09::/64 nhid 10",
                                                            "fd08::/64 nhid 9", "default nhid 5 table 100")], changes
    apply_json(sandbox, g)
    assert nexthops(sandbox) == {(n[0], n[1], "c0" if n[2] == "b0" else n[2], *n[3:]) for n in NEXTHOPS}
    assert routes(sandbox) == ROUTES and plan_json(sandbox, g) == []
    sandbox.vnet("destroy", "nh")


@pytest.mark.needs("veth")
def test_an_undone_remaking_of_a_device_puts_back_the_nexthops_and_routes_the_kernel_dropped(sandbox):
    """Found by a review: an apply that makes a device again and then fails
    made the device again but not the nexthops through it (the kernel drops
    them, the groups they were in, and the routes through any), nor the
    routes; and a device taken down the same."""
    f = sandbox.write("nh.yaml", TOPO)
    apply_json(sandbox, f)
    bad = TOPO.replace("peer: {name: b0,", "peer: {name: c0,").replace("dev: b0", "dev: c0").replace(
        "interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n") + "  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "undo of" not in r.stderr, r.stderr
    assert nexthops(sandbox) == NEXTHOPS and routes(sandbox) == ROUTES and plan_json(sandbox, f) == []
    # someone's nexthop and route through a device the plan takes down, in vnet's own namespace
    sandbox.sh("ip link add x0 type veth peer name x1 && ip link set x1 up")
    own = ("name: own\ninterfaces:\n  - {name: x0, kind: external}\n  - {name: v0, kind: veth, addresses: "
           "[10.5.0.1/24], peer: {name: w0}}\nnexthops:\n  - {id: 50, via: 10.5.0.254, dev: v0}\n")
    apply_json(sandbox, sandbox.write("own.yaml", own))
    sandbox.sh("ip nexthop add id 70 dev w0 && ip nexthop add id 71 group 50/70 && ip route add 10.70.0.0/16 nhid 71")
    before = sandbox.sh("ip nexthop; ip route")
    # the file now takes w0 down and no longer declares 50 (the kernel takes 50 out of someone's group, and
    # drops 70 with w0, then the group, now empty, and the route through it); then it fails: all of it back
    down = own.replace("peer: {name: w0}", "peer: {name: w0, up: false}").split("nexthops:")[0] + \
        "routes:\n  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"
    down = down.replace("interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n")
    r = sandbox.vnet("apply", sandbox.write("down.yaml", down), check=False)
    assert r.returncode == 3 and "route 10.6.0.0/16 dev lo" in r.stderr and "undo of" not in r.stderr, r.stderr
    assert sandbox.sh("ip nexthop; ip route") == before
    sandbox.vnet("destroy", "own")
    sandbox.vnet("destroy", "nh")


@pytest.mark.needs("veth")
def test_nexthops_of_vnet_s_own_namespace_are_destroyed_and_someone_s_left(sandbox):
    """In the namespace vnet runs in (not deleted by a destroy), its nexthops
    go one by one; someone's with the id a file declares stops the plan."""
    sandbox.sh("ip link add x0 type veth peer name x1 && ip link set x0 up && ip link set x1 up && "
               "ip addr add 10.4.0.1/24 dev x0 && ip nexthop add id 40 via 10.4.0.254 dev x0 && "
               "ip route add 10.40.0.0/16 nhid 40")
    topo = ("name: own\ninterfaces:\n  - {name: x0, kind: external}\n  - {name: v0, kind: veth, addresses: "
            "[10.5.0.1/24], peer: {name: w0}}\nnexthops:\n  - {id: 50, via: 10.5.0.254, dev: v0}\n  - {id: 51, "
            "group: [{id: 50}]}\nroutes:\n  - {to: 10.50.0.0/16, nhid: 51}\n")
    apply_json(sandbox, sandbox.write("own.yaml", topo))
    assert "10.50.0.0/16 nhid 51" in sandbox.sh("ip route")
    taken = sandbox.write("taken.yaml", topo.replace("id: 50,", "id: 40,").replace("{id: 50}", "{id: 40}"))
    r = sandbox.vnet("apply", taken, check=False)
    assert r.returncode == 6 and f"{taken}: nexthops[0]: nexthop 40 exists in vnet's own namespace and is not " \
        "vnet's: vnet does not replace it (give another id)" in r.stderr, r.stderr
    sandbox.vnet("destroy", "own")
    ip = sandbox.sh("ip nexthop; ip route")
    assert "id 50" not in ip and "id 51" not in ip and "10.50.0.0" not in ip, ip
    assert "id 40 via 10.4.0.254 dev x0" in ip and "10.40.0.0/16 nhid 40" in ip, ip   # someone's, untouched


@pytest.mark.needs("veth")
def test_nexthops_built_by_hand_are_exported_and_made_again(sandbox):
    """A lab built with `ip nexthop` (a gateway, a device alone, IPv6, a
    blackhole, a weighted group) exports whole (it said it left out the
    routes through them before) and the export makes the same again; the
    `vnet script` of the file gives the same too."""
    sandbox.sh("ip netns add n1 && ip -n n1 link add a0 type veth peer name b0 && ip -n n1 link set a0 up && "
               "ip -n n1 link set b0 up && ip -n n1 link set lo up && ip -n n1 addr add 10.1.0.1/24 dev a0 && "
               "ip -n n1 addr add 10.2.0.1/24 dev b0 && ip -n n1 -6 addr add fd01::1/64 dev a0 nodad && "
               "ip -n n1 nexthop add id 5 via 10.1.0.254 dev a0 && ip -n n1 nexthop add id 6 via 10.2.0.254 dev b0 && "
               "ip -n n1 nexthop add id 7 group 5/6,2 && ip -n n1 nexthop add id 8 blackhole && "
               "ip -n n1 -6 nexthop add id 9 dev a0 && ip -n n1 nexthop add id 10 via fd01::254 dev a0 onlink && "
               "ip -n n1 route add 10.9.0.0/16 nhid 7 && ip -n n1 route add 10.8.0.0/16 nhid 8 metric 5 && "
               "ip -n n1 -6 route add fd09::/64 nhid 10 && ip -n n1 -6 route add fd08::/64 nhid 9 && "
               "ip -n n1 route add default nhid 5 table 100")
    assert nexthops(sandbox) == NEXTHOPS and routes(sandbox) == ROUTES
    r = sandbox.vnet("export", "--netns", "n1")
    assert "nexthop" not in r.stderr, r.stderr
    # a resilient group is not a file's: said, and left out
    sandbox.sh("ip -n n1 nexthop add id 20 group 5/6 type resilient buckets 8")
    r2 = sandbox.vnet("export", "--netns", "n1")
    assert r2.stderr == "vnet export: left out the nexthop 20 of namespace n1 (a resilient group), which a topology " \
        "cannot declare\n" and r2.stdout == r.stdout, r2.stderr
    exported = sandbox.write("e.yaml", r.stdout)
    sandbox.sh("ip netns del n1")
    apply_json(sandbox, exported)
    assert nexthops(sandbox) == NEXTHOPS and routes(sandbox) == ROUTES
    assert plan_json(sandbox, exported) == []
    sandbox.vnet("destroy", "exported")
    sandbox.sh(f"bash -e {sandbox.write('s.sh', sandbox.vnet('script', exported).stdout)}")
    assert nexthops(sandbox) == NEXTHOPS and routes(sandbox) == ROUTES


@pytest.mark.needs("veth")
def test_sigkill_after_every_request_of_nexthops_in_vnet_s_own_namespace_recovers(sandbox):
    """Killed after each of its changing requests in turn, an apply of
    nexthops in the namespace vnet runs in (which no destroy deletes) is
    followed by an apply that converges and a destroy that leaves nothing
    of them."""
    f = sandbox.write("own.yaml", "name: own\ninterfaces:\n  - {name: v0, kind: veth, addresses: [10.5.0.1/24], "
                      "peer: {name: w0}}\nnexthops:\n  - {id: 50, via: 10.5.0.254, dev: v0}\n  - {id: 51, dev: v0}\n"
                      "  - {id: 52, group: [{id: 50}, {id: 51, weight: 4}]}\nroutes:\n  - {to: 10.50.0.0/16, nhid: 52}\n"
                      "  - {to: 10.51.0.0/16, nhid: 50}\n")
    before = (sandbox.dump_all(), sandbox.sh("ip nexthop"))
    total = json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"]
    sandbox.vnet("destroy", "own")
    assert (sandbox.dump_all(), sandbox.sh("ip nexthop")) == before and total >= 6
    for k in range(1, total + 1):
        r = sandbox.vnet_killed_at(k, "apply", f)
        assert r.returncode == -9, f"kill point {k}: not killed (rc {r.returncode})\n{r.stderr}"
        r = sandbox.vnet("apply", "--json", f, check=False)
        assert r.returncode == 0, f"after a kill at request {k}, apply did not converge:\n{r.stdout}{r.stderr}"
        assert plan_json(sandbox, f) == [], f"after a kill at request {k}"
        assert "10.50.0.0/16 nhid 52" in sandbox.sh("ip route")
        sandbox.vnet("destroy", "own")
        assert (sandbox.dump_all(), sandbox.sh("ip nexthop")) == before, f"after a kill at request {k}"


GROUPS = TOPO.split("nexthops:")[0].replace("name: nh", "name: ng") + """nexthops:
  - {netns: n1, id: 5, via: 10.1.0.254, dev: a0}
  - {netns: n1, id: 6, via: 10.2.0.254, dev: b0}
  - {netns: n1, id: 7, group: [{id: 5}, {id: 6}]}
routes:
  - {netns: n1, to: 10.9.0.0/16, nhid: 7}
  - {netns: n1, to: 10.8.0.0/16, nhid: 5}
"""


@pytest.mark.needs("veth")
def test_a_group_s_members_swapped_a_single_one_made_a_group_and_undone(sandbox):
    """Found by a review: a group whose members all leave the file lost its
    routes (its members were deleted first: the kernel deletes a group
    with its last member), a single nexthop made a group failed every
    apply (the kernel replaces one only by one of its sort), and their
    undo could not put the group back before its members."""
    f = sandbox.write("g.yaml", GROUPS)
    apply_json(sandbox, f)
    swapped = GROUPS.replace("  - {netns: n1, id: 5, via: 10.1.0.254, dev: a0}\n  - {netns: n1, id: 6, via: 10.2.0.254, "
                             "dev: b0}\n", "  - {netns: n1, id: 8, via: 10.1.0.253, dev: a0}\n  - {netns: n1, id: 9, "
                             "via: 10.2.0.253, dev: b0}\n  - {netns: n1, id: 5, group: [{id: 8}]}\n").replace(
        "group: [{id: 5}, {id: 6}]", "group: [{id: 8}, {id: 9}]")
    g = sandbox.write("g2.yaml", swapped)
    want = {(8, "10.1.0.253", "a0", None, (), False), (9, "10.2.0.253", "b0", None, (), False),
            (5, None, None, None, ((8, 1),), False), (7, None, None, None, ((8, 1), (9, 1)), False)}
    before = (nexthops(sandbox), routes(sandbox))
    # a failure at the end undoes all of it: the group and the single one back, with their routes
    bad = swapped.replace("interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n") + \
        "  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "undo" not in r.stderr.replace("the apply was undone", ""), r.stderr
    assert (nexthops(sandbox), routes(sandbox)) == before
    apply_json(sandbox, g)
    assert nexthops(sandbox) == want
    assert routes(sandbox) == {"10.9.0.0/16 nhid 7", "10.8.0.0/16 nhid 5 via 10.1.0.253 dev a0"}
    assert plan_json(sandbox, g) == []
    apply_json(sandbox, f)   # and back
    assert (nexthops(sandbox), routes(sandbox)) == before and plan_json(sandbox, f) == []
    sandbox.vnet("destroy", "ng")


@pytest.mark.needs("veth")
def test_a_group_that_loses_a_member_with_its_device_is_set_again(sandbox):
    """The kernel takes a member out of its groups when it drops the member
    with its device: a plan that makes the device again sets the group
    again once the member is back."""
    two = GROUPS.replace("interfaces:\n", "interfaces:\n  - {name: c0, kind: veth, netns: n1, addresses: "
                         "[10.3.0.1/24], peer: {name: d0, netns: n1}}\n").replace("via: 10.2.0.254, dev: b0",
                                                                               "via: 10.3.0.254, dev: c0")
    f = sandbox.write("g.yaml", two)
    apply_json(sandbox, f)
    g = sandbox.write("g2.yaml", two.replace("peer: {name: d0,", "peer: {name: e0,"))
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
    assert ("modify", "nexthop 7 in n1", "a member is made again (the kernel takes it out of the group with its "
            "device): set again") in changes, changes
    apply_json(sandbox, g)
    assert (7, None, None, None, ((5, 1), (6, 1)), False) in nexthops(sandbox) and plan_json(sandbox, g) == []
    sandbox.vnet("destroy", "ng")


@pytest.mark.needs("veth")
def test_a_nexthop_vnet_made_gone_by_hand_is_forgotten_and_someone_s_new_one_left(sandbox):
    """Found by a review: a nexthop vnet made, deleted by hand, stayed on the
    record; one someone then made with its id was deleted as vnet's."""
    sandbox.sh("ip link add x0 type veth peer name x1 && ip link set x0 up && ip link set x1 up && "
               "ip addr add 10.4.0.1/24 dev x0")
    topo = ("name: own\ninterfaces:\n  - {name: x0, kind: external}\nnexthops:\n  - {id: 60, via: 10.4.0.254, dev: x0}\n"
            "  - {id: 61, dev: x0}\nroutes:\n  - {to: 10.60.0.0/16, nhid: 60}\n")
    f = sandbox.write("own.yaml", topo)
    apply_json(sandbox, f)
    sandbox.sh("ip nexthop del id 60 && ip nexthop add id 60 via 10.4.0.253 dev x0")   # someone's now
    g = sandbox.write("own2.yaml", topo.replace("  - {id: 60, via: 10.4.0.254, dev: x0}\n", "").replace(
        "routes:\n  - {to: 10.60.0.0/16, nhid: 60}\n", ""))
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
    assert changes == [("delete", "nexthop 60", "no longer declared; someone else's now (not made by vnet): left as "
                        "it is: forgotten")], changes
    apply_json(sandbox, g)
    sandbox.vnet("destroy", "own")
    assert "id 60 via 10.4.0.253 dev x0" in sandbox.sh("ip nexthop") and "id 61" not in sandbox.sh("ip nexthop")
    # and a destroy leaves someone's that took the id of one vnet made
    apply_json(sandbox, sandbox.write("own3.yaml", topo.replace(
        "id: 60,", "id: 62,").replace("nhid: 60", "nhid: 62")))
    sandbox.sh("ip nexthop del id 61 && ip nexthop add id 61 dev x1")
    sandbox.vnet("destroy", "own")
    assert "id 61 dev x1" in sandbox.sh("ip nexthop") and "id 62" not in sandbox.sh("ip nexthop")


@pytest.mark.needs("veth")
def test_an_ipv4_default_route_through_an_ipv6_nexthop_round_trips(sandbox):
    """RFC 5549, as FRR sets it up: `default nhid N` with N an IPv6 gateway is
    an IPv4 route; the export writes it so and the file makes it again."""
    sandbox.sh("ip netns add n1 && ip -n n1 link add a0 type veth peer name b0 && ip -n n1 link set a0 up && "
               "ip -n n1 link set b0 up && ip -n n1 -6 addr add fd01::1/64 dev a0 nodad && "
               "ip -n n1 nexthop add id 10 via fd01::254 dev a0 && ip -n n1 route add default nhid 10 && "
               "ip -n n1 -6 route add default nhid 10")
    before = routes(sandbox)
    assert before == {"default nhid 10 via inet6 fd01::254 dev a0", "default nhid 10 via fd01::254 dev a0 metric 1024 "
                      "pref medium"}, before
    r = sandbox.vnet("export", "--netns", "n1")
    f = sandbox.write("e.yaml", r.stdout)
    sandbox.sh("ip netns del n1")
    apply_json(sandbox, f)
    assert routes(sandbox) == before and plan_json(sandbox, f) == []


@pytest.mark.needs("veth")
def test_undone_removals_of_a_device_and_its_nexthop_and_a_gateway_on_a_device_route(sandbox):
    """Found by a review: a nexthop whose gateway only a device route reaches
    was put back before that route by an undo (the kernel refused it, and
    the rest of the undo was skipped); a device and the nexthop through it
    both leaving the file were each put back by their undo, the second
    failing (File exists)."""
    topo = TOPO.split("nexthops:")[0] + (
        "  - {name: c0, kind: veth, netns: n1, peer: {name: d0, netns: n1}}\n"
        "nexthops:\n  - {netns: n1, id: 5, via: 10.7.0.1, dev: a0}\n  - {netns: n1, id: 6, via: 10.2.0.254, dev: c0, "
        "onlink: true}\n"
        "routes:\n  - {netns: n1, to: 10.7.0.0/24, dev: a0}\n  - {netns: n1, to: 10.9.0.0/16, nhid: 5}\n"
        "  - {netns: n1, to: 10.8.0.0/16, nhid: 6}\n")
    f = sandbox.write("nh.yaml", topo)
    apply_json(sandbox, f)
    before = (nexthops(sandbox), routes(sandbox), sandbox.sh("ip -n n1 route"))
    fail = "  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"   # (vnet's own namespace: the kernel refuses it)
    bad = topo.replace("peer: {name: b0,", "peer: {name: e0,").replace(
        "interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n") + fail
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "undo of" not in r.stderr, r.stderr
    assert (nexthops(sandbox), routes(sandbox), sandbox.sh("ip -n n1 route")) == before
    gone = topo.replace("  - {name: c0, kind: veth, netns: n1, peer: {name: d0, netns: n1}}\n", "").replace(
        "  - {netns: n1, id: 6, via: 10.2.0.254, dev: c0, onlink: true}\n", "").replace(
        "  - {netns: n1, to: 10.8.0.0/16, nhid: 6}\n", "").replace(
        "interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n") + fail
    r = sandbox.vnet("apply", sandbox.write("gone.yaml", gone), check=False)
    assert r.returncode == 3 and "undo of" not in r.stderr, r.stderr
    assert (nexthops(sandbox), routes(sandbox), sandbox.sh("ip -n n1 route")) == before
    sandbox.vnet("destroy", "nh")
