"""Read-only dumps of what a namespace holds besides links, addresses and
routes: its policy routing rules (`ip rule`), its static neighbours (`ip
neigh add ... permanent`) and the static entries of its bridges' forwarding
databases (`bridge fdb add ... master static`). vnet declares none of them:
an export names those someone made, so that it never drops them silently."""
import struct

from . import netlink as nl
from .rtnl import AF_BRIDGE, NDA_DST, NDA_LLADDR, NUD_PERMANENT, RTM_GETNEIGH, RTM_NEWNEIGH, _NDM

RTM_NEWRULE, RTM_GETRULE = 32, 34
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_GOTO, FRA_PRIORITY = 1, 2, 3, 4, 6
FRA_FWMARK, FRA_SUPPRESS_IFGROUP, FRA_SUPPRESS_PREFIXLEN, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME = 10, 13, 14, 15, 16, 17
FRA_PROTOCOL = 21   # who made it (the kernel, boot...), not what it does
FR_ACT_TO_TBL, FR_ACT_GOTO = 1, 2
ACTIONS = {3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
TABLES = {253: "default", 254: "main", 255: "local"}
FR_HDR = struct.Struct("=BBBBBBBBI")
NUD_NOARP = 0x40
NDA_MASTER = 9   # the bridge whose database holds the entry
# the rules every namespace starts with: (family, priority, table)
KERNEL_RULES = frozenset({(2, 0, 255), (2, 32766, 254), (2, 32767, 253), (10, 0, 255), (10, 32766, 254)})


class Rule:
    """One policy routing rule, as `ip rule` shows it."""
    __slots__ = ("family", "priority", "table", "text", "plain")

    def __init__(self, family, priority, table, text, plain):
        self.family, self.priority, self.table, self.text, self.plain = family, priority, table, text, plain

    @property
    def kernel_own(self):
        """One of the rules the kernel starts a namespace with (no selector)."""
        return self.plain and (self.family, self.priority, self.table) in KERNEL_RULES


def dump_rules(sock):
    """[Rule] of both families."""
    out = []
    for t, p in sock.dump(RTM_GETRULE, FR_HDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0)):
        if t != RTM_NEWRULE:
            continue
        fam, dst_len, src_len, tos, table, _r1, _r2, action, _flags = FR_HDR.unpack_from(p)
        a = nl.parse(p, FR_HDR.size)
        table = nl.get_u32(a[FRA_TABLE]) if FRA_TABLE in a else table
        prio = nl.get_u32(a[FRA_PRIORITY]) if FRA_PRIORITY in a else 0
        words = ["from", _prefix(a.get(FRA_SRC), src_len)]
        if FRA_DST in a:
            words += ["to", _prefix(a[FRA_DST], dst_len)]
        if tos:
            words += ["tos", hex(tos)]
        if FRA_FWMARK in a:
            mask = nl.get_u32(a[FRA_FWMASK]) if FRA_FWMASK in a else 0xFFFFFFFF
            words += ["fwmark", hex(nl.get_u32(a[FRA_FWMARK])) + ("" if mask == 0xFFFFFFFF else f"/{hex(mask)}")]
        for attr, word in ((FRA_IIFNAME, "iif"), (FRA_OIFNAME, "oif")):
            if attr in a:
                words += [word, nl.get_str(a[attr])]
        for attr, word in ((FRA_SUPPRESS_PREFIXLEN, "suppress_prefixlength"), (FRA_SUPPRESS_IFGROUP, "suppress_ifgroup")):
            if attr in a and nl.get_u32(a[attr]) != 0xFFFFFFFF:   # (-1: none)
                words += [word, str(nl.get_u32(a[attr]))]
        plain = len(words) == 2 and words[1] == "all"
        more = set(a) - {FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK,
                         FRA_OIFNAME, FRA_GOTO, FRA_SUPPRESS_PREFIXLEN, FRA_SUPPRESS_IFGROUP, FRA_PROTOCOL}
        if more:
            words.append("(and more selectors)")
            plain = False
        if action == FR_ACT_TO_TBL:
            words += ["lookup", TABLES.get(table, str(table))]
        elif action == FR_ACT_GOTO:
            words += ["goto", str(nl.get_u32(a[FRA_GOTO])) if FRA_GOTO in a else "?"]
        else:
            words.append(ACTIONS.get(action, f"action {action}"))
        out.append(Rule(fam, prio, table, f"{prio}: {' '.join(words)}", plain and action == FR_ACT_TO_TBL))
    return out


def _prefix(raw, length):
    if raw is None:
        return "all"
    ip = nl.get_ip(raw)
    return str(ip) if length == ip.max_prefixlen else f"{ip}/{length}"


def dump_static_neighbours(sock):
    """[(ifindex, address, lladdr or None)] of the permanent IPv4 and IPv6
    neighbour entries (`ip neigh add` makes them; the kernel makes none)."""
    out = []
    for t, p in sock.dump(RTM_GETNEIGH, _NDM.pack(0, 0, 0, 0, 0)):
        if t != RTM_NEWNEIGH:
            continue
        fam, index, state, _fl, _typ = _NDM.unpack_from(p)
        if fam == AF_BRIDGE or not state & NUD_PERMANENT:
            continue
        a = nl.parse(p, _NDM.size)
        if NDA_DST in a:
            out.append((index, nl.get_ip(a[NDA_DST]), nl.get_mac(a[NDA_LLADDR]) if NDA_LLADDR in a else None))
    return out


def dump_bridge_statics(sock):
    """[(ifindex, mac, permanent)] of the entries someone may have put in a
    bridge's forwarding database (`bridge fdb add MAC dev PORT master
    [static]`): those of a master (NDA_MASTER), static or permanent. (The caller tells
    a bridge's own permanent entries, its ports' and its own MACs, apart.)"""
    out = []
    for t, p in sock.dump(RTM_GETNEIGH, _NDM.pack(AF_BRIDGE, 0, 0, 0, 0)):
        if t != RTM_NEWNEIGH:
            continue
        _fam, index, state, _flags, _typ = _NDM.unpack_from(p)
        if not state & (NUD_NOARP | NUD_PERMANENT):
            continue
        a = nl.parse(p, _NDM.size)
        if NDA_MASTER in a and NDA_LLADDR in a and NDA_DST not in a:
            out.append((index, nl.get_mac(a[NDA_LLADDR]), bool(state & NUD_PERMANENT)))
    return out
