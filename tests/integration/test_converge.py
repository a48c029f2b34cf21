"""Apply converges: addresses renumbered and routes kept, whatever was
changed by hand since (an address added, removed or changed, a primary
promoted, a route deleted), on IPv4 and IPv6, each case followed by an
empty plan and checked against what `ip` shows. Run twice: on this kernel
(the addresses on a veth end) and in the full-kernel guest (on a dummy)."""
import json
import os
import re

import pytest
import yaml

FAMILIES = {
    4: {"gw": "10.2.0.1", "net": "10.2.0.{}/24", "far": "10.9.0.0/24", "default": "0.0.0.0/0"},
    6: {"gw": "fd02::1", "net": "fd02::{}/64", "far": "fd09::/64", "default": "::/0"},
}
LAYERS = [pytest.param("veth", marks=pytest.mark.needs("veth"), id="host"),
          pytest.param("dummy", marks=pytest.mark.needs("veth", "dummy"), id="guest")]


class Lab:
    def __init__(self, sandbox, layer, fam):
        self.sb, self.layer, self.f = sandbox, layer, FAMILIES[fam]
        self.fam = fam
        self.path = None

    def a(self, host):
        return self.f["net"].format(host)

    def write(self, addrs, routes=("far", "default")):
        f = self.f
        if self.layer == "veth":
            dev = (f"  - {{name: v1, kind: veth, addresses: ['{self.a(1)}'], "
                   f"peer: {{name: e0, netns: n1, addresses: [{', '.join(repr(a) for a in addrs)}]}}}}\n")
        else:
            dev = f"  - {{name: e0, kind: dummy, netns: n1, addresses: [{', '.join(repr(a) for a in addrs)}]}}\n"
        rs = "".join(f"  - {{netns: n1, to: '{f[r]}', via: '{f['gw']}'}}\n" for r in routes)
        text = "name: cv\nnamespaces: [n1]\ninterfaces:\n" + dev + ("routes:\n" + rs if routes else "")
        self.path = self.sb.write("cv.yaml", text)
        return self.path

    def apply(self):
        r = self.sb.vnet("apply", self.path, check=False)
        assert r.returncode == 0, f"apply exited {r.returncode}:\n{r.stdout}{r.stderr}"
        return r

    def plan_is_empty(self):
        changes = json.loads(self.sb.vnet("plan", "--json", self.path).stdout)["changes"]
        assert changes == [], changes

    def addresses(self):
        out = set()
        for d in self.sb.ip_json("n1", "addr"):
            if d["ifname"] == "e0":
                out |= {f"{a['local']}/{a['prefixlen']}" for a in d["addr_info"]
                        if a["family"] == ("inet" if self.fam == 4 else "inet6") and a["scope"] == "global"}
        return out

    def routes(self):
        flag = "-4" if self.fam == 4 else "-6"
        return {(r["dst"], r.get("gateway")) for r in json.loads(self.sb.sh(f"ip -n n1 {flag} -j route show"))
                if r.get("gateway")}

    def converged(self, addrs, routes=("far", "default")):
        """The kernel holds exactly ``addrs`` and the declared routes, and the plan is empty."""
        assert self.addresses() == set(addrs)
        want = {("default" if r == "default" else self.f[r], self.f["gw"]) for r in routes}
        assert self.routes() == want
        self.plan_is_empty()

    def ip(self, args):
        self.sb.sh(f"ip -n n1 -{self.fam} {args}")

    def record_routes(self):
        with open("/run/vnet/cv.json") as f:
            return json.load(f)["routes"]


@pytest.fixture(params=[4, 6], ids=["ipv4", "ipv6"])
def lab(request, sandbox):
    layer = request.node.callspec.params["layer"]
    lab = Lab(sandbox, layer, request.param)
    yield lab
    if os.path.exists("/run/vnet/cv.json"):
        sandbox.vnet("destroy", "cv", check=False)


@pytest.mark.parametrize("layer", LAYERS)
def test_renumbering_in_the_same_subnet_keeps_the_routes(lab, layer):
    lab.write([lab.a(10)])
    lab.apply()      # IPv6: the kernel's metric 1024 for a route without one verifies
    lab.converged([lab.a(10)])
    lab.write([lab.a(20)])
    lab.apply()
    lab.converged([lab.a(20)])


@pytest.mark.parametrize("layer", LAYERS)
def test_renumbering_a_primary_keeps_its_declared_secondary(lab, layer):
    lab.write([lab.a(10), lab.a(11)])
    lab.apply()
    lab.write([lab.a(20), lab.a(11)])
    lab.apply()
    lab.converged([lab.a(20), lab.a(11)])


@pytest.mark.parametrize("layer", LAYERS)
def test_an_address_added_by_hand_is_removed(lab, layer):
    lab.write([lab.a(10)])
    lab.apply()
    lab.ip(f"addr add {lab.a(99)} dev e0")
    lab.apply()
    lab.converged([lab.a(10)])


@pytest.mark.parametrize("layer", LAYERS)
def test_an_address_removed_by_hand_comes_back_with_its_routes(lab, layer):
    lab.write([lab.a(10)])
    lab.apply()
    lab.ip(f"addr del {lab.a(10)} dev e0")   # IPv4: the kernel drops the routes through e0 with it
    lab.apply()
    lab.converged([lab.a(10)])


@pytest.mark.parametrize("layer", LAYERS)
def test_an_address_changed_by_hand_converges_and_stays_converged(lab, layer):
    lab.write([lab.a(10)])
    lab.apply()
    lab.ip(f"addr del {lab.a(10)} dev e0")
    lab.ip(f"addr add {lab.a(30)} dev e0")
    lab.apply()
    lab.converged([lab.a(10)])
    lab.apply()      # and nothing is wedged: the next apply has nothing to do
    lab.converged([lab.a(10)])


@pytest.mark.parametrize("layer", LAYERS)
def test_an_address_s_peer_noprefixroute_and_metric_converge(lab, layer):
    """An address as `ip address add` gives it beyond address/prefix (a
    peer, noprefixroute, a metric) is made so, and made so again when
    changed by hand to another flavour: the prefix route follows each."""
    f, e0 = lab.f, "e0"
    host = lab.a(10).split("/")[0]
    peer = lab.a(77).split("/")[0]
    plen = 32 if lab.fam == 4 else 128

    def info():
        return [a for d in lab.sb.ip_json("n1", "addr") if d["ifname"] == e0 for a in d["addr_info"]
                if a["family"] == ("inet" if lab.fam == 4 else "inet6") and a["scope"] == "global"]

    def prefix_routes():
        flag = "-4" if lab.fam == 4 else "-6"
        return {(r["dst"], r.get("metric")) for r in json.loads(lab.sb.sh(f"ip -n n1 {flag} -j route show dev {e0}"))
                if not r.get("gateway") and not r["dst"].startswith("fe80:")}

    subnet = f["net"].format(0).replace("::0/", "::/")
    lab.write([f"{lab.a(10)} metric 50"], routes=())
    lab.apply()
    assert [(a["local"], a.get("metric")) for a in info()] == [(host, 50)]
    assert prefix_routes() == {(subnet, 50)}
    lab.plan_is_empty()
    lab.ip(f"addr del {lab.a(10)} dev {e0}")      # by hand: the same address, its metric gone
    lab.ip(f"addr add {lab.a(10)} dev {e0}" + (" nodad" if lab.fam == 6 else ""))
    lab.apply()
    assert [(a["local"], a.get("metric")) for a in info()] == [(host, 50)]
    lab.plan_is_empty()

    lab.write([f"{lab.a(10)} noprefixroute"], routes=())
    lab.apply()
    assert [(a["local"], a.get("noprefixroute", False)) for a in info()] == [(host, True)]
    assert prefix_routes() == set()
    lab.plan_is_empty()

    lab.write([f"{host} peer {peer}/{plen}"], routes=())
    lab.apply()
    assert [(a["local"], a.get("address"), a["prefixlen"]) for a in info()] == [(host, peer, plen)]
    assert peer in {d for d, _m in prefix_routes()}   # (IPv6 routes the address's own /128 too)
    lab.plan_is_empty()
    lab.ip(f"addr del {host} peer {peer}/{plen} dev {e0}")   # by hand: the peer changed
    lab.ip(f"addr add {host} peer {lab.a(78).split('/')[0]}/{plen} dev {e0}" + (" nodad" if lab.fam == 6 else ""))
    lab.apply()
    assert [(a["local"], a.get("address")) for a in info()] == [(host, peer)]
    lab.plan_is_empty()
    lab.write([lab.a(10)], routes=())   # and back to the address alone
    lab.apply()
    assert [(a["local"], a.get("address"), a.get("metric"), a.get("noprefixroute", False)) for a in info()] == \
        [(host, None, None, False)]
    assert {d for d, _m in prefix_routes()} == {subnet}
    lab.plan_is_empty()


@pytest.mark.parametrize("layer", [LAYERS[0]])
def test_a_secondary_promoted_by_hand_converges(sandbox, layer):
    lab = Lab(sandbox, layer, 4)
    lab.write([lab.a(10), lab.a(11)])
    lab.apply()
    sandbox.sh("ip netns exec n1 sysctl -qw net.ipv4.conf.e0.promote_secondaries=1")
    lab.ip(f"addr del {lab.a(10)} dev e0")    # 10.2.0.11 becomes the primary
    assert lab.addresses() == {lab.a(11)}
    lab.apply()
    lab.converged([lab.a(10), lab.a(11)])
    lab.write([lab.a(20), lab.a(11)])         # and renumbering the new secondary keeps the primary
    lab.apply()
    lab.converged([lab.a(20), lab.a(11)])


@pytest.mark.parametrize("layer", LAYERS)
def test_a_route_deleted_by_hand_comes_back_once(lab, layer):
    lab.write([lab.a(10)])
    lab.apply()
    lab.ip(f"route del {lab.f['far']} via {lab.f['gw']}")
    lab.apply()
    lab.converged([lab.a(10)])
    assert len(lab.record_routes()) == 2, lab.record_routes()   # each route recorded once
    lab.write([lab.a(10)], routes=("default",))   # removing it from the file removes it, for good
    lab.apply()
    lab.converged([lab.a(10)], routes=("default",))
    assert len(lab.record_routes()) == 1, lab.record_routes()
    lab.apply()


@pytest.mark.parametrize("layer", LAYERS)
def test_a_gateway_replaced_by_hand_converges(lab, layer):
    """`ip route replace` of a declared route with another gateway (or a
    route through a device) takes its place: the kernel keeps one route per
    destination, metric and table, so the declared one is refused (EEXIST)
    until that one goes. In a namespace the file makes, it is replaced;
    twice, then the plan is empty."""
    lab.write([lab.a(10)])
    lab.apply()
    gw2 = lab.f["net"].format(99).split("/")[0]
    lab.ip(f"route replace {lab.f['far']} via {gw2}")
    lab.ip(f"route replace default dev e0")
    plan = json.loads(lab.sb.vnet("plan", "--json", lab.path).stdout)["changes"]
    dels = sorted(c["reason"] for c in plan if c["action"] == "delete")
    assert dels == sorted([f"in the way of the declared default via {lab.f['gw']} in n1: replaced",
                           f"in the way of the declared {lab.f['far']} via {lab.f['gw']} in n1: replaced"]), plan
    lab.apply()
    lab.converged([lab.a(10)])
    lab.ip(f"route replace {lab.f['far']} via {gw2}")
    lab.apply()
    lab.converged([lab.a(10)])


@pytest.mark.needs("veth")
def test_a_route_someone_put_where_a_declared_one_goes_in_vnets_own_namespace_is_not_taken(sandbox):
    """Outside the namespaces the file makes, a route vnet did not make is
    not vnet's to remove: the plan stops before any change and says whose
    route is in the way (exit 6), instead of the kernel's EEXIST mid-apply."""
    path = sandbox.write("hw.yaml", "name: hw\ninterfaces:\n  - {name: h0, kind: veth, addresses: [10.60.0.1/24], "
                         "peer: {name: h1}}\nroutes:\n  - {to: 10.99.0.0/16, via: 10.60.0.2}\n")
    sandbox.vnet("apply", path)
    sandbox.sh("ip route replace 10.99.0.0/16 via 10.60.0.3")
    r = sandbox.vnet("apply", path, check=False)
    assert r.returncode == 6, r.stderr
    assert "route 10.99.0.0/16 via 10.60.0.3 dev h0 exists where the declared one goes" in r.stderr
    assert "10.99.0.0/16 via 10.60.0.3" in sandbox.sh("ip route")
    sandbox.sh("ip route del 10.99.0.0/16 via 10.60.0.3")
    sandbox.vnet("apply", path)
    sandbox.sh("ip route prepend 10.99.0.0/16 via 10.60.0.4")   # before the declared one: it takes the traffic
    r = sandbox.vnet("apply", path, check=False)
    assert r.returncode == 6 and "route 10.99.0.0/16 via 10.60.0.4 dev h0 is before the declared one in its slot" \
        in r.stderr, r.stderr
    assert "10.99.0.0/16 via 10.60.0.4" in sandbox.sh("ip route")
    sandbox.vnet("destroy", "hw")


def _lo(sandbox, ns):
    return sorted(f"{a['local']}/{a['prefixlen']}" for d in sandbox.ip_json(ns, "addr") if d["ifname"] == "lo"
                  for a in d["addr_info"])


@pytest.mark.needs("veth")
def test_the_addresses_of_lo_in_a_namespace_the_file_makes_converge(sandbox):
    """lo of a namespace the file makes holds the file's addresses (a router's
    own, a VXLAN endpoint's) beside the kernel's 127.0.0.1/8 and ::1, which
    vnet never takes away: added and removed by hand, they come back as the
    file says; emptied in the file, or lo left out of it, they go (the record
    says which vnet gave) and the kernel's stay."""
    def write(addrs):
        lo = f"  - {{name: lo, kind: external, netns: n1, addresses: [{', '.join(addrs)}]}}\n" if addrs is not None else ""
        return sandbox.write("lo.yaml", "name: lo\nnamespaces: [n1, n2]\ninterfaces:\n" + lo +
                             "  - {name: u, kind: veth, netns: n1, addresses: [172.18.0.1/30], "
                             "peer: {name: u, netns: n2, addresses: [172.18.0.2/30]}}\n"
                             "routes:\n  - {netns: n2, to: 192.0.2.1/32, via: 172.18.0.1}\n")
    path = write(["192.0.2.1/32", "'2001:db8:ff::1/128'"])
    kernel = ["127.0.0.1/8", "::1/128"]
    sandbox.vnet("apply", path)
    assert _lo(sandbox, "n1") == sorted(kernel + ["192.0.2.1/32", "2001:db8:ff::1/128"])
    sandbox.sh("ip netns exec n2 ping -c1 -W2 192.0.2.1")   # reached over the veth, on n1's lo
    sandbox.sh("ip -n n1 addr add 192.0.2.9/32 dev lo && ip -n n1 addr del 192.0.2.1/32 dev lo")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert sorted((c["action"], c["object"]) for c in plan) == [
        ("create", "address 192.0.2.1/32 on n1/lo"), ("delete", "address 192.0.2.9/32 on n1/lo")], plan
    sandbox.vnet("apply", path)
    assert _lo(sandbox, "n1") == sorted(kernel + ["192.0.2.1/32", "2001:db8:ff::1/128"])
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    for addrs in ([], ["192.0.2.1/32"], None):   # emptied; given one again; left out of the file
        path = write(addrs)
        sandbox.vnet("apply", path)
        assert _lo(sandbox, "n1") == sorted(kernel + (addrs or []))
        assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth")
def test_an_address_scope_is_made_as_iproute2_makes_it_and_converges(sandbox):
    """An IPv4 address's scope: as declared, or as `ip address add` gives it
    (host for 127.0.0.0/8 on lo, else global); the same address with
    another scope by hand is another address, replaced by the file's."""
    path = sandbox.write("sc.yaml", "name: sc\nnamespaces: [n1]\ninterfaces:\n"
                         "  - {name: lo, kind: external, netns: n1, addresses: [127.0.0.2/8, 127.1.0.1/16 scope global]}\n"
                         "  - {name: u, kind: veth, netns: n1, addresses: ['169.254.9.1/16 scope link', 10.73.0.1/24],"
                         " peer: {name: u2, netns: n1}}\n")
    def scopes():
        return {f"{a['local']}/{a['prefixlen']}": a["scope"] for d in sandbox.ip_json("n1", "addr")
                for a in d["addr_info"] if a["family"] == "inet"}
    want = {"127.0.0.1/8": "host", "127.0.0.2/8": "host", "127.1.0.1/16": "global", "169.254.9.1/16": "link",
            "10.73.0.1/24": "global"}
    sandbox.vnet("apply", path)
    assert scopes() == want
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    sandbox.sh("ip -n n1 addr del 10.73.0.1/24 dev u && ip -n n1 addr add 10.73.0.1/24 dev u scope link")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert sorted((c["action"], c["object"]) for c in plan) == [
        ("create", "address 10.73.0.1/24 on n1/u"), ("delete", "address 10.73.0.1/24 brd 0.0.0.0 scope link on n1/u")], plan
    sandbox.vnet("apply", path)
    assert scopes() == want
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    script = sandbox.vnet("script", path).stdout
    assert "ip -n n1 addr add 169.254.9.1/16 scope link brd + dev u" in script, script
    sandbox.vnet("destroy", "sc")
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert scopes() == want, script


@pytest.mark.needs("veth")
def test_an_address_label_and_broadcast_are_made_as_declared_and_converge(sandbox):
    """An IPv4 address's label and broadcast address: as declared (none
    declared: the device's name, and the subnet's broadcast as `brd +`
    gives); one given another label or broadcast by hand is replaced by the
    file's; the script makes the same addresses."""
    path = sandbox.write("lb.yaml", "name: lb\nnamespaces: [n1]\ninterfaces:\n"
                         "  - {name: u, kind: veth, netns: n1, addresses: ['10.74.0.1/24 label u:1', "
                         "'10.75.0.1/24 brd 0.0.0.0', '10.76.0.1/24 brd 10.76.0.127', 10.77.0.1/24, "
                         "'10.78.0.1/31', '10.79.0.1/24 label other:1']," " peer: {name: u2, netns: n1}}\n")
    def addrs():
        return {f"{a['local']}/{a['prefixlen']}": (a.get("label"), a.get("broadcast"))
                for d in sandbox.ip_json("n1", "addr") for a in d["addr_info"] if a["family"] == "inet"}
    want = {"10.74.0.1/24": ("u:1", "10.74.0.255"), "10.75.0.1/24": ("u", None),
            "10.76.0.1/24": ("u", "10.76.0.127"), "10.77.0.1/24": ("u", "10.77.0.255"), "10.78.0.1/31": ("u", None),
            "10.79.0.1/24": ("other:1", "10.79.0.255"),   # (the kernel takes any label; iproute2 too, from 5.18)
            "127.0.0.1/8": ("lo", None)}
    sandbox.vnet("apply", path)
    assert addrs() == want
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    sandbox.sh("ip -n n1 addr del 10.77.0.1/24 dev u && ip -n n1 addr add 10.77.0.1/24 dev u label u:7 && "
               "ip -n n1 addr del 10.75.0.1/24 dev u && ip -n n1 addr add 10.75.0.1/24 brd + dev u")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert sorted((c["action"], c["object"]) for c in plan) == [
        ("create", "address 10.75.0.1/24 brd 0.0.0.0 on n1/u"), ("create", "address 10.77.0.1/24 on n1/u"),
        ("delete", "address 10.75.0.1/24 on n1/u"),
        ("delete", "address 10.77.0.1/24 brd 0.0.0.0 label u:7 on n1/u")], plan
    sandbox.vnet("apply", path)
    assert addrs() == want
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    doc = json.loads(sandbox.vnet("export", "--netns", "n1", "--json").stdout)
    exported = [a for i in doc["interfaces"] for e in (i, i.get("peer") or {}) if e.get("name") == "u"
                for a in e.get("addresses", [])]
    assert sorted(exported) == ["10.74.0.1/24 label u:1", "10.75.0.1/24 brd 0.0.0.0", "10.76.0.1/24 brd 10.76.0.127",
                                "10.77.0.1/24", "10.78.0.1/31", "10.79.0.1/24 label other:1"], doc
    script = sandbox.vnet("script", path).stdout
    assert "ip -n n1 addr add 10.77.0.1/24 brd + dev u" in script, script
    assert "ip -n n1 addr add 10.74.0.1/24 label u:1 brd + dev u" in script, script
    sandbox.vnet("destroy", "lb")
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert addrs() == want, script


@pytest.mark.needs("veth")
def test_routes_that_drop_converge_and_go_when_no_longer_declared(sandbox):
    """blackhole, unreachable and prohibit routes (IPv4 and IPv6): made as
    `ip route add blackhole ...` makes them, one changed to another type by
    hand and one deleted by hand come back as declared, and taking one out
    of the file deletes it, whatever its type."""
    def write(extra=""):
        return sandbox.write("rt.yaml", "name: rt\nnamespaces: [n1]\ninterfaces:\n"
                             "  - {name: u, kind: veth, netns: n1, addresses: [172.19.0.1/30], peer: {name: u2, netns: n1}}\n"
                             "routes:\n  - {netns: n1, to: 10.70.0.0/16, type: blackhole}\n"
                             "  - {netns: n1, to: 'fd00:70::/48', type: unreachable}\n" + extra)
    def routes():
        return sorted(sandbox.sh("ip -n n1 route show type blackhole; ip -n n1 route show type unreachable; "
                                 "ip -n n1 route show type prohibit table all; "
                                 "ip -n n1 -6 route show type unreachable").split("\n"))
    path = write("  - {netns: n1, to: 10.72.0.0/16, type: prohibit, table: 100, metric: 5}\n")
    sandbox.vnet("apply", path)
    want = routes()
    assert any(ln.startswith("blackhole 10.70.0.0/16") for ln in want)
    assert any(ln.startswith("prohibit 10.72.0.0/16 table 100") for ln in want)
    assert any(ln.startswith("unreachable fd00:70::/48") for ln in want)
    sandbox.sh("ip -n n1 route del 10.70.0.0/16 && ip -n n1 route add unreachable 10.70.0.0/16 && "
               "ip -n n1 -6 route del fd00:70::/48")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert [(c["action"], c["object"]) for c in plan] == [
        ("delete", "route blackhole 10.70.0.0/16 in n1"), ("create", "route blackhole 10.70.0.0/16 in n1"),
        ("create", "route unreachable fd00:70::/48 in n1")], plan
    sandbox.vnet("apply", path)
    assert routes() == want
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    path = write()
    sandbox.vnet("apply", path)
    assert not any("10.72.0.0" in ln for ln in routes())
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth")
def test_a_multipath_route_converges_from_weights_and_hops_changed_by_hand(sandbox):
    """ECMP: two next hops with weights (IPv4) and an IPv6 default through
    two gateways, made as `ip route add ... nexthop via ...` makes them; a
    weight changed and a next hop dropped by hand come back as declared."""
    path = sandbox.write("mp.yaml", "name: mp\nnamespaces: [n1]\ninterfaces:\n"
                         "  - {name: e0, kind: veth, netns: n1, addresses: [10.60.0.1/24, 'fd00:60::1/64'], "
                         "peer: {name: e1, netns: n1, addresses: [10.61.0.1/24, 'fd00:61::1/64']}}\n"
                         "routes:\n  - {netns: n1, to: 10.73.0.0/16, nexthops: [{via: 10.60.0.2}, "
                         "{via: 10.61.0.2, dev: e1, weight: 3}]}\n"
                         "  - {netns: n1, to: default, nexthops: [{via: 'fd00:60::2'}, {via: 'fd00:61::2'}]}\n")
    def hops(flag, dst):
        r = next(r for r in json.loads(sandbox.sh(f"ip -n n1 {flag} -j route show")) if r["dst"] == dst)
        return sorted((h["gateway"], h["dev"], h.get("weight", 1)) for h in r["nexthops"])
    sandbox.vnet("apply", path)
    want4 = [("10.60.0.2", "e0", 1), ("10.61.0.2", "e1", 3)]
    want6 = [("fd00:60::2", "e0", 1), ("fd00:61::2", "e1", 1)]
    assert hops("-4", "10.73.0.0/16") == want4 and hops("-6", "default") == want6
    sandbox.sh("ip -n n1 route replace 10.73.0.0/16 nexthop via 10.60.0.2 weight 5 nexthop via 10.61.0.2 && "
               "ip -n n1 -6 route replace default nexthop via fd00:60::2 nexthop via fd00:61::2 weight 4")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert sorted((c["action"], c["object"]) for c in plan) == [
        ("create", "route 10.73.0.0/16 in n1"), ("create", "route default in n1"),
        ("delete", "route 10.73.0.0/16 in n1"), ("delete", "route default in n1")], plan
    sandbox.vnet("apply", path)
    assert hops("-4", "10.73.0.0/16") == want4 and hops("-6", "default") == want6
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth")
def test_an_export_leaves_out_a_route_it_cannot_write_and_says_so(sandbox):
    """A route with a next hop onlink is what a topology cannot declare: the
    export says it leaves it out, and the rest of it applies (with the
    route through a nexthop object, `ip nexthop`: one a topology declares)."""
    sandbox.sh("ip netns add n1 && ip -n n1 link add e0 type veth peer name e1 && ip -n n1 link set e0 up && "
               "ip -n n1 link set e1 up && ip -n n1 addr add 10.60.0.1/24 dev e0 && "
               "ip -n n1 nexthop add id 7 via 10.60.0.2 dev e0 && ip -n n1 route add 10.80.0.0/16 nhid 7 && "
               "ip -n n1 route add 10.81.0.0/16 via 10.60.0.2 && "
               "ip -n n1 route add 10.82.0.0/16 nexthop via 10.9.0.1 dev e0 onlink nexthop via 10.9.1.1 dev e1 onlink")
    r = sandbox.vnet("export")
    assert "vnet export: left out route 10.82.0.0/16 in n1: a next hop of it is onlink" in r.stderr, r.stderr
    assert "nexthop" not in r.stderr, r.stderr
    assert "10.81.0.0/16" in r.stdout and "10.80.0.0/16" in r.stdout and "10.82.0.0/16" not in r.stdout
    sandbox.sh("ip netns del n1")
    sandbox.vnet("apply", sandbox.write("exported.yaml", r.stdout))
    assert "10.80.0.0/16 nhid 7 via 10.60.0.2 dev e0" in sandbox.sh("ip -n n1 route")


@pytest.mark.needs("veth")
def test_an_export_names_the_rules_and_fdb_entries_it_cannot_write(sandbox):
    """Policy routing rules of what a file cannot say (a goto, a protocol)
    or the kernel's own deleted, and a bridge's own forwarding entries (not
    a port's) are what a topology cannot declare: an export of a
    lab built by hand names each on stderr instead of dropping it silently,
    and writes the rules and static neighbours it can; the kernel's own
    (its default rules, a bridge's entries for its ports' MACs, the
    multicast entries of each device) it does not name."""
    sandbox.sh("ip netns add n1 && ip -n n1 link add e0 type veth peer name e1 && ip -n n1 link set e0 up && "
               "ip -n n1 link set e1 up && ip -n n1 addr add 10.60.0.1/24 dev e0 && "
               "ip -n n1 link add br0 type bridge && ip -n n1 link set e1 master br0 && ip -n n1 link set br0 up && "
               "ip -n n1 rule add from 10.60.0.7 table 100 prio 100 && "
               "ip -n n1 rule add fwmark 0x5/0xff iif e0 lookup main prio 200 && "
               "ip -n n1 -6 rule add to fd00:9::/64 prohibit prio 300 && "
               "ip -n n1 rule del prio 32767 && "
               "ip -n n1 neigh add 10.60.0.9 lladdr 02:00:00:00:00:09 dev e0 && "
               "ip -n n1 neigh add fd00::9 lladdr 02:00:00:00:00:19 dev e0 nud permanent && "
               "ip -n n1 neigh add proxy 10.60.0.50 dev e0 && ip -n n1 rule add not from 10.60.0.8 table 100 prio 400 && "
               "ip -n n1 rule add goto 32766 prio 250 && ip -n n1 rule add to 10.62.0.0/16 table 5 prio 260 protocol static && "
               "bridge -n n1 fdb add 02:00:00:00:00:42 dev e1 master static && "
               "bridge -n n1 fdb add 02:00:00:00:00:43 dev br0 self local && "
               "ip -n n1 neigh add 10.60.0.77 lladdr 02:00:00:00:00:77 dev e0 nud noarp && "
               "ip -n n1 route add 10.63.0.0/24 via 10.60.0.2 mtu lock 1400 initcwnd 10 && "
               "ip -n n1 addr add 10.60.0.5/24 dev e0 valid_lft 1000 preferred_lft 800 && "
               "ip netns exec n1 ping -b -c 1 -W 1 10.60.0.255 >/dev/null 2>&1; "
               "ip netns exec n1 ping -c 1 -W 1 224.0.0.1 >/dev/null 2>&1; "
               "ip netns add n2 && ip -n n2 link add f0 type veth peer name f1 && ip -n n2 link add br1 type bridge && "
               "ip -n n2 link set f1 master br1 && ip -n n2 link set br1 up && ip -n n2 link set f1 up && "
               "ip -n n2 link set f0 up && ip -n n2 addr add 10.61.0.1/24 dev f0 && ip -n n2 -6 addr add fd00:61::1/64 dev f0")
    r = sandbox.vnet("export")
    said = sorted(re.sub(r"_lft \d+", "_lft N", line) for line in r.stderr.splitlines()
                  if line.startswith("vnet export: "))
    rules = yaml.safe_load(r.stdout)["rules"]
    assert rules == [{"netns": "n1", "priority": 100, "from": "10.60.0.7", "table": 100},
                     {"netns": "n1", "priority": 200, "iif": "e0", "fwmark": "0x5/0xff"},
                     {"netns": "n1", "priority": 260, "to": "10.62.0.0/16", "table": 5},
                     {"netns": "n1", "priority": 400, "from": "10.60.0.8", "not": True, "table": 100},
                     {"netns": "n1", "priority": 300, "to": "fd00:9::/64", "type": "prohibit"}], rules
    assert said == sorted([
        "vnet export: left out the rule '250: from all goto 32766' (IPv4) of namespace n1, which a topology "
        "cannot declare",
        "vnet export: wrote the rule '260: from all to 10.62.0.0/16 lookup 5' (IPv4) of namespace n1 without its "
        "protocol (static), which a topology cannot declare",
        "vnet export: namespace n1 lacks the kernel's rule '32767: from all lookup default' (IPv4): someone deleted "
        "it, which a topology cannot declare",
        "vnet export: left out the bridge fdb entry 02:00:00:00:00:43 on br0 (permanent) of namespace n1, which a "
        "topology cannot declare",
        "vnet export: left out the neighbour 10.60.0.77 on e0 of namespace n1 (nud noarp: a file's are permanent), "
        "which a topology cannot declare",
        "vnet export: wrote the address 10.60.0.5/24 of e0 of namespace n1 without its lifetimes (valid_lft N, "
        "preferred_lft N; made from the file, both are forever), which a topology cannot declare",
        ]), r.stderr
    assert {"netns": "n1", "to": "10.63.0.0/24", "via": "10.60.0.2", "dev": "e0",
            "metrics": {"mtu": 1400, "initcwnd": 10, "lock": ["mtu"]}} in yaml.safe_load(r.stdout)["routes"]
    # the kernel's own noarp entries (broadcast, multicast: pinged above) are not named
    assert "10.60.0.255 dev e0" in sandbox.sh("ip -n n1 neigh show nud noarp")
    # a port's static entry is the port's option
    e1 = next(e for i in yaml.safe_load(r.stdout)["interfaces"] for e in (i, i.get("peer") or {}) if e.get("name") == "e1")
    assert e1["fdb"] == [{"mac": "02:00:00:00:00:42"}], e1
    assert yaml.safe_load(r.stdout)["neighbours"] == [
        {"netns": "n1", "dev": "e0", "address": "10.60.0.9", "lladdr": "02:00:00:00:00:09"},
        {"netns": "n1", "dev": "e0", "address": "fd00::9", "lladdr": "02:00:00:00:00:19"},
        {"netns": "n1", "dev": "e0", "address": "10.60.0.50", "proxy": True}]
    assert "br1" in r.stdout and "10.61.0.1/24" in r.stdout
    sandbox.sh("ip netns del n1")
    assert sandbox.vnet("export").stderr == ""   # n2: nothing but what a topology declares


@pytest.mark.needs("veth")
def test_routes_in_the_way_and_beside_after_renumbering_tos_and_multipath(sandbox):
    """What shares a declared route's destination: a multipath route whose
    gateways' device is renumbered comes back; a route to the subnet an
    address leaves takes the place of the kernel's own route to it; an IPv4
    route with a TOS is another route (beside it, and an export says it
    leaves it out); in vnet's own namespace, a route through a device alone
    where a declared multipath route goes is not vnet's to take."""
    lab = ("name: r2\nnamespaces: [n1]\ninterfaces:\n  - {name: a0, kind: veth, netns: n1, addresses: [10.60.0.1/24], "
           "peer: {name: b0, netns: n1, addresses: [10.62.0.1/24]}}\nroutes:\n"
           "  - {netns: n1, to: 10.99.0.0/16, nexthops: [{via: 10.60.0.2}, {via: 10.60.0.3, weight: 2}]}\n")
    def hops():
        r = next(r for r in json.loads(sandbox.sh("ip -n n1 -j route show")) if r["dst"] == "10.99.0.0/16")
        return sorted((h["gateway"], h.get("weight", 1)) for h in r.get("nexthops", []))
    sandbox.vnet("apply", sandbox.write("r2.yaml", lab))
    sandbox.vnet("apply", sandbox.write("r2.yaml", lab.replace("10.60.0.1/24", "10.60.0.10/24")))
    assert hops() == [("10.60.0.2", 1), ("10.60.0.3", 2)]
    sandbox.sh("ip -n n1 route add 10.97.0.0/16 tos 0x10 via 10.62.0.3")
    path = sandbox.write("r2.yaml", lab.replace("10.60.0.1/24", "10.61.0.1/24").replace("10.60.0.", "10.61.0.")
                         + "  - {netns: n1, to: 10.60.0.0/24, via: 10.62.0.2}\n"
                         + "  - {netns: n1, to: 10.97.0.0/16, via: 10.62.0.2}\n")
    sandbox.vnet("apply", path)
    shown = sandbox.sh("ip -n n1 route")
    assert "10.60.0.0/24 via 10.62.0.2" in shown and "10.97.0.0/16 tos 0x10 via 10.62.0.3" in shown, shown
    assert "10.97.0.0/16 via 10.62.0.2" in shown, shown
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    r = sandbox.vnet("export")
    assert "left out route 10.97.0.0/16 via 10.62.0.3 dev b0 in n1: it has a TOS (0x10)" in r.stderr, r.stderr
    sandbox.vnet("destroy", "r2")
    host = sandbox.write("r1.yaml", "name: r1\ninterfaces:\n  - {name: h0, kind: veth, addresses: [10.60.0.1/24], "
                         "peer: {name: h1, addresses: [10.61.0.1/24]}}\nroutes:\n"
                         "  - {to: 10.99.0.0/16, nexthops: [{via: 10.60.0.2}, {via: 10.61.0.2}]}\n")
    sandbox.vnet("apply", host)
    sandbox.sh("ip route replace 10.99.0.0/16 dev h0")
    r = sandbox.vnet("apply", host, check=False)
    assert r.returncode == 6 and "route 10.99.0.0/16 dev h0 exists where the declared one goes" in r.stderr, r.stderr
    assert "10.99.0.0/16 dev h0" in sandbox.sh("ip route")
    sandbox.vnet("destroy", "r1")


@pytest.mark.needs("veth")
def test_a_devices_queue_length_and_alias_are_set_kept_and_changed_in_place(sandbox):
    """`txqueuelen`, `alias` and the `arp`, `multicast` and `allmulticast`
    flags (ip link set): given at creation (a veth and its peer in another
    namespace, a TAP made by ioctl), made so again when changed by hand,
    changed in place (the same device) when the file changes them, and left
    as they are once the file no longer gives them."""
    def lab(v1, e0):
        return sandbox.write("lf.yaml", f"""name: lf
namespaces: [n1]
interfaces:
  - {{name: v1, kind: veth, {v1}, peer: {{name: e0, netns: n1, {e0}}}}}
  - {{name: t0, kind: tap, netns: n1, txqueuelen: 50, arp: false, multicast: false}}
""")

    def seen():
        out = {}
        for ns, name in ((None, "v1"), ("n1", "e0"), ("n1", "t0")):
            ln = sandbox.links(ns)[name]
            out[name] = (ln.get("txqlen", 0), ln.get("ifalias"), ln["ifindex"])   # (ip -j leaves 0 out)
            flags[name] = {f for f in ln["flags"] if f in ("NOARP", "MULTICAST", "ALLMULTI")}
        return out

    flags = {}

    path = lab("txqueuelen: 200, alias: to n1, arp: false",
               "txqueuelen: 300, alias: 'eth 0: uplink', allmulticast: true")
    sandbox.vnet("apply", path)
    first = seen()
    assert flags == {"v1": {"NOARP", "MULTICAST"}, "e0": {"MULTICAST", "ALLMULTI"}, "t0": {"NOARP"}}
    assert {k: v[:2] for k, v in first.items()} == {"v1": (200, "to n1"), "e0": (300, "eth 0: uplink"),
                                                    "t0": (50, None)}
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    script = sandbox.vnet("script", path).stdout
    assert "ip link set v1 txqueuelen 200 alias 'to n1'" in script and "ip -n n1 link set t0 txqueuelen 50" in script

    sandbox.sh("ip link set v1 txqueuelen 1000 alias other arp on && ip -n n1 link set t0 txqueuelen 9 multicast on"
               " && ip -n n1 link set e0 allmulticast off")   # by hand
    sandbox.vnet("apply", path)
    assert seen() == first
    assert flags == {"v1": {"NOARP", "MULTICAST"}, "e0": {"MULTICAST", "ALLMULTI"}, "t0": {"NOARP"}}

    path = lab("txqueuelen: 0, alias: renamed, arp: false",
               "txqueuelen: 300, alias: 'eth 0: uplink', allmulticast: true")
    out = sandbox.vnet("apply", path).stdout
    assert "modify link v1" in out and seen()["v1"] == (0, "renamed", first["v1"][2])   # in place
    path = lab("mtu: 1400", "mtu: 1400")   # no longer given: left as they are
    sandbox.vnet("apply", path)
    assert {k: v[:2] for k, v in seen().items()} == {"v1": (0, "renamed"), "e0": (300, "eth 0: uplink"),
                                                    "t0": (50, None)}
    sandbox.vnet("destroy", "lf")


# one router advertisement of prefix fd66::/64 (autonomous), out of the device named, from inside its namespace
RA = """import socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
idx = socket.if_nametoindex(sys.argv[1])
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
pi = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, "fd66::")
s.sendto(struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0) + pi, ("ff02::1", 0, 0, idx))
"""


def _slaac(sandbox, ns, dev):
    """Advertise fd66::/64 on ``dev`` of ``ns`` (once its link-local address is usable) until its peer takes an
    address of it; the addresses of fd66::/64 the machine's namespaces then hold."""
    import sys
    import time
    ra = sandbox.write("ra.py", RA)
    for _ in range(50):
        sandbox.sh(f"ip netns exec {ns} {sys.executable} {ra} {dev}", check=False)
        got = sandbox.sh("for n in $(ip netns list | cut -d' ' -f1); do ip -n $n -6 addr show; done | grep fd66:: || true")
        if got.strip():
            return got
        time.sleep(0.1)
    raise AssertionError("no address was made from the router advertisement")


def test_addresses_made_from_a_router_advertisement_are_the_kernel_s(sandbox):
    """SLAAC: the kernel makes an address from a router's advertisement (and
    again at each one). No topology declares it: a plan leaves it (it
    deleted it as not declared, and never converged while a router
    advertised), and an export of a network built by hand leaves it out."""
    f = sandbox.write("sl.yaml", "name: sl\nnamespaces: [r1, h1]\ninterfaces:\n"
                                 "  - {name: e0, kind: veth, netns: r1, peer: {name: e0, netns: h1, addresses: [10.66.0.2/24]}}\n")
    sandbox.vnet("apply", f)
    sandbox.sh("ip netns exec h1 sysctl -qw net.ipv6.conf.e0.use_tempaddr=2")   # a privacy address too
    assert "fd66::" in _slaac(sandbox, "r1", "e0")
    assert "temporary" in sandbox.sh("ip -n h1 -6 addr show dev e0")
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", "sl")
    sandbox.sh("ip netns add hr && ip netns add hh && ip -n hr link add e0 type veth peer name e0 netns hh"
               " && ip -n hr link set e0 up && ip -n hh link set e0 up && ip -n hh addr add 10.66.0.2/24 dev e0")
    assert "fd66::" in _slaac(sandbox, "hr", "e0")
    exported = sandbox.vnet("export").stdout   # (the machine: a pair is written with both its ends)
    assert "10.66.0.2/24" in exported and "fd66" not in exported, exported


def _primaries(sandbox, ns="n1", dev="e0"):
    """The IPv4 addresses of ``dev`` the kernel holds as primaries (the source of what leaves through it)."""
    return {f"{a['local']}/{a['prefixlen']}" for d in sandbox.ip_json(ns, "addr") if d["ifname"] == dev
            for a in d["addr_info"] if a["family"] == "inet" and not a.get("secondary")}


@pytest.mark.parametrize("layer", [LAYERS[0]])
def test_the_primary_is_the_first_address_of_its_subnet_the_file_gives(sandbox, layer):
    """Two addresses of a subnet: the first the file gives is the primary (a
    fresh apply makes it so). Deleted and added back by hand with
    promote_secondaries, it is a secondary of the other: the plan says so,
    and the apply makes it the primary again (the routes through the device
    back too); the file swapping the two makes the other the primary."""
    lab = Lab(sandbox, layer, 4)
    lab.write([lab.a(10), lab.a(11)])
    lab.apply()
    assert _primaries(sandbox) == {lab.a(10)}
    sandbox.sh("ip netns exec n1 sysctl -qw net.ipv4.conf.e0.promote_secondaries=1")
    lab.ip(f"addr del {lab.a(10)} dev e0")
    lab.ip(f"addr add {lab.a(10)} brd + dev e0")
    assert _primaries(sandbox) == {lab.a(11)}
    plan = json.loads(sandbox.vnet("plan", "--json", lab.path).stdout)["changes"]
    assert {c["reason"] for c in plan if c["action"] == "delete" and c["object"].startswith("address")} == {
        f"primary is {lab.a(11)}, the file gives {lab.a(10)} first: deleted, added back after"}, plan
    lab.apply()
    assert _primaries(sandbox) == {lab.a(10)}
    lab.converged([lab.a(10), lab.a(11)])
    lab.write([lab.a(11), lab.a(10)])
    lab.apply()
    assert _primaries(sandbox) == {lab.a(11)}
    lab.converged([lab.a(10), lab.a(11)])
    assert f"src {lab.a(11).split('/')[0]}" in sandbox.sh("ip -n n1 route show dev e0 proto kernel")


def _signalled(sandbox, path, k):
    """An apply of ``path`` sent SIGINT at its ``k``-th changing request."""
    os.environ.update(VNET_KILL_AT_REQUEST=str(k), VNET_KILL_SIGNAL="INT")
    try:
        return sandbox.vnet("apply", path, check=False)
    finally:
        del os.environ["VNET_KILL_AT_REQUEST"], os.environ["VNET_KILL_SIGNAL"]


def _routes_undone_at_every_request(lab, n, before):
    """An apply sent SIGINT at each of its first ``n`` requests is undone:
    the routes of n1 as ``before`` (`ip route show`), in their order."""
    for k in range(1, n + 1):
        r = _signalled(lab.sb, lab.path, k)
        assert r.returncode == 130 and "the apply was undone" in r.stderr and "failed" not in r.stderr, r.stderr
        assert lab.sb.sh(f"ip -n n1 -{lab.fam} route show") == before, f"SIGINT at request {k}: not restored"


@pytest.mark.parametrize("layer", LAYERS)
def test_a_route_put_before_or_after_a_declared_one_by_hand_goes(lab, layer):
    """`ip route prepend` puts another route in a declared one's slot (its
    destination, metric and table) before it, `append` after it: IPv4 keeps
    them all and takes the first (IPv6 makes one multipath route of them).
    The plan says so and deletes each (IPv6: the declared route made again);
    an undo at any request puts them back as they were, in their order."""
    lab.write([lab.a(10)])
    lab.apply()
    gw, gw2, gw3 = lab.f["gw"], *(lab.f["net"].format(h).split("/")[0] for h in (98, 99))
    lab.ip(f"route prepend default via {gw2}")
    lab.ip(f"route append {lab.f['far']} via {gw3}")
    if lab.fam == 4:   # (a deletion takes the first that matches what it says: one through e0 alone, after
        # the declared one through e0, is told from it by its scope; one that drops, by its type)
        lab.ip(f"route append default dev e0 && ip -n n1 route append blackhole {lab.f['far']}")
    before = lab.sb.sh(f"ip -n n1 -{lab.fam} route show")
    plan = json.loads(lab.sb.vnet("plan", "--json", lab.path).stdout)["changes"]
    if lab.fam == 4:
        slot = "in its slot (one route per destination, metric and table: the kernel takes the first): deleted"
        far, dflt = f"the declared {lab.f['far']} via {gw} in n1, {slot}", f"the declared default via {gw} in n1, {slot}"
        assert sorted((c["object"], c["reason"]) for c in plan) == [
            (f"route {lab.f['far']} in n1", f"after {far}"),
            (f"route {lab.f['far']} via {gw3} dev e0 in n1", f"after {far}"),
            ("route default dev e0 in n1", f"after {dflt}"),
            (f"route default via {gw2} dev e0 in n1", f"before {dflt}")], plan
    assert plan
    _routes_undone_at_every_request(lab, len(plan), before)
    lab.apply()
    lab.converged([lab.a(10)])


@pytest.mark.parametrize("layer", LAYERS)
def test_routes_in_the_way_of_a_declared_one_deleted_by_hand_go_and_an_undo_puts_them_back_in_order(lab, layer):
    """The declared route deleted by hand, and three put in its slot
    (IPv4 keeps them all; IPv6 makes one multipath route of those through a
    gateway): each is in the way, and an undo at any request puts them
    back, in their order (the first put back alone, the others after it)."""
    lab.write([lab.a(10)])
    lab.apply()
    far, gw2, gw3 = lab.f["far"], *(lab.f["net"].format(h).split("/")[0] for h in (98, 99))
    lab.ip(f"route del {far} via {lab.f['gw']} && ip -n n1 -{lab.fam} route add {far} via {gw2} && "
           f"ip -n n1 -{lab.fam} route append {far} via {gw3}" + (f" && ip -n n1 route append {far} dev e0"
                                                                    if lab.fam == 4 else ""))
    before = lab.sb.sh(f"ip -n n1 -{lab.fam} route show")
    plan = json.loads(lab.sb.vnet("plan", "--json", lab.path).stdout)["changes"]
    assert {c["reason"] for c in plan if c["action"] == "delete"} == {
        f"in the way of the declared {far} via {lab.f['gw']} in n1: replaced"}, plan
    _routes_undone_at_every_request(lab, len(plan), before)
    lab.apply()
    lab.converged([lab.a(10)])


@pytest.mark.parametrize("layer", LAYERS)
def test_ipv6_turned_off_by_hand_on_a_device_the_file_gives_ipv6_addresses_is_turned_on(sandbox, layer):
    """disable_ipv6 set by hand takes a device's IPv6 addresses and routes,
    and the kernel refuses them back while it is set (the apply failed,
    EACCES, every time): the plan sets it back first, says why, and puts
    back the addresses and routes; an undo at any request leaves it off;
    once the file gives the device no IPv6 address, it is off again, as found."""
    lab = Lab(sandbox, layer, 6)
    lab.write([lab.a(10)])
    lab.apply()
    key = "net.ipv6.conf.e0.disable_ipv6"
    sandbox.sh(f"ip netns exec n1 sysctl -qw {key}=1")
    assert lab.addresses() == set() and lab.routes() == set()
    plan = json.loads(sandbox.vnet("plan", "--json", lab.path).stdout)["changes"]
    assert plan[0] == {"action": "modify", "object": f"sysctl {key} in n1", "reason": "1 -> 0: the file gives n1/e0 "
                       "IPv6 addresses, which the kernel refuses while it is off"}, plan
    for k in range(1, len(plan) + 1):   # (the sysctl's write is no netlink request: the last is an apply)
        r = _signalled(sandbox, lab.path, k)
        if r.returncode == 0:
            break
        assert r.returncode == 130 and "the apply was undone" in r.stderr and "failed" not in r.stderr, r.stderr
        assert sandbox.sh(f"ip netns exec n1 sysctl -n {key}").strip() == "1" and lab.addresses() == set()
    assert k == len(plan)
    lab.converged([lab.a(10)])
    lab.write([], routes=())
    lab.apply()
    assert sandbox.sh(f"ip netns exec n1 sysctl -n {key}").strip() == "1"
    lab.plan_is_empty()


@pytest.mark.needs("veth")
def test_the_kernel_s_own_addresses_of_lo_flushed_by_hand_come_back(sandbox):
    """lo of a namespace vnet made holds 127.0.0.1/8 and ::1, which the
    kernel gives it as it goes up and never again: flushed by hand
    (`ip address flush dev lo`), the plan adds them back and says why,
    beside those the file gives lo (n1's), and 127.0.0.1 answers again."""
    path = sandbox.write("lf.yaml", "name: lf\nnamespaces: [n1, n2]\ninterfaces:\n"
                         "  - {name: lo, kind: external, netns: n1, addresses: [192.0.2.1/32]}\n"
                         "  - {name: u, kind: veth, netns: n1, addresses: [172.18.0.1/30, 'fd18::1/64'], "
                         "peer: {name: u, netns: n2, addresses: [172.18.0.2/30, 'fd18::2/64']}}\n")
    sandbox.vnet("apply", path)
    fresh = {ns: _lo(sandbox, ns) for ns in ("n1", "n2")}
    assert fresh == {"n1": ["127.0.0.1/8", "192.0.2.1/32", "::1/128"], "n2": ["127.0.0.1/8", "::1/128"]}
    sandbox.sh("ip -n n1 addr flush dev lo && ip -n n2 addr flush dev lo")
    sandbox.sh("! ip netns exec n2 ping -c1 -W1 127.0.0.1")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    own = "lo's own address, flushed"
    assert sorted((c["object"], c["reason"]) for c in plan) == sorted([
        ("address 127.0.0.1/8 brd 0.0.0.0 on n1/lo", own), ("address ::1/128 on n1/lo", own),
        ("address 192.0.2.1/32 on n1/lo", "missing"),
        ("address 127.0.0.1/8 brd 0.0.0.0 on n2/lo", own), ("address ::1/128 on n2/lo", own)]), plan
    sandbox.vnet("apply", path)
    assert {ns: _lo(sandbox, ns) for ns in ("n1", "n2")} == fresh
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    sandbox.sh("ip netns exec n2 ping -c1 -W1 127.0.0.1 && ip netns exec n2 ping -c1 -W1 ::1")


@pytest.mark.parametrize("layer", LAYERS)
def test_an_address_of_another_subnet_added_by_hand_goes_alone(lab, layer):
    """Someone's /32 (/128) on a device the file gives addresses: deleted,
    and nothing else: the kernel drops no route with it (the device keeps
    its addresses), so the routes through the device are left as they are."""
    lab.write([lab.a(10)])
    lab.apply()
    stranger = "192.0.2.7/32" if lab.fam == 4 else "2001:db8::7/128"
    lab.ip(f"addr add {stranger} dev e0" + (" nodad" if lab.fam == 6 else ""))
    plan = json.loads(lab.sb.vnet("plan", "--json", lab.path).stdout)["changes"]
    assert plan == [{"action": "delete", "object": f"address {stranger} on n1/e0", "reason": "not declared"}], plan
    lab.apply()
    lab.converged([lab.a(10)])


@pytest.mark.parametrize("layer", [LAYERS[0]])
def test_a_route_from_an_address_made_again_is_made_again_and_no_other(sandbox, layer):
    """The kernel drops an IPv4 route whose source is an address that goes,
    and every route through a device only with its last IPv4 address: the
    addresses of a subnet made again (its primary promoted by hand) beside
    another subnet's take the route from one of them, made again, and leave
    the others."""
    path = sandbox.write("src.yaml", "name: src\nnamespaces: [n1]\ninterfaces:\n"
                         "  - {name: v1, kind: veth, addresses: [10.2.0.1/24], peer: {name: e0, netns: n1, "
                         "addresses: [10.2.0.10/24, 10.2.0.11/24, 10.3.0.1/24]}}\nroutes:\n"
                         "  - {netns: n1, to: 10.9.0.0/24, via: 10.2.0.1, src: 10.2.0.11}\n"
                         "  - {netns: n1, to: default, via: 10.2.0.1}\n")
    sandbox.vnet("apply", path)
    want = sandbox.sh("ip -n n1 route show")
    sandbox.sh("ip netns exec n1 sysctl -qw net.ipv4.conf.e0.promote_secondaries=1")
    sandbox.sh("ip -n n1 addr del 10.2.0.10/24 dev e0 && ip -n n1 addr add 10.2.0.10/24 brd + dev e0")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert [(c["action"], c["object"], c["reason"]) for c in plan if "route" in c["object"]] == [
        ("delete", "route 10.9.0.0/24 via 10.2.0.1 in n1", "its source 10.2.0.11 is renumbered: removed first, "
         "added back after"),
        ("create", "route 10.9.0.0/24 via 10.2.0.1 in n1", "added back after renumbering")], plan
    sandbox.vnet("apply", path)
    assert sandbox.sh("ip -n n1 route show") == want
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.parametrize("layer", LAYERS)
def test_a_route_s_metric_changed_in_the_file_is_said_in_the_plan(lab, layer):
    """Another metric is another route (the old one goes, the new one is
    made): the plan names each with its metric (and table), not as two
    identical lines; the default metric (0, IPv6 1024) is not said."""
    lab.write([lab.a(10)])
    lab.apply()
    f, gw = lab.f, lab.f["gw"]
    text = open(lab.path).read()
    for old, new in ((None, 50), (50, 40), (40, None)):
        def route(m):
            return f"  - {{netns: n1, to: '{f['far']}', via: '{gw}', table: 100" + (f", metric: {m}}}\n" if m else "}\n")
        path = lab.sb.write("cv.yaml", text + route(new))
        plan = json.loads(lab.sb.vnet("plan", "--json", path).stdout)["changes"]
        label = f"route {f['far']} via {gw} table 100" + "{} in n1"
        assert [(c["action"], c["object"]) for c in plan] == ([("delete", label.format(f" metric {old}"))] if old else
                                                              []) + [("create", label.format(f" metric {new}" if new else ""))], plan
        lab.sb.vnet("apply", path)
        assert json.loads(lab.sb.vnet("plan", "--json", path).stdout)["changes"] == []
        shown = lab.sb.sh(f"ip -n n1 -{lab.fam} route show table 100")
        assert (f"metric {new}" in shown if new else shown.count("metric") == (lab.fam == 6)), shown


def _sysctl(sandbox, ns, *keys):
    return sandbox.sh(f"ip netns exec {ns} sysctl -n {' '.join(keys)}").split()


@pytest.mark.needs("veth")
def test_a_device_that_does_not_forward_on_a_router_is_applied_and_stays(sandbox):
    """Writing ip_forward (or IPv6's all.forwarding) sets every device's
    forwarding: a router with one device that does not forward applies
    (the namespace's keys written first, the device's after), and when the
    namespace's key changes later, the device's is set again."""
    def write(forward):
        return sandbox.write("router.yaml", f"""name: router
namespaces: [a]
interfaces:
  - {{name: v1, kind: veth, netns: a, peer: {{name: v0, netns: a}}}}
sysctls:
  - {{netns: a, key: net.ipv4.conf.v1.forwarding, value: '0'}}
  - {{netns: a, key: net.ipv6.conf.v1.forwarding, value: '0'}}
  - {{netns: a, key: net.ipv4.ip_forward, value: '{forward}'}}
  - {{netns: a, key: net.ipv6.conf.all.forwarding, value: '{forward}'}}
""")
    keys = ("net.ipv4.conf.v1.forwarding", "net.ipv6.conf.v1.forwarding", "net.ipv4.conf.v0.forwarding")
    for forward in ("1", "0", "1"):
        path = write(forward)
        sandbox.vnet("apply", path)
        assert _sysctl(sandbox, "a", *keys) == ["0", "0", forward]
        assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth")
def test_an_export_writes_lo_s_own_sysctls_where_they_are_not_what_it_would_get(sandbox):
    """lo is made with its namespace, before any key is written: an export
    writes its keys where they differ from a fresh namespace's lo as the
    namespace's keys written leave it (its forwarding, set by ip_forward,
    is not written), and they apply."""
    sandbox.sh("ip netns add a && ip netns exec a sysctl -qw net.ipv4.ip_forward=1 && "
               "ip netns exec a sysctl -qw net.ipv4.conf.lo.route_localnet=1")
    r = sandbox.vnet("export")
    assert "net.ipv4.conf.lo.route_localnet" in r.stdout and "lo.forwarding" not in r.stdout, r.stdout
    sandbox.sh("ip netns del a")
    path = sandbox.write("exported.yaml", r.stdout)
    sandbox.vnet("apply", path)
    assert _sysctl(sandbox, "a", "net.ipv4.conf.lo.route_localnet", "net.ipv4.conf.lo.forwarding") == ["1", "1"]
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth", "macvlan")
def test_an_export_of_one_namespace_leaves_out_a_device_it_cannot_write_and_what_goes_through_it(sandbox):
    """In a namespace the file makes, only lo can be `external`: a veth
    whose peer is in a namespace not exported is left out, with what is on
    it (a MACVLAN), its addresses, and the routes, neighbours and sysctls
    through it, each named; the rest is written and the file applies."""
    sandbox.sh("ip netns add a && ip netns add b && ip -n a link add eth0 type veth peer name eth0 netns b && "
               "ip -n a link set eth0 up && ip -n a addr add 10.0.0.1/24 dev eth0 && "
               "ip -n a route add 10.9.0.0/16 via 10.0.0.2 && "
               "ip -n a neigh add 10.0.0.7 lladdr 02:00:00:00:00:07 dev eth0 && "
               "ip netns exec a sysctl -qw net.ipv4.conf.eth0.rp_filter=2 && "
               "ip -n a link add m0 link eth0 type macvlan mode bridge && "
               "ip -n a link add u0 type veth peer name u1 && ip -n a link set u0 up && ip -n a link set u1 up && "
               "ip -n a addr add 10.5.0.1/24 dev u0 && "
               "ip -n a route add 10.6.0.0/16 via 10.5.0.2 dev u0")
    r = sandbox.vnet("export", "--netns", "a")
    for line in ("left out the veth eth0 of namespace a (its peer is in a namespace the export leaves out), and its "
                 "addresses 10.0.0.1/24",
                 "left out the macvlan m0 of namespace a (it refers to eth0 of namespace a, left out)",
                 "left out route 10.9.0.0/16 via 10.0.0.2 dev eth0 in a (through eth0, left out)",
                 "left out the static neighbour 10.0.0.7 on eth0 of namespace a (eth0 is left out)",
                 "left out the sysctl net.ipv4.conf.eth0.rp_filter = 2 of namespace a (eth0 is left out)"):
        assert f"vnet export: {line}" in r.stderr, r.stderr
    assert "eth0" not in r.stdout and "external" not in r.stdout, r.stdout
    sandbox.sh("ip netns del a && ip netns del b")
    path = sandbox.write("exported.yaml", r.stdout)
    sandbox.vnet("apply", path)
    assert "10.6.0.0/16 via 10.5.0.2 dev u0" in sandbox.sh("ip -n a route")
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth")
def test_an_export_leaves_out_a_device_of_a_kind_vnet_lacks_and_the_routes_through_it(sandbox):
    """A device vnet has no kind for (an IFB) in a namespace the file makes
    is left out, named with its addresses, and so is a route through it."""
    sandbox.sh("ip netns add c && ip -n c link add ifb0 type ifb && ip -n c link set ifb0 up && "
               "ip -n c addr add 10.1.0.1/24 dev ifb0 && ip -n c route add 10.8.0.0/16 dev ifb0")
    r = sandbox.vnet("export", "--netns", "c")
    assert "vnet export: left out the ifb ifb0 of namespace c (vnet has no kind for ifb), and its addresses " \
           "10.1.0.1/24" in r.stderr, r.stderr
    assert "vnet export: left out route 10.8.0.0/16 dev ifb0 in c (through ifb0, left out)" in r.stderr, r.stderr
    sandbox.sh("ip netns del c")
    path = sandbox.write("exported.yaml", r.stdout)
    sandbox.vnet("apply", path)
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    assert "ifb0" not in sandbox.sh("ip -n c link") and "10.8.0.0/16" not in sandbox.sh("ip -n c route")


@pytest.mark.needs("veth")
def test_altnames_are_made_changed_in_place_and_converge(sandbox):
    """A device's altnames are made with it; one added or taken by hand
    is planned back and converges; one declared elsewhere in the file is
    refused before anything changes."""
    def write(names, peer=""):
        return sandbox.write("alt.yaml", "name: alt\nnamespaces: [a]\ninterfaces:\n"
                             f"  - {{name: v0, kind: veth, netns: a, altnames: [{', '.join(names)}], "
                             f"peer: {{name: v1, netns: a{peer}}}}}\n")
    alts = lambda: json.loads(sandbox.sh("ip -n a -j link show v0"))[0].get("altnames", [])  # noqa: E731
    path = write(["uplink", "core0"])
    sandbox.vnet("apply", path)
    assert sorted(alts()) == ["core0", "uplink"]
    sandbox.sh("ip -n a link property del dev v0 altname core0 && ip -n a link property add dev v0 altname stray")
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert [(c["object"], c["reason"]) for c in plan] == [("link a/v0", "altnames [uplink, stray] -> [uplink, core0]")]
    sandbox.vnet("apply", path)
    assert sorted(alts()) == ["core0", "uplink"] and json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    r = sandbox.vnet("apply", write(["uplink"], ", altnames: [uplink]"), check=False)
    assert r.returncode == 2 and "'uplink' is also a/v0's name in namespace a" in r.stderr, r.stderr
