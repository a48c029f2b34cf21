"""Static neighbours (`ip neigh add ... nud permanent`, `ip neigh add
proxy ...`): dumped, set and deleted; and the static and permanent entries
of a namespace's bridges' forwarding databases (`bridge fdb add ... master
static`): dumped, set on a port and deleted."""
from . import netlink as nl
from .rtnl import AF_BRIDGE, NDA_DST, NDA_LLADDR, NUD_PERMANENT, RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH, _NDM

FAMILIES = (2, 10)   # IPv4 and IPv6
NUD_NOARP = 0x40
NDA_VLAN, NDA_MASTER, NDA_PROTOCOL = 5, 9, 12   # the entry's VLAN; the bridge whose database holds it; who made it
NTF_MASTER, NTF_PROXY, NTF_ROUTER = 0x04, 0x08, 0x80
NUD = {"permanent": NUD_PERMANENT, "noarp": NUD_NOARP}


def dump_static_neighbours(sock):
    """[(ifindex, address, lladdr or None, proxy, nud, router, protocol)] of the IPv4
    and IPv6 neighbour entries someone may have made: permanent ones (`ip
    neigh add` makes them; the kernel never does), `nud noarp` ones (the
    kernel makes those too, for multicast and broadcast addresses and on
    devices without ARP), and proxy entries (`ip neigh add proxy`). ``nud``:
    "permanent", "noarp" or None (a proxy's); ``router``: the flag;
    ``protocol``: who made it (`ip neigh add ... protocol zebra`; 0: none said)."""
    out = []
    for flags in (0, NTF_PROXY):
        for t, p in sock.dump(RTM_GETNEIGH, _NDM.pack(0, 0, 0, flags, 0)):
            if t != RTM_NEWNEIGH:
                continue
            fam, index, state, fl, _typ = _NDM.unpack_from(p)
            proxy = bool(fl & NTF_PROXY)
            nud = "permanent" if state & NUD_PERMANENT else "noarp" if state & NUD_NOARP else None
            if fam not in FAMILIES or proxy != bool(flags) or not (proxy or nud):
                continue
            a = nl.parse(p, _NDM.size)
            if NDA_DST in a:
                out.append((index, nl.get_ip(a[NDA_DST]), nl.get_mac(a[NDA_LLADDR]) if NDA_LLADDR in a else None,
                            proxy, None if proxy else nud, bool(fl & NTF_ROUTER),
                            a[NDA_PROTOCOL][0] if NDA_PROTOCOL in a else 0))
    return out


def _neigh_msg(ifindex, address, lladdr, proxy, nud="permanent"):
    return (_NDM.pack(2 if address.version == 4 else 10, ifindex, NUD[nud or "permanent"], NTF_PROXY if proxy else 0,
                      0)
            + nl.ip(NDA_DST, address) + (nl.mac(NDA_LLADDR, lladdr) if lladdr else b""))


def set_neighbour(sock, ifindex, address, lladdr, proxy=False, nud="permanent"):
    """A permanent entry (``nud`` noarp: as an undo puts one back), or a
    proxy one, made or replacing the one there (a learned entry, another
    MAC), as `ip neigh replace ... nud permanent`."""
    sock.request(RTM_NEWNEIGH, _neigh_msg(ifindex, address, lladdr, proxy, nud), nl.F_CREATE | nl.F_REPLACE)


def del_neighbour(sock, ifindex, address, proxy=False):
    sock.request(RTM_DELNEIGH, _neigh_msg(ifindex, address, None, proxy))


def dump_bridge_statics(sock):
    """[(ifindex, mac, vlan or None, permanent)] of the entries someone may have put in a
    bridge's forwarding database (`bridge fdb add MAC dev PORT master
    [static]`): those of a master (NDA_MASTER), static or permanent. (The caller tells
    a bridge's own permanent entries, its ports' and its own MACs, apart.)"""
    out = []
    for t, p in sock.dump(RTM_GETNEIGH, _NDM.pack(AF_BRIDGE, 0, 0, 0, 0)):
        if t != RTM_NEWNEIGH:
            continue
        _fam, index, state, _flags, _typ = _NDM.unpack_from(p)
        if not state & (NUD_NOARP | NUD_PERMANENT):
            continue
        a = nl.parse(p, _NDM.size)
        if NDA_MASTER in a and NDA_LLADDR in a and NDA_DST not in a:
            vlan = nl.get_u16(a[NDA_VLAN]) if NDA_VLAN in a else None
            out.append((index, nl.get_mac(a[NDA_LLADDR]), vlan, bool(state & NUD_PERMANENT)))
    return out


def _fdb_msg(port, mac, vlan, permanent):
    return (_NDM.pack(AF_BRIDGE, port, NUD_PERMANENT if permanent else NUD_NOARP, NTF_MASTER, 0)
            + nl.mac(NDA_LLADDR, mac) + (nl.u16(NDA_VLAN, vlan) if vlan else b""))


def set_bridge_static(sock, port, mac, vlan=None, permanent=False):
    """A static entry (``permanent``: a local one, for the bridge itself) of
    MAC ``mac`` (in ``vlan``) on the bridge port ``port``, made or replacing
    the one there, as `bridge fdb replace MAC dev PORT master static`."""
    sock.request(RTM_NEWNEIGH, _fdb_msg(port, mac, vlan, permanent), nl.F_CREATE | nl.F_REPLACE)


def del_bridge_static(sock, port, mac, vlan=None):
    sock.request(RTM_DELNEIGH, _fdb_msg(port, mac, vlan, False))
