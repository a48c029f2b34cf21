"""CAN devices: vcan, a virtual CAN bus local to one namespace, and vxcan, a
pair of CAN devices like veth whose ends may sit in different namespaces
(the reference's VCAN and VXCAN sections). CAN devices carry no MAC and no
IP address: applications talk to them with AF_CAN sockets."""
from .veth import Veth
from .base import Kind


def _check_can(endpoint, problems, path):
    if endpoint.mac:
        problems.add(f"{path}.mac", "a CAN device has no MAC address")
    if endpoint.addresses:
        problems.add(f"{path}.addresses", "a CAN device carries no IP addresses (use AF_CAN sockets)")
    if endpoint.mtu and endpoint.mtu not in (16, 72):
        problems.add(f"{path}.mtu", f"{endpoint.mtu} is not a CAN MTU: 16 (classic CAN) or 72 (CAN FD)")


class Vcan(Kind):
    name = kernel_kind = "vcan"
    link_layer = "can"
    doc = "a virtual CAN bus in one namespace: every frame sent on it is seen by every socket bound to it"

    def check(self, iface, problems, path):
        _check_can(iface, problems, path)


class Vxcan(Veth):
    name = kernel_kind = "vxcan"
    link_layer = "can"
    doc = "a pair of CAN devices (like veth): a frame sent on one end is received on `peer`, in any namespace"
    # the peer is IFLA_VXCAN_INFO_PEER (1): the same layout as veth's

    def check(self, iface, problems, path):
        _check_can(iface, problems, path)
        if iface.peer is not None:
            _check_can(iface.peer, problems, f"{path}.peer")


VCAN = Vcan()
VXCAN = Vxcan()
VCAN.shape, VCAN.colour = "ellipse", "#d5a6bd"
VXCAN.shape, VXCAN.colour = "box", "#d5a6bd"
