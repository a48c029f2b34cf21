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
FRA_PROTOCOL, FRA_L3MDEV = 21, 19   # who made it (the kernel, boot...), not what it does; a VRF's lookup
RTPROT_KERNEL = 2
FIB_RULE_INVERT = 0x2
FAMILIES = (2, 10)   # IPv4 and IPv6 (128 and 129, multicast routing's, are the kernel's own)
FR_ACT_TO_TBL, FR_ACT_GOTO = 1, 2
ACTIONS = {3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
TABLES = {253: "default", 254: "main", 255: "local"}
FR_HDR = struct.Struct("=BBBBBBBBI")
NUD_NOARP = 0x40
NDA_VLAN, NDA_MASTER = 5, 9   # the entry's VLAN; the bridge whose database holds it
NTF_PROXY = 0x08
# the rules every namespace starts with: (family, priority, table)
KERNEL_RULES = frozenset({(2, 0, 255), (2, 32766, 254), (2, 32767, 253), (10, 0, 255), (10, 32766, 254)})


class Rule:
    """One policy routing rule, as `ip rule` shows it."""
    __slots__ = ("family", "priority", "table", "text", "plain", "by_kernel")

    def __init__(self, family, priority, table, text, plain, by_kernel=False):
        self.family, self.priority, self.table, self.text, self.plain = family, priority, table, text, plain
        self.by_kernel = by_kernel

    @property
    def kernel_own(self):
        """The kernel's own: one it made (protocol kernel: a namespace's
        defaults, a VRF's l3mdev rules), or one like a default (no selector)."""
        return self.by_kernel or self.plain and (self.family, self.priority, self.table) in KERNEL_RULES


def dump_rules(sock):
    """[Rule] of IPv4 and IPv6 (none where the kernel has no policy routing)."""
    out = []
    try:
        replies = sock.dump(RTM_GETRULE, FR_HDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0))
    except nl.NetlinkError:   # a kernel without CONFIG_FIB_RULES
        return out
    for t, p in replies:
        if t != RTM_NEWRULE:
            continue
        fam, dst_len, src_len, tos, table, _r1, _r2, action, flags = FR_HDR.unpack_from(p)
        if fam not in FAMILIES:
            continue
        a = nl.parse(p, FR_HDR.size)
        table = nl.get_u32(a[FRA_TABLE]) if FRA_TABLE in a else table
        prio = nl.get_u32(a[FRA_PRIORITY]) if FRA_PRIORITY in a else 0
        words = (["not"] if flags & FIB_RULE_INVERT else []) + ["from", _prefix(a.get(FRA_SRC), src_len)]
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
        if FRA_L3MDEV in a and a[FRA_L3MDEV][0]:
            words.append("lookup [l3mdev-table]")
        plain = words == ["from", "all"]
        more = set(a) - {FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK,
                         FRA_OIFNAME, FRA_GOTO, FRA_SUPPRESS_PREFIXLEN, FRA_SUPPRESS_IFGROUP, FRA_PROTOCOL, FRA_L3MDEV}
        if more:
            words.append("(and more selectors)")
            plain = False
        if action == FR_ACT_TO_TBL and FRA_L3MDEV not in a:
            words += ["lookup", TABLES.get(table, str(table))]
        elif action == FR_ACT_TO_TBL:
            pass
        elif action == FR_ACT_GOTO:
            words += ["goto", str(nl.get_u32(a[FRA_GOTO])) if FRA_GOTO in a else "?"]
        else:
            words.append(ACTIONS.get(action, f"action {action}"))
        by_kernel = FRA_PROTOCOL in a and a[FRA_PROTOCOL][0] == RTPROT_KERNEL
        out.append(Rule(fam, prio, table, f"{prio}: {' '.join(words)}", plain and action == FR_ACT_TO_TBL, by_kernel))
    return out


def _prefix(raw, length):
    if raw is None:
        return "all"
    ip = nl.get_ip(raw)
    return str(ip) if length == ip.max_prefixlen else f"{ip}/{length}"


def dump_static_neighbours(sock):
    """[(ifindex, address, lladdr or None, proxy)] of the permanent IPv4 and
    IPv6 neighbour entries (`ip neigh add` makes them; the kernel makes
    none) and of the proxy entries (`ip neigh add proxy`)."""
    out = []
    for flags in (0, NTF_PROXY):
        for t, p in sock.dump(RTM_GETNEIGH, _NDM.pack(0, 0, 0, flags, 0)):
            if t != RTM_NEWNEIGH:
                continue
            fam, index, state, fl, _typ = _NDM.unpack_from(p)
            proxy = bool(fl & NTF_PROXY)
            if fam not in FAMILIES or proxy != bool(flags) or not (proxy or state & NUD_PERMANENT):
                continue
            a = nl.parse(p, _NDM.size)
            if NDA_DST in a:
                out.append((index, nl.get_ip(a[NDA_DST]), nl.get_mac(a[NDA_LLADDR]) if NDA_LLADDR in a else None,
                            proxy))
    return out


def dump_bridge_statics(sock):
    """[(ifindex, mac, vlan or None, permanent)] of the entries someone may have put in a
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
            vlan = nl.get_u16(a[NDA_VLAN]) if NDA_VLAN in a else None
            out.append((index, nl.get_mac(a[NDA_LLADDR]), vlan, bool(state & NUD_PERMANENT)))
    return out
