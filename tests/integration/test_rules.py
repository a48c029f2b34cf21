"""Policy routing rules (`ip rule`) end to end, against `ip -j rule show`:
applied, planned empty, deciding where real traffic goes, deleted by hand
and made again, changed, undone as they were after a later failure,
exported and re-applied, built by the `vnet script` commands run by bash,
and removed by destroy (vnet's own namespace's too), a rule someone else
made left alone; `vnet show` lists them."""
import json

from lab import apply_json, export_round_trip, plan_json

# a sends to 192.0.2.1, which b and c both hold: the main table goes by b,
# table 100 by c; only c routes back to a's 10.9.0.1, so a ping from
# 10.9.0.1 is answered only while the rule sends it by table 100
TOPO = """name: rl
namespaces: [a, b, c]
interfaces:
  - {name: lo, kind: external, netns: a, addresses: [10.9.0.1/32]}
  - {name: lo, kind: external, netns: b, addresses: [192.0.2.1/32]}
  - {name: lo, kind: external, netns: c, addresses: [192.0.2.1/32]}
  - {name: e1, kind: veth, netns: a, addresses: [10.1.0.1/24, "fd01::1/64"],
     peer: {name: e1, netns: b, addresses: [10.1.0.2/24]}}
  - {name: e2, kind: veth, netns: a, addresses: [10.2.0.1/24], peer: {name: e2, netns: c, addresses: [10.2.0.2/24]}}
routes:
  - {netns: a, to: 192.0.2.1/32, via: 10.1.0.2}
  - {netns: a, to: 192.0.2.1/32, via: 10.2.0.2, table: 100}
  - {netns: c, to: 10.9.0.1/32, via: 10.2.0.1}
rules:
  - {netns: a, priority: 100, from: 10.9.0.1, table: 100}
  - {netns: a, priority: 200, to: 198.51.100.0/24, type: prohibit}
  - {netns: a, iif: lo, fwmark: 0x10/0xff, not: true, table: 200}
  - {netns: a, family: ipv6, suppress_prefixlength: 0, table: 100}
  - {netns: a, priority: 300, to: "fd09::/64", oif: e1, tos: 8, table: 300}
  - {priority: 1234, from: 203.0.113.77, table: 77}
"""


def rules(sandbox, ns):
    """The rules of ``ns`` a user would compare (`ip -j rule show`, IPv4
    and IPv6), the kernel's defaults left out."""
    out = set()
    for fam in ("-4", "-6"):
        for r in json.loads(sandbox.sh(f"ip {f'-n {ns} ' if ns else ''}{fam} -j rule show")):
            if r.get("table") in ("local", "main", "default") and r["src"] == "all" and len(r) == 3:
                continue
            out.add((fam, *sorted((k, str(v)) for k, v in r.items() if k != "priority" or fam == "-4"
                                  and r["priority"] in (100, 200, 300, 1234))))
    return out


def want(sandbox):
    """What `ip rule add` gives for the rules of TOPO, made by hand in a
    fresh namespace (the kernel's choice of priorities for those without
    one left out of the comparison)."""
    sandbox.sh("ip netns add want && ip -n want link add e1 type veth peer name x1")
    for line in ("rule add pref 100 from 10.9.0.1 lookup 100", "rule add pref 200 to 198.51.100.0/24 prohibit",
                 "rule add not iif lo fwmark 0x10/0xff lookup 200", "-6 rule add suppress_prefixlength 0 lookup 100",
                 "-6 rule add pref 300 to fd09::/64 oif e1 tos 8 lookup 300"):
        sandbox.sh(f"ip -n want {line}")
    got = rules(sandbox, "want")
    sandbox.sh("ip netns del want")
    return got


def reached(sandbox):
    """Is a ping from a's 10.9.0.1 to 192.0.2.1 answered (two tries: the
    first may wait for a neighbour)?"""
    return "100% packet loss" not in \
        sandbox.sh("ip netns exec a ping -c 2 -i 0.2 -W 1 -I 10.9.0.1 192.0.2.1; true")


def test_rules_apply_steer_traffic_converge_and_go(sandbox):
    wanted = want(sandbox)
    assert len(wanted) == 5, wanted
    f = sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert rules(sandbox, "a") == wanted
    host = rules(sandbox, None)
    assert ("-4", ("priority", "1234"), ("src", "203.0.113.77"), ("table", "77")) in host, host
    assert plan_json(sandbox, f) == []
    assert reached(sandbox)
    shown = json.loads(sandbox.vnet("show", "rl", "--json").stdout)["rules"]
    assert {"netns": "a", "family": "ipv4", "priority": 100, "rule": "from 10.9.0.1 lookup 100"} in shown, shown
    assert {"netns": None, "family": "ipv4", "priority": 1234, "rule": "from 203.0.113.77 lookup 77"} in shown
    assert len(shown) == 6   # the kernel's defaults left out

    # deleted by hand: the traffic goes by b, which does not answer; the plan makes it again
    sandbox.sh("ip -n a rule del pref 100")
    assert not reached(sandbox)
    assert [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, f)] == \
        [("create", "rule 100 from 10.9.0.1 lookup 100 in a", "missing")]
    apply_json(sandbox, f)
    assert reached(sandbox) and rules(sandbox, "a") == wanted

    # a rule someone else adds stays; a rule changed in the file is the old one gone, the new one made
    sandbox.sh("ip -n a rule add pref 150 from 10.9.0.9 lookup 9")
    g = sandbox.write("t.yaml", TOPO.replace("priority: 100, from: 10.9.0.1", "priority: 110, from: 10.9.0.1"))
    changes = [(c["action"], c["object"], c["reason"]) for c in plan_json(sandbox, g)]
    assert changes == [("delete", "rule 100 from 10.9.0.1 lookup 100 in a", "no longer declared"),
                       ("create", "rule 110 from 10.9.0.1 lookup 100 in a", "missing")], changes
    apply_json(sandbox, g)
    prios = {r["priority"] for r in json.loads(sandbox.sh("ip -n a -j rule show"))}
    assert {110, 150} <= prios and 100 not in prios
    assert reached(sandbox) and plan_json(sandbox, g) == []
    sandbox.sh("ip -n a rule del pref 150")
    apply_json(sandbox, sandbox.write("t.yaml", TOPO))

    # an apply that removes a rule and adds another, then fails, puts both back as they were
    bad = TOPO.replace("  - {priority: 1234, from: 203.0.113.77, table: 77}\n",
                       "  - {priority: 1235, from: 203.0.113.78, table: 78}\n")
    bad += "sysctls:\n  - {key: net.ipv4.ip_forward, value: notanumber}\n"
    before = rules(sandbox, None)
    r = sandbox.vnet("apply", sandbox.write("bad.yaml", bad), check=False)
    assert r.returncode == 3 and "sysctl net.ipv4.ip_forward" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert rules(sandbox, None) == before and rules(sandbox, "a") == wanted
    assert plan_json(sandbox, f) == []

    # export: the same rules; re-applied from nothing, the same kernel state
    export_round_trip(sandbox, "rl", ("priority: 100", "type: prohibit", "fwmark: 0x10/0xff", "not: true",
                                      "family: ipv6", "suppress_prefixlength: 0", "oif: e1", "tos: 8"),
                      lambda: rules(sandbox, "a"), wanted)
    assert not any("203.0.113.77" in str(r) for r in rules(sandbox, None))   # destroy took the host's rule

    # the iproute2 script, run by bash
    script = sandbox.vnet("script", f).stdout
    assert "ip -n a rule add pref 100 from 10.9.0.1 lookup 100" in script, script
    assert "ip -n a -6 rule add from all suppress_prefixlength 0 lookup 100" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert rules(sandbox, "a") == wanted


def test_a_rule_built_by_hand_as_declared_is_taken_and_left_on_destroy(sandbox):
    """A declared rule without a priority is any of its kind: one someone
    made is taken as it is (no change), and not vnet's to remove."""
    sandbox.sh("ip rule add pref 4321 from 203.0.113.5 lookup 55")
    f = sandbox.write("t.yaml", "name: rh\nrules:\n  - {from: 203.0.113.5, table: 55}\n"
                                "  - {from: 203.0.113.6, table: 56}\n")
    assert [c["object"] for c in plan_json(sandbox, f)] == ["rule from 203.0.113.6 lookup 56"]
    apply_json(sandbox, f)
    assert plan_json(sandbox, f) == []
    sandbox.vnet("destroy", "rh")
    text = sandbox.sh("ip rule show")
    assert "4321:\tfrom 203.0.113.5 lookup 55" in text and "203.0.113.6" not in text, text


def test_vnet_never_deletes_a_rule_of_someone_s(sandbox):
    """The kernel deletes the first rule whose fields are those a request
    gives (one with a selector more, or `not`, is taken as readily): vnet
    deletes its own rule only where the kernel would take it and no other,
    by the priority the kernel gave it, and otherwise says so."""
    base = "name: s\nnamespaces: [a]\ninterfaces:\n  - {name: e0, kind: veth, netns: a, peer: {name: e1, netns: a}}\n"
    with_rule = sandbox.write("r.yaml", base + "rules:\n  - {netns: a, priority: 100, from: 10.0.0.0/24, table: 100}\n")
    without = sandbox.write("n.yaml", base)
    apply_json(sandbox, without)
    sandbox.sh("ip -n a rule add pref 100 from 10.0.0.0/24 iif e0 lookup 100")   # someone's, first at 100
    apply_json(sandbox, with_rule)
    r = sandbox.vnet("apply", without, check=False)
    assert r.returncode == 6 and "the kernel would delete the rule '100: from 10.0.0.0/24 iif e0 lookup 100'" \
        in r.stderr, r.stderr
    assert sandbox.sh("ip -n a rule show pref 100").count("from 10.0.0.0/24") == 2

    # declared without a priority: the record keeps the one the kernel gave, and only that one goes
    sandbox.sh("ip -n a rule del pref 100 from 10.0.0.0/24 iif e0 lookup 100")
    apply_json(sandbox, without)
    any_prio = sandbox.write("p.yaml", base + "rules:\n  - {netns: a, from: 10.0.0.0/24, table: 100}\n")
    apply_json(sandbox, any_prio)
    assert "32765:\tfrom 10.0.0.0/24 lookup 100" in sandbox.sh("ip -n a rule show")
    sandbox.sh("ip -n a rule add pref 50 from 10.0.0.0/24 lookup 100")   # someone's, the same selectors
    assert plan_json(sandbox, any_prio) == []
    apply_json(sandbox, without)
    shown = sandbox.sh("ip -n a rule show")
    assert "50:\tfrom 10.0.0.0/24 lookup 100" in shown and "32765:\tfrom 10.0.0.0/24" not in shown, shown

    # destroy too: someone's rule of more selectors, earlier, stays
    host = sandbox.write("h.yaml", "name: h\nrules:\n  - {from: 10.0.0.0/24, table: 100}\n")
    apply_json(sandbox, host)
    sandbox.sh("ip rule add pref 5 from 10.0.0.0/24 iif e9 lookup 100")
    sandbox.vnet("destroy", "h")
    shown = sandbox.sh("ip rule show")
    assert "5:\tfrom 10.0.0.0/24 iif e9 " in shown and "32765:" not in shown, shown


def test_a_rule_destroy_cannot_take_alone_stays_on_the_record(sandbox):
    """Destroy leaves vnet's rule where the kernel would delete someone's in
    its place, keeps it on the record and says so (exit 6); once that rule
    is gone, destroy again takes vnet's. A plan that deletes a namespace
    takes its rules with it, whatever is in the way."""
    f = sandbox.write("d.yaml", "name: d\nrules:\n  - {priority: 500, from: 10.5.0.0/16, table: 5}\n")
    apply_json(sandbox, f)
    sandbox.sh("ip rule add pref 500 from 10.5.0.0/16 iif lo lookup 5 && ip rule del pref 500 from 10.5.0.0/16 "
               "lookup 5 && ip rule add pref 500 from 10.5.0.0/16 lookup 5")   # someone's now first at 500
    r = sandbox.vnet("destroy", "d", check=False)
    assert r.returncode == 6 and "left rule 500 from 10.5.0.0/16 lookup 5" in r.stderr, r.stderr
    assert "d" in sandbox.vnet("list").stdout
    sandbox.sh("ip rule del pref 500 from 10.5.0.0/16 iif lo lookup 5")
    sandbox.vnet("destroy", "d")
    assert "10.5.0.0/16" not in sandbox.sh("ip rule show")

    base = "name: n\nnamespaces: [n1]\n"
    apply_json(sandbox, sandbox.write("n.yaml", base + "rules:\n  - {netns: n1, priority: 200, table: 10}\n"))
    sandbox.sh("ip -n n1 rule add pref 200 iif lo lookup 10 && ip -n n1 rule del pref 200 lookup 10 && "
               "ip -n n1 rule add pref 200 lookup 10")
    apply_json(sandbox, sandbox.write("n.yaml", "name: n\n"))
    assert sandbox.sh("ip netns list") == ""
