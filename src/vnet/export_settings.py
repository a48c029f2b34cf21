"""What an export would lose: each setting of a device (`ip link add ...
type bridge mcast_igmp_version 3`, `ip link set ... gso_max_size ...`,
`bridge link set ... mcast_to_unicast on`) that a device made from the
written file would not have. The kernel is asked, not a table of defaults:
for each distinct device the file writes, one is made from its declaration
in a scratch network namespace (on a scratch lower device, as a port of a
scratch master where it has one), and its settings are compared with the
original's, attribute by attribute."""
from .kernel import rtnl
from .kernel import settings as ks
from .kernel.netlink import NetlinkError
from .ownership import is_tag
from .topology.fields import RefField

_PROBE, _MASTER, _LOWER = "vnprobe", "vnprobem", "vnprobel"


class _Scratch:
    """The applier's context as a kind's encoding and port setting use it,
    every reference resolved in the scratch namespace: the device and its
    master to theirs, anything else to the scratch lower device."""
    group = None
    held = None

    def __init__(self, sock, lower):
        self.s, self.lower, self.index = sock, lower, {}

    def sock(self, ns):
        return self.s

    def fd(self, ns):
        return None

    def ifindex(self, ns, name):
        return 1 if name == "lo" else self.index.get((ns, name), self.lower)

    def learn(self, key, ifindex):
        self.index[key] = ifindex

    def joins_down(self, endpoint):
        return False

    def joined(self, endpoint, mtu=None, mac=None):
        pass


class _Port:
    """An endpoint's port options, on the scratch device."""

    def __init__(self, e):
        self.netns, self.name, self.port, self.master = e.netns, e.name, e.port, e.master
        self.key = e.key

    def master_key(self):
        return self.master.resolve(self.netns)


def lost_settings(k, state, doc):
    """(lost, unchecked): lines naming each setting the kernel holds for a
    device ``doc`` (an export of ``state``) writes that a device made from
    ``doc`` lacks, and the devices that could not be compared, and why."""
    from .errors import SpecError
    from .topofile.loader import parse
    from .kinds import names, get
    known = set(names())
    doc = {**doc, "interfaces": [get(i["kind"]).unmasked(i) if i.get("kind") in known else i
                                 for i in doc.get("interfaces") or []]}
    try:
        topo = parse(doc, "<export>")
    except SpecError as e:
        return [], [f"the devices' other settings: the export does not validate ({e})"]
    try:
        with ks.scratch() as sock:
            return _compare(k, state, topo.by_key(), sock)
    except OSError as e:   # no network namespace of its own (without CAP_SYS_ADMIN)
        return [], [f"the devices' other settings: no scratch network namespace to make them in ({e})"]


def _compare(k, state, declared, sock):
    out, unchecked, made, have = [], [], {}, {}
    rtnl.new_link(sock, up=True, attrs=rtnl.link_attrs(name=_LOWER) + rtnl.linkinfo(
        "veth", _peer(_LOWER + "p")))
    lower = rtnl.get_link(sock, _LOWER).ifindex
    rtnl.set_link(sock, lower, attrs=rtnl.link_attrs(mtu=65535))   # (a device on a jumbo lower: any MTU)
    for key, (iface, e) in declared.items():
        dev = state.namespaces.get(key[0], {}).get(key[1])
        kind = iface.kind_module
        if dev is None or not kind.probes(lower):
            continue
        master = declared.get(e.master_key(), (None, None))[0] if e.master else None
        if master is not None and not master.kind_module.probes(lower):
            master = None
        if key[0] not in have:
            have[key[0]] = ks.dump(k.sock(key[0]))
        sig = (kind.name, e is iface, e.mtu, _plain(iface.options), master and master.kind_module.name,
               master and _plain(master.options), _plain(e.port) if master else None)
        if sig not in made:
            made[sig] = _probe(sock, lower, iface, e, master)
        label = f"{dev.kind_name} {dev.netns + '/' if dev.netns else ''}{dev.name}"
        mine = have[key[0]].get(dev.ifindex)
        if isinstance(made[sig], str):
            unchecked.append(f"the other settings of {label}: {made[sig]}")
        elif mine is not None:
            out += _differences(label, kind, master and master.kind_module, mine, made[sig])
    return out, unchecked


def _plain(v):
    return repr(sorted(v.items())) if isinstance(v, dict) else repr(v)


def _peer(name):
    from .kinds.veth import VETH_INFO_PEER
    from .kernel import netlink as nl
    return nl.attr(VETH_INFO_PEER, rtnl.ifinfo() + rtnl.link_attrs(name=name))


def _probe(sock, lower, iface, e, master):
    """The Settings of a device made from ``iface``'s declaration (its end
    ``e``), a port of one made from ``master``'s where given; or why none
    could be made (the kernel's error)."""
    ctx = _Scratch(sock, lower)
    made = []
    try:
        if master is not None:
            _make(sock, ctx, master, _MASTER, lower, made)
        before = set(ks.dump(sock))
        _make(sock, ctx, iface, _PROBE, lower, made)
        idx = rtnl.get_link(sock, _PROBE).ifindex
        if e is not iface:   # the other end of a pair: the device made with it
            idx = next(i for i in set(ks.dump(sock)) - before if i != idx)
        ctx.learn(e.key, idx)
        if e.mtu is not None:   # (IPv6 starts on a CAN device only with an MTU it can carry)
            rtnl.set_link(sock, idx, attrs=rtnl.link_attrs(mtu=e.mtu))
        if master is not None:
            rtnl.set_link(sock, idx, attrs=rtnl.link_attrs(master=ctx.ifindex(*e.master_key())))
            if e.port:
                master.kind_module.set_port(ctx, _Port(e))
        return ks.dump(sock)[idx]
    except (NetlinkError, OSError) as err:
        return f"the kernel refused to make one like it ({err})"
    finally:
        for n in reversed(made):
            try:
                rtnl.del_link(sock, rtnl.get_link(sock, n).ifindex)
            except (NetlinkError, AttributeError):
                pass


def _make(sock, ctx, iface, name, lower, made):
    kind = iface.kind_module
    link = lower if kind.link_attr and iface.options.get(kind.link_option) else None
    data = kind.probe_data(iface) + kind.info_data(iface, ctx)
    rtnl.new_link(sock, up=False, attrs=rtnl.link_attrs(name=name, link=link) + rtnl.linkinfo(kind.kernel_kind, data))
    made.append(name)
    ctx.learn(iface.key, rtnl.get_link(sock, name).ifindex)


def _differences(label, kind, master_kind, mine, made):
    out = []
    for word in sorted(set(mine.link) | set(made.link)):
        v, w = mine.link.get(word), made.link.get(word)
        if v != w and not (word == "group" and is_tag(v)):
            made_as = "vnet's own tag" if word == "group" else _link_value(word, w)
            out.append(f"left out the {word} {_link_value(word, v)} of {label} (made from the file: {made_as})")
    skip = kind.state_attrs | _refs(kind)
    out += _data(label, mine.data, made.data, skip, kind, False)
    if master_kind is not None:
        out += _data(label, mine.port, made.port, master_kind.port_state_attrs, master_kind, True)
    return out


def _data(label, mine, made, skip, kind, port):
    out = []
    for aid in sorted((set(mine) | set(made)) - skip):
        v, w = mine.get(aid), made.get(aid)
        word = kind.setting_name(aid, port)
        if v != w and (word or None not in (v, w)):   # (one this kernel reports in some states only: not a setting)
            word = ("port setting " if port else "") + (word or f"{kind.kernel_kind}{'_slave' if port else ''} "
                                                                f"attribute {aid}")
            out.append(f"left out the {word} {kind.setting_text(aid, v, port)} of {label} (made from the file: "
                       f"{kind.setting_text(aid, w, port)})")
    return out


def _refs(kind):
    """The kind's options that name another device (compared by the export already)."""
    return {a for opt, (aid, _c) in kind.netlink.items() if isinstance(kind.options.get(opt), RefField)
            for a in (aid if isinstance(aid, tuple) else (aid,))}


def _link_value(word, v):
    if v is None:
        return "none"
    if word == "flags":
        return ", ".join(n for bit, n in ks.FLAGS.items() if v & bit) or "none of " + ", ".join(ks.FLAGS.values())
    if word == "addrgenmode":
        return ks.ADDR_GEN_MODES.get(v, str(v))
    return str(v)
