"""MACVLAN and MACVTAP: devices with their own MAC on a lower device
(Figures 11-15, 19). Five modes, differing in who may talk to whom."""
from ..kernel import netlink as nl
from ..topology.fields import Bool, Enum, Int, ListOf, MAC, RefField
from .base import Kind
from .tap_node import TapNode

IFLA_MACVLAN_MODE, IFLA_MACVLAN_MACADDR_MODE, IFLA_MACVLAN_MACADDR = 1, 3, 4
IFLA_MACVLAN_MACADDR_DATA, IFLA_MACVLAN_MACADDR_COUNT = 5, 6
IFLA_MACVLAN_FLAGS, IFLA_MACVLAN_BC_QUEUE_LEN = 2, 7
MACVLAN_FLAG_NOPROMISC = 1
MACADDR_SET = 3
MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}
MODE_NAMES = {v: k for k, v in MODES.items()}


class Macvlan(Kind):
    options_doc = (   # README.md's kinds table
        '`link` (required), `mode` (`private`, `vepa` (default), `bridge`, `passthru`, `source`), '
        '`source_macs` (for `source`), `nopromisc` (`passthru` only: the lower device is not made '
        'promiscuous), `bcqueuelen` (the queue of received broadcast and multicast frames; the devices on'
        ' one lower device share the largest)')
    name = kernel_kind = "macvlan"
    doc = "a device with its own MAC address on a lower device"
    shape, colour = "box", "#9fc5e8"
    example = "fig11-macvlan-bridge.yaml"
    sample = """\
    - {name: mv1, kind: macvlan, netns: net2, link: {name: eth1}, mode: bridge, addresses: [10.1.0.2/24]}
"""   # tests/golden/script/all-kinds.yaml
    options = {
        "link": RefField("the lower device", required=True),
        "mode": Enum("who may talk to whom: private (no one but the outside), vepa (through an outside "
                     "hairpin switch), bridge (each other directly), passthru (one device takes the lower "
                     "over), source (only frames from source_macs)", MODES, default="vepa"),
        "source_macs": ListOf(MAC("allowed source MAC"), "source mode: the MACs accepted", default=None),
        "nopromisc": Bool("passthru: leave the lower device out of promiscuous mode (default false)"),
        "bcqueuelen": Int("length of the queue of broadcast and multicast frames received (kernel default 1000; "
                          "the lower device's devices share the largest)", lo=0, hi=2**32 - 1),
    }
    link_option = "link"
    link_attr = 5   # IFLA_LINK
    rx_handler = "macvlan/macvtap"
    lower_layers = frozenset({"ether"})   # macvlan_port_create: EINVAL for lo or a non-Ethernet device
    state_attrs = frozenset({8})   # the broadcast queue length in use: the largest of the lower device's macvlans
    inplace = frozenset({"mode", "source_macs", "nopromisc", "bcqueuelen"})
    show_words = {"link": ("link", "value"), "mode": ("mode", "value"),
                  "source_macs": ("remotes", lambda w, v: f"{w} ({len(v)}) {' '.join(v)}" if v else ""),
                  "nopromisc": ("nopromisc", "ifset"), "bcqueuelen": ("bcqueuelen", "value")}

    def in_place(self, opt, old, new):
        # the kernel refuses to switch into or out of passthru on a live device
        return super().in_place(opt, old, new) and not (opt == "mode" and "passthru" in (old, new))

    def validate(self, iface, problems, path):
        o = iface.options
        if o.get("mode") == "source" and not o.get("source_macs"):
            problems.add(f"{path}.source_macs", "mode source needs at least one MAC in source_macs")
        if o.get("source_macs") and o.get("mode") != "source":
            problems.add(f"{path}.source_macs", f"only used in mode source (mode is {o.get('mode')})")
        if o.get("nopromisc") and o.get("mode") != "passthru":
            problems.add(f"{path}.nopromisc", f"only for mode passthru (mode is {o.get('mode')}): the kernel "
                         "refuses it otherwise")

    def normalize(self, opt, value):
        return bool(value) if opt == "nopromisc" else value

    def lint(self, ifaces, topo, problems, warnings):
        by_lower = {}
        for i in ifaces:
            by_lower.setdefault(i.options["link"].resolve(i.netns), []).append(i)
        for (ns, low), group in by_lower.items():
            if len(group) > 1 and any(i.options["mode"] == "passthru" for i in group):
                p = next(i for i in group if i.options["mode"] == "passthru")
                problems.add(f"{p.path}.mode", f"passthru takes the whole of {low!r}, which {len(group) - 1} other "
                             f"macvlan/macvtap also use{'s' if len(group) == 2 else ''}: the kernel refuses the "
                             "second; use one passthru device, or another mode")
            vepa = [i for i in group if i.options["mode"] == "vepa"]
            if len(vepa) > 1 and not _hairpin_upstream(topo, (ns, low)):
                pairs = _expected_talks(topo, vepa)
                for a, b, c in pairs:
                    warnings.add(c.path, f"{a.label} and {b.label} are VEPA macvlans of {low!r}: their frames to "
                                 "each other leave through it and come back only if the switch upstream "
                                 f"reflects them (hairpin), which this file does not set up; {c.label!r} expects "
                                 "them to talk. Put hairpin: true on the bridge port on the other end of "
                                 f"{low!r}, or use mode bridge")

    def info_data(self, iface, ctx, only=None):
        o = iface.options
        parts = []
        if only is None or "mode" in only:
            parts.append(nl.u32(IFLA_MACVLAN_MODE, MODES[o["mode"]]))
        if o.get("source_macs") is not None and (only is None or "source_macs" in only):
            parts.append(nl.u32(IFLA_MACVLAN_MACADDR_MODE, MACADDR_SET))
            parts.append(nl.attr(IFLA_MACVLAN_MACADDR_DATA,
                                 b"".join(nl.mac(IFLA_MACVLAN_MACADDR, m) for m in o["source_macs"])))
        if o.get("nopromisc") is not None and (only is None or "nopromisc" in only):
            parts.append(nl.u16(IFLA_MACVLAN_FLAGS, MACVLAN_FLAG_NOPROMISC if o["nopromisc"] else 0))
        if o.get("bcqueuelen") is not None and (only is None or "bcqueuelen" in only):
            parts.append(nl.u32(IFLA_MACVLAN_BC_QUEUE_LEN, o["bcqueuelen"]))
        return b"".join(parts)

    def decode(self, link, resolve):
        a = nl.parse(link.data) if link.data is not None else {}
        out = {"mode": MODE_NAMES.get(nl.get_u32(a[IFLA_MACVLAN_MODE])) if IFLA_MACVLAN_MODE in a else None}
        if IFLA_MACVLAN_MACADDR_DATA in a:
            out["source_macs"] = [nl.get_mac(v) for t, v in nl.parse_list(a[IFLA_MACVLAN_MACADDR_DATA])
                                  if t == IFLA_MACVLAN_MACADDR]
        if IFLA_MACVLAN_FLAGS in a and nl.get_u16(a[IFLA_MACVLAN_FLAGS]) & MACVLAN_FLAG_NOPROMISC:
            out["nopromisc"] = True   # off (the default) left out, as in a file
        if IFLA_MACVLAN_BC_QUEUE_LEN in a:   # Linux 5.11 and later
            out["bcqueuelen"] = nl.get_u32(a[IFLA_MACVLAN_BC_QUEUE_LEN])
        out["link"] = resolve(link.link, link.link_nsid) if link.link else None
        return out

    def iproute2(self, iface):
        o = iface.options
        out = ["mode", o["mode"]]
        if o.get("nopromisc"):
            out += ["flag", "nopromisc"]
        if o.get("source_macs"):
            out += ["macaddr", "set", *o["source_macs"]]
        if o.get("bcqueuelen") is not None:
            out += ["bcqueuelen", o["bcqueuelen"]]
        return out


def _hairpin_upstream(topo, lower):
    """Is ``lower`` one end of a veth whose other end is a hairpin bridge port?"""
    declared = topo.by_key()
    if lower not in declared:
        return False
    iface, _e = declared[lower]
    if not iface.kind_module.peer:
        return False
    other = iface.peer if iface.key == lower else iface
    return bool(other.master and other.port.get("hairpin"))


def _expected_talks(topo, group):
    """(a, b, check) for every check expecting traffic from a's namespace to an address of b."""
    out = []
    for c in topo.checks:
        a = c.args
        if c.type not in ("ping", "tcp", "udp", "mtu") or c.expect != "reachable":
            continue
        for x in group:
            for y in group:
                if x is not y and x.netns == a.get("from") and any(ad.ip == a["to"] for ad in y.addresses):
                    out.append((x, y, c))
    return out


class Macvtap(TapNode, Macvlan):
    name = kernel_kind = "macvtap"
    doc = "a macvlan whose frames a VM reads and writes through /dev/tapN"
    shape = "cds"
    example = "fig19-macvtap.yaml"
    sample = """\
    - {name: mvt0, kind: macvtap, link: eth1, mode: source, source_macs: ["02:00:00:00:00:0a"]}
"""   # tests/golden/script/all-kinds.yaml


MACVLAN = Macvlan()
MACVTAP = Macvtap()
