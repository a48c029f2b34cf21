"""The kernel step of each kind of change, with its inverse journaled in the
topology's record; Context: the kernel handles and the interface indexes a
run of steps shares."""
import contextlib
import errno
import ipaddress

from ..declare import to_endpoint, to_interface
from ..kernel import neighbours, netlink, rtnl, rules, sysctl
from ..kinds import BY_NAME
from ..topology.model import LINK_FLAGS, where
from ..topology.rule import entry_rule, rule_entry
from . import nexthops


class Context:
    """What kind modules get to act on the kernel: sockets and fds per
    namespace, ifindex lookup, the topology's link group tag."""

    def __init__(self, k, state, group, topo=None):
        self.k = k
        self.group = group
        # while a run of creations goes: [(key, send)] of the peers'
        # settling held back to its end (None: sent at once, as in an undo)
        self.held = None
        self.state = state   # as the plan observed it
        # read before a deletion where the plan read none: (ns, device) -> its
        # routes, ns -> its neighbour entries; and the addresses deleted so far
        self._routes, self._nbrs, self.addresses_gone = {}, {}, set()
        self._index = {d.key: d.ifindex for d in state.devices()}
        declared = topo.by_key() if topo else {}
        self._kinds = {key: i.kind_module for key, (i, _e) in declared.items()}
        for d in state.devices():
            if d.kind_module:
                self._kinds.setdefault(d.key, d.kind_module)
        self._own_mtus = {}   # master key -> [ports the file gives an MTU of their own]
        for key, (_i, e) in declared.items():
            if e.master and e.mtu is not None:
                self._own_mtus.setdefault(e.master_key(), []).append(key)

    @contextlib.contextmanager
    def ports_kept(self, e):
        """Around an MTU change of ``e``: a master that gives its ports its
        MTU as it changes (a bond: bond_change_mtu) leaves the ports the file
        gives an MTU of their own with the one each had before (declared, or
        as an undo puts back)."""
        kind = self._kinds.get(e.key)
        keys = self._own_mtus.get(e.key, ()) if kind is not None and kind.ports_take_its_mtu else ()
        sock = self.sock(e.netns)
        had = {}
        for ns, name in keys:
            ln = rtnl.get_link(sock, name)
            if ln is not None and ln.master == self.ifindex(*e.key):
                had[ln.ifindex] = ln.mtu
        yield
        for idx, mtu in had.items():
            ln = rtnl.get_link_by_index(sock, idx)
            if ln is not None and ln.mtu != mtu:
                rtnl.set_link(sock, idx, attrs=rtnl.link_attrs(mtu=mtu))

    def port_kept(self, e, master):
        """A callable putting back the settings port ``e`` has as a port of
        ``master`` now (its master's kind's ``port_snapshot``), or None."""
        kind = self.master_kind(e.netns, master)
        return kind.port_snapshot(self.sock(e.netns), self.ifindex(*e.key)) if kind is not None else None

    def master_kind(self, ns, master):
        """The kind of master ``master`` (a key) of a port in ``ns``: the
        file's, else (a master vnet does not make, `kind: external`) as it is live."""
        kind = self._kinds.get(master)
        if kind is None or not kind.port_options:
            kind = self._live_kind(ns, master)
        return kind

    def around(self, ns, name):
        """(the routes through device ``name`` of ``ns``, the static
        neighbour entries of ``ns``): as the plan observed them, else (it
        read none there: the file declares none) as they are now, read
        once: the routes of that device alone (a dump the kernel filters: a
        host's whole table is not read). What an undo puts back of a device
        deleted or taken down."""
        state = self.state
        devs = state.namespaces.get(ns, {})
        if ns in state.routes:
            routes = state.routes[ns]
        else:
            if (ns, name) not in self._routes:
                from ..observer import read_routes
                try:
                    index = self.ifindex(ns, name)
                except netlink.NetlinkError as e:
                    if e.errno != errno.ENODEV:
                        raise
                    index = None   # gone already (with its peer): no route through it left
                try:
                    self._routes[(ns, name)] = read_routes(self.sock(ns), ns, devs, index) if index else []
                except netlink.NetlinkError:   # a kernel that filters no route dump: the whole table
                    self._routes[(ns, name)] = read_routes(self.sock(ns), ns, devs)
            routes = self._routes[(ns, name)]
        if ns not in state.neighbours and ns not in self._nbrs:
            from ..observer import read_neighbours
            self._nbrs[ns] = read_neighbours(self.sock(ns), ns, devs)
        return routes, state.neighbours.get(ns, self._nbrs.get(ns, []))

    def read_routes(self, ns):
        """The routes of ``ns`` as read already (by the plan, else those of
        the devices ``around`` read), without reading more."""
        if ns in self.state.routes:
            return self.state.routes[ns]
        return [r for (rns, _n), rs in self._routes.items() if rns == ns for r in rs]

    def entries_back(self):
        """After an undo: the static neighbour entries read before it (the
        plan's, ``around``'s) missing now, put back where their device is
        (the kernel drops a device's entries as it takes another MAC: a
        bridge as a port comes or goes, and again as that is undone).
        Returns [what could not be put back]."""
        errors = []
        before = {**self._nbrs, **self.state.neighbours}
        for ns, entries in before.items():
            entries = [n for n in entries if n.dev is not None and n.static]
            if not entries:
                continue
            try:
                live = {(i, str(ip), proxy) for i, ip, _l, proxy, _n, _r in neighbours.dump_static_neighbours(self.sock(ns))}
            except OSError:   # (the namespace is gone)
                continue
            for n in entries:
                try:
                    if (self.ifindex(ns, n.dev), str(n.address), n.proxy) not in live:
                        _neigh_back(self, n)
                except netlink.NetlinkError as e:
                    if e.errno != errno.ENODEV:   # (its device is gone: not one to put back)
                        errors.append(f"{n.label} could not be put back: {e}")
        return errors

    def _live_kind(self, ns, master):
        from ..kinds import identify
        ln = rtnl.get_link(self.sock(master[0]), master[1]) if master[0] == ns else None
        return identify(ln) if ln is not None else None

    def joins_down(self, endpoint):
        """Must ``endpoint`` be down to join its master?"""
        m = endpoint.master_key() if endpoint.master else None
        return bool(m and getattr(self._kinds.get(m), "ports_join_down", False))

    def joined(self, endpoint, mtu=None, mac=None):
        """``endpoint`` was just made a port of its master: the master's kind
        may confirm it (teamd sometimes drops a port added as it appears);
        a master that gave it its own MTU and MAC (a bond) has the port's set
        again (``mtu``/``mac``, else the endpoint's, where one is given)."""
        m = endpoint.master_key() if endpoint.master else None
        kind = self._kinds.get(m)
        if kind is not None:
            kind.port_joined(self, endpoint)
        mtu = mtu if mtu is not None else endpoint.mtu
        mac = mac if mac is not None else endpoint.mac
        if kind is not None and kind.ports_take_its_mtu and (mtu is not None or mac is not None):
            rtnl.set_link(self.sock(endpoint.netns), self.ifindex(*endpoint.key),
                          attrs=rtnl.link_attrs(mtu=mtu, mac=mac))

    def sock(self, ns):
        return self.k.sock(ns)

    def fd(self, ns):
        """The namespace's fd; a namespace that is gone is an error (never
        None, which would mean the namespace vnet runs in)."""
        fd = self.k.fd(ns)
        if fd is None and ns is not None:
            raise FileNotFoundError(errno.ENOENT, f"network namespace {ns!r} does not exist (removed by someone else?)")
        return fd

    def genl(self, ns, family):
        return self.k.genl(ns, family)

    def entered(self, ns):
        return self.k.entered(ns)

    def ifindex(self, ns, name):
        i = self._index.get((ns, name))
        if i is None:
            ln = rtnl.get_link(self.k.sock(ns), name)
            if ln is None:
                raise netlink.NetlinkError(errno.ENODEV, f"device {where(ns, name)} not found")
            i = self._index[(ns, name)] = ln.ifindex
        return i

    def learn(self, key, ifindex):
        self._index[key] = ifindex

    def forget(self, ns, name):
        self._index.pop((ns, name), None)

    def forget_ns(self, ns):
        for key in [k for k in self._index if k[0] == ns]:
            del self._index[key]


# ---- the operations: each does its step and returns its inverse ------------

def _ns_create(ctx, rec, ns, how=None):
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
    return lambda: _ns_delete(ctx, rec, ns)


def _release_recorded(k, rec, only_ns=False, ns=None):
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


def _ns_delete(ctx, rec, ns):
    _release_recorded(ctx.k, rec, only_ns=True, ns=ns)
    if ns in stacked_namespaces(rec):
        release_lowers(ctx.k, rec, ns)
    ctx.forget_ns(ns)
    ctx.k.delete_ns(ns)
    if ns in rec.namespaces:
        rec.namespaces.remove(ns)
    return lambda: _ns_create(ctx, rec, ns)


def _create(ctx, rec, iface):
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
                _delete_iface(ctx, rec, iface)
        raise
    return lambda: _delete_iface(ctx, rec, iface)


def _tag_and_settle(ctx, iface):
    """What a creation request cannot carry for a peer: its group tag, its
    master and its up state (the kernel refuses to bring a peer up in
    another namespace at creation: ENOTCONN on 6.18); nor, for any device,
    the promiscuous flag, queue length, alias and link flags (a TUN's ioctl,
    teamd... have no place for them; the kernel takes no alias at creation)."""
    for i, e in enumerate(iface.endpoints()):
        if i == 0:
            flags = _flags(e)
            if e.promisc or e.txqueuelen is not None or e.alias is not None or flags:
                rtnl.set_link(ctx.sock(e.netns), ctx.ifindex(*e.key), promisc=e.promisc or None,
                              attrs=rtnl.link_attrs(txqlen=e.txqueuelen, alias=e.alias), **flags)
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
    if e.master:
        ctx.joined(e)
    if ctx.joins_down(e) and e.up:
        rtnl.set_link_by_name(sock, e.name, up=True)


def _delete_iface(ctx, rec, iface):
    iface.kind_module.release(ctx.k, iface.netns, iface.name)
    try:
        rtnl.del_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key))
    except netlink.NetlinkError as e:
        if e.errno != errno.ENODEV:
            raise
    for e in iface.endpoints():
        ctx.forget(*e.key)
        rec.devices.pop(e.key, None)


def _dev_delete(ctx, rec, dev, state):
    old = to_interface(dev, state)
    devs = [d for d in [dev] + ([state.device(*dev.peer)] if dev.peer else []) if d is not None]
    around = [ctx.around(d.netns, d.name) for d in devs] if old else []
    routes = _routes_through([(d, rs) for d, (rs, _n) in zip(devs, around)])
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
    return (lambda: _restore(ctx, rec, old, routes, nbrs, ports, nhs)) if old else None


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


def _restore(ctx, rec, iface, routes=(), nbrs=(), ports=(), nhs=()):
    """Device ``iface`` made again as it was, with its addresses, its ports,
    the nexthops through it (``nexthops.dropped_with``), the routes through
    it or them (``_routes_through``) and its static neighbour entries that
    the kernel dropped with it."""
    _create(ctx, rec, iface)
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
    _nexthops_and_routes_back(ctx, nhs, routes)
    for n in nbrs:
        _neigh_back(ctx, n)


def _nexthops_and_routes_back(ctx, nhs, routes):
    """The routes not through a nexthop object first (a nexthop's gateway
    may be reached by one), then the nexthops ``nhs``, then the routes
    through them."""
    _routes_back(ctx, [r for r in routes if r.nhid is None])
    nexthops.put_back(ctx, nhs)
    _routes_back(ctx, [r for r in routes if r.nhid is not None])


def _routes_back(ctx, routes):
    """Observed ``routes`` added again: those through a device alone first
    (a gateway may be reached by one); then again what failed while any
    went in: the first error left is said."""
    todo = sorted(routes, key=lambda r: r.via is not None or bool(r.nexthops))
    while todo:
        failed = []
        for r in todo:
            try:
                _route_back(ctx, r)
            except netlink.NetlinkError as e:
                failed.append((r, e))
        if len(failed) == len(todo):
            raise failed[0][1]
        todo = [r for r, _e in failed]


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
    _set_fields(ctx, port, {"master": port.master_key(), "up": port.up})
    if back is not None:
        back()


def _route_back(ctx, r):
    """Observed route ``r`` added again (there already: nothing; through a
    device that is not back yet, another's undo: left to that one's)."""
    try:
        index = {d: ctx.ifindex(r.netns, d) for d in {r.dev} | {d for _v, d, _w in r.nexthops} if d}
    except netlink.NetlinkError as e:
        if e.errno == errno.ENODEV:
            return
        raise
    try:
        if r.raw is not None:   # as someone made it: its protocol, metrics...
            rtnl.add_route_again(ctx.sock(r.netns), r.raw, index.get(r.dev, 0),
                                 [index.get(d, 0) for _v, d, _w in r.nexthops])
        else:
            rtnl.add_route(ctx.sock(r.netns), r.to, r.via, index.get(r.dev, 0), r.metric, r.table,
                           ipaddress.ip_address(r.src) if r.src else None, r.scope, r.onlink, r.type,
                           [(v, index.get(d, 0), w) for v, d, w in r.nexthops], r.metrics, r.nhid, r.proto, r.pref)
    except netlink.NetlinkError as e:
        if e.errno == errno.EINVAL and r.nhid is not None and not nexthops.exists(ctx, r.netns, r.nhid):
            return   # its nexthop is not back yet: left to the undo that makes it (and puts it back)
        if e.errno != errno.EEXIST:
            raise


def _routes_through(devs):
    """The observed routes someone (or vnet) made through the devices of
    ``devs`` [(device, the routes read there: Context.around)], which the
    kernel drops with them: for an undo to put back once the devices are
    made again."""
    out = []
    for d, routes in devs:
        for r in routes:
            if r.restorable and r not in out and \
                    (r.dev == d.name or any(dev == d.name for _v, dev, _w in r.nexthops)):
                out.append(r)
    return out


def _recreate(ctx, rec, iface, dev, state):
    undo_del = _dev_delete(ctx, rec, dev, state)
    try:
        undo_new = _create(ctx, rec, iface)
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


def _options(ctx, rec, iface, changed):
    iface.kind_module.modify(ctx, iface, changed)

    def undo():
        old = iface.replace(options={**iface.options, **changed})
        iface.kind_module.modify(ctx, old, {k: iface.options[k] for k in changed})
    return undo


def _set(ctx, rec, e, new, old, kept=(), addresses=()):
    """Endpoint ``e``'s fields set; the undo sets them back, and puts back
    the neighbour entries ``kept`` and the ``addresses`` that the kernel
    drops with the change (a device going down: its IPv6 addresses, its
    entries; another MAC: planner.neighbours), and a port taken from its
    master the settings it had there (the kernel drops them)."""
    back = ctx.port_kept(e, old["master"]) if new.get("master", False) is not False and old.get("master") else None
    routes, nhs = (), ()
    if new.get("up") is False and old.get("up"):   # the kernel drops the routes through it, its entries, nexthops
        routes, entries = ctx.around(e.netns, e.name)
        routes = _routes_through([(e, routes)])
        nhs, nh_routes = nexthops.dropped_with(ctx.state, e.netns, {e.name})
        routes += nh_routes
        kept = list(kept) + [n for n in entries if n.dev == e.name and n.static and n not in kept]
    _set_fields(ctx, e, new)

    def undo():
        _set_fields(ctx, e, old)
        if back is not None:
            back()
        for a in addresses:
            _addr_add(ctx, rec, e.key, a)
        _nexthops_and_routes_back(ctx, nhs, routes)
        for n in kept:
            _neigh_back(ctx, n)
    return undo


def _set_fields(ctx, e, fields):
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
    if m is not False:
        _as_before_leaving(sock, idx, e, fields)


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


def _addr_add(ctx, rec, key, a, remember=False):
    """Add address ``a`` to device ``key`` (``remember``: on the record, a
    device vnet did not make: lo's, taken away once no longer declared).
    There already (an IPv6 address kept as its device went down, with
    keep_addr_on_down): nothing to undo."""
    try:
        rtnl.add_addr(ctx.sock(key[0]), ctx.ifindex(*key), a)
    except netlink.NetlinkError as e:
        if e.errno != errno.EEXIST:
            raise
        return None
    if remember:
        rec.remember_address(key, a)
    return lambda: _addr_del(ctx, rec, key, a)


def _addr_del(ctx, rec, key, a):
    """Delete address ``a`` of device ``key``; its undo adds it back, and
    the IPv4 routes the kernel dropped with it (``_dropped_with``)."""
    routes = _dropped_with(ctx, key, a)
    try:
        rtnl.del_addr(ctx.sock(key[0]), ctx.ifindex(*key), a)
    except netlink.NetlinkError as e:
        if e.errno != errno.EADDRNOTAVAIL:
            raise
        rec.forget_address(key, a)
        return None   # gone already (with its primary, say): nothing to put back
    ctx.addresses_gone.add((key, a))
    remembered = rec.forget_address(key, a)

    def undo():
        _addr_add(ctx, rec, key, a, remembered)
        _routes_back(ctx, routes)
    return undo


def _dropped_with(ctx, key, a):
    """The IPv4 routes (someone's too) that the kernel drops as address
    ``a`` of device ``key`` goes: those with it as their source
    (fib_sync_down_addr), where the routes were read, and when it is the
    device's last IPv4 address (those deleted before it in this apply
    counted), every one through the device (fib_disable_ip)."""
    dev = ctx.state.device(*key)
    if a.version != 4 or dev is None:
        return ()
    last = not [x for x in dev.addresses if x.version == 4 and x != a and (key, x) not in ctx.addresses_gone]
    routes = ctx.around(*key)[0] if last else ctx.read_routes(key[0])
    through = _routes_through([(dev, routes)]) if last else []
    sourced = [r for r in routes if r.restorable and r.src is not None and str(r.src) == str(a.ip)]
    return [r for r in through + [r for r in sourced if r not in through] if r.to.version == 4]


def _route_args(ctx, ns, to, via, dev, metric, table):
    return (ipaddress.ip_network(to), ipaddress.ip_address(via) if via else None,
            ctx.ifindex(ns, dev) if dev else 0, metric, table)


def _route_put(ctx, rk, attrs, raw=None):
    """Add the route ``rk`` with ``attrs`` (src, scope, onlink, type, next
    hops, metrics, nhid, protocol, pref; a scope of None: the default, as for an IPv6 route), or
    as the kernel's message ``raw`` showed it (rtnl.add_route_again)."""
    src, scope, onlink, rtype, nexthops, metrics, nhid, protocol, pref = attrs
    hops = [(ipaddress.ip_address(via) if via else None, ctx.ifindex(rk[0], dev) if dev else 0, weight)
            for via, dev, weight in nexthops]
    if raw is not None:
        rtnl.add_route_again(ctx.sock(rk[0]), raw, ctx.ifindex(rk[0], rk[3]) if rk[3] else None, [h[1] for h in hops])
        return
    rtnl.add_route(ctx.sock(rk[0]), *_route_args(ctx, *rk), src=ipaddress.ip_address(src) if src else None,
                   scope=scope, onlink=onlink, rtype=rtype, hops=hops, metrics=metrics, nhid=nhid, protocol=protocol,
                   pref=pref)


def _route_add(ctx, rec, r):
    _route_put(ctx, r.key, r.attrs)
    _remember_route(rec, r.key)
    return lambda: _route_del(ctx, rec, r.key, r.attrs)


def _remember_route(rec, rk):
    if tuple(rk) not in rec.routes:   # once: a route added again after drift is one route
        rec.routes.append(tuple(rk))


def _route_del(ctx, rec, rk, attrs, raw=None):
    """Delete route ``rk``; its undo adds it back as it was, with ``attrs``
    (or as ``raw``, the kernel's message, showed it), and on the record if
    it was (a route someone else made stays theirs)."""
    rk = tuple(rk)
    return _deleted(lambda: rtnl.del_route(ctx.sock(rk[0]), *_route_args(ctx, *rk)), errno.ESRCH,
                    lambda: _route_put(ctx, rk, attrs, raw), rec.routes, rk)


def _deleted(delete, gone, put_back, recorded, entry):
    """Run ``delete`` (an errno ``gone``: gone already) and take ``entry``
    off the ``recorded`` list; the undo runs ``put_back`` (EEXIST: there
    again, as it was) and records it again if it was."""
    try:
        delete()
    except netlink.NetlinkError as e:
        if e.errno != gone:
            raise
    was = entry in recorded
    while entry in recorded:
        recorded.remove(entry)

    def undo():
        try:
            put_back()
        except netlink.NetlinkError as e:
            if e.errno != errno.EEXIST:
                raise
        if was and entry not in recorded:
            recorded.append(entry)
    return undo


def _rule_add(ctx, rec, r):
    entry = rule_entry(r, rules.add_rule(ctx.sock(r.netns), r))   # with the priority the kernel gave
    intent = rule_entry(r)   # said before the run (applier._record_intent)
    while intent in rec.rules:
        rec.rules.remove(intent)
    if entry not in rec.rules:
        rec.rules.append(entry)
    return lambda: _rule_del(ctx, rec, entry, entry_rule(entry))


def _rule_del(ctx, rec, entry, have):
    """Delete rule ``have`` (recorded as ``entry``) and no other; its undo
    adds it back."""
    sock = ctx.sock(have.netns)

    def delete():
        try:
            rules.del_rule(sock, have, have.netns)
        except rules.InTheWay as e:
            raise netlink.NetlinkError(errno.EBUSY, f"the kernel would delete the rule '{e.rule.text}' "
                                                    "in its place") from None
    return _deleted(delete, None, lambda: rules.add_rule(sock, have), rec.rules, entry)


def _neigh_set(ctx, rec, n, old):
    """Make static neighbour ``n``, or make the entry there as declared
    (``old``: the entry found, someone's or another MAC); recorded when vnet
    made it. The undo puts back what was."""
    sock = ctx.sock(n.netns)
    neighbours.set_neighbour(sock, ctx.ifindex(n.netns, n.dev), n.address, n.lladdr, n.proxy)
    made = old is None   # (on the record already: applier._record_intent)
    if made and n.key not in rec.neighbours:
        rec.neighbours.append(n.key)

    def undo():
        idx = ctx.ifindex(n.netns, n.dev)   # now: an undo may have made the device again
        if old is None:
            _neigh_gone(lambda: neighbours.del_neighbour(sock, idx, n.address, n.proxy))
        else:
            neighbours.set_neighbour(sock, idx, n.address, old.lladdr, n.proxy, old.nud)
        if made and n.key in rec.neighbours:
            rec.neighbours.remove(n.key)
    return undo


def _neigh_gone(delete):
    try:
        delete()
    except netlink.NetlinkError as e:
        if e.errno != errno.ENOENT:
            raise


def _neigh_del(ctx, rec, key, have):
    """Delete the static neighbour ``key`` (``have``, as found: the undo puts it back)."""
    sock = ctx.sock(have.netns)
    return _deleted(lambda: neighbours.del_neighbour(sock, ctx.ifindex(have.netns, have.dev), have.address, have.proxy),
                    errno.ENOENT, lambda: _neigh_back(ctx, have), rec.neighbours, tuple(key))


def _neigh_back(ctx, n):
    """Observed entry ``n`` put back as it was (its device's index now)."""
    neighbours.set_neighbour(ctx.sock(n.netns), ctx.ifindex(n.netns, n.dev), n.address, n.lladdr, n.proxy, n.nud)


def _neigh_forget(ctx, rec, key):
    """Forget an entry vnet made whose device goes (the kernel takes it with it)."""
    key = tuple(key)
    was = key in rec.neighbours
    while key in rec.neighbours:
        rec.neighbours.remove(key)

    def undo():
        if was and key not in rec.neighbours:
            rec.neighbours.append(key)
    return undo


def _sysctl_set(ctx, rec, ns, key, value):
    had = (ns, key) in rec.sysctls
    with ctx.entered(ns):
        old = sysctl.read(key)
        if not had:
            rec.sysctls[(ns, key)] = old
            if ns not in rec.namespaces:   # saved before the write: a stop right after it still restores it
                rec.save()
        try:
            sysctl.write(key, value)
        except OSError:
            if not had:
                rec.sysctls.pop((ns, key), None)
            raise

    def undo():
        with ctx.entered(ns):
            sysctl.write(key, old)
        if not had:
            rec.sysctls.pop((ns, key), None)
    return undo


def _sysctl_restore(ctx, rec, ns, key, old):
    """Put back the value found before vnet first set it, and forget it."""
    with ctx.entered(ns):
        now = sysctl.read(key)
        sysctl.write(key, old)
    rec.sysctls.pop((ns, key), None)

    def undo():
        with ctx.entered(ns):
            sysctl.write(key, now)
        rec.sysctls[(ns, key)] = old
    return undo


def _port_set(ctx, rec, e, master_kind):
    return master_kind.set_port(ctx, e)


def _nh_del(ctx, rec, old, through):
    return nexthops.nh_del(ctx, rec, old, through, _route_back)


def _nh_remake(ctx, rec, nh, old, through):
    return nexthops.nh_remake(ctx, rec, nh, old, through, _route_back)


OPS = {"nh_add": nexthops.nh_add, "nh_set": nexthops.nh_set, "nh_del": _nh_del, "nh_remake": _nh_remake,
       "nh_forget": nexthops.nh_forget, "sysctl_restore": _sysctl_restore, "port_set": _port_set, "ns_create": _ns_create, "ns_delete": _ns_delete, "dev_create": _create,
       "dev_options": _options, "dev_set": _set, "addr_add": _addr_add, "addr_del": _addr_del,
       "route_add": _route_add, "route_del": _route_del, "rule_add": _rule_add, "rule_del": _rule_del,
       "neigh_set": _neigh_set, "neigh_del": _neigh_del, "neigh_forget": _neigh_forget,
       "sysctl_set": _sysctl_set}
NEEDS_STATE = {"dev_delete": _dev_delete, "dev_recreate": _recreate}


