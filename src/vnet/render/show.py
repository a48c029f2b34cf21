"""`vnet show`: the live state as iproute2 says it, as rows (and as JSON).
What a kind prints, and how, is the kind's (``Kind.show_details``...)."""
from ..errors import UnknownKind, VnetError
from ..topology.model import PROTOCOL_NAMES


def rel(key, own_ns):
    """A referenced device as seen from namespace ``own_ns``: its name when
    it is in the same namespace, else namespace/name (host/name for vnet's
    own; netnsid1/if2 in one not read, known by its id only, as `ip link` says)."""
    ns, name = key
    if isinstance(ns, tuple):
        return f"netnsid{ns[1]}/{name}"
    return name if ns == own_ns else f"{ns if ns is not None else 'host'}/{name}"


def device_dict(d):
    out = {"netns": d.netns, "name": d.name, "ifindex": d.ifindex, "kind": d.kind_name,
           "up": d.up, "promisc": d.promisc, "operstate": d.operstate, "carrier": d.carrier, "mtu": d.mtu, "mac": d.mac,
           "txqueuelen": d.txqueuelen, "alias": d.alias, "arp": d.arp, "multicast": d.multicast,
           "allmulticast": d.allmulticast,
           "master": rel(d.master, d.netns) if d.master else None,
           "peer": rel(d.peer, d.netns) if d.peer else None,
           "addresses": address_texts(d)}
    opts = {}
    for k, v in d.options.items():
        if v is None or v == []:
            continue
        opts[k] = _plain(v, d.netns)
    out["options"] = opts
    out.update(d.extra)
    return out


def _plain(v, own_ns):
    """A value as JSON has it (keys print as *** by their own str)."""
    if isinstance(v, tuple):
        return rel(v, own_ns)
    if isinstance(v, list):
        return [_plain(x, own_ns) for x in v]
    if isinstance(v, dict):
        return {a: _plain(b, own_ns) for a, b in v.items() if b is not None and b != []}
    if isinstance(v, (bool, int, str)):
        return v
    return str(v)


def state(d):
    """The state as `ip link` shows it: the kernel's operstate, and
    NO-CARRIER for a device that is up but not running (IFF_RUNNING is an
    operstate UP or UNKNOWN): a TAP no process holds, a bridge without a
    forwarding port."""
    text = d.operstate or ("UP" if d.up else "DOWN")
    text = f"{text} (NO-CARRIER)" if d.up and text not in ("UP", "UNKNOWN") else text
    return f"{text} PROMISC" if d.promisc else text


def rows(devices, among=None):
    """([cells], [lines under the row]) for each device. ``among`` (all
    observed devices, default ``devices``) gives each port's master, whose
    kind says what a port shows (a bridge port's VLANs)."""
    by_key = {d.key: d for d in (among if among is not None else devices)}
    out = []
    for d in devices:
        ref = lambda key, ns=d.netns: rel(key, ns)  # noqa: E731
        words, below = (d.kind_module.show_details(d, ref), d.kind_module.show_nested(d, ref)) if d.kind_module else ([], [])
        master = by_key.get(d.master)
        if master is not None and master.kind_module is not None:
            port_words, port_below = master.kind_module.show_port(d.port)
            words, below = words + port_words, below + port_below
        out.append(([d.netns or "host", d.name, d.kind_name, state(d), d.mtu,
                     rel(d.master, d.netns) if d.master else "", rel(d.peer, d.netns) if d.peer else "",
                     _addresses(address_texts(d)), " ".join(words)], below))
    return out


COLUMNS = ("netns", "name", "kind", "state", "mtu", "master", "peer", "addresses", "details")

# ---- routes and sysctls ---------------------------------------------------

PROTOCOLS = {1: "redirect", 9: "ra", **PROTOCOL_NAMES}   # /etc/iproute2/rt_protos


def dst_word(cidr):
    """A route's destination as `ip route` writes it: default for /0."""
    return "default" if cidr.endswith("/0") else cidr


def route_dict(ns, route):
    """One observed route (vnet.state.Route) as `ip -j route` has it
    (with its namespace). The one place that knows the observed route's fields."""
    from ..topology.model import RT_TABLE_MAIN, SCOPE_NAMES
    out = {"netns": ns, "dst": dst_word(str(route.to))}
    if route.type != "unicast":   # (as `ip -j route` gives it: local, throw, blackhole...)
        out["type"] = route.type
    if route.source is not None:   # (an IPv6 route's source prefix, as `ip -j route` names it)
        out["from"] = str(route.source)
    if route.via is not None:
        out["gateway"] = str(route.via)
    out["dev"] = route.dev
    if route.nhid is not None:
        out["nhid"] = route.nhid
    if route.table != RT_TABLE_MAIN:
        out["table"] = route.table
    out["protocol"] = PROTOCOLS.get(route.proto, route.proto)
    if route.scope:
        out["scope"] = SCOPE_NAMES.get(route.scope, route.scope)
    if route.src is not None:
        out["prefsrc"] = str(route.src)
    if route.metric:
        out["metric"] = route.metric
    if route.onlink:
        out["flags"] = ["onlink"]
    if route.metrics:   # as `ip -j route` has them (congctl its "congestion"), with the locked ones
        m = {"congestion" if n == "congctl" else n: v for n, v, _l in route.metrics}
        locked = [n for n, _v, lock in route.metrics if lock]
        out["metrics"] = [{**m, "lock": locked} if locked else m]
    return out


def route_line(r):
    """A route_dict as `ip route` writes it (its type first where not
    unicast; proto boot left out, as it does)."""
    words = ([r["type"]] if "type" in r else []) + [r["dst"]] + (["from", r["from"]] if "from" in r else [])
    for key, word in (("nhid", "nhid"), ("gateway", "via"), ("dev", "dev"), ("table", "table"), ("protocol", "proto"),
                      ("scope", "scope"), ("prefsrc", "src"), ("metric", "metric")):
        if r.get(key) is not None and not (key == "protocol" and r[key] == "boot"):
            words += [word, str(r[key])]
    return " ".join(words + r.get("flags", []) + [_metric_words(m) for m in r.get("metrics", [])])


def _metric_words(m):
    """A route_dict's metrics as `ip route` writes them (`mtu lock 1400 rtt 10ms`)."""
    from ..topology.model import metric_words
    lock = m.get("lock", [])
    return metric_words([(n, v, n in lock) for n, v in (("congctl" if k == "congestion" else k, v)
                                                        for k, v in m.items() if k != "lock")], shown=True)


def routes(st, namespaces):
    """The routes of ``namespaces`` in State ``st``, as route_dicts."""
    return [route_dict(ns, r) for ns in namespaces for r in st.routes.get(ns, [])]


def rules(st, namespaces, keep=lambda r: True):
    """The rules of ``namespaces`` in State ``st`` (the kernel's defaults
    left out) as `ip rule` writes them: {netns, family, priority, rule}."""
    from ..topology.rule import words
    return [{"netns": ns, "family": f"ipv{r.family}", "priority": r.priority,
             "rule": " ".join(words(r) + ([r.unwritable] if r.unwritable else []))}
            for ns in namespaces for r in st.rules.get(ns, []) if not r.kernel_own and keep(r)]


def neighbours(st, namespaces, keep=lambda n: True):
    """The static and proxy neighbours of ``namespaces``: {netns, dev, address, lladdr, proxy}."""
    return [{"netns": ns, "dev": n.dev, "address": str(n.address), "lladdr": n.lladdr, "proxy": n.proxy}
            for ns in namespaces for n in st.neighbours.get(ns, []) if n.static and keep(n)]


def nexthops(st, namespaces, keep=lambda n: True):
    """The nexthop objects of ``namespaces`` as `ip nexthop` writes them: {netns, id, nexthop}."""
    from ..topology.model import nexthop_text
    return [{"netns": ns, "id": n.id, "nexthop": nexthop_text(n.attrs)}
            for ns in namespaces for n in st.nexthops.get(ns, []) if keep(n)]


def sysctls(st):
    return [{"netns": ns, "key": key, "value": v} for (ns, key), v in st.sysctls.items()]


def print_show(title, devices, among, route_list, sysctl_list, rule_list=(), neighbour_list=(), nexthop_list=()):
    """The human output: the devices, then nexthops, routes, rules, neighbours and sysctls when there are."""
    from .table import print_table
    r = rows(devices, among)
    print_table(title, COLUMNS, [cells for cells, _b in r], below=[b for _c, b in r])
    if nexthop_list:
        print()
        print_table("nexthops", ("netns", "nexthop"), [(x["netns"] or "host", f"id {x['id']} {x['nexthop']}")
                                                       for x in nexthop_list])
    if route_list:
        print()
        print_table("routes", ("netns", "route"), [(x["netns"] or "host", route_line(x)) for x in route_list])
    if rule_list:
        print()
        print_table("rules", ("netns", "rule"), [(x["netns"] or "host", f"{'-6 ' if x['family'] == 'ipv6' else ''}"
                                                  f"{x['priority']}: {x['rule']}") for x in rule_list])
    if neighbour_list:
        print()
        print_table("neighbours", ("netns", "neighbour"),
                    [(x["netns"] or "host", " ".join((["proxy"] if x["proxy"] else []) + [x["address"]]
                                                     + (["dev", x["dev"]] if x["dev"] else [])
                                                     + (["lladdr", x["lladdr"]] if x["lladdr"] else [])
                                                     + ([] if x["proxy"] else ["PERMANENT"])))
                     for x in neighbour_list])
    if sysctl_list:
        print()
        print_table("sysctls", ("netns", "key", "value"),
                    [(x["netns"] or "host", x["key"], x["value"]) for x in sysctl_list])


# ---- what is shown ------------------------------------------------------------

def view(devs, st, topo, rec, netns=None, kinds=None):
    """What `vnet show` shows of observed ``devs`` (State ``st``; ``topo`` and
    ``rec`` None for the whole machine), kept to the namespaces ``netns``
    (None: vnet's own) and ``kinds`` when given: {"devices": [dict],
    "shown": [Device], "routes": [route_dict], "rules": [...], "neighbours": [...], "sysctls": [...]}.
    A topology's routes and rules are those of its own namespaces and the
    host ones it declares; a route of a device --kind leaves out is left out too."""
    from ..topology.rule import declares, rule_entry
    if topo is not None:
        nss = list(dict.fromkeys([None, *topo.namespaces, *rec.namespaces]))
        if netns:
            known_namespaces(netns, nss, f"topology {topo.name!r} has no")
        declared = {dst_word(str(r.to)) for r in topo.routes if r.netns is None} \
            | {dst_word(r[1]) for r in rec.routes if r[0] is None}
        route_list = [r for r in routes(st, nss) if r["netns"] is not None or r["dst"] in declared]
        recorded = set(rec.rules)
        rule_list = rules(st, nss, lambda o: o.netns is not None or rule_entry(o) in recorded
                          or any(declares(r, rule_entry(o)) for r in topo.rules))
        known = {n.key for n in topo.neighbours} | set(rec.neighbours)
        neighbour_list = neighbours(st, nss, lambda n: n.netns is not None or n.key in known)
        mine = {n.key for n in topo.nexthops} | set(rec.nexthops)
        nexthop_list = nexthops(st, nss, lambda n: n.netns is not None or n.key in mine)
        sysctl_list = sysctls(st)
    else:
        route_list, sysctl_list = routes(st, list(st.namespaces)), []
        rule_list, neighbour_list = rules(st, list(st.namespaces)), neighbours(st, list(st.namespaces))
        nexthop_list = nexthops(st, list(st.namespaces))
    if netns:
        devs = [d for d in devs if d.netns in netns]
        route_list = [r for r in route_list if r["netns"] in netns]
        rule_list = [r for r in rule_list if r["netns"] in netns]
        neighbour_list = [n for n in neighbour_list if n["netns"] in netns]
        nexthop_list = [n for n in nexthop_list if n["netns"] in netns]
        sysctl_list = [s for s in sysctl_list if s["netns"] in netns]
    if kinds:
        known_kinds(kinds, devs)
        devs = [d for d in devs if d.kind_name in kinds]
        keys = {d.key for d in devs}
        route_list = [r for r in route_list if (r["netns"], r["dev"]) in keys]
        neighbour_list = [n for n in neighbour_list if (n["netns"], n["dev"]) in keys]
    return {"devices": [device_dict(d) for d in devs], "shown": devs, "routes": route_list, "rules": rule_list,
            "neighbours": neighbour_list, "sysctls": sysctl_list, "nexthops": nexthop_list}


def known_namespaces(asked, known, what):
    """Each of ``asked`` is among ``known``, or exit 1 naming it."""
    unknown = [n for n in asked if n not in known]
    if unknown:
        names = ", ".join(n or "host" for n in known)
        raise VnetError(f"{what} namespace {', '.join(map(repr, unknown))} (namespaces: {names})")


def known_kinds(asked, devs):
    """Each of ``asked`` is a kind vnet knows (or one of a device observed), or exit 2 listing them."""
    from ..kinds import names
    kinds = sorted(set(names()) | {"loopback", "device"} | {d.kind_name for d in devs})
    unknown = [k for k in asked if k not in kinds]
    if unknown:
        raise UnknownKind(f"no kind {', '.join(map(repr, unknown))} (kinds: {', '.join(kinds)})")


def address_texts(d):
    """Device ``d``'s addresses as a file writes them; the kernel's own of
    a loopback device (its 127.0.0.1/8, without a broadcast address) plain."""
    if not d.loopback:
        return [str(a) for a in d.addresses]
    from ..topology.address import loopback_own, plain
    own = loopback_own()
    return [str(plain(a) if a in own else a) for a in d.addresses]


def _addresses(texts):
    """Side by side; with commas once one has words after it (a peer, a metric)."""
    return (", " if any(" " in t for t in texts) else " ").join(texts)
