"""A link's settings as the kernel reports them, raw: what an export
compares with a device made anew from what it wrote (vnet.export_settings),
to name each one a topology file would lose."""
import contextlib
import os
import struct

from . import netlink as nl
from . import netns
from . import rtnl

# the link's own attributes a person may set (`ip link add/set ... NAME
# VALUE`) and a topology does not say, with iproute2's word for each
LINK_SETTINGS = {31: "numtxqueues", 32: "numrxqueues", 39: "protodown", 40: "gso_max_segs", 41: "gso_max_size",
                 58: "gro_max_size", 63: "gso_ipv4_max_size", 64: "gro_ipv4_max_size", rtnl.IFLA_GROUP: "group"}
IFLA_AF_SPEC, AF_INET6, IFLA_INET6_ADDR_GEN_MODE = 26, 10, 8
ADDR_GEN_MODES = {0: "eui64", 1: "none", 2: "stable_secret", 3: "random"}
# flags `ip link set` changes that a topology does not say
FLAGS = {0x4: "debug", 0x20: "trailers off", 0x8000: "dynamic"}
_U32 = struct.Struct("=I")


class Settings:
    """One link's raw settings: ``link`` {iproute2 word: int}, ``data`` and
    ``port`` {attribute id: bytes} of IFLA_INFO_DATA and IFLA_INFO_SLAVE_DATA."""
    __slots__ = ("ifindex", "name", "link", "data", "port")

    def __init__(self, ifindex, name, link, data, port):
        self.ifindex, self.name, self.link, self.data, self.port = ifindex, name, link, data, port


def _nested(a, t):
    v = a.get(t)
    return {k: bytes(x) for k, x in nl.parse(v).items()} if v is not None else {}


def decode(payload):
    _fam, _type, index, flags, _change = rtnl._IFI.unpack_from(payload, 0)
    a = nl.parse(payload, rtnl._IFI.size)
    link = {word: _U32.unpack_from(a[t])[0] if len(a[t]) >= 4 else a[t][0] for t, word in LINK_SETTINGS.items()
            if t in a}
    link["flags"] = flags & sum(FLAGS)
    inet6 = nl.parse(a[IFLA_AF_SPEC]).get(AF_INET6) if IFLA_AF_SPEC in a else None
    mode = nl.parse(inet6).get(IFLA_INET6_ADDR_GEN_MODE) if inet6 is not None else None
    if mode is not None:
        link["addrgenmode"] = mode[0]
    info = nl.parse(a[rtnl.IFLA_LINKINFO]) if rtnl.IFLA_LINKINFO in a else {}
    name = bytes(a[rtnl.IFLA_IFNAME]).rstrip(b"\0").decode()
    return Settings(index, name, link, _nested(info, rtnl.IFLA_INFO_DATA), _nested(info, rtnl.IFLA_INFO_SLAVE_DATA))


def dump(sock):
    """{ifindex: Settings} of every link of the socket's namespace."""
    out = {}
    for t, p in sock.dump(rtnl.RTM_GETLINK, rtnl.ifinfo() + nl.u32(rtnl.IFLA_EXT_MASK, rtnl.RTEXT_FILTER_SKIP_STATS)):
        if t == rtnl.RTM_NEWLINK:
            s = decode(p)
            out[s.ifindex] = s
    return out


@contextlib.contextmanager
def scratch():
    """A netlink socket in a network namespace of its own, made for the
    caller and gone (with every device made in it) when the block ends:
    nothing of the machine's is touched."""
    home = netns.current_fd()
    try:
        netns._check(netns._c().unshare(netns.CLONE_NEWNET), "unshare")
        try:
            sock = nl.Socket()
        finally:
            netns.setns(home)
    finally:
        os.close(home)
    try:
        yield sock
    finally:
        sock.close()
