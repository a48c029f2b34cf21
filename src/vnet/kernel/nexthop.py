"""Nexthop objects (`ip nexthop`, Linux 5.3+): a gateway and device, a
blackhole, or a group of others with weights, which routes name by id
(RTA_NH_ID). Replacing one changes every route through it at once."""
import errno
import socket
import struct

from . import netlink as nl
from .rtnl import RTNH_F_ONLINK, RTPROT_STATIC

RTM_NEWNEXTHOP, RTM_DELNEXTHOP, RTM_GETNEXTHOP = 104, 105, 106
NHA_ID, NHA_GROUP, NHA_GROUP_TYPE, NHA_BLACKHOLE, NHA_OIF, NHA_GATEWAY, NHA_ENCAP, NHA_FDB = 1, 2, 3, 4, 5, 6, 8, 11

_NHM = struct.Struct("=BBBBI")      # family, scope, protocol, reserved, flags
_GRP = struct.Struct("=IBBH")       # id, weight - 1 (its low byte, then its high byte: 6.12+), reserved
FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6, socket.AF_UNSPEC: None}


def dump_nexthops(sock):
    """[(id, family (4, 6 or None for a group), gateway, oif, onlink,
    blackhole, group ((id, weight), ...), protocol, why a topology cannot
    declare it or None)] of a namespace (a bridge's, fdb; a resilient group;
    one with an encapsulation). A kernel without nexthop objects (before
    5.3): none."""
    out = []
    try:
        replies = sock.dump(RTM_GETNEXTHOP, _NHM.pack(socket.AF_UNSPEC, 0, 0, 0, 0))
    except nl.NetlinkError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            return []
        raise
    for t, p in replies:
        if t != RTM_NEWNEXTHOP:
            continue
        fam, _scope, proto, _r, flags = _NHM.unpack_from(p)
        a = nl.parse(p, _NHM.size)
        group = tuple((i, (hi << 8 | w) + 1) for i, w, hi, _r in _GRP.iter_unpack(bytes(a[NHA_GROUP]))) \
            if NHA_GROUP in a else ()
        why = ("a bridge's (fdb)" if NHA_FDB in a else
               "a resilient group" if NHA_GROUP_TYPE in a and struct.unpack_from("=H", a[NHA_GROUP_TYPE])[0] != 0 else
               "with an encapsulation" if NHA_ENCAP in a else
               "a weight above 255" if any(w > 255 for _i, w in group) else None)
        out.append((nl.get_u32(a[NHA_ID]), FAMILIES.get(fam), nl.get_ip(a[NHA_GATEWAY]) if NHA_GATEWAY in a else None,
                    nl.get_u32(a[NHA_OIF]) if NHA_OIF in a else 0, bool(flags & RTNH_F_ONLINK), NHA_BLACKHOLE in a,
                    group, proto, why))
    return out


def _msg(nhid, family=None, gw=None, oif=0, onlink=False, blackhole=False, group=(), proto=RTPROT_STATIC):
    if gw is not None:
        family = gw.version
    fam = socket.AF_UNSPEC if group else socket.AF_INET6 if family == 6 else socket.AF_INET
    body = _NHM.pack(fam, 0, proto, 0, RTNH_F_ONLINK if onlink else 0) + nl.u32(NHA_ID, nhid)
    if group:
        body += nl.attr(NHA_GROUP, b"".join(_GRP.pack(i, (w - 1) & 0xff, (w - 1) >> 8, 0) for i, w in group))
    elif blackhole:
        body += nl.flag(NHA_BLACKHOLE)
    else:
        body += nl.u32(NHA_OIF, oif)
        if gw is not None:
            body += nl.ip(NHA_GATEWAY, gw)
    return body


def add_nexthop(sock, nhid, replace=False, **fields):
    """Make nexthop ``nhid`` (``fields``: family, gw, oif, onlink,
    blackhole, group, proto); ``replace``: in place of the one there, the
    routes through it kept (made if there is none)."""
    sock.request(RTM_NEWNEXTHOP, _msg(nhid, **fields), nl.F_CREATE | (nl.F_REPLACE if replace else nl.F_EXCL))


def del_nexthop(sock, nhid):
    sock.request(RTM_DELNEXTHOP, _NHM.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + nl.u32(NHA_ID, nhid))
