"""The steps of namespaces and devices (made, deleted, made again, set),
each returning its undo; what an undo of a device deleted or taken down
puts back (its addresses, ports, routes, nexthops, neighbour entries)."""
import contextlib
import errno

from ..declare import to_endpoint, to_interface
from ..kernel import netlink, rtnl
from ..kinds import BY_NAME
from ..topology.model import LINK_FLAGS
from . import entries, nexthops, routing


def release_recorded(k, rec, only_ns=False, ns=None):
    """Stop what vnet runs for the recorded devices (teamd, tunnels), all of
    them or those of namespace ``ns``, before their devices go."""
    for (dns, name), kind in list(rec.devices.items()):
        if (not only_ns or dns == ns) and kind in BY_NAME:
            BY_NAME[kind].release(k, dns, name)


def stacked_namespaces(rec):
    """The namespaces of ``rec``'s devices stacked on a lower device
    (Kind.link_attr: a MACVLAN's MAC, a VLAN's id, an IPVLAN's addresses
    are taken on the lower, which may be in another namespace)."""
    return {dns for (dns, _name), kind in rec.devices.items() if getattr(BY_NAME.get(kind), "link_attr", None)}


def release_lowers(k, rec, ns):
    """Before namespace ``ns`` goes: its devices deleted now, in one
    request. Unmounted, a namespace and its devices go only once nothing
    holds it (a shell still in it) and the kernel's cleanup gets round to
    it; until then a new device stacked on the same lower device, in
    another namespace, is refused (what ``stacked_namespaces`` asks for)."""
    if k.has(ns):
        with contextlib.suppress(netlink.NetlinkError):   # (the namespace goes anyway)
            rtnl.del_group(k.sock(ns), rec.group)


def ns_create(ctx, rec, ns, how=None):
    """Make namespace ``ns``; ``how``: "finish" one left half made (a
    /run/netns entry that is not a namespace yet), "lo" bring up the lo of
    one made by an apply stopped before it did (nothing to undo)."""
    if how == "lo":
        ctx.k.lo_up(ns)
        return None
    try:
        ctx.k.create_ns(ns, finish=how == "finish")
    except BaseException as err:   # stopped half way: not left half made (unless the name is taken)
        if getattr(err, "errno", None) != errno.EEXIST:
            with contextlib.suppress(Exception):
                ctx.k.delete_ns(ns)
        raise
    if ns not in rec.namespaces:
        rec.namespaces.append(ns)
    return lambda: ns_delete(ctx, rec, ns)


def ns_delete(ctx, rec, ns):
    release_recorded(ctx.k, rec, only_ns=True, ns=ns)
    if ns in stacked_namespaces(rec):
        release_lowers(ctx.k, rec, ns)
    ctx.forget_ns(ns)
    ctx.k.delete_ns(ns)
    if ns in rec.namespaces:
        rec.namespaces.remove(ns)
    return lambda: ns_create(ctx, rec, ns)


def create(ctx, rec, iface):
    for e in iface.endpoints():
        ctx.forget(*e.key)
        rec.devices[e.key] = iface.kind
    try:
        iface.kind_module.create(ctx, iface)
        _tag_and_settle(ctx, iface)
    except BaseException as err:
        # what the step made before it failed (a TUN the kernel would not
        # enslave, a tunnel that did not start) goes too; a name someone
        # else holds (EEXIST) is theirs
        if getattr(err, "errno", None) != errno.EEXIST:
            with contextlib.suppress(Exception):
                delete_iface(ctx, rec, iface)
        raise
    return lambda: delete_iface(ctx, rec, iface)


def _tag_and_settle(ctx, iface):
    """What a creation request cannot carry for a peer: its group tag, its
    master and its up state (the kernel refuses to bring a peer up in
    another namespace at creation: ENOTCONN on 6.18); nor, for any device,
    the promiscuous flag, queue length, alias, link flags and alternative
    names (a TUN's ioctl, teamd... have no place for them; the kernel takes
    no alias at creation, and altnames only by a request of their own)."""
    for i, e in enumerate(iface.endpoints()):
        if i == 0:
            flags = _flags(e)
            if e.promisc or e.txqueuelen is not None or e.alias is not None or flags:
                rtnl.set_link(ctx.sock(e.netns), ctx.ifindex(*e.key), promisc=e.promisc or None,
                              attrs=rtnl.link_attrs(txqlen=e.txqueuelen, alias=e.alias), **flags)
            if e.altnames:
                rtnl.set_altnames(ctx.sock(e.netns), ctx.ifindex(*e.key), add=e.altnames)
            if e.up and ctx.joins_down(e) and iface.kind_module.creatable:
                rtnl.set_link(ctx.sock(e.netns), ctx.ifindex(*e.key), up=True)
            continue
        if ctx.held is not None and not ctx.joins_down(e):
            # the carrier last: a peer brought up at once makes the kernel's
            # work for the new link (IPv6 start-up, link watch) contend with
            # every creation after it (a flat lab of 1,000 pairs: twice as long)
            ctx.held.append((e.key, lambda e=e: _settle_peer(ctx, e)))
        else:
            _settle_peer(ctx, e)


def _flags(e):
    """{flag: wanted} of the link flags endpoint ``e`` declares (arp...)."""
    return {f: getattr(e, f) for f in LINK_FLAGS if getattr(e, f) is not None}


def _settle_peer(ctx, e):
    sock = ctx.sock(e.netns)
    attrs = rtnl.link_attrs(group=ctx.group, master=ctx.ifindex(*e.master_key()) if e.master else None,
                            txqlen=e.txqueuelen, alias=e.alias)
    # by name: the peer's index would cost a query, the name is known
    rtnl.set_link_by_name(sock, e.name, up=None if ctx.joins_down(e) else e.up, promisc=e.promisc or None,
                          attrs=attrs, **_flags(e))
    if e.altnames:
        rtnl.set_altnames(sock, ctx.ifindex(*e.key), add=e.altnames)
    if e.master:
        ctx.joined(e)
    if ctx.joins_down(e) and e.up:
        rtnl.set_link_by_name(sock, e.name, up=True)


def delete_iface(ctx, rec, iface):
    iface.kind_module.release(ctx.k, iface.netns, iface.name)
    try:
        rtnl.del_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key))
    except netlink.NetlinkError as e:
        if e.errno != errno.ENODEV:
            raise
    for e in iface.endpoints():
        ctx.forget(*e.key)
        rec.devices.pop(e.key, None)


def dev_delete(ctx, rec, dev, state):
    old = to_interface(dev, state)
    devs = [d for d in [dev] + ([state.device(*dev.peer)] if dev.peer else []) if d is not None]
    around = [ctx.around(d.netns, d.name) for d in devs] if old else []
    routes = routing.routes_through([(d, rs) for d, (rs, _n) in zip(devs, around)])
    nbrs = [n for d, (_r, ns_nbrs) in zip(devs, around) for n in ns_nbrs if n.dev == d.name]
    ports = _ports_of(ctx, state, dev) if old else []
    nhs = []
    for ns in dict.fromkeys(d.netns for d in devs):   # (a pair's ends: each in its namespace)
        more, nh_routes = nexthops.dropped_with(state, ns, {d.name for d in devs if d.netns == ns})
        nhs += more
        routes += nh_routes   # (none through a device: those have no dev)
    if old and dev.kind_module.mac_from_ports and \
            dev.mac in {d.mac for d in state.namespaces.get(dev.netns, {}).values() if d.master == dev.key}:
        old = old.replace(mac=None)   # a port's, taken: made again without one set, it takes it again
    if dev.kind_module:
        dev.kind_module.release(ctx.k, dev.netns, dev.name)
    try:
        rtnl.del_link(ctx.sock(dev.netns), dev.ifindex)
    except netlink.NetlinkError as e:
        if e.errno != errno.ENODEV:   # gone already: with its lower device, or its peer
            raise
    keys = [dev.key] + ([dev.peer] if dev.peer else [])
    for k in keys:
        ctx.forget(*k)
        rec.devices.pop(k, None)
    return (lambda: restore(ctx, rec, old, routes, nbrs, ports, nhs)) if old else None


def _ports_of(ctx, state, dev):
    """[(port as it was, the callable putting back its settings as a
    port)] of master ``dev``, those of its ports the plan observed that are
    there still (the others went before it: their undo makes them again
    with it as master): the kernel releases them as it goes, an undo that
    makes it again takes them back."""
    out = []
    for d in state.namespaces.get(dev.netns, {}).values():
        if d.master == dev.key:
            try:
                out.append((to_endpoint(d), ctx.port_kept(d, dev.key)))
            except netlink.NetlinkError as e:
                if e.errno != errno.ENODEV:
                    raise
    return out


def restore(ctx, rec, iface, routes=(), nbrs=(), ports=(), nhs=()):
    """Device ``iface`` made again as it was, with its addresses, its ports,
    the nexthops through it (``nexthops.dropped_with``), the routes through
    it or them (``routing.routes_through``) and its static neighbour entries that
    the kernel dropped with it."""
    create(ctx, rec, iface)
    for e in iface.endpoints():
        for a in e.addresses:
            rtnl.add_addr(ctx.sock(e.netns), ctx.ifindex(*e.key), a)
        kind = ctx.master_kind(e.netns, e.master_key()) if e.port else None
        if kind is not None:   # (a port's settings: what a creation request does not carry)
            kind.set_port(ctx, e)
    for port, back in ports:
        _rejoin(ctx, port, back)
    late = {k: None for k in iface.kind_module.late_options if iface.options.get(k) is not None}
    if late:   # (those naming a port: a bond's primary, once its ports are back)
        iface.kind_module.modify(ctx, iface, late)
    routing.nexthops_and_routes_back(ctx, nhs, routes)
    for n in nbrs:
        entries.neigh_back(ctx, n)


def _rejoin(ctx, port, back):
    """``port`` (an Endpoint, as it was) made a port of its master again as
    a change of its master makes one (down to join where the master's kind
    asks; its own MTU and MAC where the master gave it its own), its
    settings there put back (``back``), up as it was. One gone since
    (deleted by this apply too: its own undo makes it again with its
    master) is left to that undo."""
    ctx.forget(*port.key)
    if rtnl.get_link(ctx.sock(port.netns), port.name) is None:
        return
    set_fields(ctx, port, {"master": port.master_key(), "up": port.up})
    if back is not None:
        back()


def recreate(ctx, rec, iface, dev, state):
    undo_del = dev_delete(ctx, rec, dev, state)
    try:
        undo_new = create(ctx, rec, iface)
    except BaseException:
        if undo_del:
            # the old device back whole, now: its peer's settling must not
            # wait for the end of a run that the failure ends here
            held, ctx.held = ctx.held, None
            try:
                undo_del()
            finally:
                ctx.held = held
        raise

    def undo():
        undo_new()
        if undo_del:
            undo_del()
    return undo


def options(ctx, rec, iface, changed):
    iface.kind_module.modify(ctx, iface, changed)

    def undo():
        old = iface.replace(options={**iface.options, **changed})
        iface.kind_module.modify(ctx, old, {k: iface.options[k] for k in changed})
    return undo


def set_endpoint(ctx, rec, e, new, old, kept=(), addresses=()):
    """Endpoint ``e``'s fields set; the undo sets them back, and puts back
    the neighbour entries ``kept`` and the ``addresses`` that the kernel
    drops with the change (a device going down: its IPv6 addresses, its
    entries; another MAC: planner.neighbours), and a port taken from its
    master the settings it had there (the kernel drops them)."""
    back = ctx.port_kept(e, old["master"]) if new.get("master", False) is not False and old.get("master") else None
    routes, nhs = (), ()
    if new.get("up") is False and old.get("up"):   # the kernel drops the routes through it, its entries, nexthops
        routes, nbrs = ctx.around(e.netns, e.name)
        routes = routing.routes_through([(e, routes)])
        nhs, nh_routes = nexthops.dropped_with(ctx.state, e.netns, {e.name})
        routes += nh_routes
        kept = list(kept) + [n for n in nbrs if n.dev == e.name and n.static and n not in kept]
    set_fields(ctx, e, new)

    def undo():
        set_fields(ctx, e, old)
        if back is not None:
            back()
        for a in addresses:
            routing.addr_add(ctx, rec, e.key, a)
        routing.nexthops_and_routes_back(ctx, nhs, routes)
        for n in kept:
            entries.neigh_back(ctx, n)
    return undo


def set_fields(ctx, e, fields):
    m = fields.get("master", False)
    attrs = rtnl.link_attrs(mtu=fields.get("mtu"), mac=fields.get("mac"), group=fields.get("group"),
                            master=None if m is False else (ctx.ifindex(*m) if m else 0),
                            txqlen=fields.get("txqueuelen"),
                            alias=(fields["alias"] or "") if "alias" in fields else None)   # None: had none
    sock, idx = ctx.sock(e.netns), ctx.ifindex(*e.key)
    up, promisc = fields.get("up"), fields.get("promisc")
    flags = {f: fields[f] for f in LINK_FLAGS if f in fields}
    if m and ctx.joins_down(e):   # down to join, then to the state it should have
        rtnl.set_link(sock, idx, up=False)
        rtnl.set_link(sock, idx, promisc=promisc, attrs=attrs, **flags)
        ctx.joined(e, fields.get("mtu"), fields.get("mac"))   # an undo's: those it had
        rtnl.set_link(sock, idx, up=e.up)
        return
    with ctx.ports_kept(e) if "mtu" in fields else contextlib.nullcontext():
        rtnl.set_link(sock, idx, up=up, promisc=promisc, attrs=attrs, **flags)
    if "altnames" in fields:
        _set_altnames(sock, idx, fields["altnames"] or ())
    if m is not False:
        _as_before_leaving(sock, idx, e, fields)


def _set_altnames(sock, idx, want):
    """Give link ``idx`` exactly the alternative names ``want``: those it
    has and should not taken first (a name moved from one device to another
    is free then)."""
    ln = rtnl.get_link_by_index(sock, idx)
    have = ln.altnames if ln is not None else ()
    rtnl.set_altnames(sock, idx, add=[n for n in want if n not in have], delete=[n for n in have if n not in want])


def _as_before_leaving(sock, idx, e, fields):
    """After a master change: a port leaving a bond is closed and given
    back the MTU it had when it joined (bond_release); it is put back as it
    was (as ``fields`` set it, else as declared, where the plan found it)."""
    ln = rtnl.get_link_by_index(sock, idx)
    if ln is None:
        return
    mtu, up = fields.get("mtu", e.mtu), fields.get("up", e.up)
    attrs = rtnl.link_attrs(mtu=mtu) if mtu is not None and ln.mtu != mtu else b""
    if attrs or up and not ln.up:
        rtnl.set_link(sock, idx, up=True if up and not ln.up else None, attrs=attrs)


def port_set(ctx, rec, e, master_kind):
    return master_kind.set_port(ctx, e)

