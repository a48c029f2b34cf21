"""Context: the kernel handles, the interface indexes and what was read
before a change that a run of steps shares."""
import contextlib
import errno

from ..kernel import neighbours, netlink, rtnl
from ..topology.model import where
from . import entries


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
        for ns, nbrs in before.items():
            nbrs = [n for n in nbrs if n.dev is not None and n.static]
            if not nbrs:
                continue
            try:
                live = {(i, str(ip), proxy) for i, ip, _l, proxy, _n, _r, _p in neighbours.dump_static_neighbours(self.sock(ns))}
            except OSError:   # (the namespace is gone)
                continue
            for n in nbrs:
                try:
                    if (self.ifindex(ns, n.dev), str(n.address), n.proxy) not in live:
                        entries.neigh_back(self, n)
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

