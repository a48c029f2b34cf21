"""Routes' table, src, scope and onlink end to end, against `ip -j route
show table all`: applied, planned empty, changed, undone as they were,
exported and re-applied, and built by the `vnet script` commands run by
bash. Bad values are exit 2 naming the file, the route and the field."""
import json
import re

import pytest
from lab import apply_json, export_round_trip, plan_json

TOPO = """name: rt
namespaces: [n1]
interfaces:
  - {name: a0, kind: veth, netns: n1, addresses: [10.1.0.1/24, 10.2.0.1/24, "fd01::1/64"],
     peer: {name: b0, netns: n1, addresses: [10.3.0.2/24]}}
routes:
  - {netns: n1, to: 10.9.0.0/16, via: 10.1.0.254, table: 100, src: 10.2.0.1}
  - {netns: n1, to: 10.8.0.0/16, dev: a0, scope: host}
  - {netns: n1, to: default, via: 192.0.2.1, dev: a0, onlink: true, table: 200}
  - {netns: n1, to: "fd09::/64", via: "fd01::254", src: "fd01::1", table: main}
  - {netns: n1, to: 10.7.0.0/16, dev: a0, metric: 5}
"""


def routes(sandbox, ns="n1"):
    """The routes a user would compare: every table, IPv4 and IPv6, the
    kernel's own (local table, proto kernel) left out."""
    out = set()
    for fam in ("-4", "-6"):
        for r in json.loads(sandbox.sh(f"ip -n {ns} {fam} -j route show table all")):
            if r.get("table") == "local" or r.get("protocol") == "kernel" or r.get("type", "unicast") != "unicast" \
                    or r["dst"].startswith("ff00") or r["dst"].startswith("fe80"):
                continue
            out.add((r["dst"], r.get("gateway"), r.get("dev"), r.get("metric", 0), r.get("table", "main"),
                     r.get("prefsrc"), r.get("scope", "global"), "onlink" in r.get("flags", [])))
    return out


WANT = {("10.9.0.0/16", "10.1.0.254", "a0", 0, "100", "10.2.0.1", "global", False),
        ("10.8.0.0/16", None, "a0", 0, "main", None, "host", False),
        ("default", "192.0.2.1", "a0", 0, "200", None, "global", True),
        ("fd09::/64", "fd01::254", "a0", 1024, "main", "fd01::1", "global", False),
        ("10.7.0.0/16", None, "a0", 5, "main", None, "link", False)}


def test_route_table_src_scope_onlink(sandbox):
    f = sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert routes(sandbox) == WANT
    assert plan_json(sandbox, f) == []

    # src and scope are replaced (delete, then add); a new table is a new route, the old one goes
    g = sandbox.write("t.yaml", TOPO.replace("table: 100, src: 10.2.0.1", "table: 101, src: 10.1.0.1")
                      .replace("scope: host", "scope: link").replace("metric: 5}", "metric: 5, src: 10.2.0.1}"))
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
    assert ("delete", "route 10.9.0.0/16 via 10.1.0.254 table 100 in n1", "no longer declared") in changes
    assert ("create", "route 10.9.0.0/16 via 10.1.0.254 table 101 in n1", "missing") in changes
    assert ("delete", "route 10.8.0.0/16 dev a0 in n1", "scope host -> link: removed first, added back after") \
        in changes
    assert ("delete", "route 10.7.0.0/16 dev a0 metric 5 in n1", "src none -> 10.2.0.1: removed first, added back after") \
        in changes
    apply_json(sandbox, g)
    assert routes(sandbox) == WANT - {("10.9.0.0/16", "10.1.0.254", "a0", 0, "100", "10.2.0.1", "global", False),
                                      ("10.8.0.0/16", None, "a0", 0, "main", None, "host", False),
                                      ("10.7.0.0/16", None, "a0", 5, "main", None, "link", False)} | {
        ("10.9.0.0/16", "10.1.0.254", "a0", 0, "101", "10.1.0.1", "global", False),
        ("10.8.0.0/16", None, "a0", 0, "main", None, "link", False),
        ("10.7.0.0/16", None, "a0", 5, "main", "10.2.0.1", "link", False)}
    assert plan_json(sandbox, g) == []
    sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert routes(sandbox) == WANT

    # an apply that removes the onlink route and then fails puts it back as it was, onlink
    bad = TOPO.replace("  - {netns: n1, to: default, via: 192.0.2.1, dev: a0, onlink: true, table: 200}\n", "")
    bad = bad.replace("interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n")
    bad += "  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"   # not an address here: the kernel refuses it
    h = sandbox.write("bad.yaml", bad)
    r = sandbox.vnet("apply", h, check=False)
    assert r.returncode == 3 and "route 10.6.0.0/16 dev lo" in r.stderr, r.stderr
    assert routes(sandbox) == WANT

    # export: the same routes, fields and all; re-applied from nothing, the same kernel state
    export_round_trip(sandbox, "rt", ("table: 100", "src: 10.2.0.1", "scope: host", "onlink: true", "table: 200",
                                      "metric: 5"), lambda: routes(sandbox), WANT)
    assert sandbox.sh("ip netns list") == ""

    # the iproute2 script, run by bash
    script = sandbox.vnet("script", f).stdout
    assert "ip -n n1 route add default via 192.0.2.1 dev a0 table 200 onlink" in script, script
    assert "ip -n n1 route add 10.8.0.0/16 dev a0 scope host" in script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert routes(sandbox) == WANT


@pytest.mark.parametrize("route,says", [
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, table: mian}", "routes[0].table: 'mian' is not a routing table"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, table: 0}", "routes[0].table: 0 is not a routing table"),
    ("{netns: n1, to: 'fd09::/64', dev: a0, scope: link}", "routes[0].scope: an IPv6 route has no scope"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, scope: universe}", "routes[0].scope: 'universe' is not one of global"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, src: 'fd01::1'}", "routes[0].src: fd01::1 cannot be the source of a "
                                                                "route to 10.9.0.0/16: it is IPv6"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, src: 10.4.0.1}", "routes[0].src: 10.4.0.1 is no address of namespace n1"),
    ("{netns: n1, to: 10.9.0.0/16, type: local}", "routes[0]: a local route needs dev"),
    ("{netns: n1, to: 10.9.0.0/16, type: local, dev: a0, via: 10.1.0.254}",
     "routes[0].via: a local route delivers here: it has no via"),
    ("{netns: n1, to: 10.9.0.0/16, type: throw, dev: a0}",
     "routes[0].dev: a throw route ends the lookup in its table: it has no dev"),
])
def test_bad_route_field_is_exit_2(sandbox, route, says):
    f = sandbox.write("t.yaml", TOPO.split("routes:")[0] + f"routes:\n  - {route}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and f"{f}: {says}" in r.stderr, r.stderr
    assert sandbox.sh("ip netns list") == ""


METRICS = """name: rm
namespaces: [n1]
interfaces:
  - {name: a0, kind: veth, netns: n1, addresses: [10.1.0.1/24, "fd01::1/64"], peer: {name: b0, netns: n1}}
routes:
  - {netns: n1, to: 10.70.0.0/16, via: 10.1.0.254, metrics: {mtu: 1400, lock: [mtu], initcwnd: 10, rtt: 12,
     rto_min: 200, quickack: true, congctl: reno}}
  - {netns: n1, to: "fd70::/64", via: "fd01::254", metrics: {hoplimit: 9, mtu: 1400, advmss: 1300}}
  - {netns: n1, to: 10.71.0.0/16, dev: a0, table: 100, metrics: {window: 20000}}
"""

METRICS_SHOWN = {"10.70.0.0/16 via 10.1.0.254 dev a0 mtu lock 1400 rtt 12ms initcwnd 10 rto_min lock 200ms quickack 1 "
                 "congctl reno",
                 "fd70::/64 via fd01::254 dev a0 metric 1024 mtu 1400 advmss 1300 hoplimit 9 pref medium",
                 "10.71.0.0/16 dev a0 table 100 scope link window 20000"}


def shown(sandbox, ns="n1"):
    """The routes to 10.70-71/16 and fd70::/64 as `ip route` shows them (linkdown aside: the carrier's;
    and the protocol: `ip route add`'s boot, vnet's static)."""
    lines = sandbox.sh(f"ip -n {ns} route show table all; ip -n {ns} -6 route show table all").splitlines()
    return {re.sub(r" proto (boot|static)", "", " ".join(w for w in ln.split() if w != "linkdown")) for ln in lines
            if ln.startswith(("10.70.", "10.71.", "fd70:"))}


@pytest.mark.needs("veth")
def test_route_metrics_applied_converged_replaced_undone_exported_and_scripted(sandbox):
    f = sandbox.write("m.yaml", METRICS)
    apply_json(sandbox, f)
    assert shown(sandbox) == METRICS_SHOWN
    assert plan_json(sandbox, f) == []

    # changed by hand: the plan puts the declared metrics back
    sandbox.sh("ip -n n1 route change 10.70.0.0/16 via 10.1.0.254 mtu 1500 initcwnd 10")
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, f)]
    assert changes[0] == ("delete", "route 10.70.0.0/16 via 10.1.0.254 in n1",
                          "metrics initcwnd 10 mtu 1500 -> congctl reno initcwnd 10 mtu lock 1400 quickack 1 "
                          "rto_min 200ms rtt 12ms: removed first, added back after"), changes
    apply_json(sandbox, f)
    assert shown(sandbox) == METRICS_SHOWN and plan_json(sandbox, f) == []

    # another metric in the file, and none: the route replaced each time
    g = sandbox.write("m2.yaml", METRICS.replace("initcwnd: 10", "initcwnd: 20").replace(
        ", metrics: {window: 20000}", ""))
    apply_json(sandbox, g)
    want = {s.replace("initcwnd 10", "initcwnd 20").replace(" window 20000", "") for s in METRICS_SHOWN}
    assert shown(sandbox) == want and plan_json(sandbox, g) == []

    # an apply that replaces the route and then fails puts it back with its metrics
    bad = METRICS.replace("initcwnd: 10", "initcwnd: 30").replace("interfaces:\n", "interfaces:\n  - {name: lo, kind: external}\n")
    bad += "  - {to: 10.6.0.0/16, dev: lo, src: 10.66.0.1}\n"   # not an address here: the kernel refuses it
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "route 10.6.0.0/16 dev lo" in r.stderr, r.stderr
    assert shown(sandbox) == want

    # the iproute2 script, run by bash, gives the same routes
    sandbox.vnet("destroy", "rm")
    sandbox.sh(f"bash -e {sandbox.write('s.sh', sandbox.vnet('script', f).stdout)}")
    assert shown(sandbox) == METRICS_SHOWN
    sandbox.sh("ip netns del n1")

    # applied again, exported, and re-applied from nothing: the same routes
    apply_json(sandbox, f)
    export_round_trip(sandbox, "rm", ("metrics:", "mtu: 1400", "lock: [mtu]", "congctl: reno", "hoplimit: 9"),
                      lambda: shown(sandbox), METRICS_SHOWN)


@pytest.mark.needs("veth")
def test_route_metrics_made_by_hand_are_exported_and_made_again(sandbox):
    """A network built with `ip route add ... mtu lock 1400 initcwnd 10`:
    `vnet export` writes the metrics (it said it left them out before), and
    the file applied on a fresh machine gives the same routes."""
    sandbox.sh("ip netns add n1 && ip -n n1 link add a0 type veth peer name b0 && ip -n n1 link set a0 up && "
               "ip -n n1 addr add 10.1.0.1/24 dev a0 && ip -n n1 -6 addr add fd01::1/64 dev a0 nodad && "
               "ip -n n1 route add 10.70.0.0/16 via 10.1.0.254 mtu lock 1400 rtt 12ms initcwnd 10 rto_min 200ms "
               "quickack 1 congctl reno && "
               "ip -n n1 -6 route add fd70::/64 via fd01::254 hoplimit 9 mtu 1400 advmss 1300 && "
               "ip -n n1 route add 10.71.0.0/16 dev a0 table 100 window 20000 realm 3")
    before = shown(sandbox)
    r = sandbox.vnet("export", "--netns", "n1")
    said = [ln for ln in r.stderr.splitlines() if "route" in ln]
    assert said == ["vnet export: wrote route 10.71.0.0/16 dev a0 table 100 in n1 without its realm 3, which a "
                    "topology cannot declare"], r.stderr
    exported = sandbox.write("e.yaml", r.stdout)
    sandbox.sh("ip netns del n1")
    apply_json(sandbox, exported)
    assert shown(sandbox) == {s.replace(" realm 3", "") for s in before}
    assert "window 20000" in " ".join(shown(sandbox))


@pytest.mark.needs("veth")
def test_route_protocol_and_ipv6_preference_applied_converged_and_exported(sandbox):
    """`proto bird`, `pref high`: made as declared, put back when changed by
    hand, and a lab built with them exports them (an export dropped the
    protocol silently, and said it left the preference out)."""
    sandbox.sh("ip netns add n1 && ip -n n1 link add a0 type veth peer name b0 && ip -n n1 link set a0 up && "
               "ip -n n1 addr add 10.1.0.1/24 dev a0 && ip -n n1 -6 addr add fd01::1/64 dev a0 nodad && "
               "ip -n n1 route add 10.9.0.0/16 via 10.1.0.254 proto bird && "
               "ip -n n1 route add 10.8.0.0/16 via 10.1.0.254 proto 99 && "
               "ip -n n1 -6 route add fd09::/64 via fd01::254 pref high && "
               "ip -n n1 -6 route add fd08::/64 via fd01::254 pref low proto zebra")

    def shown():
        return {re.sub(r" proto static| linkdown", "", ln) for ln in
                sandbox.sh("ip -n n1 route; ip -n n1 -6 route").splitlines() if ln.startswith(("10.9", "10.8", "fd0"))}
    before = shown()
    r = sandbox.vnet("export", "--netns", "n1")
    assert "route" not in r.stderr, r.stderr
    assert {"netns": "n1", "to": "fd08::/64", "via": "fd01::254", "dev": "a0", "protocol": "zebra", "pref": "low"} \
        in __import__("yaml").safe_load(r.stdout)["routes"]
    f = sandbox.write("e.yaml", r.stdout)
    sandbox.sh("ip netns del n1")
    apply_json(sandbox, f)
    assert shown() == before and plan_json(sandbox, f) == []
    sandbox.sh("ip -n n1 route replace 10.9.0.0/16 via 10.1.0.254 proto ospf && "
               "ip -n n1 -6 route replace fd09::/64 via fd01::254 pref medium")
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, f)]
    assert ("delete", "route 10.9.0.0/16 via 10.1.0.254 dev a0 in n1",
            "protocol ospf -> bird: removed first, added back after") in changes, changes
    assert ("delete", "route fd09::/64 via fd01::254 dev a0 in n1",
            "pref medium -> high: removed first, added back after") in changes, changes
    apply_json(sandbox, f)
    assert shown() == before and plan_json(sandbox, f) == []
    sandbox.vnet("destroy", "exported")
    sandbox.sh(f"bash -e {sandbox.write('s.sh', sandbox.vnet('script', f).stdout)}")
    assert shown() == before


@pytest.mark.parametrize("route,says", [
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, protocol: ra}", "routes[0].protocol: 'ra' is not a protocol"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, protocol: 300}", "routes[0].protocol: 300 is not a protocol"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, protocol: brid}", "(did you mean 'bird'?)"),
    ("{netns: n1, to: 10.9.0.0/16, dev: a0, pref: high}", "routes[0].pref: an IPv4 route has no preference"),
    ("{netns: n1, to: 'fd09::/64', dev: a0, pref: top}", "routes[0].pref: 'top' is not one of medium, high, low"),
])
def test_bad_route_protocol_or_pref_is_exit_2(sandbox, route, says):
    f = sandbox.write("t.yaml", TOPO.split("routes:")[0] + f"routes:\n  - {route}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert sandbox.sh("ip netns list") == ""


def _export_applies(sandbox, ns="n1"):
    """Export namespace ``ns``, delete it, apply the export: (its stderr's
    lines, the export as a dict); the export applied plans empty."""
    import yaml
    r = sandbox.vnet("export", "--netns", ns)
    f = sandbox.write("e.yaml", r.stdout)
    sandbox.sh(f"ip netns del {ns}")
    a = sandbox.vnet("apply", f, check=False)
    assert a.returncode == 0, f"the export does not apply ({a.returncode}):\n{a.stderr}\n--- export:\n{r.stdout}"
    assert plan_json(sandbox, f) == []
    return r.stderr.splitlines(), yaml.safe_load(r.stdout)


@pytest.mark.needs("veth")
def test_a_subnet_route_someone_made_with_protocol_kernel_is_exported(sandbox):
    """NetworkManager's addressing: an address with noprefixroute, its
    subnet route added by itself with protocol kernel and a metric, a
    DHCP default route through it: the subnet route is someone's (the
    kernel makes none for that address), exported, and the export applies
    (before: left out as the kernel's, and the default route's gateway was
    then on no subnet: exit 2)."""
    sandbox.sh("ip netns add n1 && ip -n n1 link set lo up && ip -n n1 link add a0 type veth peer name b0 && "
               "ip -n n1 link set a0 up && ip -n n1 addr add 10.0.0.5/24 dev a0 noprefixroute && "
               "ip -n n1 route add 10.0.0.0/24 dev a0 proto kernel scope link src 10.0.0.5 metric 100 && "
               "ip -n n1 route add default via 10.0.0.1 dev a0 proto dhcp src 10.0.0.5 metric 100 && "
               "ip -n n1 addr add fd00:5::5/64 dev a0 noprefixroute nodad && "
               "ip -n n1 -6 route add fd00:5::/64 dev a0 proto kernel metric 100 && "
               "ip -n n1 addr add 10.1.0.1/24 dev b0 metric 50")   # (the kernel's own, with a metric: not written)
    before = sandbox.sh("ip -n n1 route show table all; ip -n n1 -6 route show table all")
    said, doc = _export_applies(sandbox)
    assert {"netns": "n1", "to": "10.0.0.0/24", "dev": "a0", "metric": 100, "src": "10.0.0.5",
            "protocol": "kernel"} in doc["routes"], doc
    assert {"netns": "n1", "to": "fd00:5::/64", "dev": "a0", "metric": 100, "protocol": "kernel"} in doc["routes"]
    assert not [r for r in doc["routes"] if r["to"] == "10.1.0.0/24"], doc["routes"]
    assert not [ln for ln in said if "route" in ln], said
    assert sandbox.sh("ip -n n1 route show table all; ip -n n1 -6 route show table all") == before


@pytest.mark.needs("veth")
def test_routes_a_file_cannot_declare_are_named_and_the_export_applies(sandbox):
    """Routes someone made that a file has no words for: of types
    multicast, broadcast, anycast, an IPv4 one through an IPv6 gateway:
    each named on stderr as left out (before: dropped silently, or written
    as a plain route), and the export applies. Those of the local table
    (any-IP), throw ones and IPv6 ones from a source prefix are written
    (before: dropped silently, or, from a source prefix, written as plain
    defaults, and the export did not apply: EEXIST)."""
    sandbox.sh("ip netns add n1 && ip -n n1 link set lo up && ip -n n1 link add a0 type veth peer name b0 && "
               "ip -n n1 link set a0 up && ip -n n1 link set b0 up && "
               "ip -n n1 addr add 10.1.0.1/24 dev a0 && ip -n n1 addr add fd00::1/64 dev a0 nodad && "
               "ip -n n1 addr add fd01::1/64 dev b0 nodad && "
               "ip -n n1 route add local 10.52.0.0/24 dev lo table local && "
               "ip -n n1 -6 route add local fd00:52::/64 dev lo table local && "
               "ip -n n1 route add throw 10.53.0.0/16 table 100 && "
               "ip -n n1 route add multicast 224.1.0.0/16 dev a0 && "
               "ip -n n1 route add broadcast 10.55.0.255 dev a0 table local && "
               "ip -n n1 -6 route add anycast fd00:9::/128 dev a0 table local && "
               "ip -n n1 -6 route add default from fd00:aaaa::/48 via fd00::2 && "
               "ip -n n1 -6 route add default from fd00:bbbb::/48 via fd01::2 && "
               "ip -n n1 route add 10.8.0.0/16 via inet6 fe80::1 dev a0 && "
               "ip -n n1 route add 10.9.0.0/16 via 10.1.0.254")
    said, doc = _export_applies(sandbox)
    left = sorted(ln for ln in said if "left out route" in ln)
    end = ", which a topology cannot declare"
    assert left == sorted(f"vnet export: left out route {r}{end}" for r in (
        "224.1.0.0/16 dev a0 in n1: it is of type multicast",
        "10.55.0.255/32 dev a0 table 255 in n1: it is of type broadcast",
        "fd00:9::/128 dev a0 table 255 in n1: it is of type anycast",
        "10.8.0.0/16 dev a0 in n1: its gateway is of the other family (via inet6 fe80::1)")), said
    assert sorted(r["to"] for r in doc["routes"]) == ["10.52.0.0/24", "10.53.0.0/16", "10.9.0.0/16", "default",
                                                      "default", "fd00:52::/64"], doc["routes"]
    assert {"netns": "n1", "to": "default", "from": "fd00:aaaa::/48", "via": "fd00::2", "dev": "a0"} in doc["routes"]
    assert {"netns": "n1", "to": "10.52.0.0/24", "type": "local", "dev": "lo", "table": 255} in doc["routes"]
    assert {"name": "lo", "kind": "external", "netns": "n1"} in doc["interfaces"]


def _link_local(sandbox, dev, ns="n1"):
    return sorted(a["local"] for a in json.loads(sandbox.sh(f"ip -n {ns} -j addr show dev {dev}"))[0]["addr_info"]
                  if a["local"].startswith("fe80:"))


@pytest.mark.needs("veth")
def test_a_link_local_address_someone_set_is_exported_and_declared_ones_verify(sandbox):
    """A link-local address set by hand (`ip address add fe80::1/64`) is
    exported (before: left out with the kernel's own), the kernel's own
    (made from the MAC) is not; a file declaring one applies (before: its
    verification found it missing, exit 4) and plans empty."""
    import yaml
    from vnet.kernel.rtnl import says_address_protocols
    sandbox.sh("ip netns add n1 && ip -n n1 link add v0 type veth peer name v1 && ip -n n1 link set v0 up && "
               "ip -n n1 link set v1 up && ip -n n1 addr add fe80::1/64 dev v0 nodad")
    before = _link_local(sandbox, "v0")
    said, doc = _export_applies(sandbox)
    v0 = next(i for i in doc["interfaces"] if i["name"] == "v0") if any(i["name"] == "v0" for i in doc["interfaces"]) \
        else next(i for i in doc["interfaces"] if i["name"] == "v1")["peer"]
    if not says_address_protocols():   # before 6.3 the kernel does not say whose it is: all taken for its own
        assert not v0.get("addresses"), doc
        return
    assert v0["addresses"] == ["fe80::1/64"], doc
    assert "fe80::1" in _link_local(sandbox, "v0") and len(_link_local(sandbox, "v0")) == len(before)
    f = sandbox.write("ll.yaml", yaml.safe_dump({"name": "ll", "namespaces": ["n2"], "interfaces": [
        {"name": "a1", "kind": "veth", "netns": "n2", "addresses": ["fd00:2::1/64", "fe80::1/64"],
         "peer": {"name": "a0", "netns": "n2"}}]}))
    apply_json(sandbox, f)
    assert "fe80::1" in _link_local(sandbox, "a1", "n2")
    assert plan_json(sandbox, f) == []


@pytest.mark.needs("veth")
def test_an_address_whose_prefix_route_someone_deleted_is_exported_noprefixroute(sandbox):
    """`ip address add 10.0.0.1/24 dev v0; ip route del 10.0.0.0/24 dev v0`
    (IPv6 too): the export writes the address noprefixroute, and applied,
    the route does not come back (before: it did, silently)."""
    sandbox.sh("ip netns add n1 && ip -n n1 link set lo up && ip -n n1 link add v0 type veth peer name v1 && "
               "ip -n n1 link set v0 up && ip -n n1 link set v1 up && "
               "ip -n n1 addr add 10.0.0.1/24 dev v0 && ip -n n1 addr add fd00::1/64 dev v0 nodad && "
               "ip -n n1 addr add 10.0.1.1/24 dev v1 && ip -n n1 addr add 10.0.1.2/24 dev v1 && "
               "ip -n n1 route del 10.0.0.0/24 dev v0 && ip -n n1 -6 route del fd00::/64 dev v0")
    table = lambda: sorted(sandbox.sh("ip -n n1 route show table all; ip -n n1 -6 route show table all").splitlines())  # noqa: E731
    before = table()
    said, doc = _export_applies(sandbox)
    v1 = next(i for i in doc["interfaces"] if i["name"] == "v1")
    assert sorted(v1["peer"]["addresses"]) == ["10.0.0.1/24 brd 0.0.0.0 noprefixroute", "fd00::1/64 noprefixroute"]
    assert sorted(v1["addresses"]) == ["10.0.1.1/24 brd 0.0.0.0", "10.0.1.2/24 brd 0.0.0.0"]   # (a secondary)
    assert table() == before


FROM = """name: fr
namespaces: [n1]
interfaces:
  - {name: a0, kind: veth, netns: n1, addresses: ["fd00::1/64"], peer: {name: b0, netns: n1, addresses: ["fd01::1/64"]}}
routes:
  - {netns: n1, to: default, from: "fd00:aaaa::/48", via: "fd00::2"}
  - {netns: n1, to: default, from: "fd00:bbbb::/48", via: "fd01::2"}
  - {netns: n1, to: default, via: "fd00::4"}
"""


def _from_routes(sandbox):
    return sorted(" ".join(ln.split()) for ln in sandbox.sh("ip -n n1 -6 route show").splitlines()
                  if ln.startswith("default"))


@pytest.mark.needs("veth")
def test_ipv6_routes_from_a_source_prefix_are_applied_changed_removed_and_scripted(sandbox):
    """`from:` (ip -6 route add default from fd00:aaaa::/48 via ...): routes to
    one place from several sources, and the plain one beside them, each its
    own route: applied, planned empty, another gateway replaces it, no
    longer declared it is removed (the others stay), and `vnet script`'s
    lines make them."""
    f = sandbox.write("t.yaml", FROM)
    apply_json(sandbox, f)
    want = ["default from fd00:aaaa::/48 via fd00::2 dev a0 proto static metric 1024 pref medium",
            "default from fd00:bbbb::/48 via fd01::2 dev b0 proto static metric 1024 pref medium",
            "default via fd00::4 dev a0 proto static metric 1024 pref medium"]
    assert _from_routes(sandbox) == want
    assert plan_json(sandbox, f) == []
    g = sandbox.write("g.yaml", FROM.replace('via: "fd01::2"', 'via: "fd01::3"'))
    changes = [(c["action"], c["object"]) for c in plan_json(sandbox, g)]
    assert ("delete", "route default from fd00:bbbb::/48 via fd01::2 in n1") in changes, changes
    assert ("create", "route default from fd00:bbbb::/48 via fd01::3 in n1") in changes, changes
    apply_json(sandbox, g)
    assert _from_routes(sandbox) == [want[0], want[1].replace("fd01::2", "fd01::3"), want[2]]
    h = sandbox.write("h.yaml", FROM.replace('  - {netns: n1, to: default, from: "fd00:aaaa::/48", via: "fd00::2"}\n',
                                             ""))
    apply_json(sandbox, h)
    assert _from_routes(sandbox) == [want[1], want[2]] and plan_json(sandbox, h) == []
    sandbox.vnet("destroy", "fr")
    sandbox.sh(f"bash -e {sandbox.write('s.sh', sandbox.vnet('script', f).stdout)}")
    assert [ln.replace(" proto static", "") for ln in want] == _from_routes(sandbox)
    bad = FROM.split("routes:")[0] + 'routes:\n  - {netns: n1, to: 10.9.0.0/16, from: 10.8.0.0/16, dev: a0}\n'
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 2 and "routes[0].from: an IPv4 route has no source prefix" in r.stderr, r.stderr


@pytest.mark.needs("veth")
def test_an_undo_puts_back_a_source_prefix_route_through_a_device_made_again(sandbox):
    """A change that makes a pair again (its peer renamed) and then fails
    (an MTU lo refuses): the undo makes the old pair again with the IPv6
    route from a source prefix through it, `from` and all."""
    pair = "  - {{name: v0, kind: veth, netns: n1, addresses: ['fd00:1::1/64'], peer: {{name: {peer}, netns: n2, " \
           "addresses: ['fd00:1::2/64']}}}}\n"
    head = "name: f1\nnamespaces: [n1, n2]\ninterfaces:\n"
    route = "routes:\n  - {netns: n1, to: default, from: 'fd00:aaaa::/48', via: 'fd00:1::2'}\n"
    f = sandbox.write("f1.yaml", head + pair.format(peer="v0") + route)
    sandbox.vnet("apply", f)
    before = sandbox.sh("ip -n n1 -6 route show")
    assert "default from fd00:aaaa::/48 via fd00:1::2" in before, before
    f = sandbox.write("f1.yaml", head + pair.format(peer="v9") + route +
                      "sysctls:\n  - {netns: n1, key: net.ipv6.conf.lo.mtu, value: 100}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 3 and "the apply was undone" in r.stderr and "failed" not in r.stderr.split("\n", 1)[1], \
        r.stderr
    assert sandbox.sh("ip -n n1 -6 route show") == before


@pytest.mark.needs("veth")
def test_a_route_of_another_type_beside_a_declared_one_is_deleted(sandbox):
    """`ip route append broadcast ...` in a declared route's slot: apply
    deletes it (before: an internal error, KeyError, on every apply)."""
    f = sandbox.write("r1.yaml", "name: r1\nnamespaces: [n1, n2]\ninterfaces:\n  - {name: v0, kind: veth, netns: n1, "
                                 "addresses: [10.1.0.1/24], peer: {name: v0, netns: n2, addresses: [10.1.0.2/24]}}\n"
                                 "routes:\n  - {netns: n1, to: 10.9.0.0/24, via: 10.1.0.2}\n")
    sandbox.vnet("apply", f)
    sandbox.sh("ip -n n1 route append broadcast 10.9.0.0/24 dev v0 table main")
    sandbox.vnet("apply", f)
    assert plan_json(sandbox, f) == []
    assert "broadcast" not in sandbox.sh("ip -n n1 route show table main")
