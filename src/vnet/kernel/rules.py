"""Policy routing rules (`ip rule`): dumped, added and deleted. A rule is
read into the fields a topology declares (``Rule``), and what those
cannot say (a `goto`, a VRF's l3mdev lookup, an IP protocol or port
range...) is kept as text in ``Rule.unwritable``. Adding or deleting takes
any object with the same fields (a declared rule or an observed one)."""
import ipaddress
import struct

from . import netlink as nl

RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_GOTO, FRA_PRIORITY = 1, 2, 3, 4, 6
FRA_FWMARK, FRA_SUPPRESS_IFGROUP, FRA_SUPPRESS_PREFIXLEN, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME = 10, 13, 14, 15, 16, 17
FRA_PROTOCOL, FRA_L3MDEV = 21, 19   # who made it (the kernel, boot...), not what it does; a VRF's lookup
RTPROT_KERNEL = 2
FIB_RULE_INVERT = 0x2
FAMILIES = {2: 4, 10: 6}   # IPv4 and IPv6 (128 and 129, multicast routing's, are the kernel's own)
AF = {4: 2, 6: 10}
FR_ACT_TO_TBL, FR_ACT_GOTO = 1, 2
ACTIONS = {"unicast": FR_ACT_TO_TBL, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
ACTION_NAMES = {v: k for k, v in ACTIONS.items()}
NONE32 = 0xFFFFFFFF   # suppress_prefixlength / suppress_ifgroup unset (-1)
FR_HDR = struct.Struct("=BBBBBBBBI")
# the rules every namespace starts with: (family, priority, table)
KERNEL_RULES = frozenset({(4, 0, 255), (4, 32766, 254), (4, 32767, 253), (6, 0, 255), (6, 32766, 254)})
# what a rule's dump may carry that its fields read
_READ = frozenset({FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME,
                   FRA_GOTO, FRA_SUPPRESS_PREFIXLEN, FRA_SUPPRESS_IFGROUP, FRA_PROTOCOL, FRA_L3MDEV})


class Rule:
    """One policy routing rule of a namespace, as read from the kernel."""
    __slots__ = ("netns", "family", "priority", "src", "dst", "iif", "oif", "fwmark", "fwmask", "tos", "invert",
                 "suppress_prefixlength", "action", "table", "unwritable", "by_kernel", "protocol")

    def __init__(self, **fields):
        for k in self.__slots__:
            setattr(self, k, fields.get(k))

    @property
    def plain(self):
        """No selector, a lookup: `from all lookup T`."""
        return (self.action == "unicast" and not self.unwritable and self.src is None and self.dst is None
                and not (self.iif or self.oif or self.fwmark is not None or self.tos or self.invert
                         or self.suppress_prefixlength is not None))

    @property
    def kernel_own(self):
        """The kernel's own: one it made (protocol kernel: a namespace's
        defaults, a VRF's l3mdev rules), or one like a default (no selector)."""
        return self.by_kernel or self.plain and (self.family, self.priority, self.table) in KERNEL_RULES

    @property
    def text(self):
        """As `ip rule` shows it: `100: from 10.0.0.0/24 lookup 100`."""
        from ..topology.rule import words
        return f"{self.priority}: {' '.join(words(self))}" + (f" {self.unwritable}" if self.unwritable else "")


def dump_rules(sock, netns=None):
    """[Rule] of IPv4 and IPv6 (none where the kernel has no policy routing)."""
    try:
        replies = sock.dump(RTM_GETRULE, FR_HDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0))
    except nl.NetlinkError:   # a kernel without CONFIG_FIB_RULES
        return []
    return [r for t, p in replies if t == RTM_NEWRULE for r in [decode(p, netns)] if r is not None]


def decode(p, netns=None):
    """A rule message's Rule (None: not IPv4 or IPv6)."""
    af, dst_len, src_len, tos, table, _r1, _r2, action, flags = FR_HDR.unpack_from(p)
    if af not in FAMILIES:
        return None
    a = nl.parse(p, FR_HDR.size)
    odd = []
    if action == FR_ACT_GOTO:
        odd.append(f"goto {nl.get_u32(a[FRA_GOTO]) if FRA_GOTO in a else '?'}")
    elif action not in ACTION_NAMES:
        odd.append(f"action {action}")
    l3mdev = FRA_L3MDEV in a and a[FRA_L3MDEV][0]
    if l3mdev:
        odd.append("lookup [l3mdev-table]")
    if FRA_SUPPRESS_IFGROUP in a and nl.get_u32(a[FRA_SUPPRESS_IFGROUP]) != NONE32:
        odd.append(f"suppress_ifgroup {nl.get_u32(a[FRA_SUPPRESS_IFGROUP])}")
    if set(a) - _READ:
        odd.append("(and more selectors)")
    mark = nl.get_u32(a[FRA_FWMARK]) if FRA_FWMARK in a else 0
    mask = nl.get_u32(a[FRA_FWMASK]) if FRA_FWMASK in a else (NONE32 if mark else 0)
    suppress = nl.get_u32(a[FRA_SUPPRESS_PREFIXLEN]) if FRA_SUPPRESS_PREFIXLEN in a else NONE32
    return Rule(netns=netns, family=FAMILIES[af], priority=nl.get_u32(a[FRA_PRIORITY]) if FRA_PRIORITY in a else 0,
                src=_net(a.get(FRA_SRC), src_len), dst=_net(a.get(FRA_DST), dst_len),
                iif=nl.get_str(a[FRA_IIFNAME]) if FRA_IIFNAME in a else None,
                oif=nl.get_str(a[FRA_OIFNAME]) if FRA_OIFNAME in a else None,
                fwmark=mark if mark or mask else None, fwmask=mask if mark or mask else None, tos=tos,
                invert=bool(flags & FIB_RULE_INVERT), suppress_prefixlength=None if suppress == NONE32 else suppress,
                action=None if l3mdev else ACTION_NAMES.get(action),   # (a goto's, a VRF's: in unwritable)
                table=nl.get_u32(a[FRA_TABLE]) if FRA_TABLE in a else table,
                unwritable=" ".join(odd) or None,
                by_kernel=FRA_PROTOCOL in a and a[FRA_PROTOCOL][0] == RTPROT_KERNEL,
                protocol=a[FRA_PROTOCOL][0] if FRA_PROTOCOL in a else 0)


def _net(raw, length):
    if raw is None:
        return None
    return ipaddress.ip_network(f"{nl.get_ip(raw)}/{length}", strict=False)


def _msg(r):
    """A rule request of ``r``'s fields (its priority when it has one: a
    rule added without one gets the kernel's, below the first but one)."""
    from ..topology.rule import sent_mask, sent_table
    table = sent_table(r)   # (a rule that drops looks up none, as `ip rule add`)
    body = FR_HDR.pack(AF[r.family], r.dst.prefixlen if r.dst is not None else 0,
                       r.src.prefixlen if r.src is not None else 0, r.tos or 0, table if table < 256 else 0, 0, 0,
                       ACTIONS[r.action], FIB_RULE_INVERT if r.invert else 0)
    body += nl.u32(FRA_TABLE, table) if table else b""
    if r.priority is not None:
        body += nl.u32(FRA_PRIORITY, r.priority)
    for attr, net in ((FRA_SRC, r.src), (FRA_DST, r.dst)):
        if net is not None:
            body += nl.ip(attr, net.network_address)
    for attr, name in ((FRA_IIFNAME, r.iif), (FRA_OIFNAME, r.oif)):
        if name:
            body += nl.string(attr, name)
    if r.fwmark is not None:
        body += nl.u32(FRA_FWMARK, r.fwmark) + nl.u32(FRA_FWMASK, sent_mask(r))
    if r.suppress_prefixlength is not None:
        body += nl.u32(FRA_SUPPRESS_PREFIXLEN, r.suppress_prefixlength)
    return body   # no protocol, as `ip rule add` (a deletion matches any)


def add_rule(sock, r):
    """Add rule ``r``; the priority the kernel gave it (its own, if it has one)."""
    for t, body in sock.request(RTM_NEWRULE, _msg(r), nl.F_CREATE | nl.F_EXCL | nl.F_ECHO):
        if t == RTM_NEWRULE:
            return decode(body).priority
    return r.priority


class InTheWay(Exception):
    """The kernel would delete another rule for this one (``.rule``)."""

    def __init__(self, rule):
        super().__init__(rule)
        self.rule = rule


def del_rule(sock, r, netns=None):
    """Delete rule ``r`` (its priority given) and no other: the kernel
    deletes the first rule a request's fields select, which may be
    someone's with one more selector (``topology.rule.selects``). Returns
    False when ``r`` is gone already; raises InTheWay, deleting nothing,
    when another rule would be taken first. (A priority of None: the first
    rule of ``r``'s fields, a record's written before its rule was added.)"""
    from ..topology.rule import first_selected, rule_match, vnets
    live = dump_rules(sock, netns)
    mine = next((o for o in live if vnets(o) and rule_match(o) == rule_match(r) and r.priority in (None, o.priority)),
                None)
    if mine is None:
        return False
    first = first_selected(live, mine)
    if first is not mine:
        raise InTheWay(first)
    sock.request(RTM_DELRULE, _msg(mine))
    return True
