"""`vnet show` says what iproute2 says: on every example, each device's
kind, state, MTU, master, addresses and each detail word of the table agree
with `ip -d link show` (text and -j), nested values with `bridge vlan`,
`bridge fdb` and `ip macsec show`, routes with `ip route`; the filters and
the exit codes as a user meets them."""
import json
import os
import re

import pytest

from test_examples import ELSEWHERE, EX, EXAMPLES, needs

# detail words that iproute2 prints elsewhere than in the details line
NOT_IN_DETAILS = ("link ", "/dev/tap", "learning")


def _ip(sandbox, ns, args):
    return sandbox.sh(f"ip {'-n ' + ns if ns else ''} {args}")


def _table(text):
    """The device rows of `vnet show`'s table as {(netns, name): cells}, and
    the lines under each row."""
    lines = text.splitlines()
    head = lines[1]
    cols = head.split()
    starts = [head.index(c) for c in cols]
    rows, below = {}, {}
    last = None
    for ln in lines[2:]:
        if not ln.strip():
            break
        if ln.startswith("    ") or ln[:starts[1]].strip() == "":
            below[last].append(ln.strip())
            continue
        cells = {c: ln[a:b].strip() for c, a, b in zip(cols, starts, starts[1:] + [None])}
        last = (cells["netns"], cells["name"])
        rows[last], below[last] = cells, []
    return rows, below


def _ip_state(i):
    """`ip -j link`'s operstate, with NO-CARRIER when its flags say so."""
    return i["operstate"] + (" (NO-CARRIER)" if "NO-CARRIER" in i["flags"] else "")


def _kernel_kind(kind):
    return {"tap": "tun", "loopback": None}.get(kind, kind)


@pytest.mark.parametrize("example", [pytest.param(e, marks=pytest.mark.needs(*needs(e)))
                                     for e in EXAMPLES if e not in ELSEWHERE])
def test_show_agrees_with_iproute2(sandbox, example):
    path = os.path.join(EX, example)
    sandbox.vnet("apply", path)
    nss = sorted({d["netns"] or "" for d in json.loads(sandbox.vnet("show", "--json", path).stdout)["devices"]})
    before = {ns: {i["ifname"]: i for i in json.loads(_ip(sandbox, ns, "-d -j link show"))} for ns in nss}
    routes_before = _ip_routes(sandbox, nss)
    shown = json.loads(sandbox.vnet("show", "--json", path).stdout)
    rows, below = _table(sandbox.vnet("show", path).stdout)
    ip = {ns: {i["ifname"]: i for i in json.loads(_ip(sandbox, ns, "-d -j link show"))} for ns in nss}
    routes_after = _ip_routes(sandbox, nss)
    addrs = {ns: {i["ifname"]: i for i in json.loads(_ip(sandbox, ns, "-j addr show"))} for ns in nss}
    assert len(rows) == len(shown["devices"])
    for d in shown["devices"]:
        ns, name = d["netns"] or "", d["name"]
        i, cells = ip[ns][name], rows[(d["netns"] or "host", name)]
        where = f"{example}: {ns or 'host'}/{name}"
        info = i.get("linkinfo", {})
        if _kernel_kind(d["kind"]):
            assert info.get("info_kind") == _kernel_kind(d["kind"]), where
        if d["kind"] in ("tun", "tap"):
            assert info["info_data"]["type"] == d["kind"], where
        assert cells["kind"] == d["kind"], where
        # the state: the kernel's, as ip writes it (a bridge's moves as its ports
        # do: ip's before or after show)
        ip_states = {_ip_state(x) for x in (before[ns][name], i)}
        assert d["up"] == ("UP" in i["flags"]) and isinstance(d["carrier"], bool), where
        json_state = d["operstate"] + (" (NO-CARRIER)" if d["up"] and d["operstate"] not in ("UP", "UNKNOWN") else "")
        assert json_state in ip_states and cells["state"] in ip_states, where
        assert d["mtu"] == i["mtu"] and cells["mtu"] == str(i["mtu"]), where
        assert (d["master"] or None) == i.get("master") and cells["master"] == (d["master"] or ""), where
        have = sorted(f"{a['local']}/{a['prefixlen']}" for a in addrs[ns][name].get("addr_info", [])
                      if not a["local"].startswith("fe80:"))
        assert sorted(d["addresses"]) == have and sorted(cells["addresses"].split()) == have, where
        _details_agree(sandbox, ns, name, cells["details"], i, where)
        _nested_agree(sandbox, ns, name, below[(d["netns"] or "host", name)], where)
    _routes_agree(shown["routes"], routes_before, routes_after, example)


def _details_agree(sandbox, ns, name, details, i, where):
    """Each word of the details cell is in `ip -d link show`'s own text
    (the link is its header's @NAME, a /dev node is no link attribute)."""
    text = " ".join(_ip(sandbox, ns, f"-d link show dev {name}").split())
    for w in _pairs(details):
        if w.startswith(NOT_IN_DETAILS[0]):
            target = w.split()[1]
            assert i.get("link") == target or "/" in target and "link_netnsid" in i, f"{where}: {w}"
        elif w.startswith(NOT_IN_DETAILS[1:]) or w.startswith(("runner", "link_watch", "active_port",
                                                                 "hwaddr_policy", "tx_hash", "lacp_")):
            continue   # /dev/tapN; a team's options are teamd's, which ip does not print
        else:
            assert f" {w} " in f" {text} ", f"{where}: {w!r} is not in ip -d link show's {text!r}"


def _pairs(details):
    """The details cell as its words: `word value`, a lone flag, `<FLAGS>`, `map { ... }`."""
    toks = details.split()
    out, k = [], 0
    lone = {"multi_queue", "learning", "nolearning", "bridge", "private", "vepa"}
    while k < len(toks):
        t = toks[k]
        if t.startswith("<") or t in lone or (t.startswith("/dev/")):
            out.append(t)
            k += 1
        elif toks[k + 1:k + 2] == ["{"]:
            end = toks.index("}", k)
            out.append(" ".join(toks[k:end + 1]))
            k = end + 1
        elif t == "remotes":
            n = int(toks[k + 1].strip("()"))
            out.append(" ".join(toks[k:k + 2 + n]))
            k += 2 + n
        else:
            out.append(" ".join(toks[k:k + 2]))
            k += 2
    return out


def _nested_agree(sandbox, ns, name, lines, where):
    pre = f"-n {ns} " if ns else ""
    vlans = [ln for ln in lines if ln.startswith("vlan ")]
    if vlans:
        have = []
        for e in json.loads(sandbox.sh(f"bridge {pre}-j vlan show dev {name}")):
            for v in e["vlans"]:
                vids = range(v["vlan"], v.get("vlanEnd", v["vlan"]) + 1)
                flags = v.get("flags", [])
                have += [(vid, "PVID" in flags, "Egress Untagged" in flags) for vid in vids]
        mine = []
        for ln in vlans:
            a, _, b = ln.split()[1].partition("-")
            mine += [(vid, "PVID" in ln, "Egress Untagged" in ln) for vid in range(int(a), int(b or a) + 1)]
        assert sorted(mine) == sorted(have), where
    fdb = [ln.split() for ln in lines if ln.startswith("fdb ")]
    if fdb:
        have = {(e["mac"], e["dst"]) for e in json.loads(sandbox.sh(f"bridge {pre}-j fdb show dev {name}"))
                if "dst" in e}
        assert {(f[1], f[3]) for f in fdb} <= have, where
    sas = [ln for ln in lines if ln.startswith(("tx sa", "rx sci"))]
    if sas:
        text = sandbox.sh(f"ip {pre}macsec show {name}")
        for ln in sas:
            an, pn = re.search(r"sa (\d+) pn (\d+)", ln).groups()
            # packets move the PN on between show and ip: ip's is the same or later
            seen = [int(x) for x in re.findall(rf"\b{an}: PN (\d+)\b", text)]
            assert any(x >= int(pn) for x in seen), f"{where}: {ln!r} not in {text!r}"
            if ln.startswith("rx sci"):
                assert f"RXSC: {ln.split()[2]}" in text, where
        assert len(sas) == len(set(sas)), f"{where}: an SA shown twice: {sas}"
        assert len(sas) == len(re.findall(r"\b\d: PN \d+", text)), where


def _ip_routes(sandbox, nss):
    """Each of the topology's own namespaces' unicast routes in the main table, as `ip -4/-6 -j route` has them."""
    out = {}
    for ns in nss:
        if ns:
            out[ns] = sorted(((r["dst"], r.get("gateway"), r.get("dev"), r.get("protocol"), r.get("metric"))
                              for fam in ("-4", "-6")
                              for r in json.loads(_ip(sandbox, ns, f"{fam} -j route show table main"))
                              if r.get("type", "unicast") == "unicast"), key=str)
    return out


def _routes_agree(routes, before, after, where):
    """Show's routes of each namespace are `ip route`'s, taken before or after it
    (an IPv6 link-local route comes as a device gets its carrier)."""
    for ns in after:
        mine = sorted(((r["dst"], r.get("gateway"), r["dev"], r["protocol"], r.get("metric"))
                       for r in routes if r["netns"] == ns), key=str)
        assert mine in (before[ns], after[ns]), f"{where}: {ns}: {mine} vs {after[ns]}"


def test_tap_without_a_process_shows_no_carrier(sandbox):
    f = sandbox.write("t.yaml", "name: t\ninterfaces:\n  - {name: tap0, kind: tap}\n  - {name: tapd, kind: tap, up: false}\n")
    sandbox.vnet("apply", f)
    rows, _b = _table(sandbox.vnet("show", f).stdout)
    assert rows[("host", "tap0")]["state"] == "DOWN (NO-CARRIER)"
    assert rows[("host", "tapd")]["state"] == "DOWN"   # down by the admin: ip says no NO-CARRIER either
    d = {x["name"]: x for x in json.loads(sandbox.vnet("show", "--json", f).stdout)["devices"]}
    assert (d["tap0"]["up"], d["tap0"]["operstate"], d["tap0"]["carrier"]) == (True, "DOWN", False)
    assert "NO-CARRIER" in json.loads(sandbox.sh("ip -j link show tap0"))[0]["flags"]
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []   # up is what plan compares


def test_show_of_a_topology_not_applied_says_so(sandbox):
    f = os.path.join(EX, "fig9-veth.yaml")
    for target in (f, "fig9"):
        r = sandbox.vnet("show", target, check=False)
        assert r.returncode == 1 and r.stdout == "" and "fig9" in r.stderr, r
        assert "not applied" in r.stderr or "no record" in r.stderr, r.stderr


FIG10 = os.path.join(EX, "fig10-bridge.yaml")


def test_filters(sandbox):
    sandbox.vnet("apply", FIG10)
    sandbox.sh("ip tuntap add dev tapx mode tap")
    every = json.loads(sandbox.vnet("show", "--json").stdout)
    assert {d["name"] for d in every["devices"] if d["netns"] is None} >= {"br0", "veth1", "tapx"}
    only = json.loads(sandbox.vnet("show", "--json", "--netns", "net1", "--netns", "host").stdout)
    assert {d["netns"] for d in only["devices"]} == {None, "net1"}
    assert {r["netns"] for r in only["routes"]} <= {None, "net1"} and any(r["netns"] == "net1" for r in only["routes"])
    veths = json.loads(sandbox.vnet("show", "--json", FIG10, "--kind", "veth").stdout)
    assert sorted((d["netns"] or "", d["name"]) for d in veths["devices"]) == [
        ("", "veth1"), ("", "veth2"), ("net1", "eth0"), ("net2", "eth0")]
    text = sandbox.vnet("show", "fig10", "--netns", "net2", "--kind", "loopback").stdout
    rows, _b = _table(text)
    assert list(rows) == [("net2", "lo")]
    taps = json.loads(sandbox.vnet("show", "--json", "--kind", "tap", "--kind", "bridge").stdout)
    assert sorted(d["name"] for d in taps["devices"]) == ["br0", "tapx"]
    r = sandbox.vnet("show", "--netns", "nosuch", check=False)
    assert r.returncode == 1 and "'nosuch'" in r.stderr and r.stdout == ""
    r = sandbox.vnet("show", FIG10, "--netns", "nosuch", check=False)
    assert r.returncode == 1 and "'nosuch'" in r.stderr
    r = sandbox.vnet("show", "--kind", "bridgee", check=False)
    assert r.returncode == 2 and "'bridgee'" in r.stderr and "bridge, " in r.stderr and r.stdout == ""


def test_show_lists_the_topology_sysctls_and_routes(sandbox):
    f = sandbox.write("s.yaml", """name: s
namespaces: [a]
interfaces:
  - {name: v0, kind: veth, netns: a, addresses: [10.5.0.1/24], peer: {name: v1, netns: a, addresses: [10.5.0.2/24]}}
routes:
  - {netns: a, to: 10.6.0.0/24, via: 10.5.0.2, metric: 7}
sysctls:
  - {netns: a, key: net.ipv4.ip_forward, value: 1}
""")
    sandbox.vnet("apply", f)
    out = json.loads(sandbox.vnet("show", "--json", f).stdout)
    assert out["sysctls"] == [{"netns": "a", "key": "net.ipv4.ip_forward", "value": "1"}]
    ip = json.loads(sandbox.sh("ip -n a -j route show 10.6.0.0/24"))[0]
    r = [x for x in out["routes"] if x["dst"] == "10.6.0.0/24"]
    assert r == [{"netns": "a", "dst": "10.6.0.0/24", "gateway": "10.5.0.2", "dev": ip["dev"], "protocol": "static",
                  "metric": 7}]
    text = sandbox.vnet("show", f).stdout
    line = next(ln for ln in text.splitlines() if "10.6.0.0/24" in ln)
    assert line.split(None, 1)[1] == " ".join(sandbox.sh("ip -n a route show 10.6.0.0/24").split())
    assert re.search(r"^a\s+net\.ipv4\.ip_forward\s+1$", text, re.M), text
