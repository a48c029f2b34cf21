"""The observed state: devices, routes and sysctls as the observer read
them from the kernel (vnet.observer), and as plan, verify, show, export and
the diagram use them."""
from .kernel import rtnl
from .topology.struct import REQUIRED, Struct
from .topology.model import key_to


class Device(Struct):
    """An observed device, with its references resolved to (namespace, name).
    ``kind_module`` is its Kind (as an Interface's; its ``kind_name`` the name), or None for devices vnet has no kind for.
    ``up`` is the admin state (what plan and verify compare), ``promisc``
    the promiscuous flag as set (not the count others add); ``operstate``
    (as `ip link` names it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN...) and
    ``carrier`` are what the kernel reports of the link, for show;
    ``altnames`` its alternative names; ``link_netns``, where the kernel
    says its link is in another namespace than its own (a VXLAN made there
    and moved: its socket's), that namespace in a 1-tuple (HOST: vnet's
    own; ("?", nsid): one not observed), else None."""
    _fields = (("netns", REQUIRED), ("name", REQUIRED), ("ifindex", REQUIRED), ("kernel_kind", None),
               ("kind_module", None), ("up", True), ("mtu", None), ("mac", None), ("group", 0), ("loopback", False),
               ("master", None), ("peer", None), ("addresses", list), ("options", dict), ("extra", dict),
               ("port", dict), ("secondary", list), ("operstate", None), ("carrier", None), ("promisc", False),
               ("txqueuelen", None), ("alias", None), ("arp", None), ("multicast", None), ("allmulticast", None),
               ("altnames", ()), ("link_netns", None))

    @property
    def key(self):
        return (self.netns, self.name)

    @property
    def lower(self):
        """(namespace, name) of the device it is stacked on (its kind's link
        option: a macvlan's, a VLAN's...), which the kernel deletes it with; or None."""
        kind = self.kind_module
        lower = self.options.get(kind.link_option) if kind is not None and kind.link_option else None
        return lower if isinstance(lower, tuple) else None

    @property
    def kind_name(self):
        if self.kind_module:
            return self.kind_module.name
        return "loopback" if self.loopback else (self.kernel_kind or "device")


class Route(Struct):
    """An observed route, unicast or one that drops (``type``: blackhole...),
    of any table, its device by name. ``scope`` is the kernel's rtm_scope
    number (0 global, 253 link...); ``nexthops``: a multipath route's
    ((via, dev, weight), ...); ``tos``: IPv4's type of service (another
    slot than a route without); ``unwritable``: why a topology cannot
    declare it (through a nexthop object, a TOS...), else None;
    ``extras``: what it has that a topology does not say (a realm...);
    ``metrics``: those it does, ((name, value, locked), ...) (rtnl.route_metrics);
    ``nhid``: the nexthop object it goes through (no via, dev or nexthops then);
    ``pref``: an IPv6 route's preference (RTA_PREF), None for IPv4;
    ``raw``: the kernel's message of one it would lose remade from the rest
    (rtnl.dump_routes), for an undo to make it again as it was;
    ``source``: an IPv6 route's source prefix (`from P`), else None;
    ``by_kernel``: did the kernel make it itself (vnet.observer.kernel_made),
    None where not known (``kernel_own`` then goes by its protocol and table)."""
    _fields = (("netns", REQUIRED), ("to", REQUIRED), ("via", None), ("dev", None), ("metric", 0), ("proto", 0),
               ("table", rtnl.RT_TABLE_MAIN), ("src", None), ("scope", 0), ("onlink", False), ("type", "unicast"),
               ("nexthops", ()), ("tos", 0), ("unwritable", None), ("extras", ""), ("raw", None), ("metrics", ()),
               ("nhid", None), ("pref", None), ("source", None), ("by_kernel", None))

    @property
    def key(self):
        """The route's key, as spec.model.Route.key and records write it."""
        return (self.netns, key_to(self.to, self.source), str(self.via) if self.via else None, self.dev, self.metric,
                self.table)

    @property
    def attrs(self):
        from .topology.model import route_attrs
        return route_attrs(self.to.version, self.via, self.src, self.scope, self.onlink, self.type, self.nexthops,
                           self.metrics, self.nhid, self.proto, self.pref)

    @property
    def kernel_own(self):
        """Made by the kernel (an address's subnet, a router advertisement,
        an entry of the local table): no topology declares it. A route of
        protocol kernel that the kernel would not make from the addresses
        there (NetworkManager's subnet route of an address it gives
        noprefixroute) is someone's."""
        if self.by_kernel is not None:
            return self.by_kernel
        return self.proto in (rtnl.RTPROT_KERNEL, rtnl.RTPROT_RA) or self.table == rtnl.RT_TABLE_LOCAL

    @property
    def restorable(self):
        """Can an undo make it again as it was (someone's or vnet's; not the
        kernel's own, and, without its kernel message, one a topology can write)?"""
        return not self.kernel_own and (self.raw is not None or not self.unwritable)

    def __iter__(self):
        # the (dst, gw, dev, metric, proto) tuple routes were before they had
        # tables: code written against it keeps working
        return iter((self.to, self.via, self.dev, self.metric, self.proto))


class NextHop(Struct):
    """An observed nexthop object, its device by name (topology.model.NextHop's
    fields; ``family`` None for a group; ``proto`` who made it; ``unwritable``
    why no topology declares it: a bridge's, a resilient group...; else None)."""
    _fields = (("netns", REQUIRED), ("id", REQUIRED), ("via", None), ("dev", None), ("onlink", False),
               ("blackhole", False), ("family", None), ("group", ()), ("proto", 0), ("unwritable", None))

    @property
    def key(self):
        return (self.netns, self.id)

    @property
    def attrs(self):
        from .topology.model import nexthop_attrs
        return nexthop_attrs(self.via, self.dev, self.onlink, self.blackhole, self.family, self.group,
                             self.unwritable is not None)


class State:
    def __init__(self):
        self.namespaces = {}      # ns -> {name: Device}
        self.routes = {}          # ns -> [Route], every table
        self.rules = {}           # ns -> [kernel.rules.Rule], IPv4 and IPv6
        self.neighbours = {}      # ns -> [topology.neighbour.Neighbour], permanent and proxy entries
        self.nexthops = {}        # ns -> [NextHop]
        self.sysctls = {}         # (ns, key) -> value
        self.half_made = set()    # /run/netns entries that are not namespaces (a maker stopped midway)

    def has_ns(self, ns):
        return ns in self.namespaces

    def device(self, ns, name):
        return self.namespaces.get(ns, {}).get(name)

    def devices(self):
        for devs in self.namespaces.values():
            yield from devs.values()
