"""One module per interface kind, all with the contract of ``base.Kind``."""
from . import bridge, external, macvlan, tun, veth, vxlan

REGISTRY = (bridge.KIND, veth.KIND, tun.TUN, tun.TAP, vxlan.KIND, macvlan.MACVLAN, macvlan.MACVTAP,
            external.KIND)
BY_NAME = {k.name: k for k in REGISTRY}


def get(name):
    return BY_NAME[name]


def identify(link):
    """The kind of an observed link; None for one vnet has no kind for."""
    for k in REGISTRY:
        if k.matches(link):
            return k
    return None
