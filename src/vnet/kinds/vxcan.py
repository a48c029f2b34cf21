"""vxcan: a pair of CAN devices like veth whose ends may sit in different
namespaces (the reference's VXCAN section)."""
from .vcan import validate_can_endpoint
from .veth import Veth


class Vxcan(Veth):
    name = kernel_kind = "vxcan"
    link_layer = "can"
    default_mtu = 72   # CAN FD's (vcan_setup, vxcan_setup)
    arp = multicast = False
    doc = "a pair of CAN devices (like veth): a frame sent on one end is received on `peer`, in any namespace"
    options_doc = '`peer`: `{name, netns, up, mtu}` (required), like veth'   # README.md's kinds table
    example = "vxcan.yaml"
    sample = """\
    - {name: vxcan1, kind: vxcan, netns: net1, peer: {name: vxcan2, netns: net2}}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "box", "#d5a6bd"
    # the peer is IFLA_VXCAN_INFO_PEER (1): the same layout as veth's

    def validate(self, iface, problems, path):
        validate_can_endpoint(iface, problems, path)
        if iface.peer is not None:
            validate_can_endpoint(iface.peer, problems, f"{path}.peer")


KIND = Vxcan()
