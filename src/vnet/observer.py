"""Live state -> model: ONE link dump and one address dump per namespace
(routes, sysctls and a kind's own dumps, through ``_Dumps.cached``, only
where asked), never one query per object."""
import ipaddress

from .kernel import neighbours, netlink, netns, rtnl, rules, sysctl
from .kinds import identify, recognize
from .state import Device, Route, State
from .topology import address
from .topology.neighbour import Neighbour


class _Dumps:
    """Per-namespace dumps that only some kinds need, taken on first use."""

    def __init__(self, k, ns, links, fdb=True):
        self.k, self.ns, self.links = k, ns, links   # the kernel session, the namespace, its link dump
        self.fdb = fdb   # are the static entries on bridge ports read (a plan reads them where a file gives some)?
        self._fd = k.fd(ns)
        self._more = {}

    def driver(self, name):
        """A device's driver name (ethtool), for devices without a link kind."""
        if "_ethtool" not in self._more:
            import socket
            with self.k.entered(self.ns):
                self._more["_ethtool"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        from .kernel.ethtool import driver
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


def observe(k, namespaces, routes_in=(), sysctls=(), known=None, devices=None, rules_in=(), neighbours_in=(),
            fdb_in=None, nexthops_in=()):
    """Observe ``namespaces`` (None: vnet's own) through Kernel ``k``.
    Absent namespaces are left out of the state. With ``known`` (an earlier
    State), only ``namespaces`` are observed again and the rest of
    ``known`` is kept (references into it resolve through it); with
    ``devices`` too ({namespace: indexes}), of those namespaces only the
    devices of those indexes (and their masters) are read again.
    ``routes_in``, ``rules_in``, ``neighbours_in``, ``nexthops_in``: the
    namespaces whose routes, rules, static neighbours, nexthop objects to read; ``fdb_in``, those whose
    bridge ports' static forwarding entries to read (None: all)."""
    asked = dict.fromkeys(namespaces)
    st = State()
    partial = {ns: idx for ns, idx in (devices or {}).items()
               if ns in asked and known is not None and ns in known.namespaces}
    raw = _dump(k, asked, st, partial)
    refs = _References(k, raw, known, partial)
    peer_of = {}   # (ns, name) -> the pair end that named it its peer
    st.namespaces.update(dict.fromkeys(raw))   # the state's order is the namespaces'
    for ns in _lab_first(raw):
        links, addrs = raw[ns]
        devs = st.namespaces[ns] = _devices(k, ns, links, refs, peer_of, fdb_in is None or ns in fdb_in)
        _addresses(devs, links, addrs)
        if ns in partial:
            st.namespaces[ns] = _merged(known.namespaces[ns], refs.kept[ns], devs)
    if known is not None:
        _keep(st, known, {ns: devs for ns, devs in refs.kept.items() if ns not in raw}, asked)
    _routes(k, st, routes_in, raw)
    for ns in dict.fromkeys(rules_in):
        if ns in raw:
            st.rules[ns] = rules.dump_rules(k.sock(ns), ns)
    for ns in dict.fromkeys(neighbours_in):
        if ns in raw:
            st.neighbours[ns] = read_neighbours(k.sock(ns), ns, st.namespaces[ns])
    for ns in dict.fromkeys(nexthops_in):
        if ns in raw:
            st.nexthops[ns] = read_nexthops(k.sock(ns), ns, st.namespaces[ns])
    read_sysctls(k, st, sysctls, raw)
    return st


def _lab_first(raw):
    """The namespaces to read, vnet's own last: a pair's end in a lab
    namespace finds its peer with one namespace-id query there (a lab's
    namespace knows few others), and the end in vnet's own namespace is
    then known by it. Asked from vnet's own namespace, each query costs a
    search through every id it holds (the kernel's ``__peernet2id``):
    quadratic in a lab's size."""
    return [ns for ns in raw if ns is not None] + ([None] if None in raw else [])


def _merged(before, kept, fresh):
    """A namespace's devices read in part: those ``kept`` of its devices
    ``before`` and those read again (``fresh``), in the order they had
    before, then the new ones (a device read again and gone is left out)."""
    out = {}
    for name in before:
        if name in kept:
            out[name] = kept[name]
        elif name in fresh:
            out[name] = fresh[name]
    for name, d in fresh.items():
        out.setdefault(name, d)
    return out


def _dump(k, asked, st, partial=None):
    """{ns: (links, addresses)} of the namespaces ``asked`` that exist; the
    half-made ones (a /run/netns entry, no namespace) go to ``st.half_made``;
    of those in ``partial``, only the links of its indexes, and their masters."""
    raw = {}
    open_socks = getattr(k, "open_socks", None)   # a stand-in kernel has none: one socket at a time
    if open_socks is not None:
        open_socks(asked)
    for ns in asked:
        if not k.has(ns):
            if k.half_made(ns):
                st.half_made.add(ns)
            continue
        sock = k.sock(ns)
        links = _links_of(sock, partial[ns]) if partial and ns in partial else rtnl.dump_links(sock)
        raw[ns] = (links, rtnl.dump_addrs(sock, address.make, {ln.ifindex: ln.name for ln in links}))
    return raw


def _links_of(sock, indexes):
    """The links of ``indexes`` that exist, and the masters of those
    (a port's options are read through its master's kind)."""
    links, todo = {}, sorted(indexes)
    while todo:
        i = todo.pop()
        if i not in links:
            ln = links[i] = rtnl.get_link_by_index(sock, i)
            if ln is not None and ln.master and ln.master not in links:
                todo.append(ln.master)
    return [ln for ln in links.values() if ln is not None]


class _References:
    """A link's references, (ifindex, nsid), as (namespace, name), among the
    namespaces just dumped and those ``kept`` from an earlier State."""

    def __init__(self, k, raw, known, partial=None):
        self.k = k
        self.by_index = {ns: {ln.ifindex: ln for ln in links} for ns, (links, _a) in raw.items()}
        # the namespaces not read again, and of those read in part
        # (``partial``) the devices not read again, as ``known`` has them
        self.kept = {ns: devs for ns, devs in (known.namespaces.items() if known else ()) if ns not in raw}
        for ns in partial or ():
            if ns in raw:
                read = self.by_index[ns]
                self.kept[ns] = {n: d for n, d in known.namespaces[ns].items()
                                 if d.ifindex not in read and d.ifindex not in partial[ns]}
        for ns, devs in self.kept.items():
            self.by_index.setdefault(ns, {})
            for d in devs.values():
                self.by_index[ns].setdefault(d.ifindex, d)
        self.order = [o for o in dict.fromkeys([None, *raw, *self.kept]) if o in self.by_index]   # vnet's own first
        self.nsids = {}
        self.claims = self._kept_peers(known) if known is not None else {}
        self.learned = getattr(k, "nsids", {})   # what an earlier observation of the session asked (a stand-in kernel: none)

    def _kept_peers(self, known):
        """{(ns, name): (the kept pair end that names it its peer, the index
        it had then)} among the devices kept from the earlier State
        ``known``: an end observed again finds its peer there without a
        query, if it is still the same device (the same index: a device
        made again since gets another)."""
        out = {}
        for devs in self.kept.values():
            for d in devs.values():
                if d.peer:
                    then = known.device(*d.peer)
                    if then is not None:
                        out[d.peer] = (d.key, then.ifindex)
        return out

    def ns_of(self, ns, nsid):
        """The observed namespace ``ns`` knows as ``nsid``. Other namespaces'
        ids are asked lazily, vnet's own first (a lab's namespaces mostly
        refer to it), each at most once per namespace: asking all of them
        for each namespace would be quadratic in a lab's size."""
        if ns not in self.nsids:   # a lazy walk over the others not asked yet: no list per namespace
            m = self.learned.setdefault(ns, {})
            asked = set(m.values())
            self.nsids[ns] = (m, (o for o in self.order if o != ns and o not in asked))
        m, todo = self.nsids[ns]
        while nsid not in m:
            other = next(todo, todo)
            if other is todo:   # all asked
                break
            try:
                got = rtnl.nsid_of(self.k.sock(ns), self.k.fd(other))
            except netlink.NetlinkError:
                continue
            if got >= 0:   # none yet (-1): asked again by a later observation, which may find one
                m[got] = other
        if nsid in m and m[nsid] in self.by_index:   # (learned earlier in the session, maybe of one not read now)
            return m[nsid]
        return ("?", nsid)

    def resolver(self, ns):
        def resolve(ifindex, nsid):
            tns = ns if nsid is None or nsid < 0 else self.ns_of(ns, nsid)
            ln = self.by_index.get(tns, {}).get(ifindex) if not isinstance(tns, tuple) else None
            return (tns, ln.name if ln else f"if{ifindex}")
        return resolve

    def peer(self, key, ln, resolve, peer_of):
        """The other end of the pair ``key`` (link ``ln``). A pair's ends
        name each other: once one end's peer is resolved (which may cost a
        namespace-id query), the other end's is known by that."""
        pair = peer_of.get(key)
        claim = self.claims.get(key)   # an end kept from the earlier State, if this is the device it knew
        if pair is None and claim is not None and claim[1] == ln.ifindex:
            pair = claim[0]
        if pair and (self.by_index.get(pair[0]) or {}).get(ln.link) is not None \
                and self.by_index[pair[0]][ln.link].name == pair[1]:
            return pair
        peer = resolve(ln.link, ln.link_nsid)
        peer_of[peer] = key
        return peer


def _devices(k, ns, links, refs, peer_of, fdb=True):
    """{name: Device} of namespace ``ns``'s link dump, each with what its
    kind reads, then its ports' options as their master's kind reads them."""
    resolve = refs.resolver(ns)
    dumps = _Dumps(k, ns, links, fdb)
    devs = {}
    for ln in links:
        kind = identify(ln) or (recognize(ln, dumps) if ln.kind is None else None)
        devs[ln.name] = _device(ns, ln, kind, refs, resolve, dumps, peer_of)
    _observe_ports(devs, dumps)
    dumps.close()
    return devs


def _device(ns, ln, kind, refs, resolve, dumps, peer_of):
    """The Device of link ``ln`` of kind ``kind`` (None: one vnet has no kind for)."""
    # every field by its place, in Device's order (a lab of a thousand makes
    # thousands: a field given by name costs its checks each time)
    d = Device(ns, ln.name, ln.ifindex, ln.kind, kind, ln.up, ln.mtu, ln.mac, ln.group,
               bool(ln.flags & rtnl.IFF_LOOPBACK), None, None, [], {}, {}, {}, [], ln.operstate, ln.carrier,
               ln.promisc, ln.txqlen, ln.alias, *ln.flag_fields(), ln.altnames)
    by_index = refs.by_index[ns]
    if ln.master:
        d.master = (ns, by_index[ln.master].name) if ln.master in by_index else (ns, f"if{ln.master}")
    if kind is not None:
        d.options = kind.decode(ln, resolve)
        kind.observe_more(ln, d.options, dumps)
        d.extra = kind.observed_extra(ln, resolve, dumps)
        if kind.peer and ln.link:
            d.peer = refs.peer(d.key, ln, resolve, peer_of)
    if ln.link_nsid is not None and d.peer is None and d.lower is None:   # (a pair's, a lower's: known already;
        d.link_netns = (resolve(0, ln.link_nsid)[0],)                      # asked only of the rest: few)
    return d


def _observe_ports(devs, dumps):
    """Port options (a bridge port's VLANs...), observed by the master's kind."""
    for master_kind in {d.kind_module for d in devs.values() if d.kind_module is not None and d.kind_module.port_options}:
        ports = [d for d in devs.values() if d.master and d.master[1] in devs
                 and devs[d.master[1]].kind_module is master_kind]
        if ports:
            master_kind.observe_ports(ports, dumps)


def _addresses(devs, links, addrs):
    """The address dump onto the devices (the kernel's own left out there:
    rtnl.dump_addrs)."""
    names = {ln.ifindex: ln.name for ln in links}
    for idx, a, secondary in addrs:
        if idx in names:
            devs[names[idx]].addresses.append(a)
            if secondary:
                devs[names[idx]].secondary.append(a)


def _keep(st, known, kept, asked):
    """What State ``known`` has of the namespaces not observed again."""
    st.half_made |= {ns for ns in known.half_made if ns not in asked}
    for ns, devs in kept.items():
        st.namespaces[ns] = devs
        if ns in known.routes:
            st.routes[ns] = known.routes[ns]
        if ns in known.rules:
            st.rules[ns] = known.rules[ns]
        if ns in known.neighbours:
            st.neighbours[ns] = known.neighbours[ns]
        if ns in known.nexthops:
            st.nexthops[ns] = known.nexthops[ns]
    st.sysctls.update({key: v for key, v in known.sysctls.items() if key[0] in kept})


def _routes(k, st, routes_in, raw):
    """The routes of the namespaces ``routes_in`` that were dumped, every table."""
    for ns in dict.fromkeys(routes_in):
        if ns in raw:
            st.routes[ns] = read_routes(k.sock(ns), ns, st.namespaces[ns])   # a partial reading's kept devices too


def read_routes(sock, ns, devs, through=None):
    """[Route] of namespace ``ns``, every table, their devices named as in
    ``devs`` ({name: Device}); with ``through`` (an ifindex), only those through that device."""
    names = {d.ifindex: name for name, d in devs.items()}
    made = _PrefixRoutes(devs)
    return [Route(ns, dst, gw, names.get(oif), metric, proto, table, src, scope, onlink, rtype,
                  tuple((hgw, names.get(hoif), w) for hgw, hoif, w in hops), tos, unwritable, extras, raw, metrics,
                  nhid, pref, source, kernel_made(dst, names.get(oif), metric, proto, table, src, scope, rtype, expires,
                                                  made))
            for dst, gw, oif, metric, proto, table, src, scope, onlink, rtype, hops, tos, unwritable, extras, raw, metrics,
            nhid, pref, source, expires in rtnl.dump_routes(sock, through)]


_IPV6_LINK = (ipaddress.ip_network("fe80::/64"), ipaddress.ip_network("ff00::/8"))


class _PrefixRoutes:
    """The prefix routes the kernel makes for the addresses of ``devs``
    ({name: Device}): ``(device, network, metric, src) in`` it; a device's
    worked out once, when a route through it asks (a dump of one device's
    routes costs no more than its own addresses)."""

    def __init__(self, devs):
        self.devs, self.of = devs, {}

    def __contains__(self, route):
        name = route[0]
        if name not in self.of:
            d = self.devs.get(name)
            self.of[name] = {r for a in (d.addresses if d else ()) for r in prefix_routes(name, a)}
        return route in self.of[name]


def prefix_routes(name, a):
    """[(device, network, metric, src)] of the prefix routes the kernel
    makes for address ``a`` of device ``name``: IPv4 to its subnet (the
    peer's with one; none for a /32 without), src the address, metric its
    own (IFA_RT_PRIORITY) or 0; IPv6 to its subnet and to its peer, no
    src, metric its own or 256. None for an address with noprefixroute
    (but an IPv6 one's peer route, which the kernel makes either way)."""
    peer, _nopr, metric = address.extra(a)[:3]
    metric = metric or (0 if a.version == 4 else 256)
    src = a.ip if a.version == 4 else None
    return [(name, net, metric, src) for net in address.reached(a)
            if not (a.version == 4 and net.prefixlen == 32 and peer is None)]   # (none to an IPv4 host address)


def kernel_made(dst, dev, metric, proto, table, src, scope, rtype, expires, made):
    """Did the kernel make this route itself (protocol kernel): an entry of
    the local table, IPv6's fe80::/64 and ff00::/8 of each device, the
    prefix route of an address there (``made``: ``_PrefixRoutes``), in
    the main table or a VRF's, a link-scope one for IPv4, or an IPv6 one that
    ``expires`` (an on-link prefix of a router advertisement, whose
    address is the kernel's too, not among the devices')? Or from a router
    advertisement (protocol ra)? Any other of protocol kernel is someone's (`ip route add
    ... proto kernel`, as NetworkManager makes an address's subnet route)."""
    if proto == rtnl.RTPROT_RA:
        return True
    if proto != rtnl.RTPROT_KERNEL:
        return False
    if table == rtnl.RT_TABLE_LOCAL:
        return True
    if rtype != "unicast":   # (a VRF's port has its prefix routes in the VRF's table: any table)
        return False
    if dst.version == 6:
        return dst in _IPV6_LINK or expires or (dev, dst, metric, None) in made
    return scope == rtnl.RT_SCOPE_LINK and (dev, dst, metric, src) in made


def read_nexthops(sock, ns, devs):
    """[NextHop] of namespace ``ns``, their devices named as in ``devs``."""
    from .kernel import nexthop
    from .state import NextHop
    names = {d.ifindex: name for name, d in devs.items()}
    return [NextHop(ns, i, gw, names.get(oif), onlink, blackhole, fam, group, proto, why)
            for i, fam, gw, oif, onlink, blackhole, group, proto, why in nexthop.dump_nexthops(sock)]


def read_neighbours(sock, ns, devs):
    """[Neighbour] of namespace ``ns``: its permanent, noarp and proxy
    entries, their devices named as in ``devs`` ({name: Device})."""
    names = {d.ifindex: name for name, d in devs.items()}
    return [Neighbour(netns=ns, dev=names.get(idx), address=ip, lladdr=lladdr, proxy=proxy, nud=nud, router=router,
                      protocol=protocol)
            for idx, ip, lladdr, proxy, nud, router, protocol in neighbours.dump_static_neighbours(sock)]   # (dev None: a proxy entry for no device)


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
