"""Desired vs observed -> ordered changes, each with a reason.

Pure: reads a Topology, an observed State and the ownership Record; touches
no kernel. The order is the apply order: removals (routes, rules,
devices, namespaces), then namespaces, their namespace-wide sysctls, devices in
dependency order (lower devices and masters first; a new device with sysctls of
its own is made down, gets them, then goes up), in-place changes, addresses,
routes, rules, neighbours, the devices' other sysctls."""
from ..errors import PlanError
from ..topology.address import loopback_own, parse, subnet
from ..topology.model import LINK_FLAGS, Ref, order_interfaces, where
from .changes import Change, Plan, _show  # noqa: F401  (_show: the file's notation, for the CLI too)
from .neighbours import plan_neighbours
from .nexthops import plan_nexthops
from .routes import observed_routes, plan_routes, plan_rules, route_label  # noqa: F401
from .sysctls import plan_sysctls


def _norm(v, own_ns):
    if isinstance(v, Ref):
        return v.resolve(own_ns)
    if isinstance(v, list):
        return sorted(tuple(sorted((k, str(x)) for k, x in e.items())) if isinstance(e, dict) else str(e)
                      for e in v)
    return v


def _described(kind, opt, v):
    d = kind.describe(opt, v)
    return _show(v) if d is None else d


def _port_value(kind, k, raw, state):
    """A port option's value in a plan, as its master's ``kind`` describes
    it: a list (VLANs) as given, else as compared (an option the kernel
    leaves at its default: that default)."""
    v = raw if isinstance(raw, list) or raw is None and state[k] is None else state[k]
    d = kind.describe_port(k, v)
    return _show(v) if d is None else d


def plan(topo, state, record, scope=None, devices=None):
    """The ordered changes that make the kernel match ``topo``. With
    ``scope`` (namespaces), the devices and namespaces of the others are not
    planned: a verification's, where ``state`` keeps the others as the plan
    that found no change for them observed them (``touched_namespaces``);
    with ``devices`` (keys) too, of the interfaces in scope only those with
    an end, or an end's master, among them (``verified_devices``)."""
    p = _Planning(topo, state, record, scope, devices)
    _namespaces(p)
    _devices(p)
    _endpoints(p)
    _lo_own(p)
    _stale_devices(p)
    _uppers_not_ours(p)
    _stale_namespaces(p)   # (before the rules and neighbours: those of a namespace that goes go with it)
    plan_nexthops(p)       # (before the routes: those through a nexthop the kernel drops are made again)
    plan_routes(p)
    plan_rules(p)
    plan_neighbours(p)
    plan_sysctls(p)
    if p.conflicts:
        raise PlanError("\n".join(f"{topo.source}: {c}" for c in p.conflicts))
    return Plan(topo, state, record, p.ordered())


class _Planning:
    """What the phases of ``plan`` read and what they find: the changes in
    lists kept apart until the end (``ORDER`` is the apply order)."""
    ORDER = ("removals", "ns_deletes", "ns_creates", "ns_sysctls", "creates", "modifies", "reroutes", "addr_dels", "addrs",
             "routes", "nexthops", "nh_routes", "nh_removals", "rules", "neighbours", "sysctls")

    def __init__(self, topo, state, record, scope=None, devices=None):
        self.topo, self.state, self.record = topo, state, record
        self.in_scope = (lambda ns: True) if scope is None else scope.__contains__
        self.planned = (lambda key: True) if scope is None else \
            (lambda key: key[0] in scope and (devices is None or key in devices))
        for name in self.ORDER:
            setattr(self, name, [])
        self.conflicts = []
        self.declared = topo.by_key()
        self.ordered_ifaces = order_interfaces(topo)
        if scope is not None:   # an interface with an end in scope is planned whole
            self.ordered_ifaces = [i for i in self.ordered_ifaces if any(self._scoped(e, scope, devices)
                                                                        for e in i.endpoints())]
        self.gone = set()        # keys whose current device will not survive (re-created or absent)
        self.early = set()       # (netns, key) of sysctls set as their new device is made
        self.renumbered = set()  # devices losing their last IPv4 address: the kernel drops the routes through them
        self.unsourced = set()   # (netns, ip) of the IPv4 addresses deleted: the kernel drops the routes from them
        self.nh_gone = set()     # (netns, id) of the nexthop objects the kernel drops with a device that goes

    def owned(self, dev):
        return self.record.owns_device(dev)

    def _scoped(self, e, scope, devices):
        """Is endpoint ``e`` planned: in scope, and among ``devices`` (if
        given), or a port of one of them that vnet does not make (whose
        live kind says what its ports take: ``_master_kind``)?"""
        if e.netns not in scope:
            return False
        if devices is None or e.key in devices:
            return True
        master = self.declared.get(e.master_key()) if e.master else None
        return master is not None and e.master_key() in devices and not master[0].kind_module.port_options

    def ordered(self):
        return [c for name in self.ORDER for c in getattr(self, name)]


def _namespaces(p):
    """Namespaces to make (or finish: half made, its lo down); others' in the way."""
    owned_ns = set(p.record.namespaces)
    for ns in filter(p.in_scope, p.topo.namespaces):
        if p.state.has_ns(ns):
            if ns not in owned_ns:
                p.conflicts.append(f"namespace {ns!r} exists and is not owned by topology {p.topo.name!r}")
            elif not getattr(p.state.device(ns, "lo"), "up", True):   # made by an apply stopped before lo went up
                p.ns_creates.append(Change("modify", f"netns {ns}", "its lo is down", ("ns_create", ns, "lo")))
        elif ns in p.state.half_made:   # a /run/netns entry that is not a namespace (its maker was stopped)
            if ns not in owned_ns:
                from ..kernel.netns import path
                p.conflicts.append(f"namespace {ns!r}: {path(ns)} is not a network namespace (being made by "
                                   f"another program, or left half made by one that was stopped) and is not owned "
                                   f"by topology {p.topo.name!r}: left alone")
            else:
                p.ns_creates.append(Change("create", f"netns {ns}", "half made (an apply was stopped making it)",
                                           ("ns_create", ns, "finish")))
        else:
            p.ns_creates.append(Change("create", f"netns {ns}", "does not exist", ("ns_create", ns)))
    for ns in filter(p.in_scope, p.topo.joined_namespaces()):
        if not p.state.has_ns(ns):
            p.conflicts.append(f"namespace {ns} does not exist (a namespace joined by its path is never made)")


def _devices(p):
    """Each declared device: made, re-made, changed in place, or as it is."""
    own_sysctls = {}    # (netns, device) -> the sysctls of that device
    for s in p.topo.sysctls:
        if s.device is not None:
            own_sysctls.setdefault((s.netns, s.device), []).append(s)
    for iface in p.ordered_ifaces:
        kind = iface.kind_module
        if not kind.creatable:
            if p.state.has_ns(iface.netns) and not p.state.device(*iface.key):
                p.conflicts.append(f"{iface.path}: external device {iface.label!r} does not exist")
            continue
        existing = [p.state.device(*e.key) for e in iface.endpoints()]
        for e, dev in zip(iface.endpoints(), existing):
            if dev and not p.owned(dev):
                p.conflicts.append(f"{iface.path}: device {e.label!r} exists and is not owned by topology "
                                   f"{p.topo.name!r} (vnet never takes over a device it did not create)")
        dev = existing[0]
        reason, changed = _compare(iface, kind, dev, p.gone)
        if dev is not None and not reason and any(e.netns in p.record.routes_dropped for e in iface.endpoints()):
            reason = "a destroy or undo stopped after taking its IPv6 routes"
        if dev is None or reason:
            _create(p, iface, dev, reason, own_sysctls)
        elif changed:
            p.modifies.append(Change("modify", f"link {iface.label}",
                                     ", ".join(f"{k} {_described(kind, k, old)} -> "
                                               f"{_described(kind, k, iface.options.get(k))}"
                                               for k, old in changed.items()),
                                     ("dev_options", iface, changed)))


def _create(p, iface, dev, reason, own_sysctls):
    """``iface`` made (``dev`` None) or re-made, its own sysctls set before
    it goes up, its late options once its ports exist."""
    kind = iface.kind_module
    p.gone.update(e.key for e in iface.endpoints())
    if dev is not None and dev.peer:
        p.gone.add(dev.peer)   # the old pair's other end goes with it, renamed or moved or not
    first = [(e, own_sysctls.get(e.key, ())) for e in iface.endpoints()]
    made = _held_down(iface, [e for e, own in first if own and e.up])
    if dev is None:
        _old_pairs(p, iface)
        p.creates.append(Change("create", f"link {iface.label}", reason, ("dev_create", made)))
    else:
        p.creates.append(Change("recreate", f"link {iface.label}", reason, ("dev_recreate", made, dev)))
    # a new device's own sysctls before it goes up: disable_ipv6 set
    # later would let it send IPv6 (DAD, MLD) first
    for e, own in first:
        for s in own:
            p.early.add((s.netns, s.key))
            p.creates.append(Change("modify", s.label, f"set {_show(s.value)} on the new device before it goes up",
                                    ("sysctl_set", s.netns, s.key, s.value)))
        if own and e.up:
            p.creates.append(Change("modify", f"link {e.label}", "up once its sysctls are set",
                                    ("dev_set", e, {"up": True}, {"up": False})))
    late = {k: None for k in kind.late_options if iface.options.get(k) is not None}
    if late:
        p.modifies.append(Change("modify", f"link {iface.label}",
                                 "set " + ", ".join(f"{k} {_show(iface.options[k])}" for k in late)
                                 + " once its ports exist", ("dev_options", iface, late)))


def _old_pairs(p, iface):
    """Before ``iface`` is made: an end of it that is there already, paired
    with another device (its declared other end renamed or moved by hand:
    the pair vnet made, under another name) goes first, with that pair; the
    kernel would refuse its name (EEXIST)."""
    for e in iface.endpoints()[1:]:
        old = p.state.device(*e.key)
        if old is not None and p.owned(old) and old.peer and old.peer != iface.key:
            p.gone.add(old.peer)
            p.removals.append(Change("delete", f"link {e.label}", f"its pair's other end is {where(*old.peer)}, "
                                     f"declared {iface.label}", ("dev_delete", old)))


def _endpoints(p):
    """Each endpoint's common fields, port options and addresses (of a
    device vnet does not make, its addresses at most: lo's, of a namespace
    the file makes)."""
    managed = set()   # the devices vnet did not make whose addresses the file says
    for iface in p.ordered_ifaces:
        kind = iface.kind_module
        for e in iface.endpoints():
            dev = None if e.key in p.gone else p.state.device(*e.key)
            if kind.creatable:
                _link_fields(p, e, dev)
            elif kind.addresses_refused(e, e.netns in p.topo.namespaces):
                continue
            else:
                managed.add(e.key)
            dropped = frozenset()
            if dev is not None and dev.up and not e.up:   # the kernel drops its IPv6 addresses (keep_addr_on_down off)
                dropped = frozenset(a for a in dev.addresses if a.version == 6)
                dev = dev.replace(addresses=[a for a in dev.addresses if a not in dropped])
            dels, adds = _address_changes(e, dev, kind.kernel_addresses(e), not kind.creatable, dropped)
            p.addr_dels += dels
            p.addrs += adds
            _routes_dropped(p, e.key, dev, [c.op[2] for c in dels])
    _stale_addresses(p, managed)


def _routes_dropped(p, key, dev, deleted):
    """What the kernel drops with the ``deleted`` addresses of device
    ``key`` (observed ``dev``), for ``plan_routes`` to make again: the IPv4
    routes with one as their source, and when the last of its IPv4
    addresses goes, every IPv4 route through it (as applier.routing's
    ``_dropped_with`` has it). An address of another subnet going (someone's
    /32) takes neither the routes through the device nor any other."""
    gone = [a for a in deleted if a.version == 4]
    if not gone:
        return
    p.unsourced.update((key[0], str(a.ip)) for a in gone)
    if all(a in gone for a in dev.addresses if a.version == 4):
        p.renumbered.add(key)


def _stale_addresses(p, managed):
    """The addresses vnet gave a device it did not make (lo), recorded,
    whose device the file no longer gives any: taken away, as a route."""
    for ns, name, text in p.record.addresses:
        if not p.planned((ns, name)):   # (``managed`` has only the planned devices)
            continue
        dev = p.state.device(ns, name) if (ns, name) not in managed else None
        a = parse(text)
        if dev is not None and a in dev.addresses:
            p.addr_dels.append(Change("delete", f"address {a} on {where(ns, name)}", "no longer declared",
                                      ("addr_del", (ns, name), a)))


def _lo_own(p):
    """The kernel's own addresses of lo (127.0.0.1/8, ::1/128) in each
    namespace vnet made, which the kernel gives lo as it goes up and never
    again: flushed by hand (`ip address flush dev lo`), they are added back
    (those the file gives lo itself aside: its own)."""
    own = loopback_own()
    for ns in p.topo.namespaces:
        lo = p.state.device(ns, "lo")
        if lo is None or not lo.up or ns not in p.record.namespaces or not p.planned((ns, "lo")):
            continue   # (down: it goes up, and the kernel gives them again)
        declared = p.declared.get((ns, "lo"))
        missing = own - set(lo.addresses) - set(declared[1].addresses if declared else ())
        ipv6 = p.state.sysctls.get((ns, LO_IPV6_OFF)) == "0"   # (read where lo has no IPv6 address: sysctls_unread)
        p.addrs += [Change("create", f"address {a} on {where(ns, 'lo')}", "lo's own address, flushed",
                           ("addr_add", (ns, "lo"), a)) for a in sorted(missing, key=lambda a: a.version)
                    if a.version == 4 or ipv6]


LO_IPV6_OFF = "net.ipv6.conf.lo.disable_ipv6"


def sysctls_unread(topo, state):
    """The sysctls a plan reads that an observation of ``state`` did not,
    each only where it may tell something (reading one costs entering its
    namespace): whether IPv6 is on for lo, where lo of a namespace the
    file makes has no IPv6 address (``_lo_own``: without, the kernel gives
    it no ::1), and on a device that lacks an IPv6 address the file gives
    it (sysctls._implied_sysctls: the kernel takes them all as it goes off)."""
    by_key = topo.by_key()
    out = [(ns, LO_IPV6_OFF) for ns in topo.namespaces if (lo := state.device(ns, "lo")) is not None
           and not any(a.version == 6 for a in lo.addresses)]
    for s in topo.implied_sysctls():
        dev = state.device(s.netns, s.device)
        if dev is not None and not {a for a in by_key[(s.netns, s.device)][1].addresses if a.version == 6} \
                <= set(dev.addresses):
            out.append((s.netns, s.key))
    return out


def _link_fields(p, e, dev):
    """Endpoint ``e``'s common fields and port options, where ``dev`` differs."""
    g = _generic_changes(e, dev, p.gone, dev is None, p.record.group)
    if g:
        # (going down, the kernel drops its IPv6 addresses: the undo puts them back)
        v6 = tuple(a for a in dev.addresses if a.version == 6) if dev is not None and g.get("up") == (True, False) else ()
        p.modifies.append(Change("modify", f"link {e.label}",
                                 ", ".join(f"{k} {_show(o)} -> {_show(n)}" for k, (o, n) in g.items()),
                                 ("dev_set", e, {k: n for k, (o, n) in g.items()},
                                  {k: o for k, (o, n) in g.items()}) + (((), v6) if v6 else ())))
    if e.port and e.master:
        _port(p, e, dev)


def _port(p, e, dev):
    """The port options of endpoint ``e`` (observed ``dev``), as its master's kind has them."""
    mkind = _master_kind(p, e)
    if mkind is None:
        return
    want = mkind.port_state(e.port)
    # (a port leaving its master loses its port options and entries: set again on the new one)
    fresh = dev is None or (e.master_key() in p.gone) or dev.master != e.master_key()
    # only the port options the file declares are managed
    old = None if fresh else mkind.port_state({k: dev.port.get(k) for k in e.port})
    if fresh or want != old:
        p.modifies.append(Change("modify", f"port {e.label}",
                                 ", ".join(f"{k} {_port_value(mkind, k, dev.port.get(k), old) if not fresh else 'default'} "
                                           f"-> {_port_value(mkind, k, v, want)}" for k, v in e.port.items()
                                           if fresh or want[k] != old[k]),
                                 ("port_set", e, mkind)))


def _master_kind(p, e):
    """The kind of ``e``'s master, whose port options ``e`` sets: as declared,
    or for an existing (external) master, as it is live (a bridge someone
    else made, shared by vnet's ports); None, with a conflict, when that
    master takes none of them (or not these values)."""
    master = p.declared[e.master_key()][0]
    if master.kind_module.port_options:
        return master.kind_module
    live = p.state.device(*e.master_key())
    kind = live.kind_module if live is not None else None
    if kind is None or not set(e.port) <= set(kind.port_options):
        p.conflicts.append(f"{e.label}: {', '.join(sorted(e.port))}: only for ports of a master that has it; existing "
                           f"{master.label!r} is {'a ' + live.kind_name if live is not None else 'missing'}")
        return None
    from ..topology.problems import Problems
    problems = Problems(e.label)
    kind.validate_port(live, e, problems, "port")
    if problems.items:
        p.conflicts.extend(problems.items)
        return None
    return kind


def _stale_devices(p):
    """Devices we own that are no longer declared: upper devices before
    lower ones, ports before their masters (an undo makes them again the
    other way round: a master first, then its ports joining it)."""
    stale = [d for d in p.state.devices() if p.in_scope(d.netns) and p.owned(d) and d.key not in p.declared]
    stale += [d for d in p.record.renamed(p.state) if p.in_scope(d.netns) and d.key not in p.declared]
    scheduled = set()
    for d in sorted(stale, key=lambda d: (d.kind_module is None or d.kind_module.link_option is None,
                                          -_masters_above(p.state, d), d.netns is not None, d.netns or "", d.name)):
        if d.peer and (d.peer in p.declared or d.peer in scheduled):
            continue   # the pair goes with its other end (re-created, or deleted already)
        scheduled.add(d.key)
        p.removals.append(Change("delete", f"link {where(*d.key)}", "no longer declared", ("dev_delete", d)))


def _uppers_not_ours(p):
    """A device someone else made on one the plan deletes or makes again (a
    macvlan, VLAN, VXLAN... whose lower it is) would go with it: the plan
    stops, before any change, naming it."""
    doomed = {k: "make again" for k in p.gone}
    for c in p.removals:
        if c.op[0] == "dev_delete":   # (with a pair's other end)
            doomed.update({k: "delete" for k in (c.op[1].key, c.op[1].peer) if k})
    if not doomed:
        return
    for u in p.state.devices():
        lower = u.lower
        if lower in doomed and u.key not in doomed and not p.owned(u):
            p.conflicts.append(f"device {where(*u.key)} ({u.kind_name} on {where(*lower)}) is not owned by topology "
                               f"{p.topo.name!r}, and the kernel deletes it with its lower device, which the plan "
                               f"would {doomed[lower]} (vnet never deletes a device it did not create): "
                               f"remove {u.name} first, or keep {lower[1]} as it is")


def _masters_above(state, d):
    """How many masters device ``d`` is under (a port of a bond that is a
    bridge's port: 2)."""
    n, seen = 0, {d.key}
    while d is not None and d.master and d.master not in seen:
        n += 1
        seen.add(d.master)
        d = state.device(*d.master)
    return n


def _stale_namespaces(p):
    declared = set(p.topo.namespaces)
    for ns in p.record.namespaces:
        if ns not in declared and (p.state.has_ns(ns) or ns in p.state.half_made):
            p.ns_deletes.append(Change("delete", f"netns {ns}", "no longer declared", ("ns_delete", ns)))


def _address_changes(e, dev, kernel=frozenset(), remember=False, dropped=frozenset()):
    """([deletions], [additions]) that give endpoint ``e`` its declared
    addresses, those the kernel gives it itself (``kernel``) kept unless declared
    (``remember``: the additions go on the record: a device vnet did not make;
    ``dropped``: those the kernel drops with a change before: added back).
    Every deletion comes first (renumbering 10.0.0.10/24 to
    10.0.0.20/24 deletes, then adds: added first, the new address would be
    a secondary that the kernel drops with the old primary). A declared IPv4
    secondary whose primary goes is deleted before it and added back, so
    nothing is dropped behind vnet's back, promote_secondaries or not; a
    primary kept that is not the first its subnet's the file gives
    (``_misplaced_primaries``) goes so too, and comes back after them."""
    want = set(e.addresses)
    have = [] if dev is None else [a for a in dev.addresses if a in want or a not in kernel] if kernel else dev.addresses
    secondary = set(dev.secondary) if dev is not None else set()
    misplaced = _misplaced_primaries(e, have, secondary)
    if dev is not None and want == set(have) and not misplaced:   # as declared (a no-op plan's every endpoint)
        return [], []
    gone = [a for a in have if a not in want]
    lost_nets = {subnet(a) for a in gone + list(misplaced) if a.version == 4 and a not in secondary}   # (a peer's: its own)
    carried = [a for a in have if a in want and a in secondary and subnet(a) in lost_nets]
    why = {subnet(prim): reason for prim, reason in misplaced.items()}
    why = {a: why.get(subnet(a)) or "a secondary of a primary that goes: deleted first, added back after"
           for a in carried} | misplaced
    dels = [Change("delete", f"address {a} on {e.label}", why.get(a, "not declared"), ("addr_del", e.key, a))
            for a in sorted([*carried, *misplaced, *sorted(gone, key=str)], key=lambda a: a not in secondary)]
    kept = set(have) - set(carried) - set(misplaced)
    adds = [Change("create", f"address {a} on {e.label}",
                   "new device" if dev is None else "added back" if a in carried or a in misplaced else
                   "it goes down, which drops its IPv6 addresses: added back" if a in dropped else "missing",
                   ("addr_add", e.key, a) + ((True,) if remember else ())) for a in e.addresses if a not in kept]
    return dels, adds


def _misplaced_primaries(e, have, secondary):
    """{primary: why it goes} of the IPv4 primaries ``have`` keeps (the
    file declares them) whose subnet's first address in the file is
    another: the kernel makes the first address of a subnet its primary,
    the source of what leaves through it, and a fresh apply makes the
    file's first so (someone deleted and added it back, with
    promote_secondaries; or it is missing, and added it would be a
    secondary). It goes, after its secondaries, and all come back in the
    file's order."""
    first = {}
    v4 = [a for a in e.addresses if a.version == 4]
    for a in v4:
        first.setdefault(subnet(a), a)
    if len(first) == len(v4):   # one address per subnet: each its primary
        return {}
    return {a: f"primary is {a}, the file gives {first[subnet(a)]} first: deleted, added back after"
            for a in have if a.version == 4 and a not in secondary and first.get(subnet(a), a) != a
            and a in v4}


def _held_down(iface, endpoints):
    """``iface`` as created: the given endpoints down (they go up in a later step)."""
    if not endpoints:
        return iface
    held = {id(e) for e in endpoints}
    peer = iface.peer.replace(up=False) if id(iface.peer) in held else iface.peer
    return iface.replace(up=iface.up and id(iface) not in held, peer=peer)


def _compare(iface, kind, dev, gone):
    """(recreate reason or '', {option: old value} to change in place)."""
    if dev is None:
        return "does not exist", {}
    if dev.kind_module is not kind:
        return f"is a {dev.kind_name}, declared {kind.name}", {}
    if iface.peer and dev.peer != iface.peer.key:
        return f"peer is {_show(dev.peer)}, declared {iface.peer.label}", {}
    changed = {}
    for opt, want in iface.options.items():
        if want is None:
            continue
        have = dev.options.get(opt)
        if isinstance(want, Ref) and want.resolve(iface.netns) in gone:
            return f"its {opt} {want.name} is re-created", {}
        if _norm(kind.normalize(opt, want), iface.netns) != _norm(kind.normalize(opt, have), dev.netns):
            if not kind.in_place(opt, have, want):
                return f"{opt} {_described(kind, opt, have)} -> {_described(kind, opt, want)} cannot change in place", {}
            changed[opt] = have
    return "", changed


def _generic_changes(e, dev, gone, created, group):
    """{field: (old, new)} of the common fields to set after creation or in place."""
    out = {}
    master = e.master_key()
    if created:
        return {}   # a created device gets everything in its creation request
    if dev.group != group:   # ours with the tag an undo stopped midway gave it: ours again
        out["group"] = (dev.group, group)
    have_master = None if dev.master is None or dev.master in gone else dev.master
    if master != have_master:
        out["master"] = (have_master, master)
    if e.mtu is not None and dev.mtu != e.mtu:
        out["mtu"] = (dev.mtu, e.mtu)
    if e.mac is not None and dev.mac != e.mac:
        out["mac"] = (dev.mac, e.mac)
    if dev.up != e.up:
        out["up"] = (dev.up, e.up)
    if e.promisc is not None and dev.promisc != e.promisc:
        out["promisc"] = (dev.promisc, e.promisc)
    if e.txqueuelen is not None and dev.txqueuelen != e.txqueuelen:
        out["txqueuelen"] = (dev.txqueuelen, e.txqueuelen)
    if e.alias is not None and dev.alias != e.alias:
        out["alias"] = (dev.alias, e.alias)
    if e.altnames is not None and sorted(dev.altnames) != sorted(e.altnames):
        out["altnames"] = (list(dev.altnames), list(e.altnames))
    for flag in LINK_FLAGS:
        want = getattr(e, flag)
        if want is not None and getattr(dev, flag) != want:
            out[flag] = (getattr(dev, flag), want)
    return out


def touched_namespaces(p):
    """The namespaces ``p``'s changes can alter, for a verification that
    observes only those; None when a change reaches further than its own
    objects (a deletion takes a pair's other end and a namespace's devices
    with it: then everything is observed again)."""
    out = set()
    for nss, _announced in _touches(p):
        if nss is None:
            return None
        out |= nss
    return out


def verified_devices(p, after, namespaces):
    """The keys of the devices of ``namespaces`` a verification plans after
    plan ``p``'s changes: those its changes made or changed, and those
    observed again in State ``after`` (read anew, or gone); the others are
    the objects the plan observed, in which it found no change."""
    out = changed_devices(p)
    for ns in namespaces:
        before, now = p.state.namespaces.get(ns) or {}, after.namespaces.get(ns) or {}
        out |= {(ns, name) for name, d in now.items() if before.get(name) is not d}
        out |= {(ns, name) for name in before if name not in now}
    return out


def changed_devices(p):
    """The keys of the devices plan ``p``'s changes make or change."""
    out = set()
    for c in p.changes:
        op = c.op
        if op[0] in ("dev_create", "dev_options"):
            out |= {e.key for e in op[1].endpoints()}
        elif op[0] in ("dev_set", "port_set"):
            out.add(op[1].key)
        elif op[0] in ("addr_add", "addr_del"):
            out.add(op[1])
    return out


# changes whose every effect the kernel announces as a link or address
# change in the namespaces they touch (a link's options, a port's, an address)
_ANNOUNCED_OPS = frozenset({"dev_create", "dev_options", "dev_set", "port_set", "addr_add", "addr_del"})


def announced_namespaces(p):
    """Of the namespaces ``p`` touches, those where every change is one the
    kernel announces (a link or address change) to a device of a kind whose
    observation reads nothing else (``Kind.announced``): a verification
    there may read again only the devices announced while the plan ran."""
    by_key = p.topology.by_key()
    out, mixed = set(), set()
    for c, (nss, announced) in zip(p.changes, _touches(p)):
        if nss is None:
            return set()
        if announced and c.op[0] in ("dev_set", "port_set"):   # the device's kind (and its master's, for a port)
            declared = by_key.get(c.op[1].key)
            announced = declared is not None and declared[0].kind_module.announced \
                and (c.op[0] == "dev_set" or c.op[2].port_announced(c.op[1].port))
        (out if announced else mixed).update(nss)
    return out - mixed


def _touches(p):
    """For each change: (the namespaces it can alter, or None when it
    reaches further than its own objects; whether its effects are all
    announced as link or address changes: False with None)."""
    for c in p.changes:
        op, args = c.op[0], c.op[1:]
        announced = op in _ANNOUNCED_OPS
        if op in ("ns_delete", "dev_delete", "dev_recreate"):
            yield None, False
        elif op in ("dev_create", "dev_options"):
            iface = args[0]
            yield ({e.netns for e in iface.endpoints()}
                   | {ref.resolve(iface.netns)[0] for _f, ref in iface.refs(include_late=True)},
                   announced and iface.kind_module.announced
                   and not (op == "dev_options" and set(args[1]) & iface.kind_module.ports_follow))
        elif op in ("dev_set", "port_set"):
            e = args[0]
            yield {e.netns} | ({e.master_key()[0]} if e.master else set()), announced
        elif op in ("ns_create", "sysctl_set", "sysctl_restore"):
            yield {args[0]}, False
        elif op in ("addr_add", "addr_del", "route_del"):
            yield {args[0][0]}, announced
        elif op in ("route_add", "rule_add"):
            yield {args[0].netns}, False
        elif op == "rule_del":
            yield {args[1].netns}, False
        elif op in ("neigh_set", "neigh_del", "neigh_forget"):
            yield {args[0].netns if op == "neigh_set" else args[0][0]}, False
        elif op in ("nh_add", "nh_set", "nh_del", "nh_remake"):
            yield {args[0].netns}, False
        elif op == "nh_forget":
            yield {args[0][0]}, False
        else:
            yield None, False
