"""rtnetlink: link, address, route, neighbour and nsid messages."""
import _socket as socket   # the C module's constants (netlink.py says why)
import struct
import sys

from . import netlink as nl

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_NEWNSID, RTM_GETNSID = 88, 90

# IFLA_*
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_LINKINFO, IFLA_NET_NS_PID, IFLA_IFALIAS, IFLA_GROUP, IFLA_NET_NS_FD = 18, 19, 20, 27, 28
IFLA_EXT_MASK, IFLA_LINK_NETNSID, IFLA_TARGET_NETNSID = 29, 37, 46
IFLA_OPERSTATE, IFLA_CARRIER, IFLA_TXQLEN = 16, 33, 13
IFLA_PROP_LIST, IFLA_ALT_IFNAME = 52, 53   # a link's alternative names (`ip link property add ... altname`)
# IF_OPER_* (RFC 2863), named as `ip link` prints them
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS, IFA_RT_PRIORITY = 1, 2, 3, 4, 8, 9
RTA_DST, RTA_SRC, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 2, 4, 5, 6, 7, 15
RTA_MULTIPATH, RTA_VIA, RTA_NH_ID = 9, 18, 30
NDA_DST, NDA_LLADDR = 1, 2
NETNSA_NSID, NETNSA_FD = 1, 3

IFF_UP, IFF_LOOPBACK, IFF_PROMISC, IFF_LOWER_UP = 0x1, 0x8, 0x100, 0x10000
IFF_NOARP, IFF_ALLMULTI, IFF_MULTICAST = 0x80, 0x200, 0x1000
IFA_F_SECONDARY, IFA_F_NODAD, IFA_F_PERMANENT, IFA_F_NOPREFIXROUTE = 0x01, 0x02, 0x80, 0x200
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255
RTPROT_KERNEL, RTPROT_BOOT, RTPROT_STATIC, RTPROT_RA = 2, 3, 4, 9
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, RT_SCOPE_NOWHERE = 0, 253, 254, 255
RTN_UNICAST = 1
# the route types a topology declares (`ip route add blackhole ...`): a
# unicast route forwards, the others drop (unreachable and prohibit with an
# ICMP error)
ROUTE_TYPES = {"unicast": RTN_UNICAST, "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "local": 2}
ROUTE_TYPE_NAMES = {v: k for k, v in ROUTE_TYPES.items()}
# the other types, which someone may give a route too (`ip route add
# multicast ...`) and a topology does not declare
OTHER_ROUTE_TYPES = {3: "broadcast", 4: "anycast", 5: "multicast", 10: "nat", 11: "xresolve"}


_EVERY_TYPE = {**ROUTE_TYPES, **{v: k for k, v in OTHER_ROUTE_TYPES.items()}}


def route_type_number(rtype):
    """RTN_* of a route's type as observed (a name, or the number's text)."""
    return _EVERY_TYPE[rtype] if rtype in _EVERY_TYPE else int(rtype)
# the types of the kernel's own entries of the local table (of an address, a
# device: local, broadcast, anycast, multicast), which a dump leaves out
KERNEL_ENTRY_TYPES = frozenset({2, 3, 4, 5})
RTNH_F_ONLINK = 4
NUD_PERMANENT, NTF_SELF = 0x80, 0x02

_IFI = struct.Struct("=BxHiII")
_IFA = struct.Struct("=BBBBI")
_RTM = struct.Struct("=BBBBBBBBI")
_NDM = struct.Struct("=BxxxiHBB")


def ifinfo(index=0, flags=0, change=0, family=0):
    return _IFI.pack(family, 0, index, flags, change)


# ---- links -----------------------------------------------------------------

class Link:
    """One observed link: the generic fields decoded, kind data kept raw."""
    __slots__ = ("ifindex", "name", "flags", "mtu", "mac", "master", "link", "link_nsid",
                 "group", "kind", "data", "slave_kind", "slave_data", "operstate", "carrier", "txqlen", "alias",
                 "altnames")

    @property
    def up(self):
        return bool(self.flags & IFF_UP)

    @property
    def promisc(self):
        # the flag as the user set it (the kernel reports it so: not the
        # promiscuity count a bridge or a packet socket adds to)
        return bool(self.flags & IFF_PROMISC)

    def flag_fields(self):
        """(arp, multicast, allmulticast) as `ip link set` names them (the
        all-multicast flag as the user set it, as promisc)."""
        f = self.flags
        return not f & IFF_NOARP, bool(f & IFF_MULTICAST), bool(f & IFF_ALLMULTI)


def decode_link(body):
    _fam, _typ, index, flags, _ch = _IFI.unpack_from(body)
    a = nl.parse_some(body, 16, _LINK_ATTRS)
    ln = Link()
    ln.ifindex, ln.flags = index, flags
    ln.name = nl.get_str(a[IFLA_IFNAME])
    ln.mtu = nl.get_u32(a[IFLA_MTU]) if IFLA_MTU in a else None
    ln.mac = nl.get_mac(a[IFLA_ADDRESS]) if IFLA_ADDRESS in a else None
    ln.master = nl.get_u32(a[IFLA_MASTER]) if IFLA_MASTER in a else 0
    ln.link = nl.get_u32(a[IFLA_LINK]) if IFLA_LINK in a else 0
    ln.link_nsid = nl.get_s32(a[IFLA_LINK_NETNSID]) if IFLA_LINK_NETNSID in a else None
    ln.group = nl.get_u32(a[IFLA_GROUP]) if IFLA_GROUP in a else 0
    op = a[IFLA_OPERSTATE][0] if IFLA_OPERSTATE in a else 0
    ln.operstate = OPERSTATES[op] if op < len(OPERSTATES) else OPERSTATES[0]
    ln.carrier = bool(a[IFLA_CARRIER][0]) if IFLA_CARRIER in a else None
    ln.txqlen = nl.get_u32(a[IFLA_TXQLEN]) if IFLA_TXQLEN in a else None
    ln.alias = nl.get_str(a[IFLA_IFALIAS]) if IFLA_IFALIAS in a else None
    ln.altnames = tuple(nl.get_str(v) for t, v in nl.parse_list(a[IFLA_PROP_LIST]) if t == IFLA_ALT_IFNAME) \
        if IFLA_PROP_LIST in a else ()
    ln.kind, ln.data, ln.slave_kind, ln.slave_data = None, None, None, None
    if IFLA_LINKINFO in a:
        li = nl.parse(a[IFLA_LINKINFO])
        if IFLA_INFO_KIND in li:
            ln.kind = nl.get_str(li[IFLA_INFO_KIND])
        if IFLA_INFO_DATA in li:
            ln.data = li[IFLA_INFO_DATA]
        if IFLA_INFO_SLAVE_KIND in li:
            ln.slave_kind = nl.get_str(li[IFLA_INFO_SLAVE_KIND])
        if IFLA_INFO_SLAVE_DATA in li:
            ln.slave_data = li[IFLA_INFO_SLAVE_DATA]
    return ln


_LINK_ATTRS = frozenset({IFLA_IFNAME, IFLA_MTU, IFLA_ADDRESS, IFLA_MASTER, IFLA_LINK, IFLA_LINK_NETNSID,
                         IFLA_GROUP, IFLA_LINKINFO, IFLA_OPERSTATE, IFLA_CARRIER, IFLA_TXQLEN, IFLA_IFALIAS,
                         IFLA_PROP_LIST})


RTEXT_FILTER_SKIP_STATS = 1 << 3
_DUMP_LINKS = None


def dump_links(sock):
    """Every link of the socket's namespace, without their counters (which
    the kernel would otherwise sum over every CPU for each device)."""
    global _DUMP_LINKS
    if _DUMP_LINKS is None:
        _DUMP_LINKS = ifinfo() + nl.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    return [decode_link(p) for t, p in sock.dump(RTM_GETLINK, _DUMP_LINKS) if t == RTM_NEWLINK]


def link_attrs(*, name=None, mtu=None, mac=None, master=None, group=None, ns_fd=None, link=None, txqlen=None,
               alias=None):
    """A link's attributes (``alias`` "": none, the kernel drops the one it has)."""
    parts = []
    if txqlen is not None:
        parts.append(nl.u32(IFLA_TXQLEN, txqlen))
    if alias is not None:
        parts.append(nl.attr(IFLA_IFALIAS, alias.encode()))   # no NUL: an empty one removes it, as iproute2's
    if name is not None:
        parts.append(nl.string(IFLA_IFNAME, name))
    if mtu is not None:
        parts.append(nl.u32(IFLA_MTU, mtu))
    if mac is not None:
        parts.append(nl.mac(IFLA_ADDRESS, mac))
    if master is not None:
        parts.append(nl.u32(IFLA_MASTER, master))
    if group is not None:
        parts.append(nl.u32(IFLA_GROUP, group))
    if ns_fd is not None:
        parts.append(nl.u32(IFLA_NET_NS_FD, ns_fd))
    if link is not None:
        parts.append(nl.u32(IFLA_LINK, link))
    return b"".join(parts)


def linkinfo(kind, data=b""):
    parts = [nl.string(IFLA_INFO_KIND, kind)]
    if data:
        parts.append(nl.attr(IFLA_INFO_DATA, data))
    return nl.attr(IFLA_LINKINFO, b"".join(parts))


def slave_linkinfo(master_kind, data):
    """Port settings of a device, for its master's kind (bridge_slave...)."""
    return nl.attr(IFLA_LINKINFO, nl.string(IFLA_INFO_SLAVE_KIND, master_kind) + nl.attr(IFLA_INFO_SLAVE_DATA, data))


def new_link(sock, *, up, attrs, echo=False):
    """Create a link; ``attrs`` is the encoded attribute body. With ``echo``,
    returns the new link as the kernel echoes it (6.3 and later), else None.
    Ask it only for a link made in the socket's own namespace: the kernel
    sends the echo from the link's namespace to the same port number there,
    which may be another socket of ours."""
    echoed = sock.request(RTM_NEWLINK, ifinfo(flags=IFF_UP if up else 0, change=IFF_UP if up else 0) + attrs,
                          nl.F_CREATE | nl.F_EXCL | (nl.F_ECHO if echo else 0))
    links = [p for t, p in echoed if t == RTM_NEWLINK]
    return _made(links[-1]) if links else None


class Made:
    """What a creation's echo tells: the new link's index and name (the
    rest of its some forty attributes is not decoded)."""
    __slots__ = ("ifindex", "name")

    def __init__(self, ifindex, name):
        self.ifindex, self.name = ifindex, name


def _made(body):
    name = nl.find(body, IFLA_IFNAME, 16)
    return Made(_IFI.unpack_from(body)[2], nl.get_str(name) if name is not None else None)


def set_link_by_name(sock, name, *, up=None, promisc=None, attrs=b"", **more):
    """Change a link named ``name``: the kernel finds it by its name, no
    query for its index first."""
    set_link(sock, 0, up=up, promisc=promisc, attrs=nl.string(IFLA_IFNAME, name) + attrs, **more)


def set_link(sock, ifindex, *, up=None, promisc=None, arp=None, multicast=None, allmulticast=None, attrs=b""):
    """Change a link: the flags given (None: as they are), ``attrs``."""
    flags = change = 0
    for bit, want in ((IFF_UP, up), (IFF_PROMISC, promisc), (IFF_NOARP, None if arp is None else not arp),
                      (IFF_MULTICAST, multicast), (IFF_ALLMULTI, allmulticast)):
        if want is not None:
            change |= bit
            flags |= bit if want else 0
    sock.request(RTM_NEWLINK, ifinfo(ifindex, flags, change) + attrs)


RTM_NEWLINKPROP, RTM_DELLINKPROP = 108, 109


def set_altnames(sock, ifindex, add=(), delete=()):
    """Give link ``ifindex`` the alternative names ``add`` and take
    ``delete`` from it (`ip link property add|del ... altname`)."""
    for t, names in ((RTM_DELLINKPROP, delete), (RTM_NEWLINKPROP, add)):
        if names:
            names = [nl.string(IFLA_ALT_IFNAME, n) for n in names]
            sock.request(t, ifinfo(ifindex) + nl.nest(IFLA_PROP_LIST | nl.NLA_F_NESTED, *names),
                         nl.F_EXCL if t == RTM_NEWLINKPROP else 0)


def del_link(sock, ifindex):
    sock.request(RTM_DELLINK, ifinfo(ifindex))


def del_group(sock, group):
    """Delete every link of a group in one request (one synchronize_net)."""
    sock.request(RTM_DELLINK, ifinfo() + nl.u32(IFLA_GROUP, group))


# ---- addresses ---------------------------------------------------------------

IFA_CACHEINFO, IFA_PROTO = 6, 11
# who made an address (IFA_PROTO; 6.3 and later say so): the kernel, from a router advertisement
# (SLAAC), or its IPv6 link-local one (from the MAC, or as addrgenmode says)
IFAPROT_KERNEL_RA, IFAPROT_KERNEL_LL = 2, 3
_ADDR_ATTRS = frozenset({IFA_LOCAL, IFA_ADDRESS, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS, IFA_RT_PRIORITY, IFA_PROTO})
_NOPREFIXROUTE_BYTE = 1 if sys.byteorder == "little" else 2   # the byte of IFA_FLAGS (a u32 in host order) holding it
_ADDRS = {}   # (address bytes, prefix length) -> address: a lab repeats 127.0.0.1/8 and ::1/128 per namespace

IFA_F_TEMPORARY, IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR = 0x01, 0x10, 0x100
_CACHEINFO = struct.Struct("=IIII")   # preferred, valid, created, updated
FOREVER = 0xFFFFFFFF


def dump_addr_lifetimes(sock):
    """[(ifindex, "address/prefix", valid, preferred)] of the addresses someone
    gave lifetimes (`ip address add ... valid_lft 100 preferred_lft 50`;
    seconds left): those not the kernel's (router advertisements' carry a
    protocol, or are SLAAC's temporary or template ones) whose lifetimes are
    not both forever."""
    import ipaddress
    out = []
    for t, p in sock.dump(RTM_GETADDR, _IFA.pack(0, 0, 0, 0, 0)):
        if t != RTM_NEWADDR:
            continue
        fam, plen, flags, _scope, index = _IFA.unpack_from(p)
        a = nl.parse(p, 8)
        v = a.get(IFA_LOCAL, a.get(IFA_ADDRESS))
        if IFA_FLAGS in a:
            flags = nl.get_u32(a[IFA_FLAGS])
        if IFA_CACHEINFO not in a or v is None or IFA_PROTO in a and a[IFA_PROTO][0] \
                or fam == socket.AF_INET6 and flags & (IFA_F_TEMPORARY | IFA_F_MANAGETEMPADDR):   # (SLAAC's)
            continue
        preferred, valid, _c, _u = _CACHEINFO.unpack_from(a[IFA_CACHEINFO])
        if valid != FOREVER or preferred != FOREVER:
            out.append((index, f"{ipaddress.ip_address(bytes(v))}/{plen}", valid, preferred))
    return out


def dump_addrs(sock, flavoured=None, names=None):
    """[(ifindex, address, secondary)] of a namespace, the kernel's own
    IPv6 link-local addresses and those made from router advertisements
    (SLAAC, privacy addresses too) left out (the kernel makes them; no
    topology declares them). A link-local address someone added (`ip
    address add fe80::1/64 dev v0`) is kept: the kernel says its own by
    their protocol (``_kernel_link_local``).
    ``secondary``: an IPv4 address the kernel holds as a secondary of another
    in its subnet (deleting that primary drops it, unless promote_secondaries).
    An address with a peer, noprefixroute, a metric, an IPv4 scope not
    its default (``ipv4_scope``), a broadcast address not vnet's default,
    (given ``names``, {ifindex: device name}) a label not its device's name,
    or IPv6 flags a file gives (home, mngtmpaddr: ``_flag_words``), is
    ``flavoured(address, peer, noprefixroute, metric, scope, broadcast,
    label, flags)`` (None: the address alone)."""
    import ipaddress
    # (not at import: ipaddress is not every command's)
    from ..topology.address import broadcast_number, ipv4_scope
    out = []
    for t, p in sock.dump(RTM_GETADDR, _IFA.pack(0, 0, 0, 0, 0)):
        if t != RTM_NEWADDR:
            continue
        fam, plen, flags, scope, index = _IFA.unpack_from(p)
        a = nl.parse_some(p, 8, _ADDR_ATTRS)
        v, peer = a.get(IFA_LOCAL), a.get(IFA_ADDRESS)
        if v is None:
            v, peer = peer, None
        elif peer == v:
            peer = None
        if v is None or IFA_PROTO in a and a[IFA_PROTO][0] == IFAPROT_KERNEL_RA \
                or fam == socket.AF_INET6 and (flags & IFA_F_TEMPORARY   # (a privacy address: no protocol said)
                                               or _kernel_link_local(v, a.get(IFA_PROTO))):
            continue
        f, m = a.get(IFA_FLAGS), a.get(IFA_RT_PRIORITY)
        nopr = f is not None and f[_NOPREFIXROUTE_BYTE] & (IFA_F_NOPREFIXROUTE >> 8)
        marks = _flag_words(flags, f) if fam == socket.AF_INET6 and (flags & IFA_F_HOMEADDRESS or f is not None
                                                                     and f[_NOPREFIXROUTE_BYTE]) else ()
        brd = label = None
        if fam == socket.AF_INET:
            usual = broadcast_number(int.from_bytes(v, "big"), plen, peer is not None)
            brd = _odd_broadcast(a.get(IFA_BROADCAST), usual)
            label = names is not None and _odd_label(a.get(IFA_LABEL), names.get(index)) or None
        odd = fam == socket.AF_INET and scope != ipv4_scope(v[0])
        key = (bytes(v), plen) if peer is None and not nopr and m is None and not odd and brd is None \
            and label is None and not marks else \
            (bytes(v), plen, peer and bytes(peer), bool(nopr), m and nl.get_u32(m), scope if odd else None, brd, label,
             marks)
        kept = len(key) == 2 or flavoured is not None   # (a reader without ``flavoured`` gets the address alone)
        ip = _ADDRS.get(key) if kept else None
        if ip is None:
            v = key[0]
            if len(v) == 16:
                ip = ipaddress.IPv6Interface((v, plen))
            else:
                ip = ipaddress.IPv4Interface((v, plen))
            if len(key) > 2 and flavoured is not None:   # (lo's 127.0.0.1/8: no broadcast, one per namespace)
                ip = flavoured(ip, key[2] and ipaddress.ip_address(key[2]), key[3], key[4] or 0, key[5],
                               brd and ipaddress.IPv4Address(brd), label, marks)
            if kept and len(_ADDRS) < 65536:
                _ADDRS[key] = ip
        out.append((index, ip, bool(flags & IFA_F_SECONDARY)))
    return out


def _flag_words(flags, f):
    """An IPv6 address's flags a file gives (topology.address.FLAGS: home,
    mngtmpaddr), from the message's ``flags`` (its first byte) and
    IFA_FLAGS ``f`` (all of them; None: not sent), in FLAGS' order."""
    from ..topology.address import FLAGS
    held = nl.get_u32(f) if f is not None else flags
    return tuple(w for w, bit in FLAGS.items() if held & bit)


def _kernel_link_local(v, proto):
    """Is IPv6 address ``v`` (16 bytes) of protocol ``proto`` (IFA_PROTO,
    None: not said) a link-local one the kernel made? The kernel says so
    since 6.3 (IFAPROT_KERNEL_LL, and lo's ::1 is IFAPROT_KERNEL_LO):
    a link-local address of no protocol is someone's. An older kernel
    says no address's: each link-local address is taken for its own."""
    if not (v[0] == 0xFE and v[1] & 0xC0 == 0x80):
        return False
    return proto is None and not says_address_protocols() or proto is not None and proto[0] == IFAPROT_KERNEL_LL


_SAYS = []


def says_address_protocols():
    """Does this kernel say who made an address (IFA_PROTO: 6.3 and later)?"""
    if not _SAYS:
        import os
        try:
            _SAYS.append(tuple(int(x) for x in os.uname().release.split(".")[:2]) >= (6, 3))
        except ValueError:
            _SAYS.append(False)
    return _SAYS[0]


def _odd_broadcast(brd, usual):
    """An IPv4 address's broadcast (4 bytes; absent: none) where it is not
    ``usual``, the one vnet gives (topology.address.broadcast_number), else None."""
    held = int.from_bytes(brd, "big") if brd is not None else 0
    return None if held == usual else held.to_bytes(4, "big")


def _odd_label(label, name):
    """An IPv4 address's label where it is not its device's name ``name``, else None."""
    if label is None or name is None:
        return None
    text = bytes(label).split(b"\0", 1)[0].decode(errors="replace")
    return None if text == name else text


def _addr_msg(ifindex, iface, scope=0):
    """The request naming address ``iface`` (IFA_ADDRESS its peer, if it has one)."""
    fam = socket.AF_INET if iface.version == 4 else socket.AF_INET6
    body = _IFA.pack(fam, iface.network.prefixlen, 0, scope, ifindex)
    peer = getattr(iface, "peer", None)
    body += nl.ip(IFA_LOCAL, iface.ip) + nl.ip(IFA_ADDRESS, iface.ip if peer is None else peer)
    return body


def add_addr(sock, ifindex, iface):
    """Add ``iface`` (an address of vnet.topology.address) to the device."""
    from ..topology.address import FLAGS, broadcast_of, scope_of
    body = _addr_msg(ifindex, iface, scope_of(iface) if iface.version == 4 else 0)
    if iface.version == 4:
        brd = broadcast_of(iface)   # by default the subnet's, as ip does with 'brd +'
        if int(brd):
            body += nl.attr(IFA_BROADCAST, brd.packed)
        if getattr(iface, "label", None):
            body += nl.attr(IFA_LABEL, iface.label.encode() + b"\0")
    flags = IFA_F_NODAD if iface.version == 6 else 0   # IPv6: usable at once, like a lab wants
    if getattr(iface, "noprefixroute", False):
        flags |= IFA_F_NOPREFIXROUTE
    for w in getattr(iface, "flags", ()):
        flags |= FLAGS[w]
    if flags:
        body += nl.u32(IFA_FLAGS, flags)
    if getattr(iface, "metric", 0):
        body += nl.u32(IFA_RT_PRIORITY, iface.metric)
    sock.request(RTM_NEWADDR, body, nl.F_CREATE | nl.F_EXCL)


def del_addr(sock, ifindex, iface):
    sock.request(RTM_DELADDR, _addr_msg(ifindex, iface))


# ---- routes --------------------------------------------------------------------

RTA_METRICS, RTA_FLOW, RTA_CACHEINFO, RTA_PREF = 8, 11, 12, 20
# the kernel's units as `ip route` says them: rtt in 1/8 ms, rttvar in 1/4 ms, rto_min in ms, features' bit 0 ecn
_RTAX_TEXT = {4: lambda v: f"{v // 8}ms", 5: lambda v: f"{v // 4}ms", 13: lambda v: f"{v}ms",
              12: lambda v: "ecn" if v == 1 else hex(v)}
# RTAX_*: a route's metrics (`ip route add ... mtu lock 1400 initcwnd 10`), in iproute2's words
RTAX = {2: "mtu", 3: "window", 4: "rtt", 5: "rttvar", 6: "ssthresh", 7: "cwnd", 8: "advmss", 9: "reordering",
        10: "hoplimit", 11: "initcwnd", 12: "features", 13: "rto_min", 14: "initrwnd", 15: "quickack",
        16: "congctl", 17: "fastopen_no_cookie"}


# the metrics a topology declares ({RTAX: its name}), and the units a file
# gives them in against the kernel's (rtt in 1/8 ms, rttvar in 1/4 ms)
RTAX_DECLARED = {t: w for t, w in RTAX.items() if w != "features"}
RTAX_BY_NAME = {w: t for t, w in RTAX_DECLARED.items()}
_RTAX_SCALE = {4: 8, 5: 4}
RTAX_LOCK, RTAX_CC_ALGO = 1, 16


def route_metrics(a):
    """A route's metrics a topology declares, ((name, value, locked), ...) by
    name, from its attributes ``a`` (the units a file gives: ms for rtt)."""
    if RTA_METRICS not in a:
        return ()
    m = nl.parse(a[RTA_METRICS])
    locked = nl.get_u32(m[RTAX_LOCK]) if RTAX_LOCK in m else 0
    return tuple(sorted((word, nl.get_str(m[t]) if t == RTAX_CC_ALGO else nl.get_u32(m[t]) // _RTAX_SCALE.get(t, 1),
                         bool(locked & (1 << t))) for t, word in RTAX_DECLARED.items() if t in m and _whole(m, t)))


def _whole(m, t):
    """Is metric ``t`` of ``m`` one a file can give: rtt and rttvar in whole ms (`ip route add ... rtt 5`, no
    unit, is 5/8 ms: left to the extras)."""
    return t not in _RTAX_SCALE or nl.get_u32(m[t]) % _RTAX_SCALE[t] == 0


def _metrics_attr(metrics):
    """RTA_METRICS of ((name, value, locked), ...), or nothing for none."""
    body, locked = b"", 0
    for name, value, lock in metrics:
        t = RTAX_BY_NAME[name]
        body += nl.attr(t, value.encode() + b"\0") if t == RTAX_CC_ALGO else nl.u32(t, value * _RTAX_SCALE.get(t, 1))
        locked |= (1 << t) if lock else 0
    if locked:
        body = nl.u32(RTAX_LOCK, locked) + body
    return nl.attr(RTA_METRICS, body) if body else b""


def _route_extras(a):
    """What `ip route` says of a route beyond what a topology declares: its
    features metric, realm, expiry (`features ecn, realm 3`), or ""."""
    out = []
    if RTA_METRICS in a:
        m = nl.parse(a[RTA_METRICS])
        locked = nl.get_u32(m[RTAX_LOCK]) if RTAX_LOCK in m else 0
        for t, word in RTAX.items():
            if t in m and (t not in RTAX_DECLARED or not _whole(m, t)):
                v = _RTAX_TEXT.get(t, str)(nl.get_u32(m[t]))
                out.append(f"{word}{' lock' if locked & (1 << t) else ''} {v}")
    if RTA_FLOW in a:
        out.append(f"realm {nl.get_u32(a[RTA_FLOW])}")
    expires = _expires(a)
    if expires:   # (in the user's clock ticks, 100 a second, as iproute2 reads them)
        out.append(f"expires {expires // 100}sec")
    return ", ".join(out)


def _expires(a):
    """When a route of attributes ``a`` expires (RTA_CACHEINFO; clock ticks), 0 for never."""
    return struct.unpack_from("=i", a[RTA_CACHEINFO], 8)[0] if RTA_CACHEINFO in a else 0


def dump_routes(sock, through=None):
    """Every route of every table but the kernel's own entries of types a
    topology does not declare (its local, broadcast, anycast and multicast
    ones, protocol kernel): [(dst, gateway, oif,
    metric, proto, table, prefsrc, scope, onlink, type name, next hops,
    tos, unwritable, extras, raw, metrics, nhid, pref, source, expires)]: a multipath route's [(gateway, oif, weight)], why a
    topology cannot declare the route (with a TOS, a next hop onlink, a
    gateway of the other family, a type it has no word for) or None, what it has that a topology does not
    say (``_route_extras``), the kernel's message of a route someone
    made with more than a topology says, or another protocol than vnet's,
    not through a nexthop object (for ``add_route_again``), else None, and
    its metrics a topology declares (``route_metrics``), and the nexthop
    object it goes through (None: none; its gateway and device are then
    the object's, left out), an IPv6 route's preference (RTA_PREF; None for IPv4),
    an IPv6 route's source prefix (RTA_SRC, `ip -6 route add ... from
    P`; None for none), and whether it expires (a router advertisement's).
    With ``through`` (an ifindex), only the routes through that device (one
    of their next hops too), as the kernel filters them."""
    import ipaddress
    out = []
    for fam in (socket.AF_INET, socket.AF_INET6):
        request = _RTM.pack(fam, 0, 0, 0, 0, 0, 0, 0, 0)
        for t, p in (sock.dump(RTM_GETROUTE, request) if through is None else
                     sock.dump_filtered(RTM_GETROUTE, request + nl.u32(RTA_OIF, through))):
            f, dlen, slen, tos, table, proto, scope, rtype, flags = _RTM.unpack_from(p)
            if rtype in KERNEL_ENTRY_TYPES and proto == RTPROT_KERNEL:
                continue   # the kernel's own entry of an address or a device
            a = nl.parse(p, 12)
            if RTA_TABLE in a:
                table = nl.get_u32(a[RTA_TABLE])
            zero = "0.0.0.0" if f == socket.AF_INET else "::"
            dst = nl.get_ip(a[RTA_DST]) if RTA_DST in a else ipaddress.ip_address(zero)
            gw = nl.get_ip(a[RTA_GATEWAY]) if RTA_GATEWAY in a else None
            oif = nl.get_u32(a[RTA_OIF]) if RTA_OIF in a else 0
            metric = nl.get_u32(a[RTA_PRIORITY]) if RTA_PRIORITY in a else 0
            src = nl.get_ip(a[RTA_PREFSRC]) if RTA_PREFSRC in a else None
            hops = _hops(a[RTA_MULTIPATH]) if RTA_MULTIPATH in a else []
            nhid = nl.get_u32(a[RTA_NH_ID]) if RTA_NH_ID in a else None
            source = ipaddress.ip_network(f"{nl.get_ip(a[RTA_SRC])}/{slen}") if RTA_SRC in a and slen else None
            if nhid is not None:   # the nexthop object's way out, as the kernel shows it with the route: not the
                gw, oif, hops, rtype = None, 0, [], RTN_UNICAST   # route's (nor its type: a blackhole one's,
                flags &= ~RTNH_F_ONLINK                           # nor its onlink flag)
            unwritable = _unwritable_route(tos, hops, rtype, a if nhid is None else {})   # (the object's via)
            extras, metrics = _route_extras(a), route_metrics(a)
            raw = bytes(p) if (proto != RTPROT_STATIC or extras or unwritable) and RTA_NH_ID not in a \
                and proto not in (RTPROT_KERNEL, RTPROT_RA) else None
            # (vnet's own: remade from what a topology says; through a nexthop object: gone with its device)
            out.append((ipaddress.ip_network(f"{dst}/{dlen}"), gw, oif, metric, proto, table, src, scope,
                        bool(flags & RTNH_F_ONLINK), ROUTE_TYPE_NAMES.get(rtype) or OTHER_ROUTE_TYPES.get(rtype, str(rtype)),
                        [h[:3] for h in hops], tos, unwritable, extras, raw, metrics, nhid,
                        (a[RTA_PREF][0] if RTA_PREF in a else 0) if f == socket.AF_INET6 else None, source,
                        bool(_expires(a))))
    return out


def _unwritable_route(tos, hops, rtype, a):
    """Why a topology cannot declare a route of these fields and attributes
    ``a`` (a TOS, a next hop onlink, a type it has no word for, a gateway
    of the other family), else None."""
    if tos:
        return f"it has a TOS ({tos:#x})"
    if any(fl & RTNH_F_ONLINK for *_h, fl in hops):
        return "a next hop of it is onlink"
    if rtype not in ROUTE_TYPE_NAMES:
        return f"it is of type {OTHER_ROUTE_TYPES.get(rtype, rtype)}"
    via = _via(a.get(RTA_VIA))
    if via is None and RTA_MULTIPATH in a:
        via = next((v for o, n, *_r in _rtnh(a[RTA_MULTIPATH])
                    for v in [_via(nl.parse(a[RTA_MULTIPATH], o + _RTNH.size, o + n).get(RTA_VIA))] if v), None)
    if via is not None:
        return f"its gateway is of the other family (via {via})"
    return None


def _via(data):
    """RTA_VIA ``data`` (struct rtvia: a family, then the address: an IPv4
    route's IPv6 gateway) as `ip route` writes it (`inet6 fe80::1`), else None."""
    if data is None or len(data) < 2:
        return None
    import ipaddress
    fam, addr = struct.unpack_from("=H", data)[0], bytes(data[2:])
    if fam == socket.AF_INET6 and len(addr) == 16:
        return f"inet6 {ipaddress.IPv6Address(addr)}"
    if fam == socket.AF_INET and len(addr) == 4:
        return f"inet {ipaddress.IPv4Address(addr)}"
    return f"family {fam} {addr.hex()}"


RTA_EXPIRES = 23


# where a route goes among the others of its slot (IPv4 keeps several:
# `ip route prepend`, `append`); None: the only one (EEXIST if there is one)
PLACES = {None: nl.F_EXCL, "first": 0, "last": nl.F_APPEND}


def add_route_again(sock, raw, oif, hop_oifs=(), place=None):
    """Make the route a dump showed as ``raw`` again as it was (its
    protocol, metrics, realm, preference, what a topology does not say),
    through the devices now at ``oif`` and, for a multipath route, at
    ``hop_oifs`` (the devices may have been made again). What only the
    kernel sets is left out: next-hop flags but onlink (DEAD, LINKDOWN...),
    the cache information (an IPv6 route's expiry: its seconds left).
    ``oif`` None: the device it names; ``place``: among others of its slot (PLACES)."""
    fam, dlen, slen, tos, table, proto, scope, rtype, flags = _RTM.unpack_from(raw)
    body = _RTM.pack(fam, dlen, slen, tos, table, proto, scope, rtype, flags & RTNH_F_ONLINK)
    for t, data in nl.parse_list(raw[_RTM.size:]):
        if t == RTA_OIF and oif is not None:
            data = struct.pack("=I", oif)
        elif t == RTA_MULTIPATH:
            data = _hops_again(data, hop_oifs)
        elif t == RTA_CACHEINFO:
            expires = struct.unpack_from("=i", data, 8)[0]
            if fam != socket.AF_INET6 or expires <= 0:
                continue
            t, data = RTA_EXPIRES, struct.pack("=I", max(1, expires // 100))
        body += nl.attr(t, data)
    # a multipath route replaces what is left of it (IPv6 keeps the next hops
    # through the devices still there as the route)
    sock.request(RTM_NEWROUTE, body, nl.F_CREATE | (nl.F_REPLACE if hop_oifs and place is None else PLACES[place]))


def _hops_again(data, oifs):
    """RTA_MULTIPATH ``data`` with each next hop's device ``oifs``[i] and its flags but onlink dropped."""
    out = b""
    for i, (off, n, flags, hops, oif) in enumerate(_rtnh(data)):
        out += _RTNH.pack(n, flags & RTNH_F_ONLINK, hops, oifs[i] if i < len(oifs) else oif) + \
            bytes(data[off + _RTNH.size:off + n]) + b"\0" * (((n + 3) & ~3) - n)
    return out


_RTNH = struct.Struct("=HBBi")   # struct rtnexthop: length, flags, hops (weight - 1), ifindex


def _rtnh(data):
    """(offset, length, flags, hops, oif) of each struct rtnexthop of RTA_MULTIPATH ``data``."""
    off = 0
    while off + _RTNH.size <= len(data):
        n, flags, hops, oif = _RTNH.unpack_from(data, off)
        if n < _RTNH.size:
            break
        yield off, n, flags, hops, oif
        off += (n + 3) & ~3


def _hops(data):
    """A multipath route's next hops: [(gateway or None, oif, weight, flags)]."""
    out = []
    for off, n, flags, hops, oif in _rtnh(data):
        a = nl.parse(data, off + _RTNH.size, off + n)
        out.append((nl.get_ip(a[RTA_GATEWAY]) if RTA_GATEWAY in a else None, oif, hops + 1, flags))
    return out


def _multipath(hops):
    """RTA_MULTIPATH of [(gateway or None, oif, weight)]."""
    out = b""
    for gw, oif, weight in hops:
        attrs = nl.ip(RTA_GATEWAY, gw) if gw is not None else b""
        out += _RTNH.pack(_RTNH.size + len(attrs), 0, weight - 1, oif) + attrs
    return nl.attr(RTA_MULTIPATH, out)


def drop_routes6(sock, indexes):
    """Delete the IPv6 routes of every table whose one output device is in
    ``indexes``, sent back to back (``Socket.request_many``); a route gone
    meanwhile is no failure. For devices about to be deleted: the kernel
    takes each device's routes out by walking the namespace's whole IPv6
    FIB once per device and once per address, so deleting a thousand
    devices costs a million route visits, while each route deleted by
    itself costs a lookup. Returns how many went."""
    doomed = []
    for t, p in sock.dump(RTM_GETROUTE, _RTM.pack(socket.AF_INET6, 0, 0, 0, 0, 0, 0, 0, 0)):
        if t != RTM_NEWROUTE:
            continue
        a = nl.parse_some(p, 12, _ROUTE_DEVICE)
        if RTA_NH_ID in a:
            # a route through a nexthop object is deleted by any request for
            # its prefix, whatever device that names (the kernel's
            # ip6_route_del matches it before it looks at the device)
            return 0
        if RTA_OIF in a and RTA_MULTIPATH not in a and nl.get_u32(a[RTA_OIF]) in indexes:
            doomed.append(bytes(p))   # deleted by the very message that showed it, as `ip route flush` does
    return len(doomed) - len(sock.request_many(RTM_DELROUTE, doomed))


_ROUTE_DEVICE = frozenset({RTA_OIF, RTA_MULTIPATH, RTA_NH_ID})   # what says a route's device(s)

# from this many devices deleted in one go, one dump of the namespace's IPv6
# routes costs less than what deleting their routes first saves
ROUTES_FIRST = 16


def before_deleting(sock, indexes, marked=None):
    """Called before the devices ``indexes`` are deleted in one go: their
    IPv6 routes go first (``drop_routes6``) when they are many, after
    ``marked()`` (which records that they may be missing: a stop before the
    deletion leaves devices a later apply must make again). Only time is at
    stake: a failure here leaves the routes to the deletion."""
    if len(indexes) >= ROUTES_FIRST:
        try:
            if marked is not None:
                marked()
        except Exception:   # not said on disk (the record could not be written): the routes stay
            return
        try:
            drop_routes6(sock, set(indexes))
        except OSError:   # the kernel's refusal (NetlinkError) or the socket's (ENOBUFS...)
            pass


def _route_msg(dst, gw, oif, metric, table=RT_TABLE_MAIN, src=None, scope=None, onlink=False, delete=False,
               rtype="unicast", hops=(), metrics=(), nhid=None, protocol=None, pref=None, source=None):
    """A route request (``hops``: a multipath route's [(gateway, oif,
    weight)]; ``source``: an IPv6 route's source prefix, RTA_SRC). ``scope`` None: global with a gateway, next hops or for a
    route that drops, link without (as `ip route add`); a deletion matches
    any scope, protocol and type, or (``delete`` "exact") those given (a
    protocol of None or 0: any)."""
    fam = socket.AF_INET if dst.version == 4 else socket.AF_INET6
    if delete == "exact":
        proto, kind = protocol or 0, route_type_number(rtype)   # (someone's: of any type)
        scope = RT_SCOPE_NOWHERE if scope is None else scope
    elif delete:
        scope, proto, kind = RT_SCOPE_NOWHERE, 0, 0
    else:
        proto, kind = protocol or RTPROT_STATIC, ROUTE_TYPES[rtype]
        if scope is None:   # (as topology.model.default_scope)
            scope = RT_SCOPE_HOST if rtype == "local" else \
                RT_SCOPE_UNIVERSE if gw is not None or hops or kind != RTN_UNICAST else RT_SCOPE_LINK
    flags = RTNH_F_ONLINK if onlink else 0
    body = _RTM.pack(fam, dst.prefixlen, source.prefixlen if source else 0, 0, table if table < 256 else 0, proto,
                     scope, kind, flags)
    body += nl.u32(RTA_TABLE, table)
    if dst.prefixlen:
        body += nl.ip(RTA_DST, dst.network_address)
    if source is not None:
        body += nl.ip(RTA_SRC, source.network_address)
    if gw is not None:
        body += nl.ip(RTA_GATEWAY, gw)
    if oif:
        body += nl.u32(RTA_OIF, oif)
    if metric:
        body += nl.u32(RTA_PRIORITY, metric)
    if src is not None:
        body += nl.ip(RTA_PREFSRC, src)
    if hops:
        body += _multipath(hops)
    if nhid is not None:
        body += nl.u32(RTA_NH_ID, nhid)
    if pref:   # (an IPv6 route's; none is medium)
        body += nl.attr(RTA_PREF, bytes([pref]))
    return body + _metrics_attr(metrics)


def add_route(sock, dst, gw, oif, metric, table=RT_TABLE_MAIN, src=None, scope=None, onlink=False, rtype="unicast",
              hops=(), metrics=(), nhid=None, protocol=None, pref=None, place=None, source=None):
    sock.request(RTM_NEWROUTE, _route_msg(dst, gw, oif, metric, table, src, scope, onlink, rtype=rtype, hops=hops,
                                          metrics=metrics, nhid=nhid, protocol=protocol, pref=pref, source=source),
                 nl.F_CREATE | PLACES[place])


def del_route(sock, dst, gw, oif, metric, table=RT_TABLE_MAIN, exact=None, source=None):
    """Delete a route (``source``: an IPv6 route's source prefix); IPv4
    deletes the first of its slot that matches what the request says, so
    ``exact``, {src, scope, rtype, hops, nhid, protocol} (as add_route takes
    them), says what tells one route from the others there (`ip route
    prepend`, `append`)."""
    sock.request(RTM_DELROUTE, _route_msg(dst, gw, oif, metric, table, delete="exact" if exact else True,
                                          source=source, **(exact or {})))


# ---- bridge fdb (vxlan static entries) ----------------------------------------

AF_BRIDGE = 7


NDA_PORT, NDA_VNI, NDA_IFINDEX = 6, 7, 8


def dump_fdb(sock):
    """[(ifindex, mac, dst ip, vni, port, via)] of static fdb entries that
    carry a destination: ``vni`` and ``port`` None where they are the
    device's own (the kernel says neither then), ``via`` the index of the
    device it sends through (`bridge fdb add ... via DEV`), else None."""
    out = []
    for t, p in sock.dump(RTM_GETNEIGH, _NDM.pack(AF_BRIDGE, 0, 0, 0, 0)):
        if t != RTM_NEWNEIGH:
            continue
        _fam, index, state, _fl, _typ = _NDM.unpack_from(p)
        a = nl.parse(p, 12)
        if NDA_DST in a and NDA_LLADDR in a and state & NUD_PERMANENT:
            got = lambda t, get: get(a[t]) if t in a else None  # noqa: E731
            out.append((index, nl.get_mac(a[NDA_LLADDR]), nl.get_ip(a[NDA_DST]), got(NDA_VNI, nl.get_u32),
                        got(NDA_PORT, nl.get_be16), got(NDA_IFINDEX, nl.get_u32)))
    return out


def _fdb_msg(ifindex, mac, dst, vni=None, port=None, via=None):
    """An entry's message: a VNI and UDP port given where they are not
    the device's own, the index of the device it goes by (``via``); the
    kernel finds an entry to delete by them too."""
    return (_NDM.pack(AF_BRIDGE, ifindex, NUD_PERMANENT, NTF_SELF, 0)
            + nl.mac(NDA_LLADDR, mac) + nl.ip(NDA_DST, dst) + (nl.u32(NDA_VNI, vni) if vni is not None else b"")
            + (nl.be16(NDA_PORT, port) if port is not None else b"") + (nl.u32(NDA_IFINDEX, via) if via else b""))


def add_fdb(sock, ifindex, mac, dst, vni=None, port=None, via=None):
    sock.request(RTM_NEWNEIGH, _fdb_msg(ifindex, mac, dst, vni, port, via), nl.F_CREATE | nl.F_APPEND)


def del_fdb(sock, ifindex, mac, dst, vni=None, port=None, via=None):
    sock.request(RTM_DELNEIGH, _fdb_msg(ifindex, mac, dst, vni, port, via))


# ---- namespace ids ----------------------------------------------------------------

_RTGEN = struct.Struct("=Bxxx")


def nsid_of(sock, fd):
    """The id under which ``sock``'s namespace knows the namespace ``fd`` (-1: none)."""
    body = sock.query(RTM_GETNSID, _RTGEN.pack(socket.AF_UNSPEC) + nl.u32(NETNSA_FD, fd))
    a = nl.parse(body, 4)
    return nl.get_s32(a[NETNSA_NSID]) if NETNSA_NSID in a else -1


def get_link(sock, name):
    """One link by name (None when absent)."""
    return _get_link(sock, ifinfo() + nl.string(IFLA_IFNAME, name))


def get_link_by_index(sock, ifindex):
    """One link by index, without its counters (None when absent)."""
    return _get_link(sock, ifinfo(ifindex) + nl.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS))


def _get_link(sock, request):
    try:
        body = sock.query(RTM_GETLINK, request)
    except nl.NetlinkError as e:
        if e.errno == 19:   # ENODEV
            return None
        raise
    return decode_link(body) if body else None


# ---- bridge port VLANs ------------------------------------------------------------

RTM_SETLINK = 19
IFLA_AF_SPEC = 26
IFLA_BRIDGE_VLAN_INFO = 2
RTEXT_FILTER_BRVLAN = 2
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4
_VINFO = struct.Struct("=HH")


def dump_bridge_vlans(sock):
    """{port ifindex: [(vid, flags)]} of a namespace's bridge ports."""
    out = {}
    body = ifinfo(family=AF_BRIDGE) + nl.u32(IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN)
    for t, p in sock.dump(RTM_GETLINK, body):
        if t != RTM_NEWLINK:
            continue
        index = _IFI.unpack_from(p)[2]
        a = nl.parse(p, 16)
        if IFLA_AF_SPEC in a:
            out[index] = [_VINFO.unpack_from(v)[::-1] for t2, v in nl.parse_list(a[IFLA_AF_SPEC])
                          if t2 == IFLA_BRIDGE_VLAN_INFO]
    return out


IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF = 0, 2


def bridge_vlan(sock, ifindex, vid, flags, add=True, self_=False):
    """Add (or delete) one VLAN on a bridge port (``self_``: on the bridge
    itself, as `bridge vlan add dev br0 vid V self`)."""
    spec = (nl.u16(IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF) if self_ else b"") + \
        nl.attr(IFLA_BRIDGE_VLAN_INFO, _VINFO.pack(flags, vid))
    body = ifinfo(ifindex, family=AF_BRIDGE) + nl.attr(IFLA_AF_SPEC, spec)
    sock.request(RTM_SETLINK if add else RTM_DELLINK, body)
