"""802.1Q and 802.1ad VLAN devices on a lower device (Figures 5-6); an
802.1Q vlan on an 802.1ad one is QinQ."""
import struct

from ..kernel import netlink as nl
from ..topology.fields import Bool, Enum, Int, ListOf, RefField, Str
from .base import Kind

IFLA_VLAN_ID, IFLA_VLAN_FLAGS, IFLA_VLAN_EGRESS_QOS, IFLA_VLAN_INGRESS_QOS, IFLA_VLAN_PROTOCOL = 1, 2, 3, 4, 5
IFLA_VLAN_QOS_MAPPING = 1
FLAG_REORDER_HDR, FLAG_LOOSE_BINDING = 0x1, 0x4
PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
PROTO_NAMES = {v: k for k, v in PROTOCOLS.items()}
_FLAGS = {"reorder_hdr": FLAG_REORDER_HDR, "loose_binding": FLAG_LOOSE_BINDING}
QOS = Str("FROM:TO priority mapping", pattern=r"\d+:\d+", explain="a mapping is FROM:TO, e.g. 1:3")


class Vlan(Kind):
    name = kernel_kind = "vlan"
    doc = "a VLAN device: frames of one VLAN id on its lower device, tagged 802.1Q or 802.1ad"
    options_doc = (   # README.md's kinds table
        '`link` (required), `id` (1-4094, required), `protocol` (`802.1Q` default, `802.1ad`; a vlan on '
        'an 802.1ad vlan is QinQ), `reorder_hdr`, `loose_binding`, `ingress_qos_map` / `egress_qos_map` '
        '(`["FROM:TO", ...]`)')
    example = "fig6-vlan.yaml"
    sample = """\
    - {name: eth1.10, kind: vlan, link: eth1, id: 10}
    - {name: eth1.20, kind: vlan, link: eth1, id: 20, protocol: 802.1ad}
    - {name: eth1.20.30, kind: vlan, link: eth1.20, id: 30}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "tab", "#ffe599"
    options = {
        "link": RefField("the lower device (trunk)", required=True),
        "id": Int("VLAN id", lo=1, hi=4094, required=True),
        "protocol": Enum("tag protocol: 802.1Q, or 802.1ad for the outer tag of QinQ", PROTOCOLS,
                         default="802.1Q"),
        "reorder_hdr": Bool("present frames untagged to the stack (kernel default on)"),
        "loose_binding": Bool("do not follow the lower device's up/down state"),
        "ingress_qos_map": ListOf(QOS, "802.1p priority of received frames -> skb priority", default=None),
        "egress_qos_map": ListOf(QOS, "skb priority -> 802.1p priority of sent frames", default=None),
    }
    link_option = "link"
    link_attr = 5   # IFLA_LINK
    flags_from_lower = True   # vlan_dev_init copies the lower device's flags
    inplace = frozenset({"reorder_hdr", "loose_binding", "ingress_qos_map", "egress_qos_map"})
    show_words = {"link": ("link", "value"), "protocol": ("protocol", "value"), "id": ("id", "value"),
                  "reorder_hdr": ("", "skip"), "loose_binding": ("", "skip"),
                  "ingress_qos_map": ("ingress-qos-map", lambda w, v: f"{w} {{ {' '.join(v)} }}" if v else ""),
                  "egress_qos_map": ("egress-qos-map", lambda w, v: f"{w} {{ {' '.join(v)} }}" if v else "")}

    def show_details(self, dev, ref):
        """iproute2's order, the flags as `<REORDER_HDR,LOOSE_BINDING>` after the id."""
        out = super().show_details(dev, ref)
        flags = [k.upper() for k in _FLAGS if dev.options.get(k)]
        at = next((i + 1 for i, w in enumerate(out) if w.startswith("id ")), len(out))
        return out[:at] + [f"<{','.join(flags)}>"] + out[at:]

    def probe_data(self, iface=None):
        return nl.u16(IFLA_VLAN_ID, 7)

    def validate(self, iface, problems, path):
        for k in ("ingress_qos_map", "egress_qos_map"):
            for i, m in enumerate(iface.options.get(k) or []):
                a, b = map(int, m.split(":"))
                if k == "ingress_qos_map" and a > 7 or k == "egress_qos_map" and b > 7:
                    problems.add(f"{path}.{k}[{i}]", f"{m!r}: an 802.1p priority is 0-7")

    def info_data(self, iface, ctx, only=None):
        o = iface.options
        want = lambda k: (only is None or k in only) and o.get(k) is not None  # noqa: E731
        parts = []
        if want("id"):
            parts.append(nl.u16(IFLA_VLAN_ID, o["id"]))
        if want("protocol"):
            parts.append(nl.be16(IFLA_VLAN_PROTOCOL, PROTOCOLS[o["protocol"]]))
        flags = mask = 0
        for k, bit in _FLAGS.items():
            if want(k):
                mask |= bit
                flags |= bit if o[k] else 0
        if mask:
            parts.append(nl.attr(IFLA_VLAN_FLAGS, struct.pack("=II", flags, mask)))
        for k, aid in (("egress_qos_map", IFLA_VLAN_EGRESS_QOS), ("ingress_qos_map", IFLA_VLAN_INGRESS_QOS)):
            if want(k):
                maps = [tuple(map(int, m.split(":"))) for m in o[k]]
                if only is not None:   # a change: clear what is no longer mapped
                    have = {a for a, _b in maps}
                    maps += [(a, 0) for a in range(8 if k == "ingress_qos_map" else 16) if a not in have]
                parts.append(nl.attr(aid, b"".join(nl.attr(IFLA_VLAN_QOS_MAPPING, struct.pack("=II", a, b))
                                                   for a, b in maps)))
        return b"".join(parts)

    def decode(self, link, resolve):
        a = nl.parse(link.data) if link.data is not None else {}
        out = {"id": nl.get_u16(a[IFLA_VLAN_ID]) if IFLA_VLAN_ID in a else None,
               "protocol": PROTO_NAMES.get(nl.get_be16(a[IFLA_VLAN_PROTOCOL])) if IFLA_VLAN_PROTOCOL in a else None,
               "link": resolve(link.link, link.link_nsid) if link.link else None}
        # the kernel leaves IFLA_VLAN_FLAGS out when no flag is set (reorder_hdr off)
        flags = struct.unpack_from("=I", a[IFLA_VLAN_FLAGS])[0] if IFLA_VLAN_FLAGS in a else 0
        for k, bit in _FLAGS.items():
            out[k] = bool(flags & bit)
        for k, aid in (("egress_qos_map", IFLA_VLAN_EGRESS_QOS), ("ingress_qos_map", IFLA_VLAN_INGRESS_QOS)):
            maps = []
            if aid in a:
                for _t, v in nl.parse_list(a[aid]):
                    f, t = struct.unpack_from("=II", v)
                    if t:
                        maps.append(f"{f}:{t}")
            out[k] = maps
        return out

    def normalize(self, opt, value):
        if opt.endswith("_qos_map") and value is not None:
            return sorted(m for m in value if not m.endswith(":0"))
        return value

    def link_label(self, options):
        return f"VLAN {options.get('id')}" + (" (802.1ad)" if options.get("protocol") == "802.1ad" else "")

    def iproute2(self, iface):
        o = iface.options
        out = ["protocol", o.get("protocol") or "802.1Q", "id", o["id"]]
        for k in ("reorder_hdr", "loose_binding"):
            if o.get(k) is not None:
                out += [k, "on" if o[k] else "off"]
        for k in ("ingress_qos_map", "egress_qos_map"):
            if o.get(k):
                out += [k.replace("_qos_map", "-qos-map"), *o[k]]
        return out


KIND = Vlan()
