"""One module per interface kind, all with the contract of ``base.Kind``.

``REGISTRY`` is every kind vnet knows, in the order a message lists them
and ``identify`` asks them. Everything else that lists kinds (the loader,
the JSON Schema, the help, the test suite's kernel feature probe, the
kinds table of README.md) reads it. ``registered`` adds a kind at run time
(a test's throwaway kind, a plug-in), for as long as a ``with`` block runs.
"""
from contextlib import contextmanager

from ..topology.model import KINDS
from . import bond, bridge, dummy, external, ipvlan, macsec, macvlan, net_failover, team, tuntap, vcan, veth, vlan, vxcan, vxlan

REGISTRY = (bridge.KIND, veth.KIND, tuntap.TUN, tuntap.TAP, vxlan.KIND, macvlan.MACVLAN, macvlan.MACVTAP,
            vlan.KIND, bond.KIND, ipvlan.IPVLAN, ipvlan.IPVTAP, dummy.KIND, vcan.KIND, vxcan.KIND, macsec.KIND, team.KIND,
            net_failover.KIND, external.KIND)
BY_NAME = KINDS   # the model's table of kinds (Interface.kind_module), filled here
BY_NAME.update((k.name, k) for k in REGISTRY)


def get(name):
    return BY_NAME[name]


def register(kind):
    """Add ``kind`` (a ``base.Kind`` instance) to the registry, after the
    built-in kinds; a topology file may declare it from then on."""
    global REGISTRY
    if not kind.name or kind.name in BY_NAME:
        raise ValueError(f"a kind needs a name no other kind has, not {kind.name!r}")
    REGISTRY = REGISTRY + (kind,)
    BY_NAME[kind.name] = kind


def unregister(kind):
    """Take a kind ``register`` added out of the registry again."""
    global REGISTRY
    REGISTRY = tuple(k for k in REGISTRY if k is not kind)
    BY_NAME.pop(kind.name, None)


@contextmanager
def registered(kind):
    """``kind`` is registered inside the ``with`` block only:

        with vnet.kinds.registered(Ifb()):
            vnet.apply(vnet.load("lab.yaml"))
    """
    register(kind)
    try:
        yield kind
    finally:
        unregister(kind)


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
