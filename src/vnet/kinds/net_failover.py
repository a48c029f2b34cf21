"""net_failover: the master a virtio_net device with the STANDBY feature
gets from the kernel (QEMU's `failover=on`), grouping that standby device
and a passthrough VF, the primary, under one name (Figure 4). Only the
kernel creates one; vnet recognises it, shows it as one object with its
standby and primary, and lets a topology refer to it as `external`."""
from .base import Kind

WHY = ("net_failover devices are created by the kernel, not by request: virtio_net makes one for a "
       "virtio-net device with the STANDBY feature (QEMU: -device virtio-net-pci,...,failover=on). "
       "To use one, declare it with kind: external and its name")


class NetFailover(Kind):
    name = "net_failover"
    kernel_kind = ""          # it has no rtnl link kind: recognised by its driver
    announced = False         # observation reads its ports' drivers (ethtool)
    doc = "a failover master made by the kernel for a virtio-net STANDBY device (reference only)"
    options_doc = (   # README.md's kinds table
        'never declared: the kernel makes one for a virtio-net device with the STANDBY feature (QEMU '
        '`failover=on`). `vnet show` lists it with its `standby` and `primary`; refer to it as `kind: '
        'external`.')
    example = "fig4-net-failover.yaml"
    shape, colour = "doubleoctagon", "#f9cb9c"
    creatable = False
    is_master = True

    def validate(self, iface, problems, path):
        problems.add(f"{path}.kind", WHY)

    def matches(self, link):
        return False

    def recognize(self, link, dumps):
        return not link.flags & 0x8 and dumps.driver(link.name) == "net_failover"

    def observed_extra(self, link, resolve, dumps):
        ports = [ln for ln in dumps.links if ln.master == link.ifindex]
        standby = [ln.name for ln in ports if dumps.driver(ln.name) == "virtio_net"]
        return {"standby": standby[0] if standby else None,
                "primary": next((ln.name for ln in ports if ln.name not in standby), None)}


KIND = NetFailover()
