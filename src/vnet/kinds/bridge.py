"""Linux bridge: a software switch (the reference article's Figure 1a)."""
from ..kernel import rtnl
from ..kernel import netlink as nl
from ..topology.fields import Bool, Enum, Int, ListOf
from .base import Kind, ipcmd
from .bridge_port import VLANS, BridgePorts, _describe_vlans, _vlan_dicts, _vlan_flags, _vlans_dump


VLAN_PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
_PROTO_NAMES = {v: k for k, v in VLAN_PROTOCOLS.items()}
GROUPFWD_RESTRICTED = 0x0007   # STP, MAC pause and LACP frames: the kernel never forwards them (EINVAL)


class FromRoot(int):
    """An STP timer of a bridge that is not the root: the kernel reports the
    root's (learned from its hellos, and used), never the bridge's own,
    which is then unknowable; any value a file gives matches it."""

    def __eq__(self, other):
        return isinstance(other, int)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = int.__hash__


_STP_TIMERS = ("forward_delay", "hello_time", "max_age")
IFLA_BR_ROOT_ID, IFLA_BR_BRIDGE_ID = 10, 11


class Bridge(BridgePorts, Kind):
    name = kernel_kind = "bridge"
    # the kernel moves its ports' VLANs with these, announcing them only to
    # the bridge VLAN group (RTM_NEWVLAN), or not at all (filtering toggled)
    ports_follow = frozenset({"vlan_filtering", "vlan_default_pvid"})
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
        "ageing_time": Int("seconds a learned MAC stays in the FDB (0: none stays, every frame is flooded)", lo=0,
                           hi=1000000),
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
    # root and bridge ids (from its MAC), root port and cost, topology
    # change flags, timers, the querier's state, the count of learned MACs
    state_attrs = frozenset({10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 47, 48})
    setting_names = {20: "group_address", 22: "mcast_router", 24: "mcast_query_use_ifaddr",
                     26: "mcast_hash_elasticity", 27: "mcast_hash_max", 28: "mcast_last_member_count",
                     29: "mcast_startup_query_count", 30: "mcast_last_member_interval",
                     31: "mcast_membership_interval", 32: "mcast_querier_interval", 33: "mcast_query_interval",
                     34: "mcast_query_response_interval", 35: "mcast_startup_query_interval",
                     36: "nf_call_iptables", 37: "nf_call_ip6tables", 38: "nf_call_arptables",
                     41: "vlan_stats_enabled", 42: "mcast_stats_enabled", 43: "mcast_igmp_version",
                     44: "mcast_mld_version", 45: "vlan_stats_per_port",
                     46: ("no_linklocal_learn, mcast_vlan_snooping or mst_enabled",
                          lambda v: f"{int.from_bytes(v[:4], 'little'):#x}"), 49: "fdb_max_learned"}
    inplace = frozenset(options)
    is_master = True
    mac_from_ports = True
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

    def kernel_features(self, iface):
        o = iface.options
        vlan = o.get("vlan_filtering") or any(o.get(k) is not None for k in self._VLAN_OPTIONS[1:])
        return super().kernel_features(iface) | ({"bridge_vlan_filtering"} if vlan else set())

    def probes(self, lower):
        on = nl.u8(self.netlink["vlan_filtering"][0], 1)   # CONFIG_BRIDGE_VLAN_FILTERING refuses it
        return super().probes(lower) | {"bridge_vlan_filtering": rtnl.linkinfo(self.kernel_kind, on)}

    def lint(self, ifaces, topo, problems, warnings):
        """A bridge cannot be a port of a bridge (the kernel says ELOOP); an
        entry of its forwarding database is on one port (a second moves it)."""
        bridges = {i.key for i in ifaces}
        for i in ifaces:
            if i.master and i.master_key() in bridges:
                problems.add(f"{i.path}.master", f"{i.label} is a bridge: the kernel refuses a bridge as a port of "
                             f"another bridge (ELOOP); join them with a veth pair, or use VLANs on one bridge")
        on = {}
        for i in topo.interfaces:
            for e in i.endpoints():
                if not (e.master and e.master_key() in bridges):
                    continue
                for n, entry in enumerate(e.port.get("fdb") or []):
                    where = on.setdefault((e.master_key(), entry["mac"], entry.get("vlan")), e.label)
                    if where != e.label:
                        problems.add(f"{i.path}{'.peer' if e is not i else ''}.fdb[{n}]",
                                     f"{entry['mac']} is an entry of {where} already: a bridge forwards a MAC "
                                     "to one port")

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

    # what a new bridge is not told when the file gives the kernel's own:
    # vlan_filtering off (a kernel built without CONFIG_BRIDGE_VLAN_FILTERING
    # refuses the attribute even to say off); the priority, whose setting
    # runs the ports' state selection, which takes the carrier of a bridge
    # without ports (one made by `ip link add` keeps it)
    _UNSAID = {"vlan_filtering": False, "priority": 32768}

    def info_data(self, iface, ctx, only=None):
        if only is None and any(iface.options.get(k) == v for k, v in self._UNSAID.items()):
            only = [k for k, v in iface.options.items() if v is not None and not (k in self._UNSAID and
                                                                                 self._UNSAID[k] == v)]
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
        a = nl.parse(link.data) if out.get("stp") and link.data is not None else {}
        if a.get(IFLA_BR_ROOT_ID) is not None and bytes(a[IFLA_BR_ROOT_ID]) != bytes(a.get(IFLA_BR_BRIDGE_ID, b"")):
            for k in _STP_TIMERS:
                if out.get(k) is not None:
                    out[k] = FromRoot(out[k])
        return out

    def exported_options(self, options, mac):
        """An STP timer learned from the root as the number it is."""
        return {k: int(v) if isinstance(v, FromRoot) else v for k, v in options.items()}

    def normalize(self, opt, value):
        return self.port_state({"vlans": value})["vlans"] if opt == "vlans" else value

    def describe(self, opt, value):
        if opt == "vlans" and value is not None:
            return _describe_vlans(value)
        return f"{value:#x}" if opt == "group_fwd_mask" and isinstance(value, int) else None

    # the bridge's own VLANs (`self`) live beside the link, as a port's do.
    # Its MTU is set by a request of its own: given in the creation request,
    # the kernel does not count it as the user's, and lowers it to its
    # smallest port's as ports join (`ip link set br0 mtu N` is kept)
    def create(self, ctx, iface):
        super().create(ctx, iface.replace(mtu=None) if iface.mtu else iface)
        if iface.mtu:
            rtnl.set_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key), attrs=rtnl.link_attrs(mtu=iface.mtu))
        self._set_own_vlans(ctx, iface)

    def iproute2_add(self, iface):
        return super().iproute2_add(iface.replace(mtu=None) if iface.mtu else iface)

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
        mtu = [ipcmd(iface.netns, "link", "set", iface.name, "mtu", iface.mtu)] if iface.mtu else []
        want = self.port_state({"vlans": iface.options.get("vlans")})["vlans"]
        if want is None:
            return mtu
        pre = ["bridge"] + (["-n", iface.netns] if iface.netns is not None else [])
        default = iface.options.get("vlan_default_pvid")
        default = 1 if default is None else default
        out = [" ".join(pre + ["vlan", "del", "dev", iface.name, "vid", str(default), "self"])] if default else []
        for vid, p, u in want:
            out.append(" ".join(pre + ["vlan", "add", "dev", iface.name, "vid", str(vid)] + (["pvid"] if p else [])
                                + (["untagged"] if u else []) + ["self"]))
        return mtu + out

    # `ip link add type bridge` words; times in centiseconds as iproute2 takes them
    _IP_WORDS = {"stp": "stp_state", "hello_time": "hello_time", "max_age": "max_age"}

    def iproute2(self, iface):
        """The `ip link add` words: those a new bridge is told (``_UNSAID``)."""
        out = []
        for k, v in iface.options.items():
            if v is not None and not (k in self._UNSAID and self._UNSAID[k] == v):
                out += [self._IP_WORDS.get(k, k), self._ip_value(k, v)]
        return out

    def _ip_value(self, opt, v):
        if opt in self._CENTI:
            return str(v * 100)
        if opt == "group_fwd_mask":
            return f"{v:#x}"
        return str(int(v)) if isinstance(v, bool) else str(v)


KIND = Bridge()
