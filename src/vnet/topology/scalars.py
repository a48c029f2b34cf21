"""The scalar field types of a topology file (booleans, integers, strings,
names, addresses, tables): each parses a value, raising ``Invalid`` with a
text a user reads, and gives its JSON Schema. The composite ones (lists,
mappings, references) and the walk that validates a whole value are in
``fields``."""
import ipaddress
import re

from .problems import _MISSING, Invalid, _close
from .quote import quote


class Field:
    json = {}

    def __init__(self, doc="", default=_MISSING, required=False):
        self.doc = doc
        self.default = default
        self.required = required

    def parse(self, value):
        """Return the normalized value or raise Invalid(msg)."""
        return value

    def schema(self):
        s = dict(self.json)
        if self.doc:
            s["description"] = self.doc
        if self.default is not _MISSING and self.default is not None:
            s["default"] = self.default
        return s


class Bool(Field):
    json = {"type": "boolean"}

    def parse(self, v):
        if isinstance(v, bool):
            return v
        if v in (0, 1):
            return bool(v)
        raise Invalid(f"expected true or false, got {quote(v)}")


class Int(Field):
    def __init__(self, doc="", lo=None, hi=None, **kw):
        super().__init__(doc, **kw)
        self.lo, self.hi = lo, hi

    def parse(self, v):
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, str) and len(v) <= 64 and re.fullmatch(r"-?\d+", v.strip()):
                v = int(v)
            elif isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):   # int() refuses 4,300 digits
                raise Invalid(f"{quote(v)} is out of range {self.lo}..{self.hi}")
            else:
                raise Invalid(f"expected an integer, got {quote(v)}")
        if self.lo is not None and v < self.lo or self.hi is not None and v > self.hi:
            raise Invalid(f"{quote(v)} is out of range {self.lo}..{self.hi}")
        return v

    def schema(self):
        s = {"type": "integer", **super().schema()}
        if self.lo is not None:
            s["minimum"] = self.lo
        if self.hi is not None:
            s["maximum"] = self.hi
        return s


class Str(Field):
    def __init__(self, doc="", pattern=None, explain="", strict=False, **kw):
        super().__init__(doc, **kw)
        self.pattern = pattern
        self.explain = explain
        self.strict = strict   # a number is an error (a hex key read as a number lost its digits)

    def parse(self, v):
        if self.strict and not isinstance(v, str):
            raise Invalid(f"expected a string in quotes, got {type(v).__name__} {quote(v)} "
                          "(YAML read it as a number: digits may be lost)")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            raise Invalid(f"expected a string, got {quote(v)}")
        if not v.isascii():
            try:
                v.encode()
            except UnicodeEncodeError:   # a lone surrogate, from a JSON escape: no file or device takes it
                raise Invalid(f"{quote(v)} is not valid: not UTF-8 text") from None
        if self.pattern and not re.fullmatch(self.pattern, v):
            raise Invalid(f"{quote(v)} is not valid: {self.explain or 'must match ' + self.pattern}")
        return v

    def schema(self):
        s = {"type": "string", **super().schema()}
        if self.pattern:
            s["pattern"] = f"^{self.pattern}$"
        return s


IFNAME_RE = r"[^/:\s\x00]{1,15}"
IFNAME_EXPLAIN = "an interface name is 1-15 characters without '/', ':' or whitespace"
IFNAMSIZ = 16   # the kernel's buffer, its NUL included: a name is at most 15 bytes


ALTIFNAMSIZ = 128   # an alternative name's buffer, its NUL included


class AltName(Str):
    """An alternative name of a device (`ip link property add ... altname`):
    as an interface name, but up to 127 bytes."""

    def __init__(self, doc="alternative name", **kw):
        super().__init__(doc, pattern=IFNAME_RE.replace("{1,15}", "{1,127}"), explain=IFNAME_EXPLAIN.replace(
            "1-15", "1-127"), **kw)

    def parse(self, v):
        v = super().parse(v)
        if v in (".", "..") or len(v.encode()) >= ALTIFNAMSIZ:
            raise Invalid(f"{quote(v, 64)} is not an alternative name: 1-{ALTIFNAMSIZ - 1} bytes in UTF-8, not "
                          "'.' or '..', no '/', ':' or whitespace")
        return v


class Scalar(Str):
    """A string, or a number taken as written (a sysctl value: 1)."""

    def schema(self):
        return {**super().schema(), "type": ["string", "number"]}


class IfName(Str):
    def __init__(self, doc="interface name", **kw):
        super().__init__(doc, pattern=IFNAME_RE, explain=IFNAME_EXPLAIN, **kw)

    def parse(self, v):
        v = super().parse(v)
        if v in (".", ".."):
            raise Invalid(f"{v!r} is not valid: {IFNAME_EXPLAIN}")
        size = len(v.encode())   # Str.check let only UTF-8 text through
        if size >= IFNAMSIZ:
            raise Invalid(f"{v!r} is {size} bytes in UTF-8: the kernel takes at most {IFNAMSIZ - 1} "
                          "(15 characters only if they are ASCII)")
        return v


NSNAME_RE = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}"


# a namespace vnet joins, by the path of its file (a container's
# /proc/PID/ns/net, a runtime's /var/run/netns/cni-...): never made or removed
JOINED_RE = r"/[!-~]{1,4094}"


class NsName(Str):
    def __init__(self, doc="network namespace name (omitted: the namespace vnet runs in), or the absolute path "
                 "of an existing namespace's file to join", joined=True, **kw):
        pattern = f"{NSNAME_RE}|{JOINED_RE}" if joined else NSNAME_RE
        explain = "a namespace name is 1-63 letters, digits, '_', '.', '-'"
        super().__init__(doc, pattern=pattern, explain=explain + (", or an absolute path" if joined else ""), **kw)


class Enum(Field):
    def __init__(self, doc, choices, **kw):
        super().__init__(doc, **kw)
        self.choices = tuple(choices)

    def parse(self, v):
        if v not in self.choices:
            raise Invalid(f"{quote(v)} is not one of {', '.join(map(str, self.choices))}{_close(v, map(str, self.choices))}")
        return v

    def schema(self):
        return {"enum": list(self.choices), **super().schema()}


class IP(Field):
    json = {"type": "string", "format": "ip-address"}

    def parse(self, v):
        if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return v
        if not isinstance(v, str):   # ip_address() takes an integer as an address
            raise Invalid(f"{quote(v)} is not an IPv4 or IPv6 address")
        if "%" in v:   # (a scope, fe80::1%eth0: the kernel keeps the device apart, as the field that names it)
            raise Invalid(f"{quote(v)}: an address here has no scope (%...); the device is its own field")
        try:
            return ipaddress.ip_address(v.strip())
        except ValueError:
            raise Invalid(f"{quote(v)} is not an IPv4 or IPv6 address") from None


class Table(Field):
    """A routing table: a number, or main, default or local as iproute2 names them."""
    NAMES = {"main": 254, "default": 253, "local": 255}
    json = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 2**32 - 1}, {"enum": list(NAMES)}]}

    def __init__(self, doc="routing table: 1-4294967295, or main (254, the default), default (253), local (255)",
                 **kw):
        super().__init__(doc, **kw)

    def parse(self, v):
        if isinstance(v, str) and v.strip() in self.NAMES:
            return self.NAMES[v.strip()]
        try:
            return Int(lo=1, hi=2**32 - 1).parse(v)
        except Invalid:
            raise Invalid(f"{quote(v)} is not a routing table (1-4294967295, main, default or local)") from None


class Mark(Field):
    """A firewall mark, with a mask or not: 16, 0x10 or "0x10/0xff" (as `ip
    rule add fwmark` takes it): (mark, mask or None)."""
    json = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                      {"type": "string", "pattern": "^\\s*(0x[0-9a-fA-F]+|[0-9]+)(/(0x[0-9a-fA-F]+|[0-9]+))?\\s*$"}]}

    def parse(self, v):
        text = str(v).strip() if isinstance(v, (int, str)) and not isinstance(v, bool) else None
        m = re.fullmatch(r"(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})(?:/(0x[0-9a-fA-F]{1,8}|[0-9]{1,10}))?", text or "")
        mark, mask = (int(m.group(1), 0), int(m.group(2), 0) if m.group(2) else None) if m else (None, None)
        if mark is None or mark > 2**32 - 1 or (mask or 0) > 2**32 - 1:
            raise Invalid(f"{quote(v)} is not a firewall mark (0-4294967295, or MARK/MASK: 0x10/0xff)")
        if mask == 0 or not mark and mask is None:
            raise Invalid(f"fwmark {text} matches every packet: give 0/MASK for packets without those bits, "
                          "or leave it out")
        return mark, mask


class Prefix(Field):
    """A network a rule matches (`from`, `to`): a prefix, an address (a
    host's), or all (any, as if left out): an ip_network or None."""
    json = {"type": "string"}

    def parse(self, v):
        if isinstance(v, str) and v.strip() == "all":
            return None
        try:
            if not isinstance(v, str) or "%" in v:   # (a scope: fe80::1%eth0, which no rule keeps)
                raise ValueError(v)
            return ipaddress.ip_network(v.strip())
        except ValueError as e:
            hint = ""
            try:
                hint = f" (the network is {ipaddress.ip_network(v.strip(), strict=False)})"
            except (ValueError, AttributeError):
                pass
            detail = "it has host bits set" if "host bits" in str(e) else "a prefix like 10.0.0.0/24, an address, or all"
            if isinstance(v, str) and "%" in v:
                hint, detail = "", "a rule's address has no scope (%...)"
            raise Invalid(f"{quote(v)} is not a network: {detail}{hint}") from None


class CIDR(Field):
    """A device's address with its prefix length, and as `ip address add`
    takes them, a point-to-point peer, noprefixroute, a metric, an IPv4
    scope, broadcast address and label (``vnet.topology.address``)."""
    json = {"type": "string", "format": "ip-interface",
            "pattern": "^(?=\\s*[0-9a-fA-F.:]+/|.*\\speer\\s)"   # a length, or a peer (a host's)
                       "\\s*[0-9a-fA-F.:]+(/[0-9]{1,3})?(\\s+(peer\\s+[0-9a-fA-F.:]+(/[0-9]{1,3})?|noprefixroute|home|mngtmpaddr"
                       "|metric\\s+[0-9]+|scope\\s+[a-z0-9]+|brd\\s+[0-9.+-]+|label\\s+(?:'[^']*'|\"[^\"]*\"|[^\\s'\"])+))*"
                       "\\s*$"}

    def parse(self, v):
        if isinstance(v, str) and len(v.split()) > 1:
            return self._flavoured(v)
        if not isinstance(v, str) or "/" not in v:
            raise Invalid(f"{quote(v)} is not an address with prefix length, e.g. 10.0.0.1/24 or fd00::1/64")
        try:
            a = ipaddress.ip_interface(v.strip())
        except ValueError:
            addr, _, plen = v.strip().partition("/")
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                ip = None
            if ip is not None and plen.isdigit():   # the address is fine, its length is not
                raise Invalid(f"{quote(v)}: prefix length {quote(plen)} is out of range 0..{ip.max_prefixlen} "
                              f"for an IPv{ip.version} address") from None
            raise Invalid(f"{quote(v)} is not an address with prefix length, e.g. 10.0.0.1/24 or fd00::1/64") from None
        why = unusable(a.ip)
        if why:
            raise Invalid(f"{quote(v)}: {why}")
        return a

    @staticmethod
    def _flavoured(v):
        from .address import parse
        try:
            a = parse(v)
        except ValueError as e:
            raise Invalid(f"{quote(v)}: {e}; e.g. '10.0.0.1 peer 10.0.0.2/32', '10.0.0.1/24 noprefixroute', "
                          f"'10.0.0.1/24 metric 100', '10.0.0.1/24 scope link', '10.0.0.1/24 brd 0.0.0.0' or "
                          f"'10.0.0.1/24 label eth0:1'") from None
        peer = getattr(a, "peer", None)   # (none: a scope or a peer that is the address's own says nothing)
        why = unusable(a.ip) or (peer is not None and peer.is_multicast and f"the peer {peer} is multicast")
        if why:
            raise Invalid(f"{quote(v)}: {why}")
        return a


def unusable(ip):
    """Why ``ip`` cannot be a device's own address, or None. The kernel
    refuses some (::, ::1 off lo, IPv6 multicast) and silently keeps
    nothing for another (0.0.0.0); the rest are never a host's address."""
    if ip.is_unspecified:
        return (f"{ip} means no address: the kernel " +
                ("accepts it and keeps nothing" if ip.version == 4 else "refuses it"))
    if ip.version == 6 and ip.is_loopback:
        return ("::1 is the loopback address, which only lo has, given by the kernel itself (the kernel "
                "refuses it on another device)")
    if ip.is_multicast:
        return f"{ip} is a multicast address: a device's own address is unicast (join a group instead)"
    if ip.version == 4 and int(ip) == 0xFFFFFFFF:
        return "255.255.255.255 is the limited broadcast address, never a device's own"
    return None


class Alias(Str):
    """A device's alias, the description `ip link` shows with it: text of
    1-255 bytes in UTF-8 (the kernel's IFALIASZ less its NUL)."""

    def __init__(self, doc="a description of the device, shown by ip link (ip link set alias; omitted: left as "
                           "it is)", **kw):
        super().__init__(doc, **kw)

    def parse(self, v):
        v = super().parse(v)
        if not v or "\0" in v or len(v.encode()) > 255:
            raise Invalid(f"{quote(v)} is not an alias: 1-255 bytes of text (UTF-8), no NUL")
        return v

    def schema(self):
        return {**super().schema(), "minLength": 1, "maxLength": 255}


MAC_RE = r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}"


ZERO_MAC = "00:00:00:00:00:00"


class MAC(Str):
    """A unicast MAC; all zeros only with ``zero_ok`` (a VXLAN fdb's
    default destination), as the kernel refuses it for a device."""

    def __init__(self, doc="MAC address", zero_ok=False, **kw):
        super().__init__(doc, pattern=MAC_RE, explain="a MAC address is six hex bytes, e.g. 02:00:00:00:00:01", **kw)
        self.zero_ok = zero_ok

    def parse(self, v):
        v = super().parse(v).lower()
        if int(v[:2], 16) & 1:
            raise Invalid(f"{v!r} is a multicast address; an interface needs a unicast MAC")
        if v == ZERO_MAC and not self.zero_ok:
            raise Invalid(f"{v!r} is no address (the kernel refuses it for a device); e.g. 02:00:00:00:00:01")
        return v
