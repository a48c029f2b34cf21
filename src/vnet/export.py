"""Observed state -> topology file: what `vnet export` prints (each device
declared as vnet.declare makes it)."""
from .declare import to_interface
from .topology.model import DEVICE_ROUTE_TYPES, HOST, Ref, Topology, order_interfaces


def _ref_doc(ref, own_ns):
    if not ref.explicit:
        return ref.name
    return {"name": ref.name} if ref.netns is HOST else {"name": ref.name, "netns": ref.netns}


def _ep_doc(e, kind=None, usual=None, own=()):
    """The mapping of endpoint ``e``; ``usual``: the kind's link defaults
    (Kind.link_defaults), each written only where ``e`` differs; its port
    options but those its kind has an option of the same name for
    (``own``: a VXLAN's `fdb`, not its bridge's; unwritable_state names
    them)."""
    d = {"name": e.name}
    if kind:
        d["kind"] = kind
    if e.netns is not HOST:
        d["netns"] = e.netns
    if not e.up:
        d["up"] = False
    if e.promisc:
        d["promisc"] = True
    if e.mtu:
        d["mtu"] = e.mtu
    if e.mac:
        d["mac"] = e.mac
    for field, value in (usual or {}).items():
        if getattr(e, field) is not None and getattr(e, field) != value:
            d[field] = getattr(e, field)
    if e.alias:
        d["alias"] = e.alias
    if e.altnames:
        d["altnames"] = list(e.altnames)
    if e.master:
        d["master"] = _ref_doc(e.master, e.netns)
    if e.addresses:
        d["addresses"] = [str(a) for a in e.addresses]
    d.update({k: v for k, v in e.port.items() if k not in own})
    return d


def _value_doc(v, own_ns):
    if isinstance(v, Ref):
        return _ref_doc(v, own_ns)
    if isinstance(v, list):
        return [_value_doc(e, own_ns) for e in v]
    if isinstance(v, dict):
        return {k: _value_doc(x, own_ns) for k, x in v.items() if x is not None and x != []}
    if isinstance(v, (bool, int, str)):
        return v
    return str(v)


def interface_doc(iface, usual=None):
    """``usual``: the link fields a file leaves out (default: its kind's link_defaults)."""
    usual = usual if usual is not None else iface.kind_module.link_defaults(iface.options)
    own = set(iface.kind_module.options)
    d = _ep_doc(iface, iface.kind, usual, own)
    for k, v in iface.options.items():
        if v is not None and v != []:
            d[k] = _value_doc(v, iface.netns)
    if iface.peer:
        d["peer"] = _ep_doc(iface.peer, usual=usual, own=own)
    return d


NET_ADDR_SET = "3"   # /sys/class/net/X/addr_assign_type of a MAC someone set (the kernel's own: 0, 1 or 2)


def macs_set(k, state):
    """{key: whether someone set its MAC} of the devices whose MAC the kernel
    otherwise chooses from their ports (a bridge's), as sysfs says (netlink
    does not): a MAC written into a file is set, and a bridge whose MAC is
    set keeps it when ports join, and has no carrier without one, where a
    bridge left to choose has. Unknown ones are left out."""
    from .kernel import netns
    out = {}
    for ns, devs in state.namespaces.items():
        names = [d.name for d in devs.values() if d.kind_module is not None and d.kind_module.takes_a_port_mac(d.options)]
        fd = k.fd(ns) if names else None
        if fd is None:
            continue
        paths = {n: f"class/net/{n}/addr_assign_type" for n in names}
        got = netns.read_sysfs(fd, list(paths.values()))
        out.update({(ns, n): got[p] == NET_ADDR_SET for n, p in paths.items() if got[p] is not None})
    return out


def _derived_mac(dev, state, set_by_hand=None):
    """Does ``dev`` have its MAC from another device or the kernel's choice
    (so the file leaves it out, and the kernel gives it again)? A VLAN, a
    passthru MACVLAN or an IPVLAN has its lower device's; a bond's port has
    the bond's; a bridge has its lowest port's, or one the kernel chose,
    until one is set (``set_by_hand``: macs_set)."""
    lower = _lower(dev, state)
    if lower is not None and lower.mac == dev.mac:
        return True
    master = state.device(*dev.master) if dev.master else None
    if master is not None and master.kind_module is not None and master.kind_module.ports_take_its_mac(master.options):
        return master.mac == dev.mac
    if dev.kind_module.takes_a_port_mac(dev.options):
        if (set_by_hand or {}).get(dev.key) is not None:
            return not set_by_hand[dev.key]
        return any(d.master == dev.key and d.mac == dev.mac for d in state.namespaces.get(dev.netns, {}).values())
    return False


def _lower(dev, state):
    """The observed device ``dev`` is on (a MACVLAN's link...), or None."""
    ref = dev.options.get(dev.kind_module.link_option) if dev.kind_module.link_option else None
    return state.device(*ref) if isinstance(ref, tuple) else None


def _mtus(ifaces, state):
    """Each endpoint's MTU as the file gives it: None where it is the one the
    kernel gives a new device: its lower device's for a device on one (a
    MACVLAN on a jumbo-frame link has 9000; 1500 is then written), else its
    kind's (1500; a CAN device's 72); a port's of a master that gives its
    ports its own as they join (a bond), the master's."""
    for i in ifaces:
        for e in i.endpoints():
            dev = state.device(*e.key)
            given = _mtu_giver(dev, state) if dev is not None and dev.kind_module is not None else None
            if e.mtu == (given.mtu if given is not None else i.kind_module.default_mtu):
                e.mtu = None


def _mtu_giver(dev, state):
    """The observed device a new ``dev`` takes its MTU from: a master that
    gives its ports its own (a bond), else its lower device, else None."""
    master = state.device(*dev.master) if dev.master else None
    if master is not None and master.kind_module is not None and master.kind_module.ports_take_its_mtu:
        return master
    return _lower(dev, state)


def _usual(i, state):
    """The link fields a file may leave out of ``i``: those the kernel
    gives a new device of its kind, and, for a kind made with its lower
    device's flags (a VLAN), the lower device's ARP and multicast flags."""
    usual = i.kind_module.link_defaults(i.options)
    dev = state.device(*i.key) if i.kind_module.flags_from_lower else None
    lower = _lower(dev, state) if dev is not None else None
    if lower is not None:
        usual.update({f: getattr(lower, f) for f in ("arp", "multicast") if getattr(lower, f) is not None})
    return usual


def _macs(ifaces, state, keep, set_by_hand=None):
    """Each endpoint's MAC as the file gives it: kept when ``keep`` and the
    device's own, else None."""
    for i in ifaces:
        for e in i.endpoints():
            dev = state.device(*e.key)
            if not keep or dev is None or _derived_mac(dev, state, set_by_hand):
                e.mac = None


def export(state, name="exported", namespaces=None, only=None, routes=(), sysctls=(), macs=True, set_by_hand=None,
           rules=(), neighbours=(), nexthops=(), said=None):
    """A topology document of the live state of ``namespaces`` (None: all;
    HOST, None in the list, for vnet's own): every device vnet has a kind
    for (or only those whose keys are in ``only``); devices they refer to
    that are not exported become `external` (where a file may have one:
    not in a namespace it makes, where they are left out, with what goes
    through them: export_left; lines naming them added to ``said``). MACs
    are written where they are the device's own (not with ``macs`` false:
    a template). ``routes``: observed routes (vnet.state.Route) to write;
    ``rules``, rules (observed or declared) to write, and ``neighbours``
    and ``nexthops`` (observed); ``set_by_hand``: macs_set."""
    shown = [ns for ns in state.namespaces if namespaces is None or ns in namespaces]
    nss = [ns for ns in shown if ns is not HOST]
    ifaces, peers_done, needed = [], set(), set()
    for ns in shown:
        for dev in state.namespaces[ns].values():
            if dev.key in peers_done or only is not None and dev.key not in only:
                continue
            i = to_interface(dev, state)
            if i is None:
                continue
            if i.peer:
                peers_done.add(i.peer.key)
                if i.peer.netns is not HOST and i.peer.netns not in nss:
                    continue
            ifaces.append(i)
            needed |= {e.master_key() for e in i.endpoints() if e.master}
            needed |= {v.resolve(i.netns) for v in i.options.values() if isinstance(v, Ref)}
    if only is None:
        from . import export_left
        ifaces, gone = export_left.devices_left_out(state, nss, ifaces)
        said = said if said is not None else []
        said += export_left.left_out_lines(state, gone)
        routes, nexthops, neighbours, sysctls = export_left.through_left_out(
            state, gone, [r for r in routes if r.netns in shown], [n for n in nexthops if n.netns in shown],
            [n for n in neighbours if n.netns in shown], [s for s in sysctls if s[0] in shown], said)
        needed -= set(gone)
    needed |= {(n.netns, n.dev) for n in neighbours if n.netns in shown}   # (lo's: an external)
    needed |= {(n.netns, n.dev) for n in nexthops if n.netns in shown and n.dev}
    needed |= {(r.netns, d) for r in routes if r.netns in shown and r.type in DEVICE_ROUTE_TYPES
               for d in [r.dev, *(h[1] for h in r.nexthops)] if d}   # (a local route's lo: an external)
    declared = {e.key for i in ifaces for e in i.endpoints()}
    _macs(ifaces, state, macs, set_by_hand)
    _mtus(ifaces, state)
    settable = {k: v for k, v in _external_addresses(state, nss, declared).items() if only is None or k in only}
    externals = [{"name": n, "kind": "external", **({"netns": ns} if ns is not HOST else {}),
                  **({"addresses": settable[(ns, n)]} if (ns, n) in settable else {})}
                 for ns, n in sorted((needed - declared) | set(settable), key=lambda k: (k[0] or "", k[1]))]
    doc = {"name": name}
    if nss:
        doc["namespaces"] = nss
    doc["interfaces"] = externals + [interface_doc(i, _usual(i, state)) for i in _ordered(ifaces)]
    hdocs = [nexthop_doc(n) for n in nexthops if n.netns in shown]
    if hdocs:
        doc["nexthops"] = hdocs
    rdocs = [route_doc(r) for r in routes if r.netns in shown]
    if rdocs:
        doc["routes"] = rdocs
    rules = [rule_doc(r) for r in rules if r.netns in shown]
    if rules:
        doc["rules"] = rules
    ndocs = [neighbour_doc(n) for n in neighbours if n.netns in shown]
    if ndocs:
        doc["neighbours"] = ndocs
    sdocs = [{**({"netns": ns} if ns is not HOST else {}), "key": key, "value": state.sysctls[(ns, key)]}
             for ns, key in sysctls if state.sysctls.get((ns, key)) is not None and ns in shown]
    if sdocs:
        doc["sysctls"] = sdocs
    return doc


def _external_addresses(state, nss, declared):
    """{key: [address]} of the devices of the namespaces ``nss`` (which the
    file makes) that vnet does not make but whose addresses the file may
    set (lo: a VXLAN endpoint's or a router's own address), those the
    kernel gives it left out; only where some are left."""
    from .kinds import BY_NAME
    from .topology.model import Endpoint
    external = BY_NAME["external"]
    out = {}
    for ns in nss:
        for dev in state.namespaces.get(ns, {}).values():
            e = Endpoint(name=dev.name, netns=ns)
            if dev.key in declared or not dev.addresses or external.addresses_refused(e, True):
                continue
            kept = [str(a) for a in dev.addresses if a not in external.kernel_addresses(e)]
            if kept:
                out[dev.key] = kept
    return out


def exported_routes(state, namespaces):
    """The routes an export of whole namespaces writes: every observed route
    of ``namespaces`` (observed with ``routes_in``), the kernel's own left out
    (an address's subnet route, router advertisements, the local table), and
    those a topology cannot declare (``unwritable_routes``)."""
    return [r for ns in namespaces for r in state.routes.get(ns, []) if not r.kernel_own and not r.unwritable
            and not _through_unwritable(state, r)]


def _through_unwritable(state, r):
    """The nexthop object route ``r`` goes through, when a topology cannot declare it (else None)."""
    return next((n for n in state.nexthops.get(r.netns, ()) if n.id == r.nhid and n.unwritable), None) \
        if r.nhid is not None else None


def exported_nexthops(state, namespaces):
    """The nexthop objects an export of whole namespaces writes: all but a
    bridge's (fdb) and resilient groups, which a topology does not declare
    (``unwritable_state`` says so)."""
    return [n for ns in namespaces for n in state.nexthops.get(ns, []) if not n.unwritable]


def nexthop_doc(n):
    """An observed nexthop object as the file writes it."""
    d = {"netns": n.netns} if n.netns is not HOST else {}
    d["id"] = n.id
    if n.group:
        d["group"] = [{"id": i, **({"weight": w} if w != 1 else {})} for i, w in n.group]
    elif n.blackhole:
        d["blackhole"] = True
    else:
        if n.via is not None:
            d["via"] = str(n.via)
        d["dev"] = n.dev
        if n.onlink:
            d["onlink"] = True
    if not n.group and n.via is None and n.family == 6:
        d["family"] = "ipv6"
    return d


def exported_rules(state, namespaces):
    """The rules an export of whole namespaces writes: those someone made
    that a topology can declare (the kernel's own left out)."""
    return [r for ns in namespaces for r in state.rules.get(ns, []) if not r.kernel_own and not r.unwritable]


def recorded_rules(state, rec):
    """The rules vnet added for ``rec`` that the kernel holds, as declared
    (a record's entry without a priority: any of its fields)."""
    from .topology.rule import entry_rule, rule_entry
    live = {rule_entry(o) for rs in state.rules.values() for o in rs}
    fields = {e[:-1] for e in live}
    return [entry_rule(e) for e in rec.rules if e in live or e[-1] is None and e[:-1] in fields]


def recorded_neighbours(state, rec):
    """The neighbours vnet made for ``rec`` that the kernel holds."""
    mine = set(rec.neighbours)
    return [n for ns in state.neighbours.values() for n in ns if n.key in mine]


def exported_neighbours(state, namespaces):
    """The static and proxy neighbours of ``namespaces`` (observed with
    ``neighbours_in``) a file can declare (``unwritable_neighbour``)."""
    return [n for ns in namespaces for n in state.neighbours.get(ns, []) if n.static
            and unwritable_neighbour(n, state) is None]


def unwritable_neighbour(n, state):
    """Why a file cannot declare static neighbour ``n`` as the kernel holds
    it (a proxy entry for no device, a multicast or zero MAC, an entry of a
    device without a link-layer address), else None."""
    from .topology import scalars
    dev = state.device(n.netns, n.dev) if n.dev else None
    if dev is None:
        return "for no device" if n.proxy else "on a device it does not know"
    if dev.loopback or dev.kind_module is not None and dev.kind_module.link_layer != "ether" \
            or n.address.is_unspecified:
        return f"on {n.dev}, which has no link-layer address"
    if n.lladdr is not None:
        try:
            scalars.MAC().parse(n.lladdr)
        except scalars.Invalid:
            return f"its lladdr {n.lladdr} is no device's"
    return None


def neighbour_doc(n):
    d = {"netns": n.netns} if n.netns is not HOST else {}
    d.update({"dev": n.dev, "address": str(n.address)})
    if n.lladdr:
        d["lladdr"] = n.lladdr
    if n.proxy:
        d["proxy"] = True
    return d


def rule_doc(r):
    """A rule (observed, or declared: its priority may be None) as the file
    writes it, what is at its default left out."""
    from .topology.rule import NONE32
    d = {"netns": r.netns} if r.netns is not HOST else {}
    if r.priority is not None:
        d["priority"] = r.priority
    if r.family == 6 and r.src is None and r.dst is None:
        d["family"] = "ipv6"
    for f, v in (("from", r.src), ("to", r.dst)):
        if v is not None:
            d[f] = str(v.network_address) if v.prefixlen == v.max_prefixlen else str(v)
    for f in ("iif", "oif"):
        if getattr(r, f):
            d[f] = getattr(r, f)
    if r.fwmark is not None:
        d["fwmark"] = hex(r.fwmark) + ("" if r.fwmask in (None, NONE32) else f"/{hex(r.fwmask)}")
    if r.tos:
        d["tos"] = r.tos
    if r.invert:
        d["not"] = True
    if r.suppress_prefixlength is not None:
        d["suppress_prefixlength"] = r.suppress_prefixlength
    if r.action != "unicast":
        d["type"] = r.action
    elif r.table != 254:
        d["table"] = r.table
    return d


def unwritable_routes(state, namespaces):
    """The routes of ``namespaces`` someone made that a topology cannot
    declare (``Route.unwritable``: through a nexthop object, with a TOS, a
    next hop onlink): an export says it leaves them out."""
    return [r for ns in namespaces for r in state.routes.get(ns, []) if not r.kernel_own and r.unwritable]


def unwritable_state(k, state, namespaces):
    """What ``namespaces`` hold that someone made and a topology cannot
    declare: policy routing rules of what the file cannot say (a goto, a
    VRF's lookup, port ranges...) and the kernel's own rules deleted (read
    by the observation: ``rules_in``), static entries of a bridge's
    forwarding database. Lines an export prints, so that it never leaves
    them out silently."""
    from .kernel import neighbours as nb
    from .kernel import rtnl
    from .kernel.rules import KERNEL_RULES
    from .planner.routes import route_label
    from .render.show import PROTOCOLS
    from .topology.rule import TABLE_NAMES
    out = []
    for ns in namespaces:
        if not k.has(ns):
            continue
        devs = state.namespaces.get(ns, {}).values()
        names = {d.ifindex: d.name for d in devs}
        macs = {d.ifindex: d.mac for d in devs}
        where = f"namespace {ns}" if ns else "vnet's own namespace"
        sock = k.sock(ns)
        rules = state.rules.get(ns, [])
        held = {(r.family, r.priority, r.table) for r in rules if r.plain}
        families = {r.family for r in rules}   # (one without any: IPv6 disabled, say)
        for r in rules:
            if not r.kernel_own and r.unwritable:
                out.append(f"left out the rule '{r.text}' ({_family(r.family)}) of {where}")
            elif not r.kernel_own and r.protocol:   # (0: none, as `ip rule add` leaves it)
                out.append(f"wrote the rule '{r.text}' ({_family(r.family)}) of {where} without its protocol "
                           f"({PROTOCOLS.get(r.protocol, r.protocol)})")
        written = {(d.ifindex, f"{a.ip}/{a.network.prefixlen}") for d in devs
                   if d.kind_module is not None or d.loopback and ns is not None for a in d.addresses}
        for idx, text, valid, preferred in rtnl.dump_addr_lifetimes(sock):
            if (idx, text) in written:
                life = lambda v: "forever" if v == rtnl.FOREVER else v  # noqa: E731
                out.append(f"wrote the address {text} of {names[idx]} of {where} without its lifetimes (valid_lft "
                           f"{life(valid)}, preferred_lft {life(preferred)}; made from the file, both are forever)")
        for r in state.routes.get(ns, []):
            if r.extras and not r.kernel_own and not r.unwritable:
                out.append(f"wrote {route_label(r.key)} without its {r.extras}")
        for fam, prio, table in sorted(KERNEL_RULES - held):
            if fam in families:
                out.append(f"{where} lacks the kernel's rule '{prio}: from all lookup {TABLE_NAMES[table]}' "
                           f"({_family(fam)}): someone deleted it")
        for n in state.nexthops.get(ns, []):
            if n.unwritable:
                out.append(f"left out the nexthop {n.id} of {where} ({n.unwritable})")
        for r in state.routes.get(ns, []):
            if not r.kernel_own and _through_unwritable(state, r):
                out.append(f"left out {route_label(r.key)} (through nexthop {r.nhid}, left out)")
        for d in devs:
            out += _link_left_out(d, ns)
        casts = _broadcasts(devs)
        for n in state.neighbours.get(ns, []):
            if _noarp_by_hand(n, state, casts):
                out.append(f"left out the neighbour {n.address} on {n.dev} of {where} (nud noarp: a file's are "
                           "permanent)")
                continue
            why = unwritable_neighbour(n, state) if n.static else None
            what = f"{'proxy' if n.proxy else 'static'} neighbour {n.address}" + (f" on {n.dev}" if n.dev else "")
            if why:
                out.append(f"left out the {what} of {where}: {why}")
                continue
            lost = (["router flag"] if n.static and n.router else []) + \
                ([f"protocol ({PROTOCOLS.get(n.protocol, n.protocol)})"] if n.static and n.protocol else [])
            if lost:
                out.append(f"wrote the {what} of {where} without its {' and '.join(lost)}")
        written = {d.ifindex for d in devs if d.port.get("fdb") is not None   # a bridge port's option, of a
                   and d.kind_module is not None and d.kind_module.creatable   # device the export writes, whose
                   and "fdb" not in d.kind_module.options}                     # kind has no `fdb` of its own
        for idx, mac, vlan, permanent in nb.dump_bridge_statics(sock):
            if idx not in written and not (permanent and mac == macs.get(idx)):   # (a port's and a bridge's own MAC: the kernel's)
                out.append(f"left out the bridge fdb entry {mac}{f' vlan {vlan}' if vlan is not None else ''} on "
                           f"{names.get(idx, f'device {idx}')} ({'permanent' if permanent else 'static'}) of {where}")
    return out


LO_MTU, LO_TXQLEN = 65536, 1000   # what the kernel gives lo in a namespace it makes (loopback_setup)


def _link_left_out(d, ns):
    """What a file cannot say of device ``d`` of namespace ``ns``: the
    alternative names of one it does not write (lo's), the namespace it
    was made in when it was moved since (`ip link set ... netns`: a VXLAN
    without `dev` keeps its socket there; made from the file, it is made
    where it is), lo's MTU and queue length (lo is never the file's to
    set, only its addresses)."""
    label = f"{d.kind_name} {ns + '/' if ns else ''}{d.name}"
    out = [f"left out the altnames {', '.join(d.altnames)} of {label}"] if d.altnames and d.kind_module is None \
        else []   # (a device the file writes has them)
    if d.link_netns is not None and not d.peer and d.lower is None:
        out.append(f"left out that {label} was made in {_ns_words(d.link_netns[0])} and moved (its link, a "
                   f"VXLAN's UDP socket, is there; made from the file, it is in {_ns_words(ns)})")
    if d.loopback and ns is not None:
        out += [f"left out the {word} {have} of lo of namespace {ns} (made from the file: {usual})"
                for word, have, usual in (("mtu", d.mtu, LO_MTU), ("txqueuelen", d.txqueuelen, LO_TXQLEN))
                if have is not None and have != usual]
    return out


def _ns_words(ns):
    return "vnet's own namespace" if ns is HOST else f"namespace {ns}" if isinstance(ns, str) else \
        "a namespace not exported"


def _broadcasts(devs):
    """The IPv4 broadcast addresses of a namespace's devices' subnets (the
    kernel's own `nud noarp` entries are for those, and multicast)."""
    import ipaddress
    from .topology.address import broadcast_of
    out = {ipaddress.ip_address("255.255.255.255")}
    for d in devs:
        for a in d.addresses:
            if a.version == 4:
                out.add(broadcast_of(a))
                if a.network.prefixlen < 31:
                    out |= {a.network.network_address, a.network.broadcast_address}
    return out


def _noarp_by_hand(n, state, casts):
    """Is ``n`` a `nud noarp` entry someone made (`ip neigh add ... nud
    noarp`)? The kernel makes them only for multicast and broadcast
    addresses and on devices that do not use ARP."""
    dev = state.device(n.netns, n.dev) if n.dev else None
    return (n.nud == "noarp" and dev is not None and not dev.loopback and dev.arp is not False
            and not n.address.is_multicast and n.address not in casts
            and (dev.kind_module is None or dev.kind_module.link_layer == "ether"))


def _family(fam):
    return f"IPv{fam}"


def route_doc(r):
    """An observed route (vnet.state.Route) as the file writes it: what
    is at its default (table main, the scope `ip route add` gives, metric 0,
    or 1024 for IPv6) left out."""
    from .kernel.rtnl import RTPROT_KERNEL, RTPROT_STATIC
    from .topology.model import PREF_NAMES, PROTOCOL_NAMES, RT_TABLE_MAIN, SCOPE_NAMES, default_scope
    d = {"netns": r.netns} if r.netns is not HOST else {}
    # (default is IPv4 but with an IPv6 gateway; through a nexthop object, the prefix says which)
    d["to"] = "default" if r.to.prefixlen == 0 and r.nhid is None \
        and (r.to.version == 4) == (r.via is None or r.via.version == 4) else str(r.to)
    if r.type != "unicast":
        d["type"] = r.type   # a local one with its dev; the others with none (an IPv6 one has lo's, given again)
    if r.source is not None:
        d["from"] = str(r.source)
    if r.via:
        d["via"] = str(r.via)
    if r.dev and r.type in DEVICE_ROUTE_TYPES:
        d["dev"] = r.dev
    if r.nhid is not None:
        d["nhid"] = r.nhid
    if r.nexthops:
        d["nexthops"] = [{**({"via": str(via)} if via else {}), **({"dev": dev} if dev else {}),
                          **({"weight": w} if w != 1 else {})} for via, dev, w in r.nexthops]
    if r.metric and not (r.to.version == 6 and r.metric == 1024):
        d["metric"] = r.metric
    if r.table != RT_TABLE_MAIN:
        d["table"] = r.table
    if r.src:
        d["src"] = str(r.src)
    if r.to.version == 4 and r.scope != default_scope(r.via, r.type, r.nexthops, r.nhid):
        d["scope"] = SCOPE_NAMES.get(r.scope, r.scope)
    if r.onlink:
        d["onlink"] = True
    if r.metrics:
        d["metrics"] = metrics_doc(r.metrics)
    if r.proto > RTPROT_STATIC or r.proto == RTPROT_KERNEL:   # (unspec, redirect, boot: ip route add's, static:
        # vnet's: a file's default; kernel: someone's route as the kernel would make one, exported as someone's)
        d["protocol"] = PROTOCOL_NAMES.get(r.proto, r.proto)
    if r.pref:
        d["pref"] = PREF_NAMES.get(r.pref, r.pref)
    return d


def metrics_doc(metrics):
    """A route's metrics ((name, value, locked), ...) as a file writes them."""
    from .topology.model import FLAG_METRICS
    d = {name: True if name in FLAG_METRICS else value for name, value, _l in metrics}
    locked = [name for name, _v, lock in metrics if lock and name != "rto_min"]   # (rto_min's always is)
    return {**d, "lock": locked} if locked else d


def changed_sysctls(state, namespaces, fresh):
    """(ns, key) of the sysctls of ``namespaces`` that differ from a fresh
    namespace's (``fresh``: sysctl.fresh_defaults())."""
    from .kernel import sysctl
    out = []
    for ns in namespaces:
        values = {key: v for (n, key), v in state.sysctls.items() if n == ns}
        devs = {d.name: _made_without_arp(d, state) for d in state.namespaces.get(ns, {}).values()}
        out += [(ns, key) for key, _v in sysctl.changed(values, devs, fresh)]
    return out


def _made_without_arp(dev, state):
    """Is ``dev`` made without ARP, when made from a file (IPv6 then starts
    it without duplicate address detection)? As its kind makes it, a VLAN
    as its lower device is (vnet sets a device's flags before making what
    is on it); a device of no kind vnet knows as it is now."""
    kind = dev.kind_module
    if kind is None:
        return dev.arp is False
    lower = _lower(dev, state) if kind.flags_from_lower else None
    return (lower.arp if lower is not None else kind.arp) is False


def observe_network(k, namespaces):
    """The state of ``namespaces`` (vnet's own is None) for an export of a
    network vnet did not make: devices, routes, rules, neighbours, and the sysctls labs change
    (of the devices found: read after the one observation)."""
    from .kernel import sysctl
    from .observer import observe, read_sysctls
    st = observe(k, namespaces, routes_in=namespaces, rules_in=namespaces, neighbours_in=namespaces,
                 nexthops_in=namespaces)
    for ns in namespaces:
        _without_their_prefix_route(st.namespaces.get(ns, {}), st.routes.get(ns, []))
    keys = [(ns, key) for ns, devs in st.namespaces.items()
            for key in sysctl.keys_for([d.name for d in devs.values()])]
    read_sysctls(k, st, keys, st.namespaces)
    return st


def _without_their_prefix_route(devs, routes):
    """The addresses of ``devs`` (up) whose prefix route the kernel made and
    someone deleted (`ip route del 10.0.0.0/24 dev v0`), or never had, made
    ``noprefixroute``: an export writes them so, and the route does not
    come back when the file is applied. (Not an IPv4 secondary: its
    subnet's route is its primary's.)"""
    from .kernel import rtnl
    from .observer import prefix_routes
    from .topology import address
    held = {(r.dev, r.to, r.metric, r.src if r.to.version == 4 else None) for r in routes
            if r.proto == rtnl.RTPROT_KERNEL and r.type == "unicast"}   # (main, or a VRF's table for its port)
    for name, d in devs.items():
        if not d.up or d.loopback:   # (lo's are of the local table, and its own)
            continue
        secondary = set(d.secondary)
        for i, a in enumerate(d.addresses):
            own = address.subnet(a) if a.version == 4 else a.network
            made = [r for r in prefix_routes(name, a) if r[1] == own]
            if made and a not in secondary and not set(made) & held:
                peer, _nopr, *rest = address.extra(a)
                d.addresses[i] = address.make(a, peer, True, *rest)


def _ordered(ifaces):
    return order_interfaces(Topology(name="x", interfaces=ifaces))
