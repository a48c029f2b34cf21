"""The `checks:` section: what must reach and what must be isolated, proven
with real traffic by `vnet check`. Each check is a mapping with one type key
(ping, tcp, udp, mtu, can, capture), an optional `name` and `expect`."""
from . import fields as F
from . import reader
from .struct import REQUIRED, Struct

_FROM = F.NsName("namespace the traffic starts in (omitted: the one vnet runs in)")
_CAN_END = F.Obj({"netns": F.NsName(), "dev": F.IfName("a vcan or vxcan device", required=True)})

TYPES = {
    "ping": F.Obj({"from": _FROM, "to": F.IP("address to echo", required=True),
                   "count": F.Int("echo requests (one answer is enough)", lo=1, hi=100, default=2),
                   "timeout": F.Int("seconds to wait per request", lo=1, hi=30, default=1)},
                  "ICMP echo (IPv4 or IPv6)"),
    "tcp": F.Obj({"from": _FROM, "to": F.IP("address to connect to", required=True),
                  "port": F.Int("port", lo=1, hi=65535, required=True),
                  "listen": F.NsName("namespace where vnet runs the listener for the check"),
                  "timeout": F.Int("seconds", lo=1, hi=30, default=2)},
                 "a TCP connection and an echoed token; vnet runs the listener"),
    "udp": F.Obj({"from": _FROM, "to": F.IP("address to send to", required=True),
                  "port": F.Int("port", lo=1, hi=65535, required=True),
                  "listen": F.NsName("namespace where vnet runs the responder for the check"),
                  "timeout": F.Int("seconds", lo=1, hi=30, default=2)},
                 "a UDP datagram answered by a responder vnet runs"),
    "mtu": F.Obj({"from": _FROM, "to": F.IP("address to echo", required=True),
                  "size": F.Int("IP packet size in bytes, sent with don't-fragment", lo=68, hi=65535,
                                required=True),
                  "timeout": F.Int("seconds", lo=1, hi=30, default=1)},
                 "a packet of `size` bytes passes without fragmentation"),
    "can": F.Obj({"from": F.Obj(_CAN_END.fields, required=True), "to": F.Obj(_CAN_END.fields, required=True),
                  "timeout": F.Int("seconds", lo=1, hi=30, default=1)},
                 "a CAN frame sent on one device arrives on another"),
    "capture": F.Obj({"netns": F.NsName(), "dev": F.IfName("device to capture on", required=True),
                      "during": F.Str("name of the check whose traffic is captured", required=True),
                      "ethertype": F.Int("frames of this ethertype (e.g. 0x88e5 MACsec)", lo=0, hi=0xFFFF),
                      "vlan": F.Int("frames carrying this VLAN id (outer tag)", lo=0, hi=4095),
                      "udp_port": F.Int("IPv4/IPv6 frames carrying UDP to this port (4789: VXLAN)", lo=1, hi=65535),
                      "contains": F.Str("frames containing these bytes (text)")},
                     "frames on a device during another check, matched against a filter"),
}
EXPECT = {"capture": ("all", "some", "none")}
DEFAULT_EXPECT = {"capture": "all"}
REACH = ("reachable", "unreachable")
FILTERS = ("ethertype", "vlan", "udp_port", "contains")


def _devices(args):
    """(field, (namespace, name)) of each device a check's arguments name."""
    out = [("dev", (args.get("netns"), args["dev"]))] if "dev" in args else []
    return out + [(f"{k}.dev", (args[k].get("netns"), args[k]["dev"])) for k in ("from", "to")
                  if isinstance(args.get(k), dict) and "dev" in args[k]]


class Check(Struct):
    _fields = (("type", REQUIRED), ("args", dict), ("expect", "reachable"), ("name", ""), ("path", ""))

    @property
    def label(self):
        return self.name or self.path


def field_schema():
    """The JSON Schema of one check."""
    return {"oneOf": [
        {"type": "object", "required": [t], "properties": {
            t: f.schema(), "name": {"type": "string"},
            "expect": {"enum": list(EXPECT.get(t, REACH))}}, "additionalProperties": False}
        for t, f in TYPES.items()]}


def parse(items, p):
    """Checks from the file's `checks` list; problems go to ``p``."""
    out = []
    if items is None:
        return out
    if not isinstance(items, list):
        p.add("checks", "expected a list")
        return out
    for i, raw in enumerate(items):
        path = f"checks[{i}]"
        if not isinstance(raw, dict):
            p.add(path, f"expected a mapping with one of {', '.join(TYPES)}")
            continue
        types = [t for t in raw if t in TYPES]
        for k in raw:
            if k not in TYPES and k not in ("name", "expect"):
                p.add(f"{path}.{F._key(k)}", f"unknown field{F._close(k, list(TYPES) + ['name', 'expect'])}")
        if len(types) != 1:
            p.add(path, f"give exactly one check type of {', '.join(TYPES)}" + (f" (found {', '.join(types)})" if types else ""))
            continue
        t = types[0]
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            p.add(f"{path}.name", "expected a string")
            name = None
        label = f"{path} ({reader.label(name)})" if name else path
        before = len(p.items)
        args = F.validate(TYPES[t], raw[t], f"{label}.{t}", p)
        sound = args is not F.MISSING and len(p.items) == before   # the cross-checks need every field sound
        allowed = EXPECT.get(t, REACH)
        expect = raw.get("expect", DEFAULT_EXPECT.get(t, "reachable"))
        if expect not in allowed:
            p.add(f"{label}.expect", f"{F.quote(expect)} is not one of {', '.join(allowed)}{F._close(expect, allowed)}")
        if not sound:
            continue
        out.append(Check(type=t, args=args, expect=expect, name=name or "", path=label))
    return out


def cross_check(topo, p):
    """Namespaces must be the topology's, devices declared (or external)
    in them; names unique; `during` names a check."""
    declared = set(topo.namespaces)
    devices = topo.by_key()
    names = {}
    for c in topo.checks:
        if c.name:
            if c.name in names:
                p.add(f"{c.path}.name", f"check name {F.quote(c.name)} is used twice")
            names[c.name] = c
    for c in topo.checks:
        a = c.args
        nss = [(k, a.get(k)) for k in ("from", "listen", "netns") if isinstance(a.get(k), (str, type(None)))]
        nss += [(f"{k}.netns", a[k].get("netns")) for k in ("from", "to") if isinstance(a.get(k), dict)]
        for k, ns in nss:
            if ns is not None and ns not in declared:
                p.add(f"{c.path}.{c.type}.{k}", f"namespace {ns!r} is not declared{F._close(ns, declared)}")
        for k, key in _devices(a):
            if key not in devices and (key[0] is None or key[0] in declared):
                near = {n for ns, n in devices if ns == key[0]}
                p.add(f"{c.path}.{c.type}.{k}", f"device {key[1]!r} in namespace {key[0] or 'host'} is neither "
                                               f"declared nor external{F._close(key[1], near)}")
        if c.type == "capture":
            d = names.get(a["during"])
            if d is None:
                p.add(f"{c.path}.capture.during", f"no check is named {F.quote(a['during'])}{F._close(a['during'], names)}")
            elif d.type == "capture":
                p.add(f"{c.path}.capture.during", "a capture runs during a traffic check, not another capture")
            if all(a.get(k) is None for k in FILTERS):
                p.add(f"{c.path}.capture", "give a filter: " + ", ".join(FILTERS))
