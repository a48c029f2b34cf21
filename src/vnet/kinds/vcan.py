"""vcan: a virtual CAN bus local to one namespace (the reference's VCAN
section). CAN devices carry no MAC and no IP address: applications talk to
them with AF_CAN sockets."""
from .base import Kind

# the MTUs a CAN XL device takes (Linux 6.0): its header and 64 to 2,048 bytes of data
CAN_XL = (76, 2060)


def validate_can_endpoint(endpoint, problems, path):
    """What a CAN device (vcan, either end of a vxcan) cannot have."""
    if endpoint.mac:
        problems.add(f"{path}.mac", "a CAN device has no MAC address")
    if endpoint.addresses:
        problems.add(f"{path}.addresses", "a CAN device carries no IP addresses (use AF_CAN sockets)")
    if endpoint.mtu and endpoint.mtu not in (16, 72) and not CAN_XL[0] <= endpoint.mtu <= CAN_XL[1]:
        problems.add(f"{path}.mtu", f"{endpoint.mtu} is not a CAN MTU: 16 (classic CAN), 72 (CAN FD) "
                                    f"or {CAN_XL[0]}-{CAN_XL[1]} (CAN XL)")


class Vcan(Kind):
    name = kernel_kind = "vcan"
    link_layer = "can"
    default_mtu = 72   # CAN FD's (vcan_setup, vxcan_setup)
    arp = multicast = False
    doc = "a virtual CAN bus in one namespace: every frame sent on it is seen by every socket bound to it"
    options_doc = 'none (no MAC, no addresses; MTU 16, 72 or 76-2060)'   # README.md's kinds table
    example = "vcan.yaml"
    sample = """\
    - {name: vcan0, kind: vcan, netns: net1}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "ellipse", "#d5a6bd"

    def validate(self, iface, problems, path):
        validate_can_endpoint(iface, problems, path)


KIND = Vcan()
