"""A static neighbour (`ip neigh add ADDR lladdr MAC dev DEV nud
permanent`) or a proxy entry (`ip neigh add proxy ADDR dev DEV`) as a
topology declares it. Declared, observed and recorded entries compare by
``key``; a permanent entry's MAC is what may change."""
from .model import HOST, where
from .struct import REQUIRED, Struct


class Neighbour(Struct):
    """``lladdr`` None: a proxy entry's (it has none). ``nud``: permanent
    (what a file declares), or noarp (an observed entry: someone's `ip
    neigh add ... nud noarp`, or the kernel's), None for a proxy entry;
    ``router``: the flag, ``protocol`` who made it (observed; a file
    cannot declare them)."""
    _fields = (("netns", HOST), ("dev", REQUIRED), ("address", REQUIRED), ("lladdr", None), ("proxy", False),
               ("path", ""), ("nud", "permanent"), ("router", False), ("protocol", 0))

    @property
    def key(self):
        return neighbour_key(self.netns, self.dev, self.address, self.proxy)

    @property
    def label(self):
        return key_label(self.key)

    @property
    def static(self):
        """Made by someone (the kernel makes no permanent or proxy entry)."""
        return self.proxy or self.nud == "permanent"


def neighbour_key(netns, dev, address, proxy):
    """(netns, dev, address text, proxy): what tells an entry from another,
    in plans and in vnet's records."""
    return (netns, dev, str(address), bool(proxy))


def key_label(key):
    """How a plan names an entry: `neighbour 10.0.0.2 dev n1/e0`."""
    netns, dev, address, proxy = key
    return f"{'proxy ' if proxy else ''}neighbour {address} dev {where(netns, dev)}"
