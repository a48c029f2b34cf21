"""A topology's rules across objects, once each object is valid on its own:
namespaces declared, names not declared twice, references that resolve (a
port in its master's namespace, with options its master has), no cycle of
creation, and the devices routes and sysctls name."""
from ..topology import fields as F
from ..topology.address import kernel_key, plain, scope_name, scope_of, subnet
from ..topology.model import HOST, joined


def cross_check(topo, p, invalid=()):
    """Rules across objects: namespaces, duplicates, references, cycles.
    ``invalid``: paths of interfaces with a problem, whose port options are
    not checked against their master (those rules assume valid fields)."""
    check_ns = _namespace_check(topo, p)
    devices = _devices(topo, p, check_ns)
    deps = _references(topo, p, devices, check_ns, invalid)
    _cycles(topo, deps, p)
    ns_devices = {}
    for (ns, name) in devices:
        ns_devices.setdefault(ns, set()).add(name)
    _route_devices(topo, p, ns_devices, check_ns)
    _nexthop_references(topo, p, devices, check_ns)
    for r in topo.rules:
        check_ns(r.netns, f"{r.path}.netns")
    for n in topo.neighbours:
        if not check_ns(n.netns, f"{n.path}.netns"):
            continue
        if n.dev not in ns_devices.get(n.netns, set()):
            p.add(f"{n.path}.dev", f"device {n.dev!r} in namespace {n.netns or 'host'} is neither declared nor "
                                   f"external{F._close(n.dev, ns_devices.get(n.netns, ()))}")
            continue
        kind = devices[(n.netns, n.dev)][0].kind_module
        if n.dev == "lo" or kind.link_layer != "ether" and kind.name != "external":
            what = "lo" if n.dev == "lo" else f"{n.dev!r} is a {kind.name} device, which"
            p.add(f"{n.path}.dev", f"{what} has no link-layer address: it has no neighbour entries")
    _sysctl_devices(topo, p, ns_devices, check_ns)


def _namespace_check(topo, p):
    """check_ns(ns, path): whether ``ns`` is declared (or the host's); if not, said at ``path``."""
    declared_ns = set(topo.namespaces)

    def check_ns(ns, path):
        if ns is not HOST and ns not in declared_ns and not joined(ns):
            hint = " (omit netns for the namespace vnet runs in)" if ns == "host" else ""
            p.add(path, f"namespace {ns!r} is not declared{F._close(ns, declared_ns) or hint}")
            return False
        return True
    return check_ns


def _devices(topo, p, check_ns):
    """(netns, name) -> (interface, endpoint) of every declared device; each
    endpoint's namespace, name, port options and addresses checked."""
    declared_ns = set(topo.namespaces)
    devices = {}
    for iface in topo.interfaces:
        for e, sub in ((iface, ""), (iface.peer, ".peer")):
            if e is None:
                continue
            if check_ns(e.netns, f"{iface.path}{sub}.netns") and e.netns in declared_ns \
                    and not iface.kind_module.creatable and not iface.kind_module.in_new_namespace(e):
                p.add(f"{iface.path}.netns", f"namespace {e.netns} is created by this file, so no {iface.kind} "
                                             f"device {e.name!r} can be in it yet: declare the device")
            if e.key in devices:
                p.add(f"{iface.path}{sub}.name",
                      f"{e.name!r} is declared twice in namespace {e.netns or 'host'} "
                      f"(also {devices[e.key][0].path})")
            else:
                devices[e.key] = (iface, e)
            if e.addresses:
                why = iface.kind_module.addresses_refused(e, e.netns in declared_ns)
                if why:
                    p.add(f"{iface.path}{sub}.addresses", why)
                own = {kernel_key(k) for k in iface.kind_module.kernel_addresses(e)}
                for a in (a for a in e.addresses if kernel_key(a) in own):
                    p.add(f"{iface.path}{sub}.addresses", f"{a} is {e.name}'s own: the kernel gives it, and vnet "
                                                          "never takes it away; leave it out")
            for opt in e.port if not e.master else ():
                p.add(f"{iface.path}{sub}.{opt}", "only for a port of a master: set master")
            seen = set()
            for a in e.addresses:   # one address in another flavour is the same to the kernel
                key = kernel_key(a)
                if key in seen:
                    p.add(f"{iface.path}{sub}.addresses", f"{a} is listed twice")
                seen.add(key)
            if e.addresses:
                _one_scope_per_subnet(e, iface.kind_module.kernel_addresses(e), f"{iface.path}{sub}.addresses", p)
                _labels(e, f"{iface.path}{sub}.addresses", p)
    _altnames(topo, devices, p)
    return devices


def _altnames(topo, devices, p):
    """An alternative name is a name as unique in its namespace as a
    device's (the kernel refuses one another device has: EEXIST)."""
    taken = {}
    for iface in topo.interfaces:
        for e, sub in ((iface, ""), (iface.peer, ".peer")):
            for n in (e.altnames or ()) if e is not None else ():
                other = devices.get((e.netns, n)) or taken.get((e.netns, n))
                if other is not None:
                    p.add(f"{iface.path}{sub}.altnames", f"{n!r} is also {other[1].label}'s name in namespace "
                                                         f"{e.netns or 'host'}")
                taken[(e.netns, n)] = (iface, e)


def _labels(e, path, p):
    """An address's label is not its device's name alone (the kernel's
    label when none is given: declared, it would never be found). (Any other
    the kernel takes; iproute2 before 5.18 asked for the name and more.)"""
    for a in e.addresses:
        label = getattr(a, "label", None)
        if label == e.name:
            p.add(path, f"{a}: label {label} is {e.name}'s own name, which the kernel gives an address "
                        "without one: leave label out")


def _one_scope_per_subnet(e, own, path, p):
    """The kernel holds the IPv4 addresses of a device's subnet (and length)
    with the scope of the first ("Invalid scope value" for another): those
    declared, and those it gives the device itself (lo's 127.0.0.1/8, host)."""
    first = {}
    for a in [*own, *e.addresses]:
        if a.version != 4:
            continue
        other = first.setdefault((a.network.prefixlen, subnet(a)), a)
        if scope_of(other) != scope_of(a):
            shown = plain(other) if other in own else other   # (the kernel's own: lo's 127.0.0.1/8)
            p.add(path, f"{a} has scope {scope_name(scope_of(a))} where {shown} in its subnet has "
                        f"{scope_name(scope_of(other))}: the kernel keeps one scope per subnet of a device")


def _references(topo, p, devices, check_ns, invalid):
    """Every reference of an interface resolved to a declared device (a
    master checked as one); interface path -> paths it needs created first."""
    deps = {}
    for iface in topo.interfaces:
        creation_refs = {f for f, _r in iface.refs()}
        for fld, ref in iface.refs(include_late=True):
            owner = iface.peer if fld.startswith("peer.") else iface
            if ref.explicit and not check_ns(ref.netns, f"{iface.path}.{fld}.netns"):
                continue
            key = ref.resolve(owner.netns)
            path = f"{iface.path}.{fld}"
            if key not in devices:
                names = {n for (ns, n) in devices if ns == key[0]}
                p.add(path, f"device {ref.name!r} in namespace {key[0] or 'host'} is neither declared nor "
                            f"external{F._close(ref.name, names)}")
                continue
            target = devices[key][0]
            if key == owner.key:
                p.add(path, f"{ref.name!r} refers to itself")
                continue
            if fld.endswith("master"):
                _master(iface, fld, owner, key, devices, ref, p, invalid)
            if fld in creation_refs:
                deps.setdefault(iface.path, set()).add(target.path)
    return deps


def _master(iface, fld, owner, key, devices, ref, p, invalid):
    """``owner``'s master, the device of ``key``: in its namespace, able to be
    a master, having the port options ``owner`` sets (and accepting their values)."""
    path = f"{iface.path}.{fld}"
    target = devices[key][0]
    if key[0] != owner.netns:
        p.add(path, f"master {ref.name!r} is in namespace {key[0] or 'host'}, but {owner.name!r} is in "
                    f"{owner.netns or 'host'}: a port must be in its master's namespace")
    if not target.kind_module.is_master:
        p.add(path, f"{ref.name!r} is a {target.kind}, which cannot be a master")
    sub = ".peer" if fld.startswith("peer.") else ""
    if target.kind == "external":
        return   # what an existing master is, and so which port options it takes, the plan sees live
    for opt in owner.port:
        if opt not in target.kind_module.port_options:
            p.add(f"{iface.path}{sub}.{opt}", f"only for ports of a master that has it; "
                                              f"{ref.name!r} is a {target.kind}")
    if owner.port and all(o in target.kind_module.port_options for o in owner.port) \
            and iface.path not in invalid:
        target.kind_module.validate_port(target, owner, p, f"{iface.path}{sub}")


def _route_devices(topo, p, ns_devices, check_ns):
    for r in topo.routes:
        if not check_ns(r.netns, f"{r.path}.netns"):
            continue
        for path, _via, dev in r.hops:
            if dev and dev not in ns_devices.get(r.netns, set()):
                p.add(f"{path}.dev", f"device {dev!r} in namespace {r.netns or 'host'} is neither declared nor external")


def _nexthop_references(topo, p, devices, check_ns):
    """A nexthop's namespace, id (one per namespace), device (declared, up)
    and group members (declared, no group); a route's nexthop declared."""
    nhs = {}
    for nh in topo.nexthops:
        if not check_ns(nh.netns, f"{nh.path}.netns"):
            continue
        if nh.key in nhs:
            p.add(f"{nh.path}.id", f"nexthop {nh.id} is declared twice in namespace {nh.netns or 'host'} "
                                   f"({nhs[nh.key].path})")
            continue
        nhs[nh.key] = nh
        found = devices.get((nh.netns, nh.dev)) if nh.dev else None
        if nh.dev and found is None:
            p.add(f"{nh.path}.dev", f"device {nh.dev!r} in namespace {nh.netns or 'host'} is neither declared nor "
                                    "external")
        elif found is not None and not found[1].up:
            p.add(f"{nh.path}.dev", f"{nh.dev!r} is declared down: the kernel keeps no nexthop through a device "
                                    "that is down")
        elif found is not None and _peer_down(*found):
            p.add(f"{nh.path}.dev", f"{nh.dev!r} has no carrier (its peer is declared down): the kernel keeps no "
                                    "nexthop through a device without one")
    for nh in nhs.values():
        for i, (member, _w) in enumerate(nh.group):
            m = nhs.get((nh.netns, member))
            if m is None or m.group:
                p.add(f"{nh.path}.group[{i}].id", f"nexthop {member} is not declared in namespace "
                                                  f"{nh.netns or 'host'}" if m is None else
                      f"nexthop {member} is a group: a group's members are not groups (the kernel's rule)")
            elif m.blackhole and len(nh.group) > 1:
                p.add(f"{nh.path}.group[{i}].id", f"nexthop {member} is a blackhole: the kernel takes one in a group "
                                                  "of it alone")
    for r in topo.routes:
        if r.nhid is not None and (r.netns, r.nhid) not in nhs and check_ns(r.netns, f"{r.path}.netns"):
            p.add(f"{r.path}.nhid", f"nexthop {r.nhid} is not declared in namespace {r.netns or 'host'}")


def _peer_down(iface, e):
    """Is endpoint ``e`` of ``iface`` a pair's end whose other end is declared down (no carrier)?"""
    other = None if iface.peer is None else iface.peer if e is iface else iface
    return other is not None and not other.up


def _sysctl_devices(topo, p, ns_devices, check_ns):
    declared_ns = set(topo.namespaces)
    for s in topo.sysctls:
        # a namespace the file creates holds only its devices and lo
        if check_ns(s.netns, f"{s.path}.netns") and s.netns in declared_ns and s.device \
                and s.device != "lo" and s.device not in ns_devices.get(s.netns, ()):
            p.add(f"{s.path}.key", f"device {s.device!r} is not declared in namespace {s.netns}, which this file "
                                   f"creates{F._close(s.device, ns_devices.get(s.netns, ()))}")


def _cycles(topo, deps, p):
    state = {}

    def visit(n, stack):
        state[n] = 1
        for m in sorted(deps.get(n, ())):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                p.add(n, "dependency cycle: " + " -> ".join(cyc))
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(deps):
        if n not in state:
            visit(n, [n])
