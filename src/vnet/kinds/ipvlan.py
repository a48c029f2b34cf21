"""IPVLAN and IPVTAP: devices sharing their lower device's MAC, switched by IP
address (l2), or routed (l3, l3s) (Figures 16-18)."""
from ..kernel import netlink as nl
from ..topology.fields import Enum, RefField
from .base import Kind
from .tap_node import TapNode

IFLA_IPVLAN_MODE, IFLA_IPVLAN_FLAGS = 1, 2
MODES = {"l2": 0, "l3": 1, "l3s": 2}
FLAGS = {"bridge": 0, "private": 1, "vepa": 2}


class Ipvlan(Kind):
    options_doc = (   # README.md's kinds table
        '`link` (required), `mode` (`l2`, `l3` default, `l3s`), `flags` (`bridge` default, `private`, '
        '`vepa`); all on one lower device share mode and flags (the kernel keeps them per lower device)')
    name = kernel_kind = "ipvlan"
    doc = "a device sharing its lower device's MAC, told apart by IP address"

    shape, colour = "box", "#a2c4c9"
    example = "fig16-ipvlan-l2.yaml"
    sample = """\
    - {name: ipv1, kind: ipvlan, netns: net2, link: {name: eth0}, mode: l2, addresses: [10.1.0.3/24]}
"""   # tests/golden/script/all-kinds.yaml
    options = {
        "link": RefField("the lower device", required=True),
        "mode": Enum("l2: switched by IP on the lower device; l3: routed, no broadcast; l3s: l3 with netfilter",
                     MODES, default="l3"),
        "flags": Enum("bridge: endpoints talk directly; private: never; vepa: through the outside", FLAGS,
                      default="bridge"),
    }
    link_option = "link"
    link_attr = 5   # IFLA_LINK
    rx_handler = "ipvlan/ipvtap"

    def link_defaults(self, options):
        """In l3 and l3s modes the kernel turns ARP off (packets are routed by address)."""
        return {**super().link_defaults(options), "arp": options.get("mode", "l3") == "l2"}

    def validate(self, iface, problems, path):
        # the kernel sets ARP by the mode each time the device goes up
        # (ipvlan_open): any other value holds only on a device kept down
        arp = self.link_defaults(iface.options)["arp"]
        if iface.arp is not None and iface.arp != arp and iface.up:
            problems.add(f"{path}.arp", f"an {self.name} in {iface.options['mode']} mode has ARP "
                                        f"{'on' if arp else 'off'}: the kernel sets it so each time the device goes "
                                        "up (leave arp out, or keep the device down)")
    lower_layers = frozenset({"ether"})   # ipvlan_port_create: EINVAL for lo or a non-Ethernet device
    inplace = frozenset({"mode", "flags"})
    show_words = {"link": ("link", "value"), "mode": ("mode", "value"), "flags": ("flags", "word")}

    def validate_all(self, ifaces, problems):
        # the kernel keeps mode and flags per lower device: every ipvlan and
        # ipvtap on one lower device has the same (the last one set wins)
        first = {}
        for i in ifaces:
            key = i.options["link"].resolve(i.netns)
            o = i.options
            if key in first and (first[key].options["mode"], first[key].options["flags"]) != (o["mode"], o["flags"]):
                f = first[key]
                problems.add(f"{i.path}.mode", f"{o['mode']}/{o['flags']} differs from {f.path}, {f.options['mode']}/"
                             f"{f.options['flags']} on the same lower device {key[1]!r}: the kernel keeps one mode and "
                             "flags per lower device")
            first.setdefault(key, i)

    def lint(self, ifaces, topo, problems, warnings):
        """l3 and l3s do no neighbour discovery: an endpoint reaches another
        subnet of its lower device only through a route."""
        by_lower = {}
        for i in ifaces:
            by_lower.setdefault(i.options["link"].resolve(i.netns), []).append(i)
        for group in by_lower.values():
            for i in group:
                if i.options["mode"] not in ("l3", "l3s") or not i.addresses:
                    continue
                routes = [r.to for r in topo.routes if r.netns == i.netns]
                for j in group:
                    for a in j.addresses:
                        if j is i or any(a.ip in own.network for own in i.addresses):
                            continue
                        if not any(a.version == n.version and a.ip in n for n in routes):
                            warnings.add(i.path, f"{i.label} is in ipvlan {i.options['mode']} mode, which resolves no "
                                         f"neighbours: it reaches {j.label} ({a.ip}) only with a route; add "
                                         f"{{netns: {i.netns}, to: {a.network}, dev: {i.name}}} to routes")

    def info_data(self, iface, ctx, only=None):
        o = iface.options
        parts = []
        if only is None or "mode" in only:
            parts.append(nl.u16(IFLA_IPVLAN_MODE, MODES[o["mode"]]))
        if only is None or "flags" in only:
            parts.append(nl.u16(IFLA_IPVLAN_FLAGS, FLAGS[o["flags"]]))
        return b"".join(parts)

    def decode(self, link, resolve):
        a = nl.parse(link.data) if link.data is not None else {}
        rev_m = {v: k for k, v in MODES.items()}
        rev_f = {v: k for k, v in FLAGS.items()}
        return {"mode": rev_m.get(nl.get_u16(a[IFLA_IPVLAN_MODE])) if IFLA_IPVLAN_MODE in a else None,
                "flags": rev_f.get(nl.get_u16(a[IFLA_IPVLAN_FLAGS]) & 3) if IFLA_IPVLAN_FLAGS in a else None,
                "link": resolve(link.link, link.link_nsid) if link.link else None}

    def iproute2(self, iface):
        return ["mode", iface.options["mode"], iface.options["flags"]]

    def link_label(self, options):
        flags = options.get("flags")
        return " ".join(str(x) for x in (options.get("mode"), flags if flags not in (None, "bridge") else None) if x)


class Ipvtap(TapNode, Ipvlan):
    name = kernel_kind = "ipvtap"
    doc = "an ipvlan whose packets a VM reads and writes through /dev/tapN"
    shape = "cds"
    example = None   # no example of its own yet
    sample = """\
    - {name: ipvt0, kind: ipvtap, link: eth0, mode: l2}
"""   # tests/golden/script/all-kinds.yaml

    def validate(self, iface, problems, path):
        super().validate(iface, problems, path)
        # the kernel's ipvtap, unlike its ipvlan, has no get_link_net: its
        # IFLA_LINK comes without IFLA_LINK_NETNSID, so a lower device in
        # another namespace reads as an ifindex of its own namespace, and
        # the apply could never be verified (it would be undone every time)
        link = iface.options.get("link")
        if link is not None and link.resolve(iface.netns)[0] != iface.netns:
            problems.add(f"{path}.link", "must be in the ipvtap's own namespace: the kernel does not say which "
                                         "namespace an ipvtap's lower device is in, so vnet could not verify it "
                                         "(an ipvlan or a macvtap can have its lower device elsewhere)")


IPVLAN = Ipvlan()
IPVTAP = Ipvtap()
