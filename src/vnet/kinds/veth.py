"""veth: a pair of Ethernet devices, each end in any namespace (Figure 9)."""
from ..kernel import netlink as nl
from ..kernel import rtnl
from .base import Kind

VETH_INFO_PEER = 1


class Veth(Kind):
    name = kernel_kind = "veth"
    doc = "a pair of connected Ethernet devices; `peer` is the other end, in any namespace"
    peer = True

    def extra_data(self, ctx, iface):
        p = iface.peer
        attrs = rtnl.link_attrs(name=p.name, mtu=p.mtu, mac=p.mac,
                                ns_fd=ctx.fd(p.netns) if p.netns != iface.netns else None)
        return nl.attr(VETH_INFO_PEER, rtnl.ifinfo() + attrs)   # up: set after creation

    def iproute2(self, iface):
        p = iface.peer
        out = ["peer", "name", p.name]
        if p.netns != iface.netns and p.netns is not None:
            out += ["netns", p.netns]
        if p.mtu:
            out += ["mtu", str(p.mtu)]
        if p.mac:
            out += ["address", p.mac]
        return out


KIND = Veth()
