"""The kernel's network state as iproute2 reports it, for comparing two
builds of one network: every namespace's `ip -d -j link show`, `ip -j addr
show`, `ip -j route show table all` (IPv4 and IPv6), `bridge -j fdb show`
and `bridge -j vlan show`, with what differs between two builds of the same
configuration normalised away: ifindexes (references become names),
namespace ids (become namespace names), counters, timers, the order a
bridge numbered its ports in, the kernel's own link-local addresses, and
what the network learned from its own traffic."""
import json
import os
import subprocess

# running state, not configuration: STP timers and elections, counters
# group: vnet's mark of what it owns
# permaddr: the MAC a device was made with where it differs from its own
# now (an IPVLAN keeps its lower device's of the moment it was made);
# allmulti: how many asked a device for all multicast (its own flag is in
# flags), which counts the order things were done in: a passthru MACVLAN
# asks its lower device when its flag changes while up, not when it comes
# up with it (macvlan_open)
_LINK_DROP = {"group", "ifindex", "link_index", "link_netnsid", "operstate", "stats", "stats64", "linkmode",
              "qdisc", "parentbus", "parentdev", "permaddr", "allmulti"}
_INFO_DROP = {"hello_timer", "tcn_timer", "topology_change_timer", "gc_timer", "topology_change",
              "topology_change_detected", "root_port", "root_path_cost", "root_id"}
# perm_hwaddr: a bond port's MAC before it joined (the file gives the bond's)
_PORT_DROP = {"perm_hwaddr", "state", "id", "no", "designated_port", "designated_cost", "designated_bridge",
              "designated_root", "hold_timer", "message_age_timer", "forward_delay_timer",
              "topology_change_ack", "config_pending", "backup_port", "backup_nhid"}
_ADDR_DROP = {"valid_life_time", "preferred_life_time", "tentative", "dadfailed", "optimistic"}


def _ip(ns, *args):
    pre = ["ip", "-n", ns] if ns else ["ip"]
    out = subprocess.run(pre + list(args), capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []


def _bridge(ns, *args):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["bridge", "-j"] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []


def namespaces():
    return [None] + sorted(os.listdir("/run/netns"))


def _nsids(ns):
    return {e["nsid"]: e.get("name", "host" if e["nsid"] >= 0 else "?") for e in _ip(ns, "-j", "netns", "list-id")}


def _links(ns, names_by_ns):
    nsids = _nsids(ns)
    out = {}
    for ln in _ip(ns, "-d", "-j", "link", "show"):
        d = {k: v for k, v in ln.items() if k not in _LINK_DROP}
        if "link_index" in ln:   # the lower device or the peer: by name, in its namespace
            other = nsids.get(ln["link_netnsid"], "?") if "link_netnsid" in ln else (ns or "host")
            key = None if other == "host" else other
            d["link"] = f"{other}/{names_by_ns.get(key, {}).get(ln['link_index'], ln['link_index'])}"
        info = d.get("linkinfo")
        if (info or {}).get("info_kind") == "bridge":
            # a bridge's carrier is its history: on when made, off once it recomputes
            # (a port joining up, its MAC set later) with no port forwarding
            d["flags"] = [f for f in d["flags"] if f not in ("NO-CARRIER", "LOWER_UP")]
            # its segmentation limits are its ports' least, or the most once a port left, the
            # default before any joined (br_set_gso_limits): its history, its ports are compared
            for k in ("tso_max_size", "tso_max_segs"):
                d.pop(k, None)
            # a MAC the kernel chose (no port gave it one) is no one's configuration;
            # whether it was set is
            d["mac_set"] = _mac_set(ns, ln["ifname"])
            if not d["mac_set"]:
                d["_chosen"] = d.pop("address", None)
        if info:
            info = dict(info)
            if "info_data" in info:
                info["info_data"] = {k: v for k, v in info["info_data"].items() if k not in _INFO_DROP}
                bid = info["info_data"].get("bridge_id")
                if bid:   # iproute2 prints the MAC without leading zeros: the MAC is compared as address
                    info["info_data"]["bridge_id"] = bid.split(".")[0]
            if "info_slave_data" in info:
                info["info_slave_data"] = {k: v for k, v in info["info_slave_data"].items()
                                           if k not in _PORT_DROP}
            d["linkinfo"] = info
        out[ln["ifname"]] = d
    return out


def _mac_set(ns, name):
    """Did someone set the device's MAC (sysfs' addr_assign_type: 3)?"""
    from vnet.kernel import netns
    fd = os.open(f"/run/netns/{ns}" if ns else "/proc/self/ns/net", os.O_RDONLY)
    try:
        path = f"class/net/{name}/addr_assign_type"
        return netns.read_sysfs(fd, [path])[path] == "3"
    finally:
        os.close(fd)


def _addrs(ns):
    out = {}
    for ln in _ip(ns, "-j", "addr", "show"):
        addrs = []
        for a in ln.get("addr_info", []):
            if a.get("family") == "inet6" and a.get("scope") == "link":
                continue   # the kernel's own (from the MAC, compared there)
            addrs.append({k: v for k, v in a.items() if k not in _ADDR_DROP})
        out[ln["ifname"]] = sorted(addrs, key=lambda a: json.dumps(a, sort_keys=True))
    return out


def _routes(ns, bridges=()):
    """Every route of every table (``bridges``: whose carrier, and with it a
    route's `linkdown`, is their history: see _links)."""
    out = []
    for fam in ("-4", "-6"):
        for r in _ip(ns, fam, "-j", "route", "show", "table", "all"):
            r = {k: v for k, v in r.items() if k not in ("expires",)}
            if r.get("dev") in bridges and "flags" in r:
                r["flags"] = [f for f in r["flags"] if f != "linkdown"]
            if r.get("protocol") == "static":
                del r["protocol"]   # an administrator's route: `ip route` says boot (left out), vnet static
            if r.get("dst", "").startswith("fe80::") or r.get("dst", "").startswith("ff00::"):
                continue   # the kernel's own per-device IPv6 link routes
            out.append(r)
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


def _nexthops(ns):
    """Every nexthop object, as `ip -j nexthop show` has them (its protocol
    left out: `ip nexthop`'s is unspec, vnet's static)."""
    return sorted(({k: v for k, v in n.items() if k != "protocol"} for n in _ip(ns, "-j", "nexthop", "show")),
                  key=lambda n: n["id"])


def _rules(ns):
    """Every IPv4 and IPv6 policy routing rule, as `ip -j rule show` has
    them (priorities included: an export writes each rule's)."""
    return [(fam, r) for fam in ("-4", "-6") for r in _ip(ns, fam, "-j", "rule", "show")]


def _neighbours(ns):
    """The permanent and proxy neighbour entries (`ip neigh add ... nud
    permanent`, `ip neigh add proxy`): those someone made."""
    out = [n for n in _ip(ns, "-j", "neigh", "show", "nud", "permanent")]
    # (a proxy entry for no device outlives its namespace in the kernel and shows up in
    # a later one whose memory it takes: not configuration, and no test makes one)
    out += [dict(n, proxy=True) for n in _ip(ns, "-j", "neigh", "show", "proxy") if n.get("dev")]
    return sorted(out, key=lambda n: json.dumps(n, sort_keys=True))


def _fdb(ns, chosen=()):
    """The static entries (``chosen``: the MACs bridges were given by the
    kernel, whose own entries name them)."""
    out = []
    for e in _bridge(ns, "fdb", "show"):
        if "master" in e and "dst" not in e and e["mac"] in chosen and e.get("state") == "permanent":
            continue
        if e.get("state") not in ("permanent", "static", "noarp"):
            continue   # learned from traffic
        if e["mac"].startswith(("33:33:", "01:00:5e:")) and "self" in e.get("flags", []) and "dst" not in e:
            continue   # a device's multicast list: from its addresses (the kernel's link-local ones too)
        e = {k: v for k, v in e.items() if k not in ("updated", "used", "ifindex")}
        if "master" in e and "dst" not in e and e.get("state") == "permanent":
            # a bridge's own MAC taken from a port: its entry names the bridge or
            # the port by the order they were made in (history, not configuration);
            # a static entry's port is its configuration
            e.pop("ifname", None)
        out.append(e)
    return sorted(out, key=lambda e: json.dumps(e, sort_keys=True))


def _vlans(ns):
    return sorted(_bridge(ns, "vlan", "show"), key=lambda e: e.get("ifname", ""))


def _sysctls(ns):
    """Every IPv4 and IPv6 setting of every device, and forwarding."""
    cmd = "grep -r . /proc/sys/net/ipv4/conf /proc/sys/net/ipv6/conf /proc/sys/net/ipv4/ip_forward 2>/dev/null"
    out = subprocess.run((["ip", "netns", "exec", ns] if ns else []) + ["sh", "-c", cmd],
                         capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        path, _, v = line.partition(":")
        key = path[len("/proc/sys/"):].replace("/", ".")
        if ".lo." not in key and not key.endswith(".stable_secret"):   # a secret made at random for a TUN
            values[key] = v
    return values


def _without_lo(snap):
    """vnet brings up lo in every namespace it makes (`ip netns add` leaves
    it down): lo, the addresses the kernel gives it (127.0.0.1/8 and ::1,
    once up) and its routes are left out; the addresses someone gave it
    are compared."""
    snap["links"].pop("lo", None)
    own = [a for a in snap["addrs"].pop("lo", []) if (a.get("local"), a.get("prefixlen")) not in _LO_OWN]
    if own:
        snap["addrs"]["lo"] = own
    snap["routes"] = [r for r in snap["routes"] if r.get("dev") != "lo"]
    return snap


_LO_OWN = {("127.0.0.1", 8), ("::1", 128)}


def snapshot():
    """{namespace: {links, addrs, routes, rules, fdb, vlans}} of every namespace
    ("host" for the one the caller runs in)."""
    nss = namespaces()
    names = {ns: {ln["ifindex"]: ln["ifname"] for ln in _ip(ns, "-j", "link", "show")} for ns in nss}
    out = {}
    for ns in nss:
        links = _links(ns, names)
        chosen = {ln.pop("_chosen") for ln in links.values() if "_chosen" in ln}
        for ln in links.values():   # a MAC taken from such a bridge (a VLAN on it) is the kernel's choice too
            if ln.get("address") in chosen:
                ln["address"] = "(a bridge's own choice)"
        bridges = {n for n, ln in links.items() if (ln.get("linkinfo") or {}).get("info_kind") == "bridge"}
        out[ns or "host"] = _without_lo({"links": links, "addrs": _addrs(ns), "routes": _routes(ns, bridges),
                                         "rules": _rules(ns), "neighbours": _neighbours(ns), "nexthops": _nexthops(ns),
                                         "fdb": _fdb(ns, chosen), "vlans": _vlans(ns),
                                         "sysctls": _ipv6_mtus(_sysctls(ns), links)})
    return out


def _ipv6_mtus(sysctls, links):
    """An IPv6 MTU above its device's MTU is history, not configuration: an
    IPVLAN follows its lower device's MTU without telling IPv6
    (ipvlan_adjust_mtu), which keeps the one it had; the kernel refuses
    such a value from anyone. It is compared as the device's."""
    for name, ln in links.items():
        key = f"net.ipv6.conf.{name}.mtu"
        if key in sysctls and "mtu" in ln and int(sysctls[key]) > ln["mtu"]:
            sysctls[key] = str(ln["mtu"])
    return sysctls


def settled(limit=5.0):
    """A snapshot once the kernel's link watch has caught up with every
    carrier (a device up shows LOWER_UP exactly when it does not show
    NO-CARRIER: the operational state, and with it a route's `linkdown`,
    follows the carrier up to a second later) and two snapshots in a row, a
    quarter second apart, are the same: a network read at once may be
    caught before either."""
    import time
    deadline = time.monotonic() + limit
    last = snapshot()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = snapshot()
        if now == last and _carriers_settled(now):
            return now
        last = now
    return last


def _carriers_settled(snap):
    """(A bridge's carrier flags are left out of a snapshot: see _links.)"""
    return all("UP" not in ln.get("flags", ()) or ("LOWER_UP" in ln["flags"]) != ("NO-CARRIER" in ln["flags"])
               for ns in snap.values() for ln in ns.get("links", {}).values()
               if (ln.get("linkinfo") or {}).get("info_kind") != "bridge")


def differences(a, b, path=""):
    """Readable differences between two snapshots (empty: the same)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}/{k}: only in the second: {json.dumps(b[k])[:300]}")
            elif k not in b:
                out.append(f"{path}/{k}: only in the first: {json.dumps(a[k])[:300]}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and a != b:
        ja, jb = ([json.dumps(x, sort_keys=True) for x in v] for v in (a, b))
        return ([f"{path}: only in the first: {x[:300]}" for x in ja if x not in jb] +
                [f"{path}: only in the second: {x[:300]}" for x in jb if x not in ja]) or \
            [f"{path}: in another order: {json.dumps(a)[:300]} != {json.dumps(b)[:300]}"]
    if a != b:
        return [f"{path}: {json.dumps(a)[:300]} != {json.dumps(b)[:300]}"]
    return []
