"""TUN (layer 3) and TAP (layer 2) devices: packets to and from a process."""
from ..kernel import netlink as nl
from ..kernel import rtnl, tuntap
from ..spec.fields import Bool, Int
from .base import Kind, ipcmd

IFLA_TUN_OWNER, IFLA_TUN_GROUP, IFLA_TUN_TYPE = 1, 2, 3
IFLA_TUN_VNET_HDR, IFLA_TUN_MULTI_QUEUE = 5, 7


class TunTap(Kind):
    kernel_kind = "tun"
    options = {
        "owner": Int("user id allowed to attach without CAP_NET_ADMIN", lo=0, hi=2**32 - 2),
        "group": Int("group id allowed to attach", lo=0, hi=2**32 - 2),
        "multi_queue": Bool("several queues (one file descriptor each)"),
        "vnet_hdr": Bool("IFF_VNET_HDR: packets carry a virtio_net_hdr (offloads)"),
    }
    netlink = {"owner": (IFLA_TUN_OWNER, "u32"), "group": (IFLA_TUN_GROUP, "u32"),
               "multi_queue": (IFLA_TUN_MULTI_QUEUE, "bool8"), "vnet_hdr": (IFLA_TUN_VNET_HDR, "bool8")}

    def __init__(self, name, type_id, doc):
        self.name, self.type_id, self.doc = name, type_id, doc

    def kernel_features(self, iface):
        return set()   # /dev/net/tun: every kernel we run on has it

    def matches(self, link):
        if link.kind != "tun" or link.data is None:
            return False
        a = nl.parse(link.data)
        return IFLA_TUN_TYPE in a and a[IFLA_TUN_TYPE][0] == self.type_id

    def create(self, ctx, iface):
        o = iface.options
        with ctx.entered(iface.netns):
            tuntap.create(iface.name, tap=self.type_id == 2, owner=o.get("owner"), group=o.get("group"),
                          multi_queue=bool(o.get("multi_queue")), vnet_hdr=bool(o.get("vnet_hdr")))
        attrs = rtnl.link_attrs(mtu=iface.mtu, mac=iface.mac, group=ctx.group,
                                master=ctx.ifindex(*iface.master_key()) if iface.master else None)
        sock, idx = ctx.sock(iface.netns), ctx.ifindex(*iface.key)
        down_first = ctx.joins_down(iface)   # a bond takes only down ports: join, then up
        rtnl.set_link(sock, idx, up=None if down_first else iface.up, attrs=attrs)
        if down_first and iface.up:
            rtnl.set_link(sock, idx, up=True)

    def iproute2_add(self, iface):
        return ipcmd(iface.netns, "tuntap", "add", "dev", iface.name, "mode", self.name, *self.iproute2(iface))

    def iproute2_extra(self, iface):
        args = (["mtu", iface.mtu] if iface.mtu else []) + (["address", iface.mac] if iface.mac else [])
        return [ipcmd(iface.netns, "link", "set", iface.name, *args)] if args else []

    def iproute2(self, iface):
        out = []
        o = iface.options
        if o.get("owner") is not None:
            out += ["user", str(o["owner"])]
        if o.get("group") is not None:
            out += ["group", str(o["group"])]
        if o.get("multi_queue"):
            out.append("multi_queue")
        if o.get("vnet_hdr"):
            out.append("vnet_hdr")
        return out


TUN = TunTap("tun", 1, "a layer-3 device whose other end is a process reading IP packets")
TAP = TunTap("tap", 2, "a layer-2 device whose other end is a process reading Ethernet frames")
