"""Live state -> model: ONE link dump and one address dump per namespace
(routes, fdb and sysctls only where asked), never one query per object."""
from ..topology.struct import REQUIRED, Struct
from ..kinds import identify, recognize
from . import netlink, netns, rtnl, sysctl


class Device(Struct):
    """An observed device, with its references resolved to (namespace, name).
    ``kind`` is the kind module, or None for devices vnet has no kind for.
    ``up`` is the admin state (what plan and verify compare); ``operstate``
    (as `ip link` names it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN...) and
    ``carrier`` are what the kernel reports of the link, for show."""
    _fields = (("netns", REQUIRED), ("name", REQUIRED), ("ifindex", REQUIRED), ("kernel_kind", None),
               ("kind", None), ("up", True), ("mtu", None), ("mac", None), ("group", 0), ("loopback", False),
               ("master", None), ("peer", None), ("addresses", list), ("options", dict), ("extra", dict),
               ("port", dict), ("secondary", list), ("operstate", None), ("carrier", None))

    @property
    def key(self):
        return (self.netns, self.name)

    @property
    def kind_name(self):
        if self.kind:
            return self.kind.name
        return "loopback" if self.loopback else (self.kernel_kind or "device")


class Route(Struct):
    """An observed unicast route, of any table, its device by name.
    ``scope`` is the kernel's rtm_scope number (0 global, 253 link...)."""
    _fields = (("netns", REQUIRED), ("to", REQUIRED), ("via", None), ("dev", None), ("metric", 0), ("proto", 0),
               ("table", rtnl.RT_TABLE_MAIN), ("src", None), ("scope", 0), ("onlink", False))

    @property
    def key(self):
        """The route's key, as spec.model.Route.key and records write it."""
        return (self.netns, str(self.to), str(self.via) if self.via else None, self.dev, self.metric, self.table)

    @property
    def attrs(self):
        from ..topology.model import route_attrs
        return route_attrs(self.to.version, self.via, self.src, self.scope, self.onlink)

    @property
    def kernel_own(self):
        """Made by the kernel (an address's subnet, a router advertisement)
        or in the local table: no topology declares it."""
        return self.proto in (rtnl.RTPROT_KERNEL, rtnl.RTPROT_RA) or self.table == rtnl.RT_TABLE_LOCAL

    def __iter__(self):
        # the (dst, gw, dev, metric, proto) tuple routes were before they had
        # tables: code written against it keeps working
        return iter((self.to, self.via, self.dev, self.metric, self.proto))


class _Dumps:
    """Per-namespace dumps that only some kinds need, taken on first use."""

    def __init__(self, k, ns, links):
        self.k, self.ns, self.links = k, ns, links   # the kernel session, the namespace, its link dump
        self._sock = k.sock(ns)
        self._fd = k.fd(ns)
        self._fdb = None
        self._brvlan = None
        self._more = {}

    def driver(self, name):
        """A device's driver name (ethtool), for devices without a link kind."""
        if "_ethtool" not in self._more:
            import socket
            with self.k.entered(self.ns):
                self._more["_ethtool"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        from .ethtool import driver
        return driver(name, self._more["_ethtool"])

    def close(self):
        s = self._more.pop("_ethtool", None)
        if s is not None:
            s.close()

    def cached(self, key, take):
        """``take(kernel, ns)`` once per namespace: a kind's own dump (macsec's SAs...)."""
        if key not in self._more:
            self._more[key] = take(self.k, self.ns)
        return self._more[key]

    def sysfs(self, path):
        """A /sys file as this namespace sees it (None if unreadable)."""
        return netns.read_sysfs(self._fd, [path])[path]

    @property
    def bridge_vlans(self):
        if self._brvlan is None:
            self._brvlan = rtnl.dump_bridge_vlans(self._sock)
        return self._brvlan

    @property
    def fdb(self):
        if self._fdb is None:
            self._fdb = rtnl.dump_fdb(self._sock)
        return self._fdb


class State:
    def __init__(self):
        self.namespaces = {}      # ns -> {name: Device}
        self.routes = {}          # ns -> [Route], every table
        self.sysctls = {}         # (ns, key) -> value
        self.half_made = set()    # /run/netns entries that are not namespaces (a maker stopped midway)

    def has_ns(self, ns):
        return ns in self.namespaces

    def device(self, ns, name):
        return self.namespaces.get(ns, {}).get(name)

    def devices(self):
        for devs in self.namespaces.values():
            yield from devs.values()


def observe(k, namespaces, routes_in=(), sysctls=(), known=None):
    """Observe ``namespaces`` (None: vnet's own) through Kernel ``k``.
    Absent namespaces are left out of the state. With ``known`` (an earlier
    State), only ``namespaces`` are observed again and the rest of
    ``known`` is kept (references into it resolve through it)."""
    raw = {}
    half_made = set()
    asked = dict.fromkeys(namespaces)
    for ns in asked:
        if not k.has(ns):
            if k.half_made(ns):
                half_made.add(ns)
            continue
        sock = k.sock(ns)
        raw[ns] = (rtnl.dump_links(sock), rtnl.dump_addrs(sock))
    st = State()
    st.half_made = half_made
    by_index = {ns: {ln.ifindex: ln for ln in links} for ns, (links, _a) in raw.items()}
    kept = {ns: devs for ns, devs in (known.namespaces.items() if known else ()) if ns not in raw}
    for ns, devs in kept.items():
        by_index[ns] = {d.ifindex: d for d in devs.values()}
    nsids = {}
    order = [o for o in dict.fromkeys([None, *raw, *kept]) if o in by_index]   # vnet's own first

    def ns_of(ns, nsid):
        """The observed namespace ``ns`` knows as ``nsid``. Other namespaces'
        ids are asked lazily, vnet's own first (a lab's namespaces mostly
        refer to it), each at most once per namespace: asking all of them
        for each namespace would be quadratic in a lab's size."""
        if ns not in nsids:   # a lazy walk over the others: no list per namespace
            nsids[ns] = ({}, (o for o in order if o != ns))
        m, todo = nsids[ns]
        while nsid not in m:
            other = next(todo, todo)
            if other is todo:   # all asked
                break
            try:
                m[rtnl.nsid_of(k.sock(ns), k.fd(other))] = other
            except netlink.NetlinkError:
                pass
        return m.get(nsid, ("?", nsid))

    def resolver(ns):
        def resolve(ifindex, nsid):
            tns = ns if nsid is None or nsid < 0 else ns_of(ns, nsid)
            ln = by_index.get(tns, {}).get(ifindex) if not isinstance(tns, tuple) else None
            return (tns, ln.name if ln else f"if{ifindex}")
        return resolve

    # a pair's ends name each other: once one end's peer is resolved (which
    # may cost a namespace-id query), the other end's is known by that
    peer_of = {}
    for ns, (links, addrs) in raw.items():
        resolve = resolver(ns)
        dumps = _Dumps(k, ns, links)
        devs = st.namespaces[ns] = {}
        for ln in links:
            kind = identify(ln) or (recognize(ln, dumps) if ln.kind is None else None)
            d = Device(ns, ln.name, ln.ifindex, ln.kind, kind, ln.up, ln.mtu, ln.mac, ln.group,
                       loopback=bool(ln.flags & rtnl.IFF_LOOPBACK), operstate=ln.operstate, carrier=ln.carrier)
            if ln.master:
                d.master = (ns, by_index[ns][ln.master].name) if ln.master in by_index[ns] else (ns, f"if{ln.master}")
            if kind is not None:
                d.options = kind.decode(ln, resolve)
                kind.observe_more(ln, d.options, dumps)
                d.extra = kind.observed_extra(ln, resolve, dumps)
                if kind.peer and ln.link:
                    pair = peer_of.get(d.key)
                    if pair and (by_index.get(pair[0]) or {}).get(ln.link) is not None \
                            and by_index[pair[0]][ln.link].name == pair[1]:
                        d.peer = pair
                    else:
                        d.peer = resolve(ln.link, ln.link_nsid)
                        peer_of[d.peer] = d.key
            devs[ln.name] = d
        # port options (a bridge port's VLANs...), observed by the master's kind
        for master_kind in {d.kind for d in devs.values() if d.kind is not None and d.kind.port_options}:
            ports = [d for d in devs.values() if d.master and d.master[1] in devs
                     and devs[d.master[1]].kind is master_kind]
            if ports:
                master_kind.observe_ports(ports, dumps)
        dumps.close()
        names = {ln.ifindex: ln.name for ln in links}
        for idx, a, secondary in addrs:
            if idx in names and not (a.version == 6 and a.ip.is_link_local):
                devs[names[idx]].addresses.append(a)
                if secondary:
                    devs[names[idx]].secondary.append(a)
    if known is not None:
        st.half_made |= {ns for ns in known.half_made if ns not in asked}
        for ns, devs in kept.items():
            st.namespaces[ns] = devs
            if ns in known.routes:
                st.routes[ns] = known.routes[ns]
        st.sysctls.update({key: v for key, v in known.sysctls.items() if key[0] in kept})
    for ns in dict.fromkeys(routes_in):
        if ns in raw:
            names = {ln.ifindex: ln.name for ln in raw[ns][0]}
            st.routes[ns] = [Route(ns, dst, gw, names.get(oif), metric, proto, table, src, scope, onlink)
                             for dst, gw, oif, metric, proto, table, src, scope, onlink
                             in rtnl.dump_routes(k.sock(ns))]
    read_sysctls(k, st, sysctls, raw)
    return st


def read_sysctls(k, st, keys, present):
    """Read ``keys`` [(ns, key)] of the namespaces in ``present`` into
    ``st.sysctls`` (None: this kernel or device has none), entering each
    namespace once."""
    by_ns = {}
    for ns, key in dict.fromkeys(keys):
        if ns in present:
            by_ns.setdefault(ns, []).append(key)
    for ns, ks in by_ns.items():
        with k.entered(ns):
            for key in ks:
                try:
                    st.sysctls[(ns, key)] = sysctl.read(key)
                except OSError:
                    st.sysctls[(ns, key)] = None
