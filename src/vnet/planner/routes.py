"""Routes and rules: what the file declares against what the
kernel holds and what the record says vnet set."""
from ..topology.model import PREF_NAMES, PROTOCOL_NAMES, SCOPE_NAMES, metric_words, route_place, same_attrs
from ..topology.rule import declares, entry_rule, first_selected, rule_match, taken_for, vnets, writable
from .changes import Change, _show


def plan_routes(p):
    """Routes missing, changed, or through a renumbered device; stale ones first of all."""
    declared_routes = {r.key for r in p.topo.routes}
    live_routes = observed_routes(p.state)
    through = _route_devices(p.state) if p.renumbered else {}   # (the kernel drops some: _routes_dropped)
    recorded = {tuple(rk) for rk in p.record.routes}
    going = {rk for rk in recorded if rk not in declared_routes and rk in live_routes}   # removed below
    slots = _slots(p.state) if p.state.routes else {}
    for r in p.topo.routes:
        have = live_routes.get(r.key)
        if have is not None and not _same_shape(r, have):
            have = None   # another route in its slot (a device's where a multipath one goes): in the way
        if have is None or _through_gone(p, r, have):
            if have is None:
                _out_of_the_way(p, r, slots, recorded | going, going)
            p.routes.append(Change("create", r.label, "missing", ("route_add", r)))
            continue
        _out_of_the_way(p, r, slots, recorded | going, going, have)   # beside it: `ip route prepend`, `append`
        if not same_attrs(seen := _route_attrs_as_declared(have, r), r.attrs):
            # src, scope and onlink are not part of the key: the route is replaced
            diff = _route_diff(seen, r.attrs)
            p.reroutes.append(Change("delete", r.label, f"{diff}: removed first, "
                                     "added back after", ("route_del", r.key, have.attrs, have.raw)))
            p.routes.append(Change("create", r.label, f"added back with {_route_diff(None, r.attrs)}",
                                   ("route_add", r)))
        elif r.to.version == 4 and (why := _dropped(p, r, have, through)):
            # the kernel drops it with an address the plan deletes: taken out first, put back after
            p.reroutes.append(Change("delete", r.label, f"{why} is renumbered: "
                                     "removed first, added back after", ("route_del", r.key, have.attrs, have.raw)))
            p.routes.append(Change("create", r.label, "added back after renumbering", ("route_add", r)))
    # through a device alone first: a gateway may be reached by such a route of the file;
    # through a nexthop object once the nexthops are made (after the routes: a nexthop's gateway too)
    p.routes.sort(key=lambda c: c.op[1].via is not None or bool(c.op[1].nexthops))
    p.nh_routes = [c for c in p.routes if c.op[1].nhid is not None]
    p.routes = [c for c in p.routes if c.op[1].nhid is None]
    for rk in dict.fromkeys(tuple(rk) for rk in p.record.routes):
        if rk not in declared_routes and rk in live_routes:
            p.removals.insert(0, Change("delete", route_label(rk), "no longer declared",
                                        ("route_del", rk, live_routes[rk].attrs, live_routes[rk].raw)))


def _dropped(p, r, have, through):
    """Why the kernel drops declared IPv4 route ``r`` (observed ``have``)
    with the addresses the plan deletes (planner._routes_dropped): "its
    device e0" (its last IPv4 address goes) or "its source 10.0.0.1"; else ''."""
    dev = next((d for d in sorted(through.get(r.key, ())) if (r.netns, d) in p.renumbered), None)
    if dev is not None:
        return f"its device {dev}"
    return f"its source {have.src}" if have.src is not None and (r.netns, str(have.src)) in p.unsourced else ""


def _through_gone(p, r, have):
    """Does declared route ``r`` (observed as ``have``) go through a device
    the plan deletes or makes again (the kernel drops the route with it),
    as declared or, naming no dev, as the kernel found it, or through a
    nexthop object the kernel drops with its device?"""
    devs = {dev for _p, _v, dev in r.hops} | {have.dev} | {d for _v, d, _w in have.nexthops}
    return any(d and (r.netns, d) in p.gone for d in devs) or (r.netns, have.nhid) in p.nh_gone


def _same_shape(r, have):
    """Is the observed route ``have``, found under the key of ``r``, the same
    sort of route (multipath, one that drops, one way out), whose attributes
    then tell what changed? A route with no via or dev shares its key with
    any other of its slot through a device alone."""
    if r.nexthops or have.nexthops:
        return bool(r.nexthops) and bool(have.nexthops)
    return (r.type == "unicast") == (have.type == "unicast")


def _slots(state):
    """{(netns, to, metric, table): [observed routes]}: the kernel keeps one
    route (or one multipath route) per slot (an IPv6 one's ``to`` with its
    source prefix: model.key_to); adding another is EEXIST. An IPv4 route
    with a TOS is in a slot of its own (a declared one has none)."""
    out = {}
    for rs in state.routes.values():
        for o in rs:
            if not o.tos:
                out.setdefault((o.netns, o.key[1], o.metric, o.table), []).append(o)
    return out


def _leaving(p):
    """(netns, network) of the addresses the plan deletes: the kernel's own
    route to each goes with it."""
    return {(c.op[1][0], str(c.op[2].network)) for c in p.addr_dels}


def _out_of_the_way(p, r, slots, ours, going, have=None):
    """The routes in the slot of ``r`` but the declared one (``have``, if
    found): someone changed its gateway, device or type by hand (`ip route
    replace`), or put another route before or after it (`ip route prepend`,
    `append`: IPv4 keeps them all, and takes the first). Each is removed
    first where it may be (vnet's, or in a namespace the file makes), else
    the plan stops, before any change, saying whose it is. Beside the
    declared one, the kernel's own (an address's subnet route it appends)
    is left, and one removed is put back where it was (before or after it)."""
    ns, to, _via, _dev, metric, table = r.key
    leaving = None
    for o, place in _beside(slots.get((ns, to, metric, table), ()), have):
        k = tuple(o.key)
        # its key as a declared route names it: without its dev when it has a
        # gateway (or drops); a route through a device alone only by its own
        keys = {k, k[:3] + (None,) + k[4:]} if o.via is not None or o.type != "unicast" else {k}
        if o is have or keys & going:
            continue   # the declared one; or no longer declared: removed already, as the record's
        if have is not None and (o.kernel_own or k == tuple(have.key)):
            continue   # the kernel's own, appended; or one a deletion by its key would not tell from the declared
        if o.kernel_own:
            leaving = _leaving(p) if leaving is None else leaving
            if (ns, to) in leaving:
                continue   # an address's subnet route, going with the address the plan deletes first
        if not o.kernel_own and (ns in p.topo.namespaces or keys & ours):
            why = f"in the way of the declared {r.label[6:]}: replaced" if have is None else \
                f"{'before' if place == 'first' else 'after'} the declared {r.label[6:]}, in its slot (one " \
                "route per destination, metric and table: the kernel takes the first): deleted"
            p.reroutes.append(Change("delete", route_label(k), why, ("route_del", k, o.attrs, o.raw, place)))
        elif have is None:
            p.conflicts.append(f"{r.path}: {route_label(k)} exists where the declared one goes (one route per "
                               f"destination, metric and table), and is not vnet's: vnet does not replace it")
        else:
            p.conflicts.append(f"{r.path}: {route_label(k)} is {'before' if place == 'first' else 'after'} the "
                               "declared one in its slot (destination, metric and table: the kernel takes the "
                               "first), and is not vnet's: vnet does not delete it")


def _beside(slot, have):
    """[(route, place)] of the routes of ``slot`` (as the kernel lists
    them) beside ``have`` (if there): "first" for those before it (`ip
    route prepend`), in their order, and "last" for those after it (all,
    without it), the last first: an undo, in reverse, puts back each where
    it was (prepended, appended: not refused as another of the slot's)."""
    at = next((i for i, o in enumerate(slot) if o is have), -1)
    return [(o, "first") for o in slot[:max(at, 0)]] + [(o, "last") for o in reversed(slot[at + 1:])]


def plan_rules(p):
    """Rules vnet added that the file no longer declares (a changed rule is
    another: the old one goes first), and rules missing. A rule declared
    without a priority is any of its kind. Where the kernel would take
    someone's rule for vnet's (in a deletion, or as a duplicate), the
    plan stops before any change, naming it."""
    live = {}
    for rs in p.state.rules.values():
        for o in rs:
            if writable(o):   # (someone's rule with a port range is not the declared one without)
                live.setdefault(rule_match(o), []).append(o)
    claimed, going = set(), set()
    leaving = {c.op[1] for c in p.ns_deletes}   # (their rules go with them)
    for entry in dict.fromkeys(p.record.rules):
        have = next((o for o in live.get(entry[:-1], ()) if entry[-1] in (None, o.priority) and vnets(o)), None)
        if have is None or entry[0] in leaving or any(declares(r, entry) for r in p.topo.rules):
            continue
        first = first_selected(p.state.rules[have.netns], have)
        if first is not have:
            p.conflicts.append(f"{entry_rule(entry).label} is no longer declared, but the kernel would delete "
                               f"the rule '{first.text}' in its place (it takes the first whose fields are those "
                               "asked, `not` aside): vnet does not delete a rule of someone's")
            continue
        going.add(id(have))
        p.removals.insert(0, Change("delete", entry_rule(entry).label, "no longer declared",
                                    ("rule_del", entry, have)))
    for r in p.topo.rules:
        have = next((o for o in live.get(rule_match(r), ()) if r.priority in (None, o.priority)
                     and id(o) not in claimed | going), None)
        if have is not None:
            claimed.add(id(have))
            continue
        other = next((o for o in p.state.rules.get(r.netns, ()) if r.priority is not None and id(o) not in going
                      and taken_for(r, o)), None)
        if other is not None:
            p.conflicts.append(f"{r.path}: the rule '{other.text}' is where the declared one goes: the kernel "
                               "takes it for the same (it compares neither `not` nor a prefix or TOS the declared "
                               "one leaves out), and it is not vnet's to replace; give another priority")
        else:
            p.rules.append(Change("create", r.label, "missing", ("rule_add", r)))


def _route_devices(state):
    """{route key: the devices it goes through} of every observed route."""
    out = {}
    for rk, r in observed_routes(state).items():
        devs = {r.dev} if r.dev else set()
        devs |= {d for _v, d, _w in r.nexthops if d}
        if devs:
            out[rk] = devs
    return out


def _route_attrs_as_declared(have, r):
    """The observed route ``have``'s (src, scope, onlink, type, nexthops, metrics) as
    ``r`` manages them: a route that names no src takes the one the kernel
    gave its own route (an address's subnet route has one); a next hop
    that names no dev takes the one the kernel found for its gateway."""
    attrs = have.attrs if r.src is not None or not have.kernel_own else (None,) + have.attrs[1:]
    if r.protocol is None:   # any protocol, where the file gives none
        attrs = attrs[:7] + (None,) + attrs[8:]
    if r.pref is None and have.kernel_own and attrs[8] is not None:   # a router's preference, where it gives none
        attrs = attrs[:8] + (0,)
    any_dev = {str(via) for via, dev, _w in r.nexthops if dev is None and via is not None}
    if any_dev:
        hops = tuple((v, "" if v in any_dev else d, w) for v, d, w in attrs[4])
        attrs = attrs[:4] + (hops,) + attrs[5:]
    return attrs


def _route_diff(have, want):
    """How a route's (src, scope, onlink, type, nexthops, metrics) differ, or (``have`` None) what they are."""
    names = ("src", "scope", "onlink", "type", "nexthops", "metrics", "nhid", "protocol", "pref")
    show = lambda i, v: SCOPE_NAMES.get(v, v) if i == 1 else _hops(v) if i == 4 else \
        metric_words(v) if i == 5 else PROTOCOL_NAMES.get(v, v) if i == 7 else PREF_NAMES.get(v, v) if i == 8 \
        else _show(v)  # noqa: E731
    if have is None:
        return ", ".join(f"{n} {show(i, w)}" for i, (n, w) in enumerate(zip(names, want))
                         if w not in (None, False, "unicast", ())) or "its declared attributes"
    return ", ".join(f"{n} {show(i, h)} -> {show(i, w)}" for i, (n, h, w) in enumerate(zip(names, have, want))
                     if (sorted(h) != sorted(w) if i == 4 else h != w))


def _hops(hops):
    """Next hops as a plan says them: `via 10.0.0.1 dev e0 weight 2 + via 10.0.1.1`."""
    return " + ".join(" ".join(x for x in (via and f"via {via}", dev and f"dev {dev}", w != 1 and f"weight {w}") if x)
                      for via, dev, w in hops) or "none"


def observed_routes(state):
    """{record key: observed Route} of every observed route, under its key
    with its device and without (a route declared with no dev)."""
    out = {}
    for rs in state.routes.values():
        for r in rs:
            k = r.key
            out[k] = r
            out.setdefault(k[:3] + (None,) + k[4:], r)
    return out


def route_label(rk):
    ns, to, via, dev, metric, table = rk
    to, _from, source = to.partition(" from ")   # (model.key_to)
    s = f"route {'default' if to.endswith('/0') else to}" + (f" from {source}" if source else "") + \
        (f" via {via}" if via else "") + (f" dev {dev}" if dev else "")
    return s + route_place(6 if ":" in to else 4, metric, table, ns)
