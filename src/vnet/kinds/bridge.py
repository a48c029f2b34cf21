"""Linux bridge: a software switch (the reference article's Figure 1a)."""
import re

from ..kernel import rtnl
from ..kernel import netlink as nl
from ..topology.fields import Bool, Enum, Field, Int, Invalid, ListOf, Obj, quote
from .base import Kind, ipcmd


class Vid(Field):
    """A VLAN id, or a range "10-20"."""
    json = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 4094},
                      {"type": "string", "pattern": "^[0-9]{1,4}-[0-9]{1,4}$"}]}

    def parse(self, v):
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4094:
            return v
        m = re.fullmatch(r"(\d{1,4})-(\d{1,4})", v.strip()) if isinstance(v, str) else None
        if m and 1 <= int(m[1]) <= int(m[2]) <= 4094:
            return v.strip()
        raise Invalid(f"{quote(v)} is not a VLAN id (1-4094) or a range like 10-20")


def _vids(v):
    if isinstance(v, int):
        return [v]
    a, b = map(int, v.split("-"))
    return list(range(a, b + 1))


VLANS = ListOf(Obj({"vid": Vid("VLAN id or range", required=True),
                    "pvid": Bool("untagged frames received on this port belong to this VLAN", default=False),
                    "untagged": Bool("frames of this VLAN leave this port untagged", default=False)}),
               "VLANs of this port of a vlan_filtering bridge (replaces the default: VLAN 1, pvid, untagged)",
               default=None)


# a port's options: IFLA_BRPORT_* in the port's IFLA_INFO_SLAVE_DATA, with
# the kernel's default (None: the kernel derives it, a cost from the speed)
# and iproute2's word for it in `ip link set DEV type bridge_slave`
PORT_FLAGS = {
    "hairpin": (4, False, "hairpin", "send frames back out of the port they came in on (reflective relay: "
                "lets VEPA macvlans behind this port reach each other)"),
    "guard": (5, False, "guard", "BPDU guard: STP frames received on this port disable it"),
    "root_block": (6, False, "root_block", "the port never becomes the STP root port"),
    "fastleave": (7, False, "mcast_fast_leave", "IGMP/MLD fast leave: stop multicast at once on a leave message"),
    "learning": (8, True, "learning", "learn the source MACs of frames received on this port (kernel default true)"),
    "flood": (9, True, "flood", "flood unicast frames to unknown MACs out of this port (kernel default true)"),
    "proxy_arp": (10, False, "proxy_arp", "answer ARP requests for hosts the bridge knows"),
    "mcast_flood": (27, True, "mcast_flood", "flood unknown multicast out of this port (kernel default true)"),
    "bcast_flood": (30, True, "bcast_flood", "flood broadcast out of this port (kernel default true)"),
    "neigh_suppress": (32, False, "neigh_suppress", "answer ARP and neighbour solicitations from the FDB"),
    "isolated": (33, False, "isolated", "an isolated port reaches only ports that are not isolated"),
}
IFLA_BRPORT_PRIORITY, IFLA_BRPORT_COST = 2, 3
PORT_NUMBERS = {"priority": (IFLA_BRPORT_PRIORITY, "u16", 32), "cost": (IFLA_BRPORT_COST, "u32", None)}


def _port_fields():
    out = {"vlans": VLANS}
    out.update({k: Bool(doc) for k, (_a, _d, _w, doc) in PORT_FLAGS.items()})
    out["cost"] = Int("STP path cost of this port (kernel default from its speed: 2 at 10 Gb/s, 100 unknown)",
                      lo=1, hi=65535)
    out["priority"] = Int("STP priority of this port (kernel default 32)", lo=0, hi=63)
    return out


def port_defaults():
    return {**{k: d for k, (_a, d, _w, _doc) in PORT_FLAGS.items()},
            **{k: d for k, (_a, _c, d) in PORT_NUMBERS.items()}}


_PORT_DEFAULTS = port_defaults()
VLAN_PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
_PROTO_NAMES = {v: k for k, v in VLAN_PROTOCOLS.items()}
GROUPFWD_RESTRICTED = 0x0007   # STP, MAC pause and LACP frames: the kernel never forwards them (EINVAL)


def _describe_vlans(vlans):
    """VLANs as a plan shows them: [10 pvid untagged, 20-30]."""
    return "[" + ", ".join(str(x["vid"]) + "".join(f" {k}" for k in ("pvid", "untagged") if x.get(k))
                           for x in vlans) + "]"


def _vlans_dump(dumps):
    """The namespace's bridge VLAN dump, taken once, when a bridge filters."""
    return dumps.cached("bridge_vlans", lambda k, ns: rtnl.dump_bridge_vlans(k.sock(ns)))


def _vlan_flags(vlans):
    """{vid: BRIDGE_VLAN_INFO flags} of ``port_state``'s (vid, pvid, untagged)."""
    return {vid: (rtnl.BRIDGE_VLAN_INFO_PVID if p else 0) | (rtnl.BRIDGE_VLAN_INFO_UNTAGGED if u else 0)
            for vid, p, u in vlans}


def _vlan_dicts(have):
    """The file's VLAN entries of a dump's [(vid, flags)]."""
    return [{"vid": vid, "pvid": bool(fl & rtnl.BRIDGE_VLAN_INFO_PVID),
             "untagged": bool(fl & rtnl.BRIDGE_VLAN_INFO_UNTAGGED)} for vid, fl in have]


class Bridge(Kind):
    name = kernel_kind = "bridge"
    doc = "a software switch; ports join it with `master`"
    options_doc = (   # README.md's kinds table
        '`stp`, `priority` (STP, 0-65535), `forward_delay`, `hello_time` (1-10), `max_age` (6-40), '
        '`ageing_time`: times in whole seconds, as NetworkManager and nmstate take them (`ip link` takes,'
        ' and `ip -d link show` prints, centiseconds: `forward_delay 1500` is 15 s; `vnet script` writes '
        'them so, `vnet export` in seconds), `vlan_filtering`, `vlan_protocol` (`802.1Q`, the default, or'
        ' `802.1ad`), `vlan_default_pvid` (the VLAN a new port gets, 0: none; default 1), '
        '`group_fwd_mask` (bit X forwards 01:80:C2:00:00:0X; bits 0-2 never), `mcast_snooping`, '
        '`mcast_querier`; every one changes in place')
    example = "fig10-bridge.yaml"
    sample = """\
    - {name: br0, kind: bridge, stp: false, addresses: [10.0.0.254/24], hello_time: 3, max_age: 30,
       group_fwd_mask: 0x4000, mcast_snooping: false}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "box3d", "#a4c2f4"
    options = {
        "stp": Bool("spanning tree protocol on"),
        "vlan_filtering": Bool("filter frames by VLAN on the ports"),
        "vlan_protocol": Enum("VLAN protocol of a vlan_filtering bridge: 802.1Q (kernel default), or 802.1ad "
                              "(a provider bridge, for QinQ)", VLAN_PROTOCOLS),
        "vlan_default_pvid": Int("VLAN a new port gets as its pvid, untagged (kernel default 1; 0: none)",
                                 lo=0, hi=4094),
        "ageing_time": Int("seconds a learned MAC stays in the FDB", lo=10, hi=1000000),
        "forward_delay": Int("seconds in listening and learning states (2-30 with STP)", lo=0, hi=30),
        "hello_time": Int("seconds between STP hello packets (kernel default 2)", lo=1, hi=10),
        "max_age": Int("seconds an STP hello is kept (kernel default 20)", lo=6, hi=40),
        "priority": Int("bridge priority for STP", lo=0, hi=65535),
        "group_fwd_mask": Int("bitmask of the link-local groups 01:80:C2:00:00:0X forwarded (bit X; not 0, 1 "
                              "or 2: STP, pause and LACP frames are never forwarded)", lo=0, hi=65535),
        "mcast_snooping": Bool("IGMP/MLD snooping: multicast only to ports with listeners (kernel default true)"),
        "mcast_querier": Bool("send IGMP/MLD queries when no other querier is heard (kernel default false)"),
        "vlans": ListOf(VLANS.item, "VLANs of the bridge itself, for its own addresses (`bridge vlan ... self`; "
                        "replaces the default: vlan_default_pvid, pvid, untagged)", default=None),
    }
    # kernel units: STP state u32, clock_t (1/100 s) for times
    netlink = {"forward_delay": (1, "u32"), "hello_time": (2, "u32"), "max_age": (3, "u32"),
               "ageing_time": (4, "u32"), "stp": (5, "u32"), "priority": (6, "u16"), "vlan_filtering": (7, "u8"),
               "vlan_protocol": (8, "be16"), "group_fwd_mask": (9, "u16"), "mcast_snooping": (23, "u8"),
               "mcast_querier": (25, "u8"), "vlan_default_pvid": (39, "u16")}
    inplace = frozenset(options)
    is_master = True
    port_rx_handler = "bridge port"
    port_layers = frozenset({"ether"})   # br_add_if: EINVAL for lo or a non-Ethernet device
    _CENTI = ("ageing_time", "forward_delay", "hello_time", "max_age")
    _BOOLS = ("stp", "vlan_filtering", "mcast_snooping", "mcast_querier")
    # what needs CONFIG_BRIDGE_VLAN_FILTERING (a kernel without it ignores them, and shows none)
    _VLAN_OPTIONS = ("vlan_filtering", "vlan_protocol", "vlan_default_pvid")
    show_words = {"forward_delay": ("forward_delay", "centi"), "hello_time": ("hello_time", "centi"),
                  "max_age": ("max_age", "centi"), "ageing_time": ("ageing_time", "centi"),
                  "stp": ("stp_state", "01"), "priority": ("priority", "value"),
                  "vlan_filtering": ("vlan_filtering", "01"), "vlan_protocol": ("vlan_protocol", "value"),
                  "vlan_default_pvid": ("vlan_default_pvid", "value"),
                  "group_fwd_mask": ("group_fwd_mask", lambda w, v: f"{w} {v:#x}" if v else f"{w} 0"),   # C's %#x
                  "mcast_snooping": ("mcast_snooping", "01"), "mcast_querier": ("mcast_querier", "01"),
                  "vlans": ("vlans", "skip")}

    port_options = _port_fields()

    def kernel_features(self, iface):
        o = iface.options
        vlan = o.get("vlan_filtering") or any(o.get(k) is not None for k in self._VLAN_OPTIONS[1:])
        return super().kernel_features(iface) | ({"bridge_vlan_filtering"} if vlan else set())

    def probes(self, lower):
        on = nl.u8(self.netlink["vlan_filtering"][0], 1)   # CONFIG_BRIDGE_VLAN_FILTERING refuses it
        return super().probes(lower) | {"bridge_vlan_filtering": rtnl.linkinfo(self.kernel_kind, on)}

    def validate_port(self, master, port, problems, path):
        vlans = port.port.get("vlans")
        if vlans is None:
            return
        if not master.options.get("vlan_filtering"):
            problems.add(f"{path}.vlans", f"bridge {master.name!r} does not filter VLANs: set vlan_filtering: true on it")
        pvids = [v["vid"] for v in vlans if v["pvid"]]
        if len(pvids) > 1 or pvids and len(_vids(pvids[0])) > 1:
            problems.add(f"{path}.vlans", f"a port has at most one pvid, here: {', '.join(map(str, pvids))}")
        seen = set()
        for v in vlans:
            dup = seen & set(_vids(v["vid"]))
            if dup:
                problems.add(f"{path}.vlans", f"VLAN {min(dup)} is listed twice")
            seen |= set(_vids(v["vid"]))

    def port_state(self, port_options):
        """{option: value} of the options given, in the form declared and
        observed ones compare: VLANs as sorted (vid, pvid, untagged) (None
        when not managed), an option left out as the kernel's default."""
        out = {}
        for k, v in port_options.items():
            if k == "vlans":
                out[k] = None if v is None else sorted((vid, x["pvid"], x["untagged"])
                                                       for x in v for vid in _vids(x["vid"]))
            else:
                out[k] = _PORT_DEFAULTS.get(k) if v is None else v
        return out

    def _runs(self, state):
        """A port's VLANs (``port_state``'s) as runs [first, last, pvid, untagged]."""
        runs = []
        for vid, pvid, untagged in state.get("vlans") or []:
            if runs and runs[-1][1] == vid - 1 and tuple(runs[-1][2:]) == (pvid, untagged):
                runs[-1][1] = vid
            else:
                runs.append([vid, vid, pvid, untagged])
        return runs

    def _off_default(self, state):
        """(option, value, iproute2 word) of the port options set off their defaults."""
        for k, v in state.items():
            if k in PORT_FLAGS and v != PORT_FLAGS[k][1]:
                yield k, v, PORT_FLAGS[k][2]
            elif k in PORT_NUMBERS and v is not None and v != PORT_NUMBERS[k][2]:
                yield k, v, k

    def port_label(self, port):
        """A port's VLANs as runs (``VLAN 10 pvid untagged, 100-103``), and
        the options set off their defaults (hairpin, isolated, no learning...)."""
        state = self.port_state(port)
        parts = [(f"{a}" if a == b else f"{a}-{b}") + " pvid" * p + " untagged" * u for a, b, p, u in self._runs(state)]
        words = ["VLAN " + ", ".join(parts)] if parts else []
        for k, v, _w in self._off_default(state):
            words.append((k if v else f"no {k}") if isinstance(v, bool) else f"{k} {v}")
        return ", ".join(words)

    def show_port(self, port):
        """The options off their defaults as `ip -d link show` says them of a
        bridge_slave (`hairpin on`, `learning off`, `cost 10`); the VLANs as
        `bridge vlan show` does, one line per run."""
        state = self.port_state(port)
        words = [f"{w} {'on' if v else 'off'}" if isinstance(v, bool) else f"{w} {v}"
                 for _k, v, w in self._off_default(state)]
        return (words, [f"vlan {a if a == b else f'{a}-{b}'}" + " PVID" * p + " Egress Untagged" * u
                        for a, b, p, u in self._runs(state)])

    def observe_ports(self, ports, dumps):
        raw = {ln.ifindex: ln for ln in dumps.links}
        masters = {d.master[1] for d in ports}
        # a bridge that does not filter still lists each port's default VLAN:
        # not the port's VLANs (a file gives them only with vlan_filtering)
        filtering = {ln.name for ln in dumps.links if ln.name in masters
                     and self.decode(ln, lambda i, n: None).get("vlan_filtering")}
        for d in ports:
            sd = raw[d.ifindex].slave_data if d.ifindex in raw else None
            d.port.update(self._port_options(sd))
            have = _vlans_dump(dumps).get(d.ifindex) if d.master[1] in filtering else None
            d.port["vlans"] = None if have is None else _vlan_dicts(have)

    @staticmethod
    def _port_options(slave_data):
        """The port options of a port's IFLA_INFO_SLAVE_DATA; those at the
        kernel's default are left out, as in a file (a cost is always there:
        its default depends on the port's speed)."""
        a = nl.parse(slave_data) if slave_data is not None else {}
        out = {}
        for k, (aid, default, _w, _doc) in PORT_FLAGS.items():
            if aid in a and bool(a[aid][0]) != default:
                out[k] = bool(a[aid][0])
        for k, (aid, codec, default) in PORT_NUMBERS.items():
            if aid in a:
                v = nl.DECODERS[codec](a[aid])
                if v != default:
                    out[k] = v
        return out

    @staticmethod
    def _port_data(options):
        """IFLA_BRPORT_* attributes setting ``options`` (none of them vlans)."""
        parts = []
        for k, v in options.items():
            if k in PORT_FLAGS:
                parts.append(nl.u8(PORT_FLAGS[k][0], 1 if v else 0))
            elif k in PORT_NUMBERS:
                aid, codec, _d = PORT_NUMBERS[k]
                parts.append(nl.ENCODERS[codec](aid, v))
        return b"".join(parts)

    def set_port(self, ctx, endpoint):
        sock, idx = ctx.sock(endpoint.netns), ctx.ifindex(*endpoint.key)
        want = self.port_state(endpoint.port)
        vlans = want.pop("vlans", None)
        undo = []
        if vlans is not None:
            have = dict(rtnl.dump_bridge_vlans(sock).get(idx, []))
            wanted = _vlan_flags(vlans)
            self._apply_vlans(sock, idx, have, wanted)
            undo.append(lambda: self._apply_vlans(sock, idx, wanted, have))
        if want:
            ln = rtnl.get_link(sock, endpoint.name)
            was = {**_PORT_DEFAULTS, **self._port_options(ln.slave_data if ln else None)}
            old = {k: was[k] for k in want if was.get(k) is not None}
            rtnl.set_link(sock, idx, attrs=rtnl.slave_linkinfo("bridge", self._port_data(want)))
            if old:
                undo.append(lambda: rtnl.set_link(sock, idx, attrs=rtnl.slave_linkinfo("bridge", self._port_data(old))))

        def undo_all():
            for u in reversed(undo):
                u()
        return undo_all

    @staticmethod
    def _apply_vlans(sock, idx, have, want, self_=False):
        """Make {vid: flags} ``have`` into ``want`` (``self_``: the bridge's own)."""
        for vid in have:
            if vid not in want:
                rtnl.bridge_vlan(sock, idx, vid, 0, add=False, self_=self_)
        for vid, fl in want.items():
            if have.get(vid) != fl:
                rtnl.bridge_vlan(sock, idx, vid, fl, self_=self_)

    def iproute2_port(self, endpoint):
        pre = ["bridge"] + (["-n", endpoint.netns] if endpoint.netns is not None else [])
        state = self.port_state(endpoint.port)
        want = state.pop("vlans", None)
        words = []
        for k, v in state.items():
            if k in PORT_FLAGS:
                words += [PORT_FLAGS[k][2], "on" if v else "off"]
            elif v is not None:
                words += [k, str(v)]
        out = [ipcmd(endpoint.netns, "link", "set", "dev", endpoint.name, "type", "bridge_slave", *words)] if words else []
        if want is None:
            return out
        out += [] if any(v == 1 for v, _p, _u in want) else [" ".join(pre + ["vlan", "del", "dev", endpoint.name, "vid", "1"])]
        for v in endpoint.port["vlans"]:
            out.append(" ".join(pre + ["vlan", "add", "dev", endpoint.name, "vid", str(v["vid"])]
                                + (["pvid"] if v["pvid"] else []) + (["untagged"] if v["untagged"] else [])))
        return out

    def lint(self, ifaces, topo, problems, warnings):
        """A bridge cannot be a port of a bridge (the kernel says ELOOP)."""
        bridges = {i.key for i in ifaces}
        for i in ifaces:
            if i.master and i.master_key() in bridges:
                problems.add(f"{i.path}.master", f"{i.label} is a bridge: the kernel refuses a bridge as a port of "
                             f"another bridge (ELOOP); join them with a veth pair, or use VLANs on one bridge")

    def validate(self, iface, problems, path):
        if iface.options.get("vlans") is not None and not iface.options.get("vlan_filtering"):
            problems.add(f"{path}.vlans", "the bridge's own VLANs need vlan_filtering: true")
        fd = iface.options.get("forward_delay")
        if iface.options.get("stp") and fd is not None and fd < 2:
            problems.add(f"{path}.forward_delay", f"{fd} is out of range 2..30 while stp is on")
        mask = iface.options.get("group_fwd_mask")
        if mask is not None and mask & GROUPFWD_RESTRICTED:
            problems.add(f"{path}.group_fwd_mask", f"{mask:#x} sets bit 0, 1 or 2 (STP, MAC pause, LACP frames): "
                         "the kernel never forwards those (EINVAL)")

    def encode_value(self, opt, value, ctx, iface):
        if opt in self._CENTI:
            return value * 100
        if opt == "vlan_protocol":
            return VLAN_PROTOCOLS[value]
        return int(value) if isinstance(value, bool) else value

    def info_data(self, iface, ctx, only=None):
        # off is the kernel's default, and a kernel built without
        # CONFIG_BRIDGE_VLAN_FILTERING refuses the attribute even to say off
        if only is None and iface.options.get("vlan_filtering") is False:
            only = [k for k, v in iface.options.items() if v is not None and k != "vlan_filtering"]
        return super().info_data(iface, ctx, only)

    def decode(self, link, resolve):
        out = super().decode(link, resolve)
        out.setdefault("vlan_filtering", False)
        for k in self._CENTI:
            if k in out:
                out[k] = round(out[k] / 100)
        for k in self._BOOLS:
            if k in out:
                out[k] = bool(out[k])
        if "vlan_protocol" in out:
            out["vlan_protocol"] = _PROTO_NAMES.get(out["vlan_protocol"], f"{out['vlan_protocol']:#06x}")
        return out

    def normalize(self, opt, value):
        return self.port_state({"vlans": value})["vlans"] if opt == "vlans" else value

    def describe(self, opt, value):
        if opt == "vlans" and value is not None:
            return _describe_vlans(value)
        return f"{value:#x}" if opt == "group_fwd_mask" and isinstance(value, int) else None

    def describe_port(self, opt, value):
        return _describe_vlans(value) if opt == "vlans" and value is not None else None

    # the bridge's own VLANs (`self`) live beside the link, as a port's do
    def create(self, ctx, iface):
        super().create(ctx, iface)
        self._set_own_vlans(ctx, iface)

    def modify(self, ctx, iface, changed):
        rest = [c for c in changed if c != "vlans"]
        if rest:
            super().modify(ctx, iface, rest)
        if "vlans" in changed:
            self._set_own_vlans(ctx, iface)

    def _set_own_vlans(self, ctx, iface):
        want = self.port_state({"vlans": iface.options.get("vlans")})["vlans"]
        if want is not None:
            sock, idx = ctx.sock(iface.netns), ctx.ifindex(*iface.key)
            self._apply_vlans(sock, idx, dict(rtnl.dump_bridge_vlans(sock).get(idx, [])), _vlan_flags(want),
                              self_=True)

    def observe_more(self, link, opts, dumps):
        """The bridge's own VLANs, when it filters by VLAN and they are not
        the kernel's default (its vlan_default_pvid, pvid, untagged)."""
        have = _vlans_dump(dumps).get(link.ifindex) if opts.get("vlan_filtering") else None
        if have is None:
            return
        vlans = _vlan_dicts(have)
        default = 1 if opts.get("vlan_default_pvid") is None else opts["vlan_default_pvid"]
        if vlans != ([{"vid": default, "pvid": True, "untagged": True}] if default else []):
            opts["vlans"] = vlans

    def iproute2_extra(self, iface):
        want = self.port_state({"vlans": iface.options.get("vlans")})["vlans"]
        if want is None:
            return []
        pre = ["bridge"] + (["-n", iface.netns] if iface.netns is not None else [])
        default = iface.options.get("vlan_default_pvid")
        default = 1 if default is None else default
        out = [" ".join(pre + ["vlan", "del", "dev", iface.name, "vid", str(default), "self"])] if default else []
        for vid, p, u in want:
            out.append(" ".join(pre + ["vlan", "add", "dev", iface.name, "vid", str(vid)] + (["pvid"] if p else [])
                                + (["untagged"] if u else []) + ["self"]))
        return out

    # `ip link add type bridge` words; times in centiseconds as iproute2 takes them
    _IP_WORDS = {"stp": "stp_state", "hello_time": "hello_time", "max_age": "max_age"}

    def iproute2(self, iface):
        out = []
        for k, v in iface.options.items():
            if v is not None:
                out += [self._IP_WORDS.get(k, k), self._ip_value(k, v)]
        return out

    def _ip_value(self, opt, v):
        if opt in self._CENTI:
            return str(v * 100)
        if opt == "group_fwd_mask":
            return f"{v:#x}"
        return str(int(v)) if isinstance(v, bool) else str(v)


KIND = Bridge()
