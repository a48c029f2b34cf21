"""Routes and sysctls: what the file declares against what the kernel holds
and what the record says vnet set."""
from ..topology.model import HOST, RT_TABLE_MAIN, SCOPE_NAMES
from .changes import Change, _show


def plan_routes(p):
    """Routes missing, changed, or through a renumbered device; stale ones first of all."""
    declared_routes = {r.key for r in p.topo.routes}
    live_routes = observed_routes(p.state)
    through = _route_devices(p.state) if p.renumbered else {}
    for r in p.topo.routes:
        have = live_routes.get(r.key)
        if have is None or r.dev and (r.netns, r.dev) in p.gone:
            p.routes.append(Change("create", r.label, "missing", ("route_add", r)))
        elif _route_attrs_as_declared(have, r) != r.attrs:
            # src, scope and onlink are not part of the key: the route is replaced
            p.reroutes.append(Change("delete", r.label, f"{_route_diff(have.attrs, r.attrs)}: removed first, "
                                     "added back after", ("route_del", r.key, have.attrs)))
            p.routes.append(Change("create", r.label, f"added back with {_route_diff(None, r.attrs)}",
                                   ("route_add", r)))
        elif r.to.version == 4 and (r.netns, through.get(r.key)) in p.renumbered:
            # the kernel drops a device's IPv4 routes with its last address (and
            # with a primary's secondaries): taken out first, put back after
            p.reroutes.append(Change("delete", r.label, f"its device {through[r.key]} is renumbered: "
                                     "removed first, added back after", ("route_del", r.key, r.attrs)))
            p.routes.append(Change("create", r.label, "added back after renumbering", ("route_add", r)))
    for rk in dict.fromkeys(tuple(rk) for rk in p.record.routes):
        if rk not in declared_routes and rk in live_routes:
            p.removals.insert(0, Change("delete", route_label(rk), "no longer declared",
                                        ("route_del", rk, live_routes[rk].attrs)))


def plan_sysctls(p):
    """Sysctls to set (those not set with their new device), and to restore once no longer declared."""
    for s in p.topo.sysctls:
        have = p.state.sysctls.get((s.netns, s.key))
        if have != s.value and (s.netns, s.key) not in p.early:
            p.sysctls.append(Change("modify", s.label,
                                    f"{_show(have)} -> {_show(s.value)}" if have is not None else f"set {_show(s.value)}",
                                    ("sysctl_set", s.netns, s.key, s.value)))
    declared_sysctls = {(s.netns, s.key) for s in p.topo.sysctls}
    for (ns, key), old in p.record.sysctls.items():
        if (ns, key) not in declared_sysctls and p.state.sysctls.get((ns, key)) not in (None, old):
            p.removals.append(Change("modify", f"sysctl {key}" + ("" if ns is HOST else f" in {ns}"),
                                     f"no longer declared: restore {_show(old)}", ("sysctl_restore", ns, key, old)))


def _route_devices(state):
    """{route key: the device it goes through} of every observed route."""
    return {rk: r.dev for rk, r in observed_routes(state).items() if r.dev}


def _route_attrs_as_declared(have, r):
    """The observed route ``have``'s (src, scope, onlink) as ``r`` manages
    them: a route that names no src takes the one the kernel gave its own
    route (an address's subnet route has one)."""
    return have.attrs if r.src is not None or not have.kernel_own else (None,) + have.attrs[1:]


def _route_diff(have, want):
    """How a route's (src, scope, onlink, type) differ, or (``have`` None) what they are."""
    names = ("src", "scope", "onlink", "type")
    show = lambda i, v: SCOPE_NAMES.get(v, v) if i == 1 else _show(v)  # noqa: E731
    if have is None:
        return ", ".join(f"{n} {show(i, w)}" for i, (n, w) in enumerate(zip(names, want))
                         if w not in (None, False, "unicast")) or "its declared attributes"
    return ", ".join(f"{n} {show(i, h)} -> {show(i, w)}" for i, (n, h, w) in enumerate(zip(names, have, want))
                     if h != w)


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
    ns, to, via, dev, _metric, table = rk
    s = f"route {'default' if to.endswith('/0') else to}" + (f" via {via}" if via else "") + (f" dev {dev}" if dev else "")
    s += f" table {table}" if table != RT_TABLE_MAIN else ""
    return s + ("" if ns is HOST else f" in {ns}")
