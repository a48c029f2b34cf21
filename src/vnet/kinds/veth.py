"""veth: a pair of Ethernet devices, each end in any namespace (Figure 9)."""
from ..kernel import netlink as nl
from ..kernel import rtnl
from .base import Kind, ipcmd

VETH_INFO_PEER = 1


class Veth(Kind):
    name = kernel_kind = "veth"
    doc = "a pair of connected Ethernet devices; `peer` is the other end, in any namespace"
    options_doc = (   # README.md's kinds table
        '`peer`: `{name, netns, up, mtu, mac, master, addresses}` (required)')
    example = "fig9-veth.yaml"
    sample = """\
    - name: veth1
      kind: veth
      master: br0
      peer: {name: eth0, netns: net1, addresses: [10.0.0.1/24]}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "box", "#b6d7a8"
    peer = True

    def extra_data(self, ctx, iface):
        p = iface.peer
        # the group tag in the creation request: a crash right after it leaves no untagged peer
        attrs = rtnl.link_attrs(name=p.name, mtu=p.mtu, mac=p.mac, group=ctx.group,
                                ns_fd=ctx.fd(p.netns) if p.netns != iface.netns else None)
        return nl.attr(VETH_INFO_PEER, rtnl.ifinfo() + attrs)   # up: set after creation

    def probe_data(self, iface=None):
        return nl.attr(VETH_INFO_PEER, rtnl.ifinfo() + rtnl.link_attrs(name="p" + self.name[:10]))

    def iproute2_add(self, iface):
        # from vnet's own namespace, each end placed in its own, as the
        # reference writes it: ip link add veth1 netns net1 type veth peer name veth2 netns net2
        args = ["link", "add", iface.name]
        if iface.netns is not None:
            args += ["netns", iface.netns]
        if iface.mtu:
            args += ["mtu", iface.mtu]
        if iface.mac:
            args += ["address", iface.mac]
        return ipcmd(None, *args, "type", self.kernel_kind, *self.iproute2(iface))

    def iproute2(self, iface):
        p = iface.peer
        out = ["peer", "name", p.name]
        if p.netns is not None:
            out += ["netns", p.netns]
        if p.mtu:
            out += ["mtu", str(p.mtu)]
        if p.mac:
            out += ["address", p.mac]
        return out


KIND = Veth()
