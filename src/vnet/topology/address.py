"""A device's address as the kernel holds it: the address and its prefix
length, and what `ip address add` may give it besides: a point-to-point
``peer`` (the other end of a TUN or PPP link: the prefix route goes to the
peer's network), ``noprefixroute`` (no route to the subnet), a ``metric``
for the prefix route. A plain address is ipaddress's own interface object
(the common case, and the fast one); an address with any of these is a
``Flavoured`` one of the same family, which compares unequal to the plain
one (another flavour is another address: deleted, then added) and prints,
and parses back, as iproute2 writes it:
``10.50.0.1 peer 10.50.0.2/32 noprefixroute metric 77``."""
import ipaddress

WORDS = ("peer", "noprefixroute", "metric")
MAX_METRIC = 2**32 - 1


class _Flavour:
    peer = None            # the other end's address (ipaddress), or None
    noprefixroute = False
    metric = 0             # the prefix route's metric; 0: the kernel's default

    def extra(self):
        return (self.peer, self.noprefixroute, self.metric)

    def __eq__(self, other):
        same = super().__eq__(other)
        return same if same is not True else self.extra() == extra(other)

    def __hash__(self):
        return hash((super().__hash__(), self.extra()))

    def __str__(self):
        return text(self)

    def __repr__(self):
        return f"address({text(self)!r})"

    def __reduce__(self):   # ipaddress's own pickles the address and length alone
        return parse, (text(self),)


class Flavoured4(_Flavour, ipaddress.IPv4Interface):
    pass


class Flavoured6(_Flavour, ipaddress.IPv6Interface):
    pass


def extra(a):
    """(peer, noprefixroute, metric) of any address, plain or not."""
    return (getattr(a, "peer", None), getattr(a, "noprefixroute", False), getattr(a, "metric", 0))


def make(iface, peer=None, noprefixroute=False, metric=0):
    """``iface`` (an ipaddress interface) with these: itself if none."""
    if peer is None and not noprefixroute and not metric:
        return iface
    a = (Flavoured4 if iface.version == 4 else Flavoured6)((iface.ip.packed, iface.network.prefixlen))
    a.peer, a.noprefixroute, a.metric = peer, bool(noprefixroute), metric
    return a


def text(a):
    """As iproute2 writes it (`ip address add` takes it back)."""
    peer, nopr, metric = extra(a)
    out = f"{a.ip} peer {peer}/{a.network.prefixlen}" if peer is not None else f"{a.ip}/{a.network.prefixlen}"
    return out + (" noprefixroute" if nopr else "") + (f" metric {metric}" if metric else "")


def reached(a):
    """The network the kernel's prefix route for ``a`` goes to: the peer's
    with one, none with noprefixroute, else the address's own subnet."""
    peer, nopr, _metric = extra(a)
    if nopr:
        return None
    return ipaddress.ip_network((peer, a.network.prefixlen), strict=False) if peer is not None else a.network


def plain(a):
    """The address and length alone (the kernel's key for an IPv4 address with its peer)."""
    return ipaddress.ip_interface((a.ip, a.network.prefixlen))


def parse(v):
    """An address from its text: ``A/LEN``, or with words after it as
    iproute2 takes them: ``peer B`` (the length on either: ``A peer B/LEN``
    as `ip address` prints it, or ``A/LEN peer B``; none: a host's, /32 or
    /128), ``noprefixroute``, ``metric N``. ValueError says what is wrong."""
    words = v.split()
    if not words:
        raise ValueError("is empty")
    first, rest = words[0], words[1:]
    peer, nopr, metric, i = None, False, 0, 0
    while i < len(rest):
        w = rest[i]
        if w in ("peer", "metric") and i + 1 >= len(rest):
            raise ValueError(f"{w!r} needs a value after it")
        if w == "peer" and peer is None:
            peer = rest[i + 1]
        elif w == "metric" and not metric:
            metric = _metric(rest[i + 1])
        elif w == "noprefixroute" and not nopr:
            nopr = True
        elif w in WORDS:
            raise ValueError(f"{w!r} is given twice")
        else:
            raise ValueError(f"unknown word {w!r} (known: {', '.join(WORDS)})")
        i += 1 if w == "noprefixroute" else 2
    iface = _with_length(first, peer)
    if peer is not None:
        p = ipaddress.ip_address(peer.partition("/")[0])
        if p.version != iface.version:
            raise ValueError(f"the peer {p} is not an IPv{iface.version} address")
        peer = p
    return make(iface, peer, nopr, metric)


def _metric(w):
    if not w.isdigit() or not 0 < int(w) <= MAX_METRIC:
        raise ValueError(f"metric {w!r} is not a number 1..{MAX_METRIC}")
    return int(w)


def _with_length(first, peer):
    """The address ``first`` with its prefix length: its own, or the peer's
    (the same if both), or a host's with a peer and none given."""
    addr, slash, plen = first.partition("/")
    pplen = peer.partition("/")[2] if peer is not None and "/" in peer else None
    if not slash and pplen is None:
        if peer is None:
            raise ValueError("has no prefix length")
        return ipaddress.ip_interface(addr)   # /32 or /128, as `ip address add A peer B`
    if slash and pplen is not None and plen != pplen:
        raise ValueError(f"two prefix lengths, /{plen} and /{pplen}")
    return ipaddress.ip_interface(f"{addr}/{plen if slash else pplen}")
