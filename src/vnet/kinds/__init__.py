"""One module per interface kind, all with the contract of ``base.Kind``.

``REGISTRY`` is every kind vnet knows, in the order a message lists them
and ``identify`` asks them. Everything else that lists kinds (the loader,
the JSON Schema, the help, the test suite's kernel feature probe, the
kinds table of README.md) reads it. ``registered`` adds a kind at run time
(a test's throwaway kind, a plug-in), for as long as a ``with`` block runs.

A kind's module is imported the first time the kind is needed (``BY_NAME``
by name, ``identify`` by an observed link's kernel kind): a CNI call or a
plan of a lab of macvlans loads the macvlan kind, not teamd's. ``BUILTIN``
says where each kind is; ``KERNEL_KINDS``, ``RECOGNIZERS`` and
``PORT_MASTERS`` are what the kinds' classes say (their ``kernel_kind``, who
overrides ``recognize``, who has ``port_options``), kept here so that
nothing needs every kind loaded to find one (tests/unit/test_kind_registry.py
holds them to the classes).
"""
from contextlib import contextmanager

from ..topology.model import KINDS, KindTable

# name, module, attribute: in the registry's order
BUILTIN = (("bridge", "bridge", "KIND"), ("veth", "veth", "KIND"), ("tun", "tuntap", "TUN"),
           ("tap", "tuntap", "TAP"), ("vxlan", "vxlan", "KIND"), ("macvlan", "macvlan", "MACVLAN"),
           ("macvtap", "macvlan", "MACVTAP"), ("vlan", "vlan", "KIND"), ("bond", "bond", "KIND"),
           ("ipvlan", "ipvlan", "IPVLAN"), ("ipvtap", "ipvlan", "IPVTAP"), ("dummy", "dummy", "KIND"),
           ("vcan", "vcan", "KIND"), ("vxcan", "vxcan", "KIND"), ("macsec", "macsec", "KIND"),
           ("team", "team", "KIND"), ("net_failover", "net_failover", "KIND"), ("external", "external", "KIND"))
_WHERE = {name: (mod, attr) for name, mod, attr in BUILTIN}
# an observed link's kernel kind (IFLA_INFO_KIND) -> the built-in kinds that may claim it, in order
KERNEL_KINDS = {"bridge": ("bridge",), "veth": ("veth",), "tun": ("tun", "tap"), "vxlan": ("vxlan",),
                "macvlan": ("macvlan",), "macvtap": ("macvtap",), "vlan": ("vlan",), "bond": ("bond",),
                "ipvlan": ("ipvlan",), "ipvtap": ("ipvtap",), "dummy": ("dummy",), "vcan": ("vcan",),
                "vxcan": ("vxcan",), "macsec": ("macsec",), "team": ("team",)}
RECOGNIZERS = ("net_failover",)   # built-in kinds that recognise a link without a kernel kind
PORT_MASTERS = ("bridge",)        # built-in kinds whose ports carry options of theirs

BY_NAME = KINDS   # the model's table of kinds (Interface.kind_module)
_extra = []       # kinds registered at run time, in order


def _load(name):
    where = _WHERE.get(name)
    if where is None:
        return None
    module = __import__(f"{__name__}.{where[0]}", fromlist=[where[1]])   # importlib would cost its import
    kind = getattr(module, where[1])
    dict.__setitem__(BY_NAME, name, kind)
    return kind


KindTable.load = staticmethod(_load)


def get(name):
    return BY_NAME[name]


def __getattr__(name):
    if name == "REGISTRY":   # every kind: all the built-in ones loaded
        return tuple(BY_NAME[n] for n, _, _ in BUILTIN) + tuple(_extra)
    raise AttributeError(name)


def names():
    """Every kind's name, in the registry's order (none loaded for it)."""
    return [n for n, _, _ in BUILTIN] + [k.name for k in _extra]


def register(kind):
    """Add ``kind`` (a ``base.Kind`` instance) to the registry, after the
    built-in kinds; a topology file may declare it from then on."""
    if not kind.name or kind.name in _WHERE or dict.__contains__(BY_NAME, kind.name):
        raise ValueError(f"a kind needs a name no other kind has, not {kind.name!r}")
    _extra.append(kind)
    dict.__setitem__(BY_NAME, kind.name, kind)


def unregister(kind):
    """Take a kind ``register`` added out of the registry again."""
    if kind in _extra:
        _extra.remove(kind)
        dict.pop(BY_NAME, kind.name, None)


def extras():
    """The kinds registered at run time."""
    return tuple(_extra)


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
    for n in KERNEL_KINDS.get(link.kind, ()):
        k = BY_NAME[n]
        if k.matches(link):
            return k
    for k in _extra:
        if k.matches(link):
            return k
    return None


def recognize(link, dumps):
    """The kind of a link the kernel gives no link kind (a net_failover master):
    asked of the kinds that recognise one by other means."""
    for k in [BY_NAME[n] for n in RECOGNIZERS] + _extra:
        if k.recognize(link, dumps):
            return k
    return None


def port_masters():
    """The kinds whose ports carry options of theirs (a bridge port's VLANs)."""
    return [BY_NAME[n] for n in PORT_MASTERS] + [k for k in _extra if k.port_options]
