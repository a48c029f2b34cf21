"""Bonding: several ports aggregated into one device, for failover or load
balancing (Figure 2); ports join with `master: bond0`."""
from ..kernel import netlink as nl
from ..spec.fields import Enum, Int, RefField
from .base import Kind

A = dict(MODE=1, ACTIVE_SLAVE=2, MIIMON=3, UPDELAY=4, DOWNDELAY=5, PRIMARY=11, XMIT_HASH_POLICY=14,
         MIN_LINKS=18, AD_LACP_RATE=21, AD_SELECT=22)
MODES = {"balance-rr": 0, "active-backup": 1, "balance-xor": 2, "broadcast": 3, "802.3ad": 4,
         "balance-tlb": 5, "balance-alb": 6}
HASH = {"layer2": 0, "layer3+4": 1, "layer2+3": 2, "encap2+3": 3, "encap3+4": 4, "vlan+srcmac": 5}
LACP_RATE = {"slow": 0, "fast": 1}
AD_SELECT = {"stable": 0, "bandwidth": 1, "count": 2}
_ENUMS = {"mode": MODES, "xmit_hash_policy": HASH, "lacp_rate": LACP_RATE, "ad_select": AD_SELECT}


class Bond(Kind):
    name = kernel_kind = "bond"
    doc = "a bonding device: its ports (`master: bond0`) act as one link, for failover or load balancing"
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
    }
    netlink = {"mode": (A["MODE"], "u8"), "miimon": (A["MIIMON"], "u32"), "updelay": (A["UPDELAY"], "u32"),
               "downdelay": (A["DOWNDELAY"], "u32"), "primary": (A["PRIMARY"], "u32"),
               "xmit_hash_policy": (A["XMIT_HASH_POLICY"], "u8"), "lacp_rate": (A["AD_LACP_RATE"], "u8"),
               "ad_select": (A["AD_SELECT"], "u8"), "min_links": (A["MIN_LINKS"], "u32")}
    is_master = True
    port_rx_handler = "bond port"
    ports_join_down = True
    # the kernel refuses a mode change while ports are enslaved: mode re-creates
    inplace = frozenset(options) - {"mode"}
    late_options = frozenset({"primary"})   # names a port, which joins after the bond exists
    show_words = {"mode": ("mode", "value"), "miimon": ("miimon", "value"), "updelay": ("updelay", "value"),
                  "downdelay": ("downdelay", "value"), "primary": ("primary", "value"),
                  "xmit_hash_policy": ("xmit_hash_policy", "value"), "lacp_rate": ("lacp_rate", "value"),
                  "ad_select": ("ad_select", "value"), "min_links": ("min_links", "value")}

    def show_extra(self, extra, ref):
        return [f"active_slave {extra['active_port']}"] if extra.get("active_port") else []

    def check(self, iface, problems, path):
        o = iface.options
        if o.get("primary") and o.get("mode") not in ("active-backup", "balance-tlb", "balance-alb"):
            problems.add(f"{path}.primary", f"only used in active-backup, balance-tlb and balance-alb (mode is {o.get('mode')})")
        if o.get("primary") and o["primary"].explicit:
            problems.add(f"{path}.primary", "the primary port is in the bond's own namespace: give just its name")
        for k in ("updelay", "downdelay"):
            if o.get(k) and not o.get("miimon"):
                problems.add(f"{path}.{k}", "needs miimon (the kernel ignores it without link monitoring)")

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
        return super().encode_value(opt, value, ctx, iface)

    def decode(self, link, resolve):
        out = super().decode(link, resolve)
        for k, table in _ENUMS.items():
            if k in out:
                out[k] = {v: n for n, v in table.items()}.get(out[k])
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
                out += [k, v]
        return out

    def iproute2_late(self, iface):
        from .base import ipcmd
        p = iface.options.get("primary")
        return [ipcmd(iface.netns, "link", "set", iface.name, "type", "bond", "primary", p.name)] if p else []


KIND = Bond()
KIND.shape, KIND.colour = "box3d", "#f4cccc"
