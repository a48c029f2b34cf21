"""Observed state -> model: the Interface that declares an observed device,
as `vnet export` writes it and as undo re-creates a device it deleted."""
from .topology.model import Endpoint, Interface, Ref


def _ref(key, own_ns):
    ns, name = key
    return Ref(name, ns, explicit=ns != own_ns)


def _endpoint_fields(dev):
    return dict(name=dev.name, netns=dev.netns, up=dev.up, promisc=dev.promisc or None, mtu=dev.mtu, mac=dev.mac,
                master=_ref(dev.master, dev.netns) if dev.master else None,
                addresses=list(dev.addresses), txqueuelen=dev.txqueuelen, alias=dev.alias,
                altnames=list(dev.altnames) or None,
                arp=dev.arp, multicast=dev.multicast, allmulticast=dev.allmulticast,
                port={k: v for k, v in dev.port.items() if v is not None} if dev.master else {})


def to_endpoint(dev):
    """The Endpoint that declares observed device ``dev``'s common fields."""
    return Endpoint(**_endpoint_fields(dev))


def to_interface(dev, state):
    """The Interface that would re-create ``dev`` (None: vnet has no kind for it)."""
    if dev.kind_module is None or not dev.kind_module.creatable:
        return None
    opts = {}
    for k, v in dev.options.items():
        if k in dev.kind_module.options:
            opts[k] = _ref(v, dev.netns) if isinstance(v, tuple) else v
    peer = None
    if dev.kind_module.peer and dev.peer:
        p = state.device(*dev.peer)
        peer = Endpoint(**_endpoint_fields(p)) if p else Endpoint(name=dev.peer[1], netns=dev.peer[0])
    opts = dev.kind_module.exported_options(opts, dev.mac)
    return Interface(**_endpoint_fields(dev), kind=dev.kind_module.name, options=opts, peer=peer,
                     path=f"live {dev.name}")
