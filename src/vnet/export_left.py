"""What an export of the namespaces it makes cannot write, and says so:
the devices of those namespaces the file does not declare (a veth whose
peer is in a namespace not exported, a device of a kind vnet has no kind
for), which it cannot name either (in a namespace the file makes, only lo
can be `external`: the rest would not exist yet), the interfaces on or in
one (a VLAN on it, a port of it), and the addresses, routes, nexthops,
neighbours and sysctls through them: written, they would make the file
fail to apply."""
from .topology.model import HOST, split_device_key


def devices_left_out(state, nss, ifaces):
    """(the interfaces of ``ifaces`` kept, {key: why} of the devices left
    out): the devices of ``nss`` (the namespaces the file makes) that
    ``ifaces`` do not declare (lo aside), and the interfaces that refer to
    one, until none does."""
    declared = {e.key for i in ifaces for e in i.endpoints()}
    gone = {d.key: _why(d, nss) for ns in nss for d in state.namespaces.get(ns, {}).values()
            if d.key not in declared and not d.loopback}
    kept = list(ifaces)
    while True:
        out = [(i, key) for i in kept for key in [_refers(i, gone)] if key is not None]
        if not out:
            return kept, gone
        for i, key in out:
            gone.update({e.key: f"it refers to {_where(key)}, left out" for e in i.endpoints()})
            kept.remove(i)


def _refers(iface, gone):
    """The key of a device of ``gone`` that ``iface`` refers to (its
    master, its lower device...), else None."""
    keys = [ref.resolve(iface.peer.netns if field == "peer.master" else iface.netns)
            for field, ref in iface.refs(include_late=True)]
    return next((k for k in keys if k in gone), None)


def _why(dev, nss):
    if dev.kind_module is None:
        return f"vnet has no kind for {dev.kind_name}"
    if not dev.kind_module.creatable:
        return f"vnet does not make a {dev.kind_name}"
    if dev.peer and dev.peer[0] not in nss:   # (its namespace, or ("?", nsid) where none observed is its)
        return f"its peer is {_where(dev.peer)}, which the export leaves out" if not isinstance(dev.peer[0], tuple) \
            else "its peer is in a namespace the export leaves out"
    return "vnet cannot declare it"


def _where(key):
    return f"{key[1]} of {_ns(key[0])}"


def left_out_lines(state, gone):
    """A line naming each device of ``gone`` ({key: why}) and the
    addresses someone gave it (not the link-local ones the kernel does)."""
    out = []
    for key, why in sorted(gone.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        dev = state.device(*key)
        addrs = [str(a) for a in dev.addresses if not a.ip.is_link_local] if dev is not None else []
        kind = dev.kind_name if dev is not None else "device"
        out.append(f"left out the {kind} {_where(key)} ({why})" + (f", and its addresses {', '.join(addrs)}"
                                                                    if addrs else ""))
    return out


def through_left_out(state, gone, routes, nexthops, neighbours, sysctls, said):
    """(routes, nexthops, neighbours, sysctls) without those through a
    device of ``gone`` (or a nexthop left out), each left out named in
    ``said`` (a list of lines)."""
    from .planner.routes import route_label
    nh_gone = {n.key for n in nexthops if (n.netns, n.dev) in gone}
    nh_gone |= {n.key for n in nexthops if any((n.netns, i) in nh_gone for i, _w in n.group)}
    said += [f"left out the nexthop {n.id} of {_ns(n.netns)} (through {n.dev or 'a nexthop'}, left out)"
             for n in nexthops if n.key in nh_gone]
    kept_routes = []
    for r in routes:
        dev = next((d for d in [r.dev] + [d for _v, d, _w in r.nexthops] if (r.netns, d) in gone), None)
        if dev is None and (r.netns, r.nhid) not in nh_gone:
            kept_routes.append(r)
        else:
            said.append(f"left out {route_label(r.key)} (through {dev or f'nexthop {r.nhid}'}, left out)")
    kept_neighbours = []
    for n in neighbours:
        if (n.netns, n.dev) in gone:
            said.append(f"left out the {'proxy' if n.proxy else 'static'} neighbour {n.address} on {n.dev} of "
                        f"{_ns(n.netns)} ({n.dev} is left out)")
        else:
            kept_neighbours.append(n)
    kept_sysctls = []
    for ns, key in sysctls:
        per = split_device_key(key)
        if per is not None and (ns, per[1]) in gone:
            said.append(f"left out the sysctl {key} = {state.sysctls.get((ns, key))} of {_ns(ns)} ({per[1]} is left "
                        "out)")
        else:
            kept_sysctls.append((ns, key))
    return kept_routes, [n for n in nexthops if n.key not in nh_gone], kept_neighbours, kept_sysctls


def _ns(ns):
    return "vnet's own namespace" if ns is HOST else f"namespace {ns}"
