"""The typed topology model. Namespaces are named by string; ``HOST`` (None)
is the namespace vnet runs in."""
from .struct import REQUIRED, Struct

HOST = None


def joined(ns):
    """Is ``ns`` a namespace vnet joins (the absolute path of its file)
    rather than one it makes? A joined namespace is never made or removed."""
    return ns is not HOST and ns[0] == "/"


def ns_label(ns):
    return "host" if ns is HOST else ns


def where(ns, name):
    """How a device is named in messages: ``name`` or ``ns/name`` (in a
    namespace vnet did not read, known by its id only: the observer's
    ("?", nsid), "netns id N/ifM")."""
    if isinstance(ns, tuple):
        return f"{name} in a namespace vnet does not read (netns id {ns[1]})"
    return name if ns is HOST else f"{ns}/{name}"


class Ref(Struct):
    """A reference to a device; ``explicit`` when written as {name, netns}."""
    _fields = (("name", REQUIRED), ("netns", None), ("explicit", False))

    def __setattr__(self, k, v):
        raise AttributeError("Ref is immutable")

    def __hash__(self):
        return hash(self._values())

    def resolve(self, own_ns):
        """(namespace, name) of the referenced device, for a referrer in ``own_ns``."""
        return (self.netns if self.explicit else own_ns, self.name)


# port: options of this device as a port of its master (a bridge port's vlans)
# promisc, txqueuelen, alias, arp, multicast, allmulticast, altnames: None leaves them as they are
ENDPOINT = (("name", REQUIRED), ("netns", HOST), ("up", True), ("mtu", None), ("mac", None),
            ("master", None), ("addresses", list), ("port", dict), ("promisc", None), ("txqueuelen", None),
            ("alias", None), ("arp", None), ("multicast", None), ("allmulticast", None), ("altnames", None))
LINK_FLAGS = ("arp", "multicast", "allmulticast")   # the flags `ip link set X arp off` ... sets


class Endpoint(Struct):
    """A device's common fields (an interface, or the peer end of a pair)."""
    _fields = ENDPOINT

    @property
    def key(self):
        return (self.netns, self.name)

    @property
    def label(self):
        return where(self.netns, self.name)

    def master_key(self):
        return self.master.resolve(self.netns) if self.master else None


class KindTable(dict):
    """kind name -> Kind (it is vnet.kinds.BY_NAME). The kinds stand above
    the model: they build on its fields, and the model reaches them only
    through this table. vnet.kinds sets ``load``, which imports a kind's
    module the first time its name is asked for: a command loads only the
    kinds it meets. Listing every kind is vnet.kinds.REGISTRY's job."""
    load = None   # name -> Kind or None, set by vnet.kinds

    def __missing__(self, name):
        k = KindTable.load(name) if KindTable.load and isinstance(name, str) else None
        if k is None:
            raise KeyError(name)
        return k

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name):
        return self.get(name) is not None


KINDS = KindTable()


class Interface(Endpoint):
    # path: where it was declared, e.g. "interfaces[3] (veth1)"
    _fields = ENDPOINT + (("kind", ""), ("options", dict), ("peer", None), ("path", ""))

    @property
    def kind_module(self):
        return KINDS[self.kind]

    def endpoints(self):
        return [self] + ([self.peer] if self.peer else [])

    def refs(self, include_late=False):
        """(field, Ref) of every device this interface depends on (with
        ``include_late``: also those it names once created, like a bond's primary)."""
        out = [("master", self.master)] if self.master else []
        late = () if include_late else self.kind_module.late_options
        out += [(k, v) for k, v in self.options.items() if isinstance(v, Ref) and k not in late]
        out += self.kind_module.inner_refs(self.options)
        if self.peer and self.peer.master:
            out.append(("peer.master", self.peer.master))
        return out


RT_TABLE_MAIN = 254
# rtm_scope names, as `ip route` writes them
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254}
SCOPE_NAMES = {v: k for k, v in SCOPES.items()}
# a route forwards (unicast), delivers here (local: `ip route add local 10.52.0.0/24 dev lo table
# local`, any address of it is the host's own), drops (blackhole, unreachable, prohibit), or ends
# the lookup in its table (throw: policy routing's next rule goes on)
ROUTE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "throw", "local")
DEVICE_ROUTE_TYPES = ("unicast", "local")   # those through a device (the others have none)
# a route's protocol, as /etc/iproute2/rt_protos names them (those a file may give: not the
# kernel's own unspec, redirect and ra, 0, 1 and 9, which the kernel sets; kernel, 2, as
# NetworkManager gives the subnet route of an address it gives noprefixroute), and an IPv6
# route's preference (RTA_PREF)
ROUTE_PROTOCOLS = {"boot": 3, "static": 4, "gated": 8, "mrt": 10, "zebra": 11, "bird": 12, "dnrouted": 13, "xorp": 14,
                   "ntk": 15, "dhcp": 16, "keepalived": 18, "babel": 42, "openr": 99, "bgp": 186, "isis": 187,
                   "ospf": 188, "rip": 189, "eigrp": 192, "kernel": 2}
PROTOCOL_NAMES = {v: k for k, v in ROUTE_PROTOCOLS.items()}
ROUTE_PREFS = {"medium": 0, "high": 1, "low": 3}
PREF_NAMES = {v: k for k, v in ROUTE_PREFS.items()}
# a route's metrics a topology declares (`ip route add ... mtu lock 1400
# initcwnd 10`), in iproute2's words: {name: what it is};
# rtt, rttvar and rto_min in milliseconds, congctl a congestion control's name
ROUTE_METRICS = {
    "mtu": "the path MTU of packets sent by the route", "advmss": "the MSS TCP advertises on it",
    "window": "TCP's largest window to advertise", "rtt": "TCP's initial RTT estimate, in ms",
    "rttvar": "TCP's initial RTT variance, in ms", "ssthresh": "TCP's initial slow start threshold",
    "cwnd": "TCP's congestion window clamp", "initcwnd": "TCP's initial congestion window",
    "initrwnd": "TCP's initial receive window", "reordering": "TCP's initial reordering estimate",
    "hoplimit": "the TTL (hop limit) of packets sent by it", "rto_min": "TCP's smallest retransmit timeout, in ms",
    "quickack": "TCP's quick acknowledgements on (1) or off (0)",
    "fastopen_no_cookie": "TCP Fast Open without a cookie on (1) or off (0)",
    "congctl": "the TCP congestion control (cubic, reno...)",
}


class Route(Struct):
    # to: an ip_network; 0.0.0.0/0 or ::/0 for default
    # onlink: the gateway is on the link of dev even if no address says so (RTNH_F_ONLINK)
    # table: the routing table (254, main, by default); src: the preferred
    # source address; scope: a name of SCOPES (None: global with a gateway,
    # link without, as `ip route add` does; IPv4 only)
    # type: "unicast", "local" (with a dev and no via), or one with no via or dev: that drops
    # ("blackhole", "unreachable", "prohibit") or ends its table's lookup ("throw")
    # nexthops: a multipath route's ((via, dev, weight), ...), two or more, instead of via and dev
    _fields = (("to", REQUIRED), ("netns", HOST), ("via", None), ("dev", None), ("metric", 0), ("path", ""),
               ("onlink", False), ("table", RT_TABLE_MAIN), ("src", None), ("scope", None), ("type", "unicast"),
               ("nexthops", ()), ("metrics", ()), ("nhid", None), ("protocol", None), ("pref", None), ("source", None))
    # source: an IPv6 route's source prefix (ip -6 route add ... from P), an ip_network, or None;
    # metrics: ((name, value, locked), ...) by name, of ROUTE_METRICS;
    # nhid: the nexthop object (NextHop) it goes through, instead of via and dev;
    # protocol: its number (None: vnet's, static, and any where compared);
    # pref: an IPv6 route's preference, a number of ROUTE_PREFS (None: medium)

    @property
    def key(self):
        """What names the route in the kernel (and in vnet's records)."""
        return (self.netns, key_to(self.to, self.source), str(self.via) if self.via else None, self.dev,
                self.kernel_metric, self.table)

    @property
    def attrs(self):
        """What the route carries besides its key: (src, scope, onlink, type), as compared with the kernel's."""
        return route_attrs(self.to.version, self.via, self.src, self.scope_number, self.onlink, self.type,
                           self.nexthops, self.metrics, self.nhid, self.protocol, self.pref)

    @property
    def scope_number(self):
        if self.scope is not None:
            return SCOPES[self.scope]
        return default_scope(self.via, self.type, self.nexthops, self.nhid)

    @property
    def hops(self):
        """(path, via, dev) of each way out: the route's own, or each of its nexthops."""
        if self.nexthops:
            return [(f"{self.path}.nexthops[{i}]", via, dev) for i, (via, dev, _w) in enumerate(self.nexthops)]
        return [(self.path, self.via, self.dev)]

    @property
    def kernel_metric(self):
        """The metric the kernel stores: IPv6 takes 1024 for none (or 0)."""
        return self.metric or (1024 if self.to.version == 6 else 0)

    @property
    def label(self):
        s = f"route {'' if self.type == 'unicast' else self.type + ' '}{'default' if self.to.prefixlen == 0 else self.to}"
        if self.source is not None:
            s += f" from {self.source}"
        if self.via:
            s += f" via {self.via}"
        if self.dev:
            s += f" dev {self.dev}"
        if self.nhid is not None:
            s += f" nhid {self.nhid}"
        return s + route_place(self.to.version, self.kernel_metric, self.table, self.netns)


def route_place(version, metric, table, netns):
    """The end of a route's label: its table (not main) and metric (not the
    default: 0, IPv6 1024), as `ip route show` prints them, and its namespace:
    two routes of one destination and gateway are told apart in a plan."""
    s = f" table {table}" if table != RT_TABLE_MAIN else ""
    s += f" metric {metric}" if metric != (1024 if version == 6 else 0) else ""
    return s + ("" if netns is HOST else f" in {netns}")


def route_attrs(version, via, src, scope, onlink, rtype="unicast", nexthops=(), metrics=(), nhid=None, protocol=None,
                pref=None):
    """(src, scope, onlink, type, nexthops, metrics, nhid, protocol, pref)
    as declared and observed routes compare: IPv6 routes have no scope (the
    kernel keeps none); next hops as (via text, dev, weight), in their order
    (the kernel keeps the one it is given: it shares the flows out by it),
    compared in any (``same_attrs``); metrics as ((name, value, locked),
    ...) by name; nhid the nexthop object's id, or None; protocol a number
    (None: not compared); pref an IPv6 route's (medium for none), None for IPv4."""
    hops = tuple((str(v) if v else "", d or "", w) for v, d, w in nexthops)
    return (str(src) if src else None, scope if version == 4 else None, bool(onlink), rtype, hops,
            tuple(sorted(metrics)), nhid, protocol, (pref or 0) if version == 6 else None)


def metric_words(metrics, shown=False):
    """A route's metrics ((name, value, locked), ...) in `ip route add`'s
    words: `mtu lock 1400 initcwnd 10 rtt 10ms` (``shown``: as `ip route`
    shows them, rto_min's lock too, which `ip route add` sets by itself)."""
    return " ".join(f"{name}{' lock' if locked and (shown or name in LOCKABLE) else ''} {value}"
                    f"{'ms' if name in _MS else ''}" for name, value, locked in metrics) or "none"


_MS = ("rtt", "rttvar", "rto_min")
# those `ip route add` takes a lock for (rto_min it locks itself)
FLAG_METRICS = ("quickack", "fastopen_no_cookie")   # on (1) or off: a file's true or false
LOCKABLE = tuple(m for m in ROUTE_METRICS if m not in FLAG_METRICS + ("rto_min",))


def same_attrs(a, b):
    """Do two routes' attrs (route_attrs) say the same, their next hops in any order?"""
    return a[:4] == b[:4] and sorted(a[4]) == sorted(b[4]) and a[5:] == b[5:]


def key_to(to, source):
    """A route's destination as its key says it: the network, and an IPv6
    route's source prefix after it (`::/0 from fd00:aaaa::/48`), for the
    kernel keeps one route per destination and source."""
    return str(to) if source is None else f"{to} from {source}"


def key_networks(text):
    """(destination, source prefix or None) of a key's destination ``key_to``."""
    import ipaddress
    to, _from, source = text.partition(" from ")
    return ipaddress.ip_network(to), ipaddress.ip_network(source) if source else None


def default_scope(via, rtype="unicast", nexthops=(), nhid=None):
    """An IPv4 route's scope when none is given, as `ip route add` gives it:
    host for a local route, global with a gateway (or next hops, or a
    nexthop object) or for a route without a device (that drops...), link without."""
    if rtype == "local":
        return SCOPES["host"]
    return 0 if via or nexthops or nhid is not None or rtype != "unicast" else SCOPES["link"]


class NextHop(Struct):
    """A nexthop object (`ip nexthop add id 5 via 10.0.0.1 dev e0`): a
    gateway and device (or a device alone), a blackhole, or a group of
    others ((id, weight), ...); routes name it by ``id`` (their nhid).
    ``family``: 4 or 6, of a device alone or a blackhole (a gateway's own
    otherwise; a group has none)."""
    _fields = (("id", REQUIRED), ("netns", HOST), ("via", None), ("dev", None), ("onlink", False),
               ("blackhole", False), ("family", 4), ("group", ()), ("path", ""))

    @property
    def key(self):
        return (self.netns, self.id)

    @property
    def label(self):
        return nexthop_label(self.netns, self.id)

    @property
    def attrs(self):
        return nexthop_attrs(self.via, self.dev, self.onlink, self.blackhole, self.family, self.group)


def nexthop_family(topo, nh):
    """4 or 6: the family of the routes ``nh`` can carry (a group's: 4 with
    any IPv4 member, as the kernel takes it; None when it has none declared)."""
    if not nh.group:
        return nh.via.version if nh.via is not None else nh.family
    found = {nexthop_family(topo, m) for m in topo.nexthops for i, _w in nh.group
             if m.key == (nh.netns, i) and not m.group}
    return 4 if 4 in found else 6 if found else None


def nexthop_label(ns, nhid):
    return f"nexthop {nhid}" + ("" if ns is HOST else f" in {ns}")


def group_words(group):
    """A nexthop group's ((id, weight), ...) as `ip nexthop` writes it: 5/6,2."""
    return "/".join(f"{i}{f',{w}' if w != 1 else ''}" for i, w in group)


def nexthop_text(attrs):
    """A nexthop's attrs (``nexthop_attrs``) as `ip nexthop` says them."""
    fam, via, dev, onlink, blackhole, group, other = attrs
    if other:
        return "a bridge's (fdb) or a resilient group"
    if group:
        return "group " + group_words(group)
    if blackhole:
        return f"blackhole (IPv{fam})"
    return " ".join(x for x in (via and f"via {via}", f"dev {dev}", onlink and "onlink") if x)


def nexthop_attrs(via, dev, onlink, blackhole, family, group, other=False):
    """What a declared and an observed nexthop compare: (family, via text,
    dev, onlink, blackhole, group in its order, and whether it is of a sort
    no topology declares: an observed fdb one, a resilient group)."""
    fam = None if group else via.version if via is not None else family
    return (fam, str(via) if via is not None else None, dev, bool(onlink), bool(blackhole), tuple(group), other)


# the sysctl keys that name a device between these and the setting: a
# device's name may hold dots (a VLAN's eth0.10), the setting's never does
PER_DEVICE_KEYS = ("net.ipv4.conf.", "net.ipv6.conf.", "net.ipv4.neigh.", "net.ipv6.neigh.")


def split_device_key(key):
    """(head, device, setting) of a per-device sysctl key
    (net.ipv4.conf.eth0.10.rp_filter: net.ipv4.conf., eth0.10, rp_filter;
    the device may be all or default), else None."""
    for head in PER_DEVICE_KEYS:
        if key.startswith(head):
            dev, dot, setting = key[len(head):].rpartition(".")
            if dot and dev:
                return head, dev, setting
    return None


class Sysctl(Struct):
    _fields = (("key", REQUIRED), ("value", REQUIRED), ("netns", HOST), ("path", ""))

    @property
    def label(self):
        return f"sysctl {self.key}" + ("" if self.netns is HOST else f" in {self.netns}")

    @property
    def device(self):
        """The device a per-device key names (net.ipv6.conf.veth2.disable_ipv6:
        veth2; net.ipv4.conf.eth0.10.rp_filter: eth0.10, a name may hold dots),
        else None (net.ipv4.ip_forward, ...conf.all..., ...conf.default...)."""
        per = split_device_key(self.key)
        return per[1] if per is not None and per[1] not in ("all", "default") else None

    @property
    def command_key(self):
        """The key as sysctl(8) takes it: with slashes where the device's
        name holds dots (which it reads as separators)."""
        dev = self.device
        if dev is None or "." not in dev:
            return self.key
        parts = self.key.split(".")
        return "/".join(parts[:3] + [dev, parts[-1]])


class Topology(Struct):
    _fields = (("name", REQUIRED), ("namespaces", list), ("interfaces", list), ("routes", list),
               ("rules", list), ("neighbours", list), ("sysctls", list), ("source", "<topology>"), ("checks", list), ("warnings", list),
               ("nexthops", list))

    def by_key(self):
        """Every declared device endpoint by (namespace, name)."""
        out = {}
        for i in self.interfaces:
            for e in i.endpoints():
                out[e.key] = (i, e)
        return out

    def all_namespaces(self):
        return [HOST] + list(self.namespaces) + self.joined_namespaces()

    def implied_sysctls(self):
        """[Sysctl] the file's addresses need and it does not set itself:
        IPv6 on (disable_ipv6 0) on each device it gives IPv6 addresses,
        which the kernel refuses while someone has it off."""
        set_here = {(s.netns, s.key) for s in self.sysctls}
        keys = [(i, e, f"net.ipv6.conf.{e.name}.disable_ipv6") for i in self.interfaces for e in i.endpoints()
                if any(a.version == 6 for a in e.addresses)]
        return [Sysctl(key=key, value="0", netns=e.netns, path=i.path) for i, e, key in keys
                if (e.netns, key) not in set_here]

    def joined_namespaces(self):
        """The namespaces the topology joins (by path), in order of first mention."""
        nss = [e.netns for i in self.interfaces for e in i.endpoints()]
        nss += [x.netns for objs in (self.routes, self.rules, self.neighbours, self.sysctls, self.nexthops) for x in objs]
        return [ns for ns in dict.fromkeys(nss) if ns is not HOST and joined(ns)]


def order_interfaces(topo):
    """Interfaces in dependency order: whatever an interface refers to first."""
    devices = topo.by_key()
    out, seen = [], set()

    def visit(i):
        if id(i) in seen:
            return
        seen.add(id(i))
        for fld, ref in i.refs():
            owner = i.peer if fld.startswith("peer.") else i
            dep = devices.get(ref.resolve(owner.netns))
            if dep:
                visit(dep[0])
        out.append(i)

    for i in topo.interfaces:
        visit(i)
    return out
