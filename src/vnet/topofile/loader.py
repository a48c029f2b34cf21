"""Read a topology file, validate all of it, and build the model. Every
problem is collected (with file, object and field) and raised at once."""
import ipaddress

from ..errors import SpecError
from .. import kinds
from ..kinds import BY_NAME
from ..topology import fields as F
from ..topology import reader
from ..topology.model import HOST, RT_TABLE_MAIN, Endpoint, Interface, Ref, Route, Sysctl, Topology

TOPOLOGY_NAME = F.Str("topology name: owns everything it creates", pattern=r"[a-z0-9-]{1,32}",
                      explain="1-32 characters of a-z, 0-9 and '-'", required=True)

ENDPOINT_FIELDS = {
    "name": F.IfName(required=True),
    "netns": F.NsName(),
    "up": F.Bool("administratively up", default=True),
    "mtu": F.Int("MTU in bytes", lo=68, hi=65535),
    "mac": F.MAC(),
    "master": F.RefField("the bridge (or other master) this device is a port of"),
    "addresses": F.ListOf(F.CIDR(), "IPv4 and IPv6 addresses with prefix length"),
}

ROUTE = F.Obj({
    "netns": F.NsName(),
    "to": F.Str("destination network, or 'default'", required=True),
    "via": F.IP("gateway"),
    "dev": F.IfName("output device"),
    "metric": F.Int("route metric", lo=0, hi=2**32 - 1, default=0),
    "onlink": F.Bool("the gateway is on the link of dev though no address of the namespace is on its subnet "
                     "(ip route ... onlink)", default=False),
    "table": F.Table(),
    "src": F.IP("preferred source address of packets sent by this route (an address of the namespace)"),
    "scope": F.Enum("IPv4 route scope (default: global with a gateway, link without, as ip route add)",
                    ("global", "site", "link", "host")),
}, title="route")

SYSCTL = F.Obj({
    "netns": F.NsName(),
    "key": F.Str("a network sysctl, e.g. net.ipv4.ip_forward", pattern=r"net(\.[A-Za-z0-9_-]+)+",
                 explain="a network sysctl key like net.ipv4.ip_forward", required=True),
    "value": F.Scalar("value to write", required=True),
}, title="sysctl")


REFERENCE_ONLY = ("name", "netns")   # all a device vnet never changes (external) may declare


_PORT_FIELDS = (None, None)   # (the registry they were read from, the fields)
_INTERFACE_FIELDS = {}   # kind -> its interface schema: made once, not per interface


def port_fields():
    """Options a device may carry as a port of its master, from every kind
    that can be a master (a bridge port's `vlans`). Not to be changed."""
    global _PORT_FIELDS
    if _PORT_FIELDS[0] is not kinds.REGISTRY:   # read again once a kind is registered at run time
        out = {}
        for k in kinds.REGISTRY:
            out.update(k.port_options)
        _PORT_FIELDS = (kinds.REGISTRY, out)
    return _PORT_FIELDS[1]


def endpoint_fields():
    return {**ENDPOINT_FIELDS, **port_fields()}


def _endpoint_args(v, own=()):
    """Endpoint constructor arguments from a validated mapping. A name that
    is one of ``own``, the kind's options, is the kind's (a VXLAN's
    ``learning``, a bridge's ``priority``), not a port option."""
    ports = port_fields()
    args = {f: v[f] for f in ENDPOINT_FIELDS if f in v}
    args["port"] = {f: v[f] for f in ports if v.get(f) is not None and f not in own}
    return args


def interface_field(kind):
    f = _INTERFACE_FIELDS.get(kind)
    if f is None:
        f = _INTERFACE_FIELDS[kind] = _interface_field(kind)
    return f


def _interface_field(kind):
    fields = endpoint_fields()
    if not kind.creatable:
        fields = {f: fields[f] for f in REFERENCE_ONLY}
    fields["kind"] = F.Enum("interface kind", [kind.name], required=True)
    fields.update(kind.options)
    if kind.peer:
        fields["peer"] = F.Obj(endpoint_fields(), "the other end of the pair", required=True)
    return F.Obj(fields, kind.doc, title=kind.name)


# The most a topology file may be. Validated, a file takes about 35 times
# its size in Python objects and about 1 s of CPU per MiB (measured on the
# build machine with the worst shapes tried: one-line dummies, veth pairs
# into namespaces with an address each, one-element lists): 3 MiB keeps the
# rejection of any file within 5 s and 200 MB, and larger ones are refused
# unread. A lab of 100,000 dummies, or of 27,000 veth pairs into as many
# namespaces, fits.
MAX_FILE = 3 << 20


def load(path):
    """Load and validate a topology file (YAML or JSON)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > MAX_FILE:   # read no further: a topology this size is a mistake (or /dev/zero)
        raise SpecError(f"{path}: larger than {MAX_FILE >> 20} MiB, the most a topology file may be")
    from . import cache
    topo = cache.get(data, path)
    if topo is None:
        topo = load_text(data, path)
        cache.put(data, path, topo)
    return topo


def load_text(data, source="<topology>"):
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")   # an editor's byte order mark is not an error
        except UnicodeDecodeError:
            raise SpecError(f"{source}: not a text file (invalid UTF-8)") from None
    read = _parse_text(data, source)
    return parse(read.doc, source, read.problems)


def _parse_text(text, source):
    """A ``reader.Read``: the document, and keys given twice."""
    if source.endswith(".json"):
        try:
            return reader.read_json(text)
        except ValueError as e:
            raise SpecError(f"{source}: invalid JSON: {F.cut(str(e), 200)}") from None
    import yaml
    try:
        return reader.read_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None)
        if isinstance(e, yaml.reader.ReaderError):     # a control character: no mark, only an offset
            before = text[:e.position]
            where = f"line {before.count(chr(10)) + 1}, column {e.position - before.rfind(chr(10))}: "
            ch = e.character if isinstance(e.character, int) else ord(e.character)
            what = f"unacceptable character #x{ch:04x}: {e.reason}"
        raise SpecError(f"{source}: invalid YAML: {where}{F.cut(str(what or e), 200)}") from None


def parse(doc, source="<topology>", found=()):
    """Validate a parsed document and build the Topology; raise SpecError
    listing every problem (with ``found``, (path, message) of the reading)."""
    p = F.Problems(source)
    for path, msg in found:
        p.add(path, msg)
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: the file is empty" if doc is None else
                        f"{source}: expected a mapping with at least 'name', got {type(doc).__name__}")
    top = {"name": TOPOLOGY_NAME, "namespaces": F.ListOf(F.NsName("namespace")),
           "interfaces": F.ListOf(F.Obj({})), "routes": F.ListOf(ROUTE), "sysctls": F.ListOf(SYSCTL),
           "checks": None}
    for k in doc:
        if k not in top:
            p.add(reader.label(k) if isinstance(k, str) else F.quote(k, 40), f"unknown field{F._close(k, top)}")
    name = F.validate(TOPOLOGY_NAME, doc.get("name"), "name", p) if "name" in doc else p.add("name", "is required")
    nss = F.validate(top["namespaces"], doc.get("namespaces"), "namespaces", p) or []
    topo = Topology(name=name if isinstance(name, str) else "", source=source,
                    namespaces=nss if isinstance(nss, list) else [])
    seen = set()
    for i, ns in enumerate(topo.namespaces):
        if ns in seen:
            p.add(f"namespaces[{i}]", f"namespace {ns!r} is declared twice")
        seen.add(ns)

    invalid = set()   # interfaces with a problem: cross-interface rules skip them
    raw_ifaces = doc.get("interfaces") or []
    if not isinstance(raw_ifaces, list):
        p.add("interfaces", f"expected a list, got {F._short(raw_ifaces)}")
        raw_ifaces = []
    for i, raw in enumerate(raw_ifaces):
        label = f"interfaces[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
            label += f" ({reader.label(raw['name'])})"
        if not isinstance(raw, dict):
            p.add(label, f"expected a mapping, got {F._short(raw)}")
            continue
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in BY_NAME:
            p.add(f"{label}.kind", ("is required (written kind:, not type:)" if "type" in raw else "is required")
                  if kind is None else
                  f"unknown kind {F.quote(kind)}{F._close(kind, BY_NAME)}; kinds: {', '.join(BY_NAME)}")
            continue
        k = BY_NAME[kind]
        before = len(p.items)
        if not k.creatable:   # settings vnet would silently never apply
            known = endpoint_fields()
            for f in [f for f in raw if f in known and f not in REFERENCE_ONLY]:
                p.add(f"{label}.{f}", f"an {kind} device is only referred to, never changed: vnet would not set its {f}")
                raw = {x: y for x, y in raw.items() if x != f}
        v = F.validate(interface_field(k), raw, label, p)
        if v is F.MISSING or "name" not in v:
            continue
        valid = len(p.items) == before
        if not valid:
            invalid.add(label)
        peer = None
        if k.peer and isinstance(v.get("peer"), dict) and "name" in v["peer"]:
            peer = Endpoint(**_endpoint_args(v["peer"]))
        common = _endpoint_args(v, k.options)
        opts = {o: v.get(o) for o in k.options}
        iface = Interface(**common, kind=kind, options=opts, peer=peer, path=label)
        if valid:   # the kind's cross-field rules assume every field is valid
            k.validate(iface, p, label)
        topo.interfaces.append(iface)

    for i, raw in enumerate(doc.get("routes") or [] if isinstance(doc.get("routes") or [], list) else []):
        v = F.validate(ROUTE, raw, f"routes[{i}]", p)
        if v is not F.MISSING and "to" in v:
            r = _route(v, f"routes[{i}]", p)
            if r:
                topo.routes.append(r)
    if not isinstance(doc.get("routes") or [], list):
        p.add("routes", "expected a list")
    for i, raw in enumerate(doc.get("sysctls") or [] if isinstance(doc.get("sysctls") or [], list) else []):
        v = F.validate(SYSCTL, raw, f"sysctls[{i}]", p)
        if v is not F.MISSING and "key" in v and "value" in v:
            topo.sysctls.append(Sysctl(key=v["key"], value=str(v["value"]), netns=v.get("netns"),
                                       path=f"sysctls[{i}]"))
    if not isinstance(doc.get("sysctls") or [], list):
        p.add("sysctls", "expected a list")

    # rules across interfaces, once per kind class (ipvlan and ipvtap share one)
    classes = {}
    for i in topo.interfaces:
        classes.setdefault(type(i.kind_module), (i.kind_module, []))[1].append(i)
    for kmod, ifaces in classes.values():
        kmod.validate_all([i for i in ifaces if i.path not in invalid], p)
    _cross_check(topo, p, invalid)
    from ..topology import checks
    topo.checks = checks.parse(doc.get("checks"), p)
    checks.cross_check(topo, p)
    if not p.items:   # lint reads a whole, valid topology
        from . import lint
        w = F.Problems(source)
        lint.run(topo, p, w)
        topo.warnings = w.lines()
    if p.items:
        raise SpecError(p.lines())
    return topo


def _route(v, path, p):
    to = v["to"]
    via = v.get("via")
    try:
        if to == "default":
            net = ipaddress.ip_network("::/0" if via is not None and via.version == 6 else "0.0.0.0/0")
        else:
            net = ipaddress.ip_network(to)
    except ValueError as e:
        hint = F._close(to, ["default"]) if "/" not in to else ""
        p.add(f"{path}.to", f"{F.quote(to)} is not a network or 'default'{hint or ' (' + F.cut(str(e), 120) + ')'}")
        return None
    if via is not None and via.version != net.version:
        p.add(f"{path}.via", f"{via} is IPv{via.version} but the destination {to} is IPv{net.version}")
        return None
    if via is None and v.get("dev") is None:
        p.add(path, "a route needs via, dev, or both")
        return None
    if via is not None and (via.is_unspecified or via.is_multicast):
        p.add(f"{path}.via", f"{via} cannot be a gateway (it is {'no address' if via.is_unspecified else 'multicast'}); "
                             "for a route through a device alone, give dev without via")
        return None
    if v.get("onlink") and (via is None or v.get("dev") is None):
        p.add(f"{path}.onlink", "says the gateway (via) is on the link of dev: give both")
        return None
    src = v.get("src")
    if src is not None and (src.version != net.version or src.is_unspecified or src.is_multicast):
        p.add(f"{path}.src", f"{src} cannot be the source of a route to {to}: "
                             + (f"it is IPv{src.version}" if src.version != net.version else "not a unicast address"))
        return None
    if v.get("scope") is not None and net.version == 6:
        p.add(f"{path}.scope", "an IPv6 route has no scope (the kernel keeps none): leave it out")
        return None
    return Route(to=net, netns=v.get("netns"), via=via, dev=v.get("dev"), metric=v.get("metric", 0), path=path,
                 onlink=bool(v.get("onlink")), table=v.get("table", RT_TABLE_MAIN), src=src, scope=v.get("scope"))


def _cross_check(topo, p, invalid=()):
    """Rules across objects: namespaces, duplicates, references, cycles.
    ``invalid``: paths of interfaces with a problem, whose port options are
    not checked against their master (those rules assume valid fields)."""
    declared_ns = set(topo.namespaces)

    def check_ns(ns, path):
        if ns is not HOST and ns not in declared_ns:
            hint = " (omit netns for the namespace vnet runs in)" if ns == "host" else ""
            p.add(path, f"namespace {ns!r} is not declared{F._close(ns, declared_ns) or hint}")
            return False
        return True

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
            for opt in e.port if not e.master else ():
                p.add(f"{iface.path}{sub}.{opt}", "only for a port of a master: set master")
            seen = set()
            for a in e.addresses:
                if a in seen:
                    p.add(f"{iface.path}{sub}.addresses", f"{a} is listed twice")
                seen.add(a)

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
                if key[0] != owner.netns:
                    p.add(path, f"master {ref.name!r} is in namespace {key[0] or 'host'}, but {owner.name!r} is in "
                                f"{owner.netns or 'host'}: a port must be in its master's namespace")
                if not target.kind_module.is_master:
                    p.add(path, f"{ref.name!r} is a {target.kind}, which cannot be a master")
            if fld.endswith("master"):
                sub = ".peer" if fld.startswith("peer.") else ""
                for opt in owner.port:
                    if opt not in target.kind_module.port_options:
                        p.add(f"{iface.path}{sub}.{opt}", f"only for ports of a master that has it; "
                                                          f"{ref.name!r} is a {target.kind}")
                if owner.port and all(o in target.kind_module.port_options for o in owner.port) \
                        and iface.path not in invalid:
                    target.kind_module.validate_port(target, owner, p, f"{iface.path}{sub}")
            if fld in creation_refs:
                deps.setdefault(iface.path, set()).add(target.path)
    _cycles(topo, deps, p)

    ns_devices = {}
    for (ns, name) in devices:
        ns_devices.setdefault(ns, set()).add(name)
    for r in topo.routes:
        if check_ns(r.netns, f"{r.path}.netns") and r.dev and r.dev not in ns_devices.get(r.netns, set()):
            p.add(f"{r.path}.dev", f"device {r.dev!r} in namespace {r.netns or 'host'} is neither declared nor external")
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

