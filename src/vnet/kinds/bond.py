"""Bonding: several ports aggregated into one device, for failover or load
balancing (Figure 2); ports join with `master: bond0`."""
from ..kernel import netlink as nl
from ..topology.fields import IP, MAC, Bool, Enum, Int, ListOf, RefField
from .base import Kind

A = dict(MODE=1, ACTIVE_SLAVE=2, MIIMON=3, UPDELAY=4, DOWNDELAY=5, ARP_INTERVAL=7, ARP_IP_TARGET=8,
         ARP_VALIDATE=9, PRIMARY=11, PRIMARY_RESELECT=12, FAIL_OVER_MAC=13, XMIT_HASH_POLICY=14, RESEND_IGMP=15,
         NUM_PEER_NOTIF=16, ALL_SLAVES_ACTIVE=17, MIN_LINKS=18, PACKETS_PER_SLAVE=20, AD_LACP_RATE=21,
         AD_SELECT=22, AD_ACTOR_SYS_PRIO=24, AD_USER_PORT_KEY=25, AD_ACTOR_SYSTEM=26)
MODES = {"balance-rr": 0, "active-backup": 1, "balance-xor": 2, "broadcast": 3, "802.3ad": 4,
         "balance-tlb": 5, "balance-alb": 6}
HASH = {"layer2": 0, "layer3+4": 1, "layer2+3": 2, "encap2+3": 3, "encap3+4": 4, "vlan+srcmac": 5}
LACP_RATE = {"slow": 0, "fast": 1}
AD_SELECT = {"stable": 0, "bandwidth": 1, "count": 2}
ARP_VALIDATE = {"none": 0, "active": 1, "backup": 2, "all": 3, "filter": 4, "filter_active": 5, "filter_backup": 6}
PRIMARY_RESELECT = {"always": 0, "better": 1, "failure": 2}
FAIL_OVER_MAC = {"none": 0, "active": 1, "follow": 2}
_ENUMS = {"mode": MODES, "xmit_hash_policy": HASH, "lacp_rate": LACP_RATE, "ad_select": AD_SELECT,
          "arp_validate": ARP_VALIDATE, "primary_reselect": PRIMARY_RESELECT, "fail_over_mac": FAIL_OVER_MAC}
# options the kernel takes only in some modes ("option not supported in mode": EACCES)
_ONLY_IN = {"packets_per_slave": ("balance-rr",), "lacp_rate": ("802.3ad",),
            "ad_actor_sys_prio": ("802.3ad",), "ad_user_port_key": ("802.3ad",), "ad_actor_system": ("802.3ad",)}
_NOT_IN = {k: ("802.3ad", "balance-tlb", "balance-alb") for k in ("arp_interval", "arp_ip_target", "arp_validate")}


class Bond(Kind):
    name = kernel_kind = "bond"
    doc = "a bonding device: its ports (`master: bond0`) act as one link, for failover or load balancing"
    options_doc = (   # README.md's kinds table
        '`mode` (`balance-rr` default, `active-backup`, `balance-xor`, `broadcast`, `802.3ad`, '
        '`balance-tlb`, `balance-alb`), `miimon`, `updelay`, `downdelay`, `primary` (a port), '
        '`xmit_hash_policy`, `lacp_rate`, `ad_select`, `min_links`, `arp_interval` (instead of `miimon`) '
        'with `arp_ip_target` (IPv4 addresses) and `arp_validate` (not in `802.3ad`, `balance-tlb`, '
        '`balance-alb`), `primary_reselect`, `fail_over_mac`, `all_slaves_active`, `resend_igmp`, '
        '`num_grat_arp`, `packets_per_slave` (`balance-rr`), `ad_actor_sys_prio`, `ad_user_port_key`, '
        '`ad_actor_system` (`802.3ad`); ports join with `master: bond0`; a change of mode or '
        '`fail_over_mac` re-creates the bond (the kernel refuses it while ports are enslaved), and of the'
        ' `ad_actor_*` too (refused while it is up); a port joining takes the bond\'s MTU and MAC, so a '
        'port\'s own `mtu` and `mac` are set after it joins (and its `mtu` again after the bond\'s MTU '
        'changes, which the kernel gives every port, and after it leaves)')
    example = "fig2-bond.yaml"
    sample = """\
    - {name: bond0, kind: bond, mode: active-backup, miimon: 100, primary: dummy1}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "box3d", "#f4cccc"
    options = {
        "mode": Enum("bonding mode", MODES, default="balance-rr"),
        "miimon": Int("link monitoring interval, ms", lo=0, hi=2**31 - 1),
        "updelay": Int("ms to wait before enabling a port that came up", lo=0, hi=2**31 - 1),
        "downdelay": Int("ms to wait before disabling a port that went down", lo=0, hi=2**31 - 1),
        "primary": RefField("active-backup: the port preferred as active"),
        "xmit_hash_policy": Enum("transmit hash policy (balance-xor, 802.3ad, balance-tlb)", HASH),
        "lacp_rate": Enum("802.3ad: LACPDU rate asked of the partner", LACP_RATE),
        "ad_select": Enum("802.3ad: aggregator selection", AD_SELECT),
        "min_links": Int("802.3ad: ports that must be up for the bond to be up", lo=0, hi=2**31 - 1),
        "arp_interval": Int("ARP link monitoring interval, ms (instead of miimon)", lo=0, hi=2**31 - 1),
        "arp_ip_target": ListOf(IP("IPv4 address ARP monitoring asks"), "ARP monitoring targets (at most 16)",
                                default=None),
        "arp_validate": Enum("which ports' ARP replies ARP monitoring checks", ARP_VALIDATE),
        "primary_reselect": Enum("when the primary becomes active again: always, better, failure", PRIMARY_RESELECT),
        "fail_over_mac": Enum("active-backup: the MACs of the ports on failover: none (all take the bond's), "
                              "active (the bond takes the active port's), follow", FAIL_OVER_MAC),
        "all_slaves_active": Bool("deliver frames received on inactive ports too"),
        "resend_igmp": Int("IGMP membership reports sent after a failover", lo=0, hi=255),
        "num_grat_arp": Int("gratuitous ARPs and unsolicited NAs sent after a failover", lo=0, hi=255),
        "packets_per_slave": Int("balance-rr: packets sent through a port before the next (0: random)",
                                 lo=0, hi=65535),
        "ad_actor_sys_prio": Int("802.3ad: the system priority", lo=1, hi=65535),
        "ad_user_port_key": Int("802.3ad: the upper bits of the port key", lo=0, hi=1023),
        "ad_actor_system": MAC("802.3ad: the system MAC in LACPDUs"),
    }
    netlink = {"mode": (A["MODE"], "u8"), "miimon": (A["MIIMON"], "u32"), "updelay": (A["UPDELAY"], "u32"),
               "downdelay": (A["DOWNDELAY"], "u32"), "primary": (A["PRIMARY"], "u32"),
               "xmit_hash_policy": (A["XMIT_HASH_POLICY"], "u8"), "lacp_rate": (A["AD_LACP_RATE"], "u8"),
               "ad_select": (A["AD_SELECT"], "u8"), "min_links": (A["MIN_LINKS"], "u32"),
               "arp_interval": (A["ARP_INTERVAL"], "u32"), "arp_validate": (A["ARP_VALIDATE"], "u32"),
               "primary_reselect": (A["PRIMARY_RESELECT"], "u8"), "fail_over_mac": (A["FAIL_OVER_MAC"], "u8"),
               "all_slaves_active": (A["ALL_SLAVES_ACTIVE"], "u8"), "resend_igmp": (A["RESEND_IGMP"], "u32"),
               "num_grat_arp": (A["NUM_PEER_NOTIF"], "u8"), "packets_per_slave": (A["PACKETS_PER_SLAVE"], "u32"),
               "ad_actor_sys_prio": (A["AD_ACTOR_SYS_PRIO"], "u16"), "ad_user_port_key": (A["AD_USER_PORT_KEY"], "u16"),
               "ad_actor_system": (A["AD_ACTOR_SYSTEM"], "mac")}
    is_master = True
    mac_from_ports = True
    port_rx_handler = "bond port"
    ports_join_down = True
    ports_take_its_mtu = True   # a port may have its own after (the team refuses one)
    # the kernel refuses a mode or fail_over_mac change while ports are
    # enslaved, and the 802.3ad actor's while the bond is up: they re-create it
    inplace = frozenset(options) - {"mode", "fail_over_mac", "ad_actor_sys_prio", "ad_user_port_key",
                                    "ad_actor_system"}
    state_attrs = frozenset({A["ACTIVE_SLAVE"], 23})   # the port it chose, 802.3ad's aggregator
    # a port's state, link failures, permanent MAC, 802.3ad's ids and states
    port_state_attrs = frozenset({1, 2, 3, 4, 6, 7, 8})
    setting_names = {6: "use_carrier", 10: "arp_all_targets", 19: "lp_interval", 27: "tlb_dynamic_lb",
                     28: "peer_notify_delay", 29: "lacp_active", 30: "missed_max", 31: "ns_ip6_target",
                     32: "coupled_control"}
    port_setting_names = {5: "queue_id", 9: "prio"}
    late_options = frozenset({"primary"})   # names a port, which joins after the bond exists
    # `ip -d link show`'s words; the others are `option value` (all_slaves_active as 0/1, as ip says it)
    show_words = {"mode": ("mode", "value"), "all_slaves_active": ("all_slaves_active", "01")}

    def ports_take_its_mac(self, options):
        # fail_over_mac active: each port keeps its own, and the bond has the active one's
        return options.get("fail_over_mac") != "active"

    def show_extra(self, extra, ref):
        return [f"active_slave {extra['active_port']}"] if extra.get("active_port") else []

    def validate(self, iface, problems, path):
        o = iface.options
        if o.get("primary") and o.get("mode") not in ("active-backup", "balance-tlb", "balance-alb"):
            problems.add(f"{path}.primary", f"only used in active-backup, balance-tlb and balance-alb (mode is {o.get('mode')})")
        if o.get("primary") and o["primary"].explicit:
            problems.add(f"{path}.primary", "the primary port is in the bond's own namespace: give just its name")
        for k in ("updelay", "downdelay"):
            if o.get(k) and not o.get("miimon"):
                problems.add(f"{path}.{k}", "needs miimon (the kernel ignores it without link monitoring)")
        if o.get("arp_interval") and o.get("miimon"):
            problems.add(f"{path}.arp_interval", "give arp_interval or miimon, not both (the kernel turns miimon "
                         "off for ARP monitoring)")
        if len(o.get("arp_ip_target") or ()) > 16 or any(a.version != 4 for a in o.get("arp_ip_target") or ()):
            problems.add(f"{path}.arp_ip_target", "at most 16 IPv4 addresses")
        for k, modes in {**_ONLY_IN, **_NOT_IN}.items():
            if o.get(k) is not None and (o.get("mode") in modes) == (k in _NOT_IN):
                problems.add(f"{path}.{k}", f"not in mode {o.get('mode')}: the kernel refuses it there"
                             + (f" (only in {', '.join(modes)})" if k in _ONLY_IN else ""))

    def lint(self, ifaces, topo, problems, warnings):
        """The primary must be one of the bond's ports (the kernel ignores
        another name, or refuses a device that is not its port)."""
        for i in ifaces:
            p = i.options.get("primary")
            if p is None:
                continue
            ports = sorted(e.name for j in topo.interfaces for e in j.endpoints() if e.master_key() == i.key)
            if p.name not in ports:
                problems.add(f"{i.path}.primary", f"{p.name!r} is not a port of {i.name!r} (its ports: "
                             f"{', '.join(ports) or 'none'}): give a port, or make it one with master: {i.name}")

    def encode_value(self, opt, value, ctx, iface):
        if opt in _ENUMS:
            return _ENUMS[opt][value]
        if isinstance(value, bool):
            return int(value)
        return super().encode_value(opt, value, ctx, iface)

    def info_data(self, iface, ctx, only=None):
        data = super().info_data(iface, ctx, only)
        targets = iface.options.get("arp_ip_target")
        if targets is not None and (only is None or "arp_ip_target" in only):
            data += nl.attr(A["ARP_IP_TARGET"], b"".join(nl.ip(i, a) for i, a in enumerate(targets)))
        return data

    def decode(self, link, resolve):
        out = super().decode(link, resolve)
        for k, table in _ENUMS.items():
            if k in out:
                out[k] = {v: n for n, v in table.items()}.get(out[k])
        if "all_slaves_active" in out:
            out["all_slaves_active"] = bool(out["all_slaves_active"])
        a = nl.parse(link.data) if link.data is not None else {}
        if A["ARP_IP_TARGET"] in a:
            out["arp_ip_target"] = [nl.get_ip(v) for _t, v in nl.parse_list(a[A["ARP_IP_TARGET"]])]
        if out.get("ad_actor_system") == "00:00:00:00:00:00":
            del out["ad_actor_system"]   # none set: the bond's own MAC is used
        # what the mode does not take (the kernel reports some anyway): left
        # out, as a file of that mode must leave it out
        for k, modes in {**_ONLY_IN, **_NOT_IN}.items():
            if (out.get("mode") in modes) == (k in _NOT_IN):
                out.pop(k, None)
        if not out.get("miimon"):   # the kernel refuses them without MII monitoring (EPERM)
            out.pop("updelay", None)
            out.pop("downdelay", None)
        return out

    def observed_extra(self, link, resolve, dumps):
        a = nl.parse(link.data) if link.data is not None else {}
        if A["ACTIVE_SLAVE"] in a:
            idx = nl.get_u32(a[A["ACTIVE_SLAVE"]])
            return {"active_port": resolve(idx, None)[1] if idx else None}
        return {}

    def iproute2(self, iface):
        out = []
        for k, v in iface.options.items():
            if v is not None and k not in self.late_options:
                v = ",".join(map(str, v)) if isinstance(v, list) else int(v) if isinstance(v, bool) else v
                out += [k, v]
        return out

    def iproute2_late(self, iface):
        from .base import ipcmd
        p = iface.options.get("primary")
        return [ipcmd(iface.netns, "link", "set", iface.name, "type", "bond", "primary", p.name)] if p else []


KIND = Bond()
