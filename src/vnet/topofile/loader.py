"""Read a topology file, validate all of it, and build the model. Every
problem is collected (with file, object and field) and raised at once."""
import ipaddress

from ..errors import SpecError
from .. import kinds
from ..kinds import BY_NAME
from ..topology import fields as F
from ..topology import reader
from .crosscheck import cross_check
from ..topology.model import (FLAG_METRICS, LOCKABLE, ROUTE_METRICS, ROUTE_PREFS, ROUTE_PROTOCOLS, ROUTE_TYPES, RT_TABLE_MAIN, Endpoint, Interface, NextHop, Ref,
                              Route, Sysctl, Topology, nexthop_family)
from ..topology.neighbour import Neighbour
from ..topology.rule import RULE_TYPES, Rule, rule_match, taken_for

TOPOLOGY_NAME = F.Str("topology name: owns everything it creates", pattern=r"[a-z0-9-]{1,32}",
                      explain="1-32 characters of a-z, 0-9 and '-'", required=True)

ENDPOINT_FIELDS = {
    "name": F.IfName(required=True),
    "netns": F.NsName(),
    "up": F.Bool("administratively up", default=True),
    "promisc": F.Bool("promiscuous: takes every frame its link carries, not only those for its MAC "
                      "(ip link set promisc on; omitted: left as it is)"),
    "mtu": F.Int("MTU in bytes", lo=68, hi=65535),
    "mac": F.MAC(),
    "txqueuelen": F.Int("transmit queue length in packets (ip link set txqueuelen; omitted: the kernel's)",
                        lo=0, hi=2**32 - 1),
    "alias": F.Alias(),
    "altnames": F.ListOf(F.AltName(), "alternative names, each unique in the namespace as a name is (ip link "
                         "property add ... altname; omitted: left as they are)", default=None),
    "arp": F.Bool("answers and sends ARP (ip link set arp off; omitted: left as it is)"),
    "multicast": F.Bool("takes multicast (ip link set multicast off; omitted: left as it is)"),
    "allmulticast": F.Bool("takes every multicast frame, joined or not (ip link set allmulticast on; omitted: left "
                           "as it is)"),
    "master": F.RefField("the bridge (or other master) this device is a port of"),
    "addresses": F.ListOf(F.CIDR(), "IPv4 and IPv6 addresses with prefix length"),
}

# what the kernel keeps of a metric beyond these it clamps (mtu, advmss,
# hoplimit), so that a file's value is the one a plan compares; the times in
# ms, which the kernel keeps in 1/8 ms (rtt) and 1/4 ms (rttvar) in 32 bits
_METRIC_BOUNDS = {"mtu": {"lo": 1, "hi": 65520}, "advmss": {"lo": 1, "hi": 65495}, "hoplimit": {"lo": 1, "hi": 255},
                  "rtt": {"lo": 1, "hi": (2**32 - 1) // 8}, "rttvar": {"lo": 1, "hi": (2**32 - 1) // 4}}

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
    "from": F.Prefix("an IPv6 route's source prefix: it takes only packets from there (ip -6 route add ... from "
                     "fd00:aaaa::/48), beside a route to the same place from elsewhere"),
    "scope": F.Enum("IPv4 route scope (default: global with a gateway, link without, as ip route add)",
                    ("global", "site", "link", "host")),
    "nexthops": F.ListOf(F.Obj({
        "via": F.IP("gateway of this next hop"),
        "dev": F.IfName("output device of this next hop"),
        "weight": F.Int("its share of the flows (ip route's weight)", lo=1, hi=256, default=1),
    }, title="nexthop"), "a multipath route's next hops, two or more, instead of via and dev "
       "(ip route add ... nexthop via A nexthop via B)"),
    "type": F.Enum("unicast (default); local, with dev and no via: its addresses are the host's own (ip route "
                   "add local 10.52.0.0/24 dev lo table local); or, without via or dev, a route that drops what it "
                   "matches, blackhole silently, unreachable and prohibit with an ICMP error (ip route add "
                   "blackhole ...), or throw, which ends the lookup in its table (policy routing's next rule goes on)",
                   ROUTE_TYPES),
    "protocol": F.Scalar("who made the route, as ip route's proto: a name of /etc/iproute2/rt_protos (boot, static, "
                         "bird, zebra, bgp, ospf, kernel...) or a number 2-255 but 9 (omitted: static, and any is taken as "
                         "it)"),
    "pref": F.Enum("an IPv6 route's preference among routes to the same place (ip route's pref; omitted: medium)",
                   tuple(ROUTE_PREFS)),
    "nhid": F.Int("the nexthop object the route goes through (ip route add ... nhid N), instead of via, dev and "
                  "nexthops", lo=1, hi=2**32 - 1),
    "metrics": F.Obj({
        **{m: F.Int(doc, **_METRIC_BOUNDS.get(m, {"lo": 1, "hi": 2**32 - 1})) for m, doc in ROUTE_METRICS.items()
           if m not in FLAG_METRICS + ("congctl",)},
        "quickack": F.Bool(ROUTE_METRICS["quickack"].replace(" on (1) or off (0)", "")),
        "fastopen_no_cookie": F.Bool(ROUTE_METRICS["fastopen_no_cookie"].replace(" on (1) or off (0)", "")),
        "congctl": F.Str(ROUTE_METRICS["congctl"], pattern=r"[a-z0-9_]{1,15}",
                         explain="a congestion control's name: 1-15 characters of a-z, 0-9 and '_'"),
        "lock": F.ListOf(F.Enum("a metric given here that TCP keeps as given (ip route's lock; rto_min's always is)",
                                LOCKABLE), "the metrics TCP may not change (ip route add ... mtu lock 1400)"),
    }, "the route's metrics, as ip route add ... mtu 1400 initcwnd 10 gives them", title="metrics"),
}, title="route")

NEXTHOP = F.Obj({
    "netns": F.NsName(),
    "id": F.Int("its id, which routes name (nhid): one per namespace", lo=1, hi=2**32 - 1, required=True),
    "via": F.IP("gateway (with dev)"),
    "dev": F.IfName("output device, up (the kernel drops a nexthop through a device that goes down)"),
    "onlink": F.Bool("the gateway is on the link of dev though no address says so", default=False),
    "blackhole": F.Bool("drops what routes through it send, instead of via and dev", default=False),
    "family": F.Enum("of a device alone or a blackhole: ipv4 (default, as ip nexthop) or ipv6 (ip -6 nexthop); a "
                     "gateway's is its own", ("ipv4", "ipv6")),
    "group": F.ListOf(F.Obj({
        "id": F.Int("a nexthop of the same namespace, not a group", lo=1, hi=2**32 - 1, required=True),
        "weight": F.Int("its share of the flows (up to 255: kernels before 6.12 take no more)", lo=1, hi=255,
                        default=1),
    }, title="member"), "other nexthops that share the flows, instead of via and dev (ip nexthop add id N group 1/2,3)"),
}, title="nexthop", words={"gateway": "via", "device": "dev", "nhid": "id"})

RULE = F.Obj({
    "netns": F.NsName(),
    "priority": F.Int("its place among the namespace's rules, lowest first (ip rule's pref; omitted: the "
                      "kernel's, one below the second rule's, 32765 at first, or 0 once a rule other than "
                      "the local table's has 0)", lo=0, hi=2**32 - 1),
    "family": F.Enum("ipv4 or ipv6: the rules it is among (omitted: that of from or to, else ipv4, as ip rule "
                     "without -6)", ("ipv4", "ipv6")),
    "from": F.Prefix("source network the rule matches, an address, or all (the default)"),
    "to": F.Prefix("destination network the rule matches, an address, or all (the default)"),
    "iif": F.IfName("the device packets came in by (lo: those the namespace sends)"),
    "oif": F.IfName("the device packets of sockets bound to it go out by"),
    "fwmark": F.Mark("the firewall mark packets carry: MARK or MARK/MASK (0x10/0xff)"),
    "tos": F.Int("the TOS (IPv4) or traffic class (IPv6) packets carry, its two ECN bits 0 (0: any; older "
                 "kernels take only the TOS bits, 0x1e)", lo=0, hi=255),
    "not": F.Bool("the rule matches the packets the selectors do not (ip rule add not ...)", default=False),
    "suppress_prefixlength": F.Int("a lookup's route with a prefix this long or shorter is not taken (0: the "
                                   "default route)", lo=0, hi=128),
    "table": F.Table(),
    "type": F.Enum("unicast (default): look up table; or drop what matches: blackhole silently, unreachable "
                   "and prohibit with an ICMP error; nop: nothing", RULE_TYPES),
}, title="rule", words={"pref": "priority", "preference": "priority", "order": "priority", "lookup": "table",
                        "action": "type", "invert": "not", "src": "from", "dst": "to"})

NEIGHBOUR = F.Obj({
    "netns": F.NsName(),
    "dev": F.IfName("the device the neighbour is reached by", required=True),
    "address": F.IP("the neighbour's IPv4 or IPv6 address", required=True),
    "lladdr": F.MAC("its MAC, for good (nud permanent); required, but for a proxy entry"),
    "proxy": F.Bool("answer ARP or neighbour solicitations for this address on dev (ip neigh add proxy; "
                    "with net.ipv4.conf.DEV.proxy_arp... or IPv6 forwarding and proxy_ndp)", default=False),
}, title="neighbour", words={"lladr": "lladdr", "mac": "lladdr", "ip": "address", "to": "address",
                             "device": "dev"})

SYSCTL = F.Obj({
    "netns": F.NsName(),
    "key": F.Str("a network sysctl, e.g. net.ipv4.ip_forward", pattern=r"net(\.[A-Za-z0-9_-]+)+",
                 explain="a network sysctl key like net.ipv4.ip_forward", required=True),
    "value": F.Scalar("value to write", required=True),
}, title="sysctl")


REFERENCE_ONLY = ("name", "netns")   # all a device vnet never changes (external) may declare
SETTABLE = ("addresses",)            # ... and what the file may still set on some (lo's addresses: the kind says)


_PORT_FIELDS = (None, None)   # (the registry they were read from, the fields)
_INTERFACE_FIELDS = {}   # kind -> its interface schema: made once, not per interface


def port_fields():
    """Options a device may carry as a port of its master, from every kind
    that can be a master (a bridge port's `vlans`). Not to be changed."""
    global _PORT_FIELDS
    if _PORT_FIELDS[0] != kinds.extras():   # read again once a kind is registered at run time
        out = {}
        for k in kinds.port_masters():
            out.update(k.port_options)
        _PORT_FIELDS = (kinds.extras(), out)
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
        fields = {f: fields[f] for f in REFERENCE_ONLY + SETTABLE}
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
        memo = cache.Memo(path, len(data))   # the interfaces this path's last version had, validated
        topo = load_text(data, path, memo)
        if not memo.outside:
            cache.put(data, path, topo)
        memo.save()
    return topo


def load_text(data, source="<topology>", memo=None):
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")   # an editor's byte order mark is not an error
        except UnicodeDecodeError:
            raise SpecError(f"{source}: not a text file (invalid UTF-8)") from None
    read = _parse_text(data, source, memo)
    return parse(read.doc, source, read.problems, memo=memo)


def _parse_text(text, source, memo=None):
    """A ``reader.Read``: the document, and keys given twice. With a
    ``memo`` of the path's last version, a YAML edit of a few of its
    interfaces parses only those (``edits``)."""
    if source.endswith(".json"):
        try:
            return reader.read_json(text)
        except ValueError as e:
            raise SpecError(f"{source}: invalid JSON: {F.cut(str(e), 200)}") from None
    if memo is not None and memo.split is not None:
        from . import edits
        doc = edits.read(text, memo.split)
        if doc is not None:
            return reader.Read(doc, [])
    read = _read_yaml(text, source)
    if memo is not None and memo.path is not None:
        from . import edits
        memo.split_new = edits.split(text, read.doc, read.top_lines, read.item_lines.get("interfaces", ()))
    return read


def _read_yaml(text, source):
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


def parse(doc, source="<topology>", found=(), secrets=None, memo=None):
    """Validate a parsed document and build the Topology; raise SpecError
    listing every problem (with ``found``, (path, message) of the reading;
    ``secrets``, the secrets the document may name: topology.secrets.Named;
    ``memo``, a cache.Memo of interfaces validated before, by their text)."""
    p = F.Problems(source, secrets)
    for path, msg in found:
        p.add(path, msg)
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: the file is empty" if doc is None else
                        f"{source}: expected a mapping with at least 'name', got {type(doc).__name__}")
    topo = _topology(doc, source, p)
    invalid = _interfaces(doc, topo, p, memo if secrets is None else None)
    _nexthop_objects(doc, topo, p)
    _routes(doc, topo, p)
    _rules(doc, topo, p)
    _neighbours(doc, topo, p)
    _sysctls(doc, topo, p)
    _kind_rules(topo, p, invalid)
    cross_check(topo, p, invalid)
    _checks(doc, topo, p)
    _lint(topo, p, source)
    if p.items:
        raise SpecError(p.lines())
    if memo is not None and p.outside:
        memo.outside = True   # a key read from a file or variable: the topology is not kept whole either
    return topo


TOP = {"name": TOPOLOGY_NAME, "namespaces": F.ListOf(F.NsName("namespace", joined=False)),
       "interfaces": F.ListOf(F.Obj({})), "routes": F.ListOf(ROUTE), "rules": F.ListOf(RULE), "neighbours": F.ListOf(NEIGHBOUR),
       "sysctls": F.ListOf(SYSCTL), "nexthops": F.ListOf(NEXTHOP),
       "checks": None}


def _topology(doc, source, p):
    """The Topology with its name and namespaces; the top level's unknown
    fields and namespaces declared twice are problems."""
    for k in doc:
        if k not in TOP:
            p.add(reader.label(k) if isinstance(k, str) else F.quote(k, 40), f"unknown field{F._close(k, TOP)}")
    name = F.validate(TOPOLOGY_NAME, doc.get("name"), "name", p) if "name" in doc else p.add("name", "is required")
    nss = F.validate(TOP["namespaces"], doc.get("namespaces"), "namespaces", p) or []
    topo = Topology(name=name if isinstance(name, str) else "", source=source,
                    namespaces=nss if isinstance(nss, list) else [])
    seen = set()
    for i, ns in enumerate(topo.namespaces):
        if ns in seen:
            p.add(f"namespaces[{i}]", f"namespace {ns!r} is declared twice")
        seen.add(ns)
    return topo


def _interfaces(doc, topo, p, memo=None):
    """Each interface validated by its kind and added to ``topo``; the
    paths of those with a problem (cross-interface rules skip them). One
    ``memo`` has (the same mapping at the same place, validated without a
    problem) is taken from it: validating one is a pure function of those."""
    invalid = set()
    raw_ifaces = doc.get("interfaces") or []
    if not isinstance(raw_ifaces, list):
        p.add("interfaces", f"expected a list, got {F._short(raw_ifaces)}")
        raw_ifaces = []
    for i, raw in enumerate(raw_ifaces):
        label = _label(i, raw)
        if memo is not None:
            known = memo.get(label, raw)
            if known is not None:
                topo.interfaces.append(known)
                continue
        if not isinstance(raw, dict):
            p.add(label, f"expected a mapping, got {F._short(raw)}")
            continue
        k = _kind(raw, label, p)
        if k is None:
            continue
        before, outside = len(p.items), p.outside
        v = F.validate(interface_field(k), _referred_only(k, raw, label, p), label, p)
        if v is F.MISSING or "name" not in v:
            continue
        valid = len(p.items) == before
        if not valid:
            invalid.add(label)
        iface = _interface(k, v, label)
        if valid:   # the kind's cross-field rules assume every field is valid
            k.validate(iface, p, label)
            if memo is not None and len(p.items) == before and p.outside == outside:
                memo.add(label, raw, iface)
        topo.interfaces.append(iface)
    return invalid


def _label(i, raw):
    """interfaces[i], with the interface's name when it has one."""
    label = f"interfaces[{i}]"
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
        label += f" ({reader.label(raw['name'])})"
    return label


def _kind(raw, label, p):
    """The kind an interface declares (None, said, if none is known)."""
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in BY_NAME:
        p.add(f"{label}.kind", ("is required (written kind:, not type:)" if "type" in raw else "is required")
              if kind is None else
              f"unknown kind {F.quote(kind)}{F._close(kind, kinds.names())}; kinds: {', '.join(kinds.names())}")
        return None
    return BY_NAME[kind]


def _referred_only(k, raw, label, p):
    """``raw`` without the settings vnet would silently never apply to a
    device of a kind it only refers to (each said)."""
    if k.creatable:
        return raw
    known = endpoint_fields()
    for f in [f for f in raw if f in known and f not in REFERENCE_ONLY + SETTABLE]:
        p.add(f"{label}.{f}", f"an {k.name} device is only referred to, never changed: vnet would not set its {f}")
        raw = {x: y for x, y in raw.items() if x != f}
    return raw


def _interface(k, v, label):
    """The Interface of a validated mapping ``v`` of kind ``k``."""
    peer = None
    if k.peer and isinstance(v.get("peer"), dict) and "name" in v["peer"]:
        peer = Endpoint(**_endpoint_args(v["peer"]))
    common = _endpoint_args(v, k.options)
    opts = {o: v.get(o) for o in k.options}
    return Interface(**common, kind=k.name, options=opts, peer=peer, path=label)


def _nexthop_objects(doc, topo, p):
    for i, raw in enumerate(doc.get("nexthops") or [] if isinstance(doc.get("nexthops") or [], list) else []):
        said = len(p.items)
        v = F.validate(NEXTHOP, raw, f"nexthops[{i}]", p)
        if v is not F.MISSING and len(p.items) == said:
            nh = _nexthop_object(v, f"nexthops[{i}]", p)
            if nh:
                topo.nexthops.append(nh)
    if not isinstance(doc.get("nexthops") or [], list):
        p.add("nexthops", "expected a list")


def _nexthop_object(v, path, p):
    """A NextHop of validated fields ``v``: a gateway and device (or a
    device alone), a blackhole, or a group; None, said, when they disagree."""
    ways = [w for w in ("dev", "blackhole", "group") if v.get(w)]
    if len(ways) != 1:
        p.add(path, "a nexthop is one of: dev (with via or without), blackhole, or group" +
              (f"; it gives {' and '.join(ways)}" if ways else ""))
        return None
    via, fam = v.get("via"), {"ipv4": 4, "ipv6": 6}.get(v.get("family"))
    if via is not None and ways != ["dev"]:
        p.add(f"{path}.via", f"a {ways[0]} nexthop has no via")
        return None
    if v.get("onlink") and via is None:
        p.add(f"{path}.onlink", "says the gateway (via) is on the link of dev: give via")
        return None
    if fam is not None and (via is not None and via.version != fam or ways == ["group"]):
        p.add(f"{path}.family", "a group's family is its members'" if ways == ["group"] else
              f"the gateway {via} is IPv{via.version}: leave family out")
        return None
    if via is not None and (via.is_unspecified or via.is_multicast):
        p.add(f"{path}.via", f"{via} cannot be a gateway")
        return None
    group = tuple((m["id"], m.get("weight", 1)) for m in v.get("group") or ())
    ids = [m for m, _w in group]
    if len(set(ids)) != len(ids):
        p.add(f"{path}.group", "names a nexthop twice (the kernel takes each once)")
        return None
    return NextHop(id=v["id"], netns=v.get("netns"), via=via, dev=v.get("dev"), onlink=bool(v.get("onlink")),
                   blackhole=bool(v.get("blackhole")), family=fam or 4, group=group, path=path)


def _routes(doc, topo, p):
    families = {nh.key: nexthop_family(topo, nh) for nh in topo.nexthops}
    for i, raw in enumerate(doc.get("routes") or [] if isinstance(doc.get("routes") or [], list) else []):
        v = F.validate(ROUTE, raw, f"routes[{i}]", p)
        if v is not F.MISSING and "to" in v:
            r = _route(v, f"routes[{i}]", p, families.get((v.get("netns"), v.get("nhid"))))
            if r:
                topo.routes.append(r)
    if not isinstance(doc.get("routes") or [], list):
        p.add("routes", "expected a list")


def _rules(doc, topo, p):
    seen = {}
    for i, raw in enumerate(doc.get("rules") or [] if isinstance(doc.get("rules") or [], list) else []):
        said = len(p.items)
        v = F.validate(RULE, raw, f"rules[{i}]", p)
        r = _rule(v, f"rules[{i}]", p) if v is not F.MISSING and len(p.items) == said else None
        if r is None:
            continue
        same = [path for prio, path in seen.get(rule_match(r), ()) if None in (prio, r.priority) or prio == r.priority]
        taken = [o.path for o in topo.rules if o.priority is not None and taken_for(r, o)]
        if same and r.priority is not None and all(prio is not None for prio, _p in seen[rule_match(r)]):
            p.add(r.path, f"the same rule as {same[0]}: the kernel keeps one")
        elif same:
            p.add(r.path, f"the same rule as {same[0]}, one of them without a priority (give each its own)")
        elif taken:
            p.add(r.path, f"the kernel takes it for {taken[0]} (at one priority it compares neither `not` nor a "
                          "prefix or TOS one of them leaves out): give another priority")
        if same or taken:
            continue
        seen.setdefault(rule_match(r), []).append((r.priority, r.path))
        topo.rules.append(r)
    if not isinstance(doc.get("rules") or [], list):
        p.add("rules", "expected a list")


def _rule(v, path, p):
    """A Rule of validated fields ``v``; None, said, when its fields disagree."""
    nets = {f: v.get(f) for f in ("from", "to") if v.get(f) is not None}
    versions = {n.version for n in nets.values()}
    family = {"ipv4": 4, "ipv6": 6}.get(v.get("family"))
    if len(versions) > 1:
        p.add(f"{path}.to", f"{nets['to']} is IPv{nets['to'].version} but from ({nets['from']}) is "
                            f"IPv{nets['from'].version}")
        return None
    if family is not None and versions and versions != {family}:
        f = next(iter(nets))
        p.add(f"{path}.{f}", f"{nets[f]} is IPv{nets[f].version} but the rule's family is {v['family']}")
        return None
    family = family or (versions.pop() if versions else 4)
    rtype = v.get("type") or "unicast"
    if rtype != "unicast" and "table" in v:
        p.add(f"{path}.table", f"a {rtype} rule looks up no table: leave it out (or give type unicast)")
        return None
    if v.get("tos", 0) & 3:
        p.add(f"{path}.tos", f"{v['tos']} ({v['tos']:#x}) sets ECN bits (0x3), which the kernel refuses in a rule "
                             "(a TOS is a multiple of 4: 0x8, 0x10...)")
        return None
    if family == 4 and (v.get("suppress_prefixlength") or 0) > 32:
        p.add(f"{path}.suppress_prefixlength", f"{v['suppress_prefixlength']} is longer than an IPv4 prefix (0-32)")
        return None
    mark, mask = v.get("fwmark") or (None, None)
    src, dst = (n if n is not None and n.prefixlen else None for n in (v.get("from"), v.get("to")))   # /0: all
    return Rule(netns=v.get("netns"), family=family, priority=v.get("priority"), src=src, dst=dst,
                iif=v.get("iif"), oif=v.get("oif"), fwmark=mark, fwmask=mask, tos=v.get("tos", 0),
                invert=bool(v.get("not")), suppress_prefixlength=v.get("suppress_prefixlength"), action=rtype,
                table=v.get("table", RT_TABLE_MAIN) if rtype == "unicast" else RT_TABLE_MAIN, path=path)


def _neighbours(doc, topo, p):
    seen = {}
    for i, raw in enumerate(doc.get("neighbours") or [] if isinstance(doc.get("neighbours") or [], list) else []):
        path, said = f"neighbours[{i}]", len(p.items)
        v = F.validate(NEIGHBOUR, raw, path, p)
        if v is F.MISSING or len(p.items) != said:
            continue
        address, proxy = v["address"], v.get("proxy", False)
        why = ("means no address" if address.is_unspecified else "is a multicast address" if address.is_multicast
               else "is the limited broadcast address" if address.version == 4 and int(address) == 0xFFFFFFFF
               else "is a loopback address" if address.is_loopback else None)
        if why:
            why = f"{address} {why}: a neighbour's is another host's unicast address"
            p.add(f"{path}.address", why)
            continue
        if proxy and v.get("lladdr"):
            p.add(f"{path}.lladdr", "a proxy entry has no lladdr: this host answers for the address with its own MAC")
            continue
        if not proxy and not v.get("lladdr"):
            p.add(f"{path}.lladdr", "is required: the neighbour's MAC (a proxy entry, proxy: true, has none)")
            continue
        n = Neighbour(netns=v.get("netns"), dev=v["dev"], address=address, lladdr=v.get("lladdr"), proxy=proxy,
                      path=path, nud=None if proxy else "permanent")
        if n.key in seen:
            p.add(path, f"the same neighbour as {seen[n.key]}: a device has one entry per address")
            continue
        seen[n.key] = path
        topo.neighbours.append(n)
    if not isinstance(doc.get("neighbours") or [], list):
        p.add("neighbours", "expected a list")


def _sysctls(doc, topo, p):
    for i, raw in enumerate(doc.get("sysctls") or [] if isinstance(doc.get("sysctls") or [], list) else []):
        v = F.validate(SYSCTL, raw, f"sysctls[{i}]", p)
        if v is not F.MISSING and "key" in v and "value" in v:
            topo.sysctls.append(Sysctl(key=v["key"], value=str(v["value"]), netns=v.get("netns"),
                                       path=f"sysctls[{i}]"))
    if not isinstance(doc.get("sysctls") or [], list):
        p.add("sysctls", "expected a list")


def _kind_rules(topo, p, invalid):
    """Each kind's rules across its interfaces, once per kind class (ipvlan
    and ipvtap share one), the invalid ones left out."""
    classes = {}
    for i in topo.interfaces:
        classes.setdefault(type(i.kind_module), (i.kind_module, []))[1].append(i)
    for kmod, ifaces in classes.values():
        kmod.validate_all([i for i in ifaces if i.path not in invalid], p)


def _checks(doc, topo, p):
    from ..topology import checks
    topo.checks = checks.parse(doc.get("checks"), p)
    checks.cross_check(topo, p)


def _lint(topo, p, source):
    """The warnings of a whole, valid topology (lint reads no other)."""
    if not p.items:
        from . import lint
        w = F.Problems(source)
        lint.run(topo, p, w)
        topo.warnings = w.lines()


def _route(v, path, p, nh_family=None):
    """A Route of validated fields ``v`` (``nh_family``: that of the
    nexthop object it names, 4 or 6, None for none or a group of both)."""
    to = v["to"]
    via = v.get("via")
    gw = via or next((h.get("via") for h in v.get("nexthops") or () if h.get("via")), None)   # the family of default
    try:
        if to == "default":   # IPv4 but with an IPv6 gateway (or nexthop object: ::/0, 0.0.0.0/0 to say another)
            six = gw.version == 6 if gw is not None else nh_family == 6
            net = ipaddress.ip_network("::/0" if six else "0.0.0.0/0")
        else:
            net = ipaddress.ip_network(to)
    except ValueError as e:
        hint = F._close(to, ["default"]) if "/" not in to else ""
        p.add(f"{path}.to", f"{F.quote(to)} is not a network or 'default'{hint or ' (' + F.cut(str(e), 120) + ')'}")
        return None
    if via is not None and via.version != net.version:
        p.add(f"{path}.via", f"{via} is IPv{via.version} but the destination {to} is IPv{net.version}")
        return None
    rtype = v.get("type") or "unicast"
    hops = _nexthops(v, net, path, p)
    if hops is None or not _through_nexthop_object(v, net, nh_family, path, p):
        return None
    if rtype == "local":
        if not _local_route(v, path, p):
            return None
    elif rtype != "unicast":
        extra = [f for f in ("via", "dev", "onlink") if v.get(f)]
        if extra:
            does = "ends the lookup in its table" if rtype == "throw" else "drops what it matches"
            p.add(f"{path}.{extra[0]}", f"{'an' if rtype[0] in 'aeiou' else 'a'} {rtype} route {does}: it has no "
                                        f"{extra[0]}")
            return None
    elif via is None and v.get("dev") is None and not hops and v.get("nhid") is None:
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
    metrics = _metrics(v.get("metrics") or {}, path, p)
    protocol = _protocol(v.get("protocol"), path, p)
    if metrics is None or protocol is False:
        return None
    if v.get("pref") is not None and net.version == 4:
        p.add(f"{path}.pref", "an IPv4 route has no preference (the kernel keeps one for IPv6 routes): leave it out")
        return None
    source = v.get("from")
    if source is not None and (net.version == 4 or source.version == 4):
        p.add(f"{path}.from", "an IPv4 route has no source prefix (IPv6's only: ip -6 route add ... from P)"
              if net.version == 4 else f"{source} is IPv4 but the destination {to} is IPv6")
        return None
    return Route(to=net, netns=v.get("netns"), via=via, dev=v.get("dev"), metric=v.get("metric", 0), path=path,
                 onlink=bool(v.get("onlink")), table=v.get("table", RT_TABLE_MAIN), src=src, scope=v.get("scope"),
                 type=rtype, nexthops=hops, metrics=metrics, nhid=v.get("nhid"), protocol=protocol,
                 pref=ROUTE_PREFS.get(v.get("pref")), source=source if source and source.prefixlen else None)


def _local_route(v, path, p):
    """Is a local route (its addresses the host's own: `ip route add local
    10.52.0.0/24 dev lo`) given a dev and no gateway? Said if not."""
    other = [f for f in ("via", "onlink") if v.get(f)]
    if other:
        p.add(f"{path}.{other[0]}", f"a local route delivers here: it has no {other[0]}")
        return False
    if v.get("dev") is None:
        p.add(path, "a local route needs dev (ip route add local 10.52.0.0/24 dev lo)")
        return False
    return True


def _protocol(v, path, p):
    """A route's protocol number, None for none; False, said, for one a
    file cannot give (the kernel's own: unspec, redirect, ra)."""
    if v is None:
        return None
    text = str(v).strip()
    n = ROUTE_PROTOCOLS.get(text, int(text) if text.isdigit() and len(text) <= 3 else None)
    if n is None or not 2 <= n <= 255 or n == 9:
        p.add(f"{path}.protocol", f"{text if text.isdigit() else F.quote(v)} is not a protocol a route may be given: a name of "
                                  f"/etc/iproute2/rt_protos ({', '.join(list(ROUTE_PROTOCOLS)[:8])}...) or a number "
                                  f"2-255 but 9 (unspec, redirect and ra are the kernel's own){F._close(text, ROUTE_PROTOCOLS)}")
        return False
    return n


def _through_nexthop_object(v, net, family, path, p):
    """Does a route naming a nexthop object (nhid) name nothing else of a
    way out, and one of its family? Said if not."""
    if v.get("nhid") is None:
        return True
    other = [f for f in ("via", "dev", "nexthops", "onlink", "scope") if v.get(f)] + \
        (["type"] if v.get("type", "unicast") != "unicast" else [])
    if other:
        p.add(f"{path}.{other[0]}", f"a route through a nexthop object (nhid) has no {other[0]}: the nexthop says "
                                    "how packets go")
        return False
    if net.version == 6 and family == 4:
        p.add(f"{path}.nhid", f"nexthop {v['nhid']} is IPv4: an IPv6 route cannot go through it (the kernel's rule)")
        return False
    return True


def _metrics(m, path, p):
    """A route's ((name, value, locked), ...) by name; None, said, when a
    lock names a metric not given. A metric off (a flag false) is as none:
    the kernel keeps no metric of 0."""
    given = {k: (1 if v is True else v) for k, v in m.items() if k != "lock" and v not in (False, None)}
    for i, name in enumerate(m.get("lock") or ()):
        if name not in given:
            p.add(f"{path}.metrics.lock[{i}]", f"locks {name}, which the route's metrics do not give "
                                               f"(ip route's '{name} lock N' gives both)")
            return None
    # rto_min is locked always, as `ip route` does: TCP takes no other
    return tuple(sorted((k, v, k in (m.get("lock") or ()) or k == "rto_min") for k, v in given.items()))


def _nexthops(v, net, path, p):
    """A multipath route's ((via, dev, weight), ...), () for another route;
    None, said, when they are not what the kernel takes."""
    hops = v.get("nexthops")
    if not hops:
        return ()
    both = [f for f in ("via", "dev", "onlink") if v.get(f)] + (["type"] if v.get("type", "unicast") != "unicast" else [])
    if both:
        p.add(f"{path}.{both[0]}", "a route with nexthops gives each its via and dev, not the route")
        return None
    if len(hops) < 2:
        p.add(f"{path}.nexthops", "a multipath route has two next hops or more (one is a route with via and dev)")
        return None
    out = []
    for i, h in enumerate(hops):
        via = h.get("via")
        if via is None and h.get("dev") is None:
            p.add(f"{path}.nexthops[{i}]", "a next hop needs via, dev, or both")
            return None
        if via is not None and (via.version != net.version or via.is_unspecified or via.is_multicast):
            p.add(f"{path}.nexthops[{i}].via", f"{via} cannot be a gateway to {net}")
            return None
        if via is None and net.version == 6:
            p.add(f"{path}.nexthops[{i}]", "an IPv6 next hop needs via (the kernel takes no IPv6 multipath "
                                           "route through devices alone)")
            return None
        out.append((via, h.get("dev"), h.get("weight", 1)))
    if len(set(out)) < len(out):
        p.add(f"{path}.nexthops", "a next hop is listed twice")
        return None
    return tuple(out)
