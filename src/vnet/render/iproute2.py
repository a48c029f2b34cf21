"""A topology as the equivalent iproute2 commands, in the notation of the
reference article (`ip link add veth1 netns net1 type veth peer name ...`)."""
import shlex

from ..kernel.sysctl import write_order
from ..kinds.base import ipcmd
from ..topology.model import (LINK_FLAGS, PREF_NAMES, PROTOCOL_NAMES, RT_TABLE_MAIN, group_words, metric_words,
                              order_interfaces)
from ..topology.rule import words


def _join_and_up(e, declared):
    """A device joining its master and coming up: one command, or two when
    the master takes only ports that are down (the kernel sets the flags
    before the master, so `master bond0 up` is refused by a bond)."""
    state = "up" if e.up else "down"
    flags = [w for f in LINK_FLAGS if getattr(e, f) is not None for w in (f, "on" if getattr(e, f) else "off")]
    if e.promisc or e.txqueuelen is not None or e.alias is not None or flags:
        words = (["promisc", "on"] if e.promisc else []) + \
            (["txqueuelen", e.txqueuelen] if e.txqueuelen is not None else []) + \
            (["alias", shlex.quote(e.alias)] if e.alias is not None else []) + flags
        return [ipcmd(e.netns, "link", "set", e.name, *words)] + \
            _join_and_up(e.replace(promisc=None, txqueuelen=None, alias=None, **dict.fromkeys(LINK_FLAGS)), declared)
    if e.altnames:
        return [ipcmd(e.netns, "link", "property", "add", "dev", e.name, *[w for n in e.altnames for w in
                                                                         ("altname", shlex.quote(n))])] + \
            _join_and_up(e.replace(altnames=None), declared)
    if not e.master:
        return [ipcmd(e.netns, "link", "set", e.name, state)] if e.up else []
    m = e.master_key()
    kind = declared[m][0].kind_module if m in declared else None
    # a master that gives a port its MTU and MAC as it joins (a bond): the port's own after
    own = (["mtu", e.mtu] if e.mtu is not None else []) + (["address", e.mac] if e.mac else [])
    mtu = [ipcmd(e.netns, "link", "set", e.name, *own)] if kind is not None and kind.ports_take_its_mtu and own else []
    if e.up and kind is not None and kind.ports_join_down:
        return [ipcmd(e.netns, "link", "set", e.name, "master", m[1]), *mtu, ipcmd(e.netns, "link", "set", e.name, "up")]
    return [ipcmd(e.netns, "link", "set", e.name, "master", m[1], state), *mtu]


def script(topo):
    """The commands, one per line, that build ``topo`` from nothing."""
    out = [f"# topology {topo.name}: the iproute2 equivalent of `vnet apply`"]
    out += [f"ip netns add {ns}" for ns in topo.namespaces]
    out += [ipcmd(ns, "link", "set", "lo", "up") for ns in topo.namespaces]
    ifaces = [i for i in order_interfaces(topo) if i.kind_module.creatable]
    declared = topo.by_key()
    # as `vnet apply` does: the namespace-wide sysctls before any device
    # (ip_forward first: it sets every device's), a device's own before it
    # goes up, the rest (lo's...) last
    first, own, last = [], [], []
    for s in sorted(topo.sysctls, key=lambda s: write_order(s.key)):
        cmd = (f"ip netns exec {s.netns} " if s.netns else "") + f"sysctl -w {s.command_key}={s.value}"
        (first if s.device is None else own if (s.netns, s.device) in declared else last).append(cmd)
    out += first
    for i in ifaces:
        out.append(i.kind_module.iproute2_add(i))
        out += i.kind_module.iproute2_extra(i)
    out += own
    for i in ifaces:
        for e in i.endpoints():
            out += _join_and_up(e, declared)
    for i in ifaces:
        for e in i.endpoints():
            if e.port and e.master_key() in declared:
                out += declared[e.master_key()][0].kind_module.iproute2_port(e)
    for i in ifaces:
        out += i.kind_module.iproute2_late(i)
    for i in order_interfaces(topo):   # an external's too: lo's of a namespace the file makes
        for e in i.endpoints():
            out += [ipcmd(e.netns, "addr", "add", *_address_words(a), "dev", e.name, *(["nodad"] if a.version == 6 else []))
                    for a in e.addresses]
    for nh in sorted(topo.nexthops, key=lambda n: bool(n.group)):   # members before their groups
        out.append(ipcmd(nh.netns, *nexthop_words(nh)))
    for r in topo.routes:
        args = ["route", "add"] + ([r.type] if r.type != "unicast" else []) + \
            ["default" if r.to.prefixlen == 0 and r.nhid is None else str(r.to)]   # (ip takes default as IPv4)
        if r.source is not None:
            args += ["from", str(r.source)]
        if r.via:
            args += ["via", str(r.via)]
        if r.dev:
            args += ["dev", r.dev]
        if r.nhid is not None:
            args += ["nhid", str(r.nhid)]
        if r.metric:
            args += ["metric", str(r.metric)]
        if r.table != RT_TABLE_MAIN:
            args += ["table", str(r.table)]
        if r.src:
            args += ["src", str(r.src)]
        if r.scope:
            args += ["scope", r.scope]
        if r.onlink:
            args.append("onlink")
        if r.protocol is not None:
            args += ["proto", PROTOCOL_NAMES.get(r.protocol, r.protocol)]
        if r.pref is not None:
            args += ["pref", PREF_NAMES[r.pref]]
        if r.metrics:
            args += metric_words(r.metrics).split()
        for via, dev, weight in r.nexthops:
            args += ["nexthop"] + (["via", str(via)] if via else []) + (["dev", dev] if dev else []) + \
                (["weight", str(weight)] if weight != 1 else [])
        out.append(ipcmd(r.netns, *args))
    for r in topo.rules:
        out.append(ipcmd(r.netns, *(["-6"] if r.family == 6 else []), "rule", "add",
                         *(["pref", r.priority] if r.priority is not None else []), *words(r)))
    for n in topo.neighbours:
        out.append(ipcmd(n.netns, "neigh", "replace", *(["proxy"] if n.proxy else []), n.address,
                         *(["lladdr", n.lladdr] if n.lladdr else []), "dev", n.dev,
                         *([] if n.proxy else ["nud", "permanent"])))
    return out + last


def _address_words(a):
    """`ip address add`'s words for address ``a`` before its device, as vnet
    adds it: an IPv4 one with vnet's default broadcast (`brd +`, which ip
    alone does not give). (IPv6 ones go without duplicate address detection,
    `nodad` after the device: usable at once.)"""
    from ..topology.address import broadcast_of
    from ..topology.address import words as address_words
    words = [shlex.quote(w) for w in address_words(str(a))]
    if a.version == 4 and getattr(a, "broadcast", None) is None and int(broadcast_of(a)):
        words += ["brd", "+"]
    return words


def nexthop_words(nh):
    """`ip nexthop add`'s words for nexthop ``nh`` (``-6`` first for an IPv6
    device alone or blackhole, as `ip -6 nexthop` gives its family)."""
    six = ["-6"] if not nh.group and nh.via is None and nh.family == 6 else []
    words = six + ["nexthop", "add", "id", str(nh.id)]
    if nh.group:
        return words + ["group", group_words(nh.group)]
    if nh.blackhole:
        return words + ["blackhole"]
    return words + (["via", str(nh.via)] if nh.via is not None else []) + ["dev", nh.dev] + \
        (["onlink"] if nh.onlink else [])
