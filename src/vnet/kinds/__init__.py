"""One module per interface kind, all with the contract of ``base.Kind``."""
from . import bond, bridge, dummy, external, ipvlan, macvlan, tun, veth, vlan, vxlan

REGISTRY = (bridge.KIND, veth.KIND, tun.TUN, tun.TAP, vxlan.KIND, macvlan.MACVLAN, macvlan.MACVTAP,
            vlan.KIND, bond.KIND, ipvlan.IPVLAN, ipvlan.IPVTAP, dummy.KIND, external.KIND)
BY_NAME = {k.name: k for k in REGISTRY}


def get(name):
    return BY_NAME[name]


def identify(link):
    """The kind of an observed link; None for one vnet has no kind for."""
    for k in REGISTRY:
        if k.matches(link):
            return k
    return None
