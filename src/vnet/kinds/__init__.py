"""One module per interface kind, all with the contract of ``base.Kind``."""
from ..topology.model import KINDS
from . import bond, bridge, dummy, external, ipvlan, macsec, macvlan, net_failover, team, tuntap, vcan, veth, vlan, vxcan, vxlan

REGISTRY = (bridge.KIND, veth.KIND, tuntap.TUN, tuntap.TAP, vxlan.KIND, macvlan.MACVLAN, macvlan.MACVTAP,
            vlan.KIND, bond.KIND, ipvlan.IPVLAN, ipvlan.IPVTAP, dummy.KIND, vcan.KIND, vxcan.KIND, macsec.KIND, team.KIND,
            net_failover.KIND, external.KIND)
BY_NAME = KINDS   # the model's table of kinds (Interface.kind_module), filled here
BY_NAME.update((k.name, k) for k in REGISTRY)


def get(name):
    return BY_NAME[name]


def identify(link):
    """The kind of an observed link; None for one vnet has no kind for."""
    for k in REGISTRY:
        if k.matches(link):
            return k
    return None


def recognize(link, dumps):
    """The kind of a link the kernel gives no link kind (a net_failover master):
    asked of the kinds that recognise one by other means."""
    for k in REGISTRY:
        if k.recognize(link, dumps):
            return k
    return None
