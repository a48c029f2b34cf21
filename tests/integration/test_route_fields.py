"""Routes' table, src, scope and onlink end to end, against `ip -j route
show table all`: applied, planned empty, changed, undone as they were,
exported and re-applied, and built by the `vnet script` commands run by
bash. Bad values are exit 2 naming the file, the route and the field."""
import json

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
    assert ("delete", "route 10.7.0.0/16 dev a0 in n1", "src none -> 10.2.0.1: removed first, added back after") \
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
])
def test_bad_route_field_is_exit_2(sandbox, route, says):
    f = sandbox.write("t.yaml", TOPO.split("routes:")[0] + f"routes:\n  - {route}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and f"{f}: {says}" in r.stderr, r.stderr
    assert sandbox.sh("ip netns list") == ""
