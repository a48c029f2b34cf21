"""A device's address as the kernel holds it: the address and its prefix
length, and what `ip address add` may give it besides: a point-to-point
``peer`` (the other end of a TUN or PPP link: the prefix route goes to the
peer's network), ``noprefixroute`` (no route to the subnet), a ``metric``
for the prefix route, an IPv4 address's ``scope`` where it is not the one
`ip address add` gives (host for 127.0.0.0/8, else global; IPv6 takes its
scope from the address itself), an IPv4 address's broadcast address
(``brd``) where it is not the one vnet gives (its subnet's, as `brd +`
does, below /31 without a peer; else none), and its ``label`` where it is
not its device's name (`ip address add ... label eth0:1`; the kernel takes
any label of 1-15 bytes). A plain address is ipaddress's own interface object
(the common case, and the fast one); an address with any of these is a
``Flavoured`` one of the same family, which compares unequal to the plain
one (another flavour is another address: deleted, then added) and prints,
and parses back, as iproute2 writes it:
``10.50.0.1 peer 10.50.0.2/32 noprefixroute metric 77 scope link``."""
import ipaddress

# an IPv6 address's flags a file gives (`ip address add ... home mngtmpaddr`): {word: IFA_F_*}
FLAGS = {"home": 0x10, "mngtmpaddr": 0x100}
WORDS = ("peer", "brd", "noprefixroute", "metric", "scope", "label", *FLAGS)
VALUED = ("peer", "brd", "metric", "scope", "label")
NO_BROADCAST = "0.0.0.0"   # the kernel's own word for none (ip address add ... brd 0.0.0.0)
MAX_METRIC = 2**32 - 1
# an address's scope as iproute2 names it (rt_scope_t); others by number, 0-255
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
SCOPE_NAMES = {v: k for k, v in SCOPES.items()}


class _Flavour:
    peer = None            # the other end's address (ipaddress), or None
    noprefixroute = False
    metric = 0             # the prefix route's metric; 0: the kernel's default
    scope = None           # an IPv4 address's scope (a number) where not default_scope's
    broadcast = None       # an IPv4 address's broadcast (ipaddress; 0.0.0.0: none) where not default_broadcast's
    label = None           # an IPv4 address's label where not its device's name
    flags = ()             # an IPv6 address's words of FLAGS, in FLAGS' order

    def extra(self):
        return (self.peer, self.noprefixroute, self.metric, self.scope, self.broadcast, self.label, self.flags)

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
    """(peer, noprefixroute, metric, scope, broadcast, label, flags) of any address, plain or not."""
    return (getattr(a, "peer", None), getattr(a, "noprefixroute", False), getattr(a, "metric", 0),
            getattr(a, "scope", None), getattr(a, "broadcast", None), getattr(a, "label", None),
            getattr(a, "flags", ()))


def ipv4_scope(first_byte):
    """The scope `ip address add` gives an IPv4 address it is not told one
    of, by its first byte: host for 127.0.0.0/8, else global."""
    return SCOPES["host"] if first_byte == 127 else SCOPES["global"]


def default_scope(ip):
    """An address's scope where the file gives none (IPv6: its own, global here)."""
    return ipv4_scope(ip.packed[0]) if ip.version == 4 else SCOPES["global"]


def scope_of(a):
    """The scope (a number) the kernel holds IPv4 address ``a`` with."""
    scope = getattr(a, "scope", None)
    return default_scope(a.ip) if scope is None else scope


def broadcast_number(address, plen, has_peer):
    """The broadcast address (a number; 0: none) vnet gives IPv4 address
    ``address`` (a number) of length ``plen`` when the file gives none: its
    subnet's (`brd +`) below /31 without a peer; else none. (The kernel
    codec's dump applies it to raw numbers, before any address is made.)"""
    return address | (0xFFFFFFFF >> plen) if plen < 31 and not has_peer else 0


def default_broadcast(iface, peer=None):
    """``broadcast_number``'s broadcast address of ``iface`` (0.0.0.0: none)."""
    return ipaddress.IPv4Address(broadcast_number(int(iface.ip), iface.network.prefixlen, peer is not None))


def loopback_own():
    """The addresses the kernel gives lo itself as it goes up, as it holds
    them (127.0.0.1/8 without a broadcast address, ::1/128)."""
    return frozenset(parse(a) for a in ("127.0.0.1/8 brd 0.0.0.0", "::1/128"))


def broadcast_of(a):
    """The broadcast address (0.0.0.0: none) the kernel holds IPv4 address ``a`` with."""
    b = getattr(a, "broadcast", None)
    return default_broadcast(a, getattr(a, "peer", None)) if b is None else b


def scope_name(scope):
    return SCOPE_NAMES.get(scope, str(scope))


def make(iface, peer=None, noprefixroute=False, metric=0, scope=None, broadcast=None, label=None, flags=()):
    """``iface`` (an ipaddress interface) with these: itself if none (a
    peer that is the address itself is none: the kernel holds it so; so is
    an IPv4 address's default scope or broadcast, and any IPv6 one's, its
    address's own)."""
    if peer == iface.ip:
        peer = None
    if scope is not None and (iface.version == 6 or scope == default_scope(iface.ip)):
        scope = None
    if broadcast is not None and (iface.version == 6 or broadcast == default_broadcast(iface, peer)):
        broadcast = None
    if iface.version == 6:
        label = None
    else:
        flags = ()
    if peer is None and not noprefixroute and not metric and scope is None and broadcast is None and not label \
            and not flags:
        return iface
    a = (Flavoured4 if iface.version == 4 else Flavoured6)((iface.ip.packed, iface.network.prefixlen))
    a.peer, a.noprefixroute, a.metric, a.scope = peer, bool(noprefixroute), metric, scope
    a.broadcast, a.label, a.flags = broadcast, label or None, tuple(w for w in FLAGS if w in flags)
    return a


def text(a, broadcast=True):
    """As iproute2 writes it (`ip address add` takes it back); without
    ``broadcast``, its broadcast address left out (a drawing's label)."""
    peer, nopr, metric, scope, brd, label, flags = extra(a)
    brd = brd if broadcast else None
    out = f"{a.ip} peer {peer}/{a.network.prefixlen}" if peer is not None else f"{a.ip}/{a.network.prefixlen}"
    return out + (f" brd {brd}" if brd is not None else "") + (" noprefixroute" if nopr else "") + \
        "".join(f" {w}" for w in flags) + \
        (f" metric {metric}" if metric else "") + (f" scope {scope_name(scope)}" if scope is not None else "") + \
        (f" label {quoted(label)}" if label else "")


def quoted(label):
    """A label as a shell quotes it where it has a space or a quote
    (`label 'eth0:a b'`; the kernel takes any byte but NUL), else itself."""
    import shlex
    return shlex.quote(label)


def words(v):
    """The words of an address's text, a quoted label one word (``quoted``)."""
    if "'" not in v and '"' not in v:
        return v.split()
    import shlex
    try:
        return shlex.split(v)
    except ValueError:   # (No closing quotation)
        raise ValueError("has a quote that is not closed") from None


def subnet(a):
    """The subnet the kernel gives address ``a``: an IPv4 address with a
    peer is on the peer's (the kernel's ``ifa_address & mask``)."""
    peer = getattr(a, "peer", None)
    if peer is not None and a.version == 4:
        return ipaddress.ip_network((peer, a.network.prefixlen), strict=False)
    return a.network


def reached(a):
    """The networks the kernel's routes for ``a`` reach directly: IPv4, its
    subnet (the peer's with one), none with noprefixroute; IPv6, its own
    subnet unless noprefixroute, and its peer (a /128) with one, either way
    (the kernel's __ipv6_ifa_notify)."""
    peer, nopr = extra(a)[:2]
    if a.version == 4:
        return [] if nopr else [subnet(a)]
    return ([] if nopr else [a.network]) + ([ipaddress.ip_network((peer, 128))] if peer is not None else [])


def kernel_key(a):
    """What the kernel tells addresses of a device apart by: an IPv6
    address by itself; an IPv4 one by itself, its length and its subnet
    (its peer's with one). Two declared with one key are one to the kernel
    (the second is refused: File exists)."""
    if a.version == 6:
        return a.ip
    return (a.ip, a.network.prefixlen, subnet(a))


def plain(a):
    """The address and length alone."""
    return ipaddress.ip_interface((a.ip, a.network.prefixlen))


def parse(v):
    """An address from its text: ``A/LEN``, or with words after it as
    iproute2 takes them: ``peer B`` (the length is the peer's, as `ip
    address` prints it, ``A peer B/LEN``, and a host's, /32 or /128, if the
    peer has none, as `ip address add` gives; a length on ``A`` too must be
    the same), ``noprefixroute``, ``metric N``, ``scope S`` (IPv4: a name of
    SCOPES or a number 0-255), ``brd B`` (IPv4: an address, ``+`` or ``-``
    for the subnet's highest or lowest, 0.0.0.0 for none), ``label L`` (IPv4:
    at most 15 bytes, by custom its device's name and more). ValueError says what is
    wrong. A label with a space or a quote is quoted as a shell quotes it."""
    ws = words(v)
    if not ws:
        raise ValueError("is empty")
    first, rest = ws[0], ws[1:]
    peer, nopr, metric, scope, brd, label, flags, i = None, False, 0, None, None, None, [], 0
    while i < len(rest):
        w = rest[i]
        if w in VALUED and i + 1 >= len(rest):
            raise ValueError(f"{w!r} needs a value after it")
        if w == "peer" and peer is None:
            peer = rest[i + 1]
        elif w == "metric" and not metric:
            metric = _metric(rest[i + 1])
        elif w == "scope" and scope is None:
            scope = _scope(rest[i + 1])
        elif w == "brd" and brd is None:
            brd = rest[i + 1]
        elif w == "label" and label is None:
            label = _label(rest[i + 1])
        elif w == "noprefixroute" and not nopr:
            nopr = True
        elif w in FLAGS and w not in flags:
            flags.append(w)
        elif w in WORDS:
            raise ValueError(f"{w!r} is given twice")
        else:
            raise ValueError(f"unknown word {w!r} (known: {', '.join(WORDS)})")
        i += 1 if w == "noprefixroute" or w in FLAGS else 2
    p = None
    version = ipaddress.ip_address(first.partition("/")[0]).version
    if peer is not None:
        p = ipaddress.ip_address(peer.partition("/")[0])
        if p.version != version:
            raise ValueError(f"the peer {p} is not an IPv{version} address")
    if scope is not None and version == 6:
        raise ValueError("an IPv6 address's scope is its address's own (link for fe80::/10, else global): "
                         "leave scope out")
    if version == 6 and (brd is not None or label is not None):
        raise ValueError(f"an IPv6 address has no {'broadcast address' if brd is not None else 'label'}: "
                         f"leave {'brd' if brd is not None else 'label'} out")
    iface = _with_length(first, peer)
    _check_flags(flags, version, iface)
    return make(iface, p, nopr, metric, scope, brd and _broadcast(brd, iface, p), label, flags)


def _check_flags(flags, version, iface):
    """ValueError where the kernel refuses an address's FLAGS: on IPv4, or
    mngtmpaddr on another length than /64 (the temporary addresses it
    makes from it are /64)."""
    if flags and version == 4:
        raise ValueError(f"{flags[0]} is an IPv6 address's flag: leave it out")
    if "mngtmpaddr" in flags and iface.network.prefixlen != 64:
        raise ValueError(f"mngtmpaddr needs a /64 (the kernel's rule), not /{iface.network.prefixlen}")


def _broadcast(w, iface, peer):
    """``brd``'s value: an IPv4 address, or iproute2's + (the highest
    address of the subnet, the peer's with one) or - (its lowest); none
    for either from /31 on, as iproute2 gives."""
    if w in ("+", "-"):
        if iface.network.prefixlen > 30:
            return ipaddress.IPv4Address(0)
        net = ipaddress.ip_network((peer or iface.ip, iface.network.prefixlen), strict=False)
        return net.broadcast_address if w == "+" else net.network_address
    try:
        return ipaddress.IPv4Address(w)
    except ValueError:
        raise ValueError(f"brd {w!r} is not an IPv4 address, + or -") from None


def _label(w):
    if len(w.encode()) > 15:
        raise ValueError(f"label {w!r} is longer than 15 bytes")
    return w


def _scope(w):
    if w in SCOPES:
        return SCOPES[w]
    if not (w.isascii() and w.isdigit()) or int(w) > 255:
        raise ValueError(f"scope {w!r} is not one of {', '.join(SCOPES)} or a number 0..255")
    return int(w)


def _metric(w):
    if not w.isdigit() or not 0 < int(w) <= MAX_METRIC:
        raise ValueError(f"metric {w!r} is not a number 1..{MAX_METRIC}")
    return int(w)


def _with_length(first, peer):
    """The address ``first`` with its prefix length: without a peer its
    own; with one the peer's, or a host's if the peer has none (iproute2
    takes the length from the peer: `ip address add A/24 peer B` gives /32)."""
    addr, slash, plen = first.partition("/")
    if peer is None:
        if not slash:
            raise ValueError("has no prefix length")
        return ipaddress.ip_interface(first)
    host = ipaddress.ip_interface(addr)
    pplen = peer.partition("/")[2] if "/" in peer else str(host.max_prefixlen)
    if slash and plen != pplen:
        raise ValueError(f"with a peer the length is the peer's, /{pplen} (as ip address add gives it), "
                         f"not /{plen}: write {addr} peer {peer.partition('/')[0]}/{plen}")
    return ipaddress.ip_interface(f"{addr}/{pplen}")
