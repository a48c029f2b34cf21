"""Linux bridge: a software switch (the reference article's Figure 1a)."""
from ..spec.fields import Bool, Int
from .base import Kind


class Bridge(Kind):
    name = kernel_kind = "bridge"
    doc = "a software switch; ports join it with `master`"
    options = {
        "stp": Bool("spanning tree protocol on"),
        "vlan_filtering": Bool("filter frames by VLAN on the ports"),
        "ageing_time": Int("seconds a learned MAC stays in the FDB", lo=10, hi=1000000),
        "forward_delay": Int("seconds in listening and learning states (2-30 with STP)", lo=0, hi=30),
        "priority": Int("bridge priority for STP", lo=0, hi=65535),
    }
    # kernel units: STP state u32, clock_t (1/100 s) for times
    netlink = {"stp": (5, "u32"), "vlan_filtering": (7, "u8"), "ageing_time": (4, "u32"),
               "forward_delay": (1, "u32"), "priority": (6, "u16")}
    inplace = frozenset(options)
    is_master = True
    _CENTI = ("ageing_time", "forward_delay")

    def check(self, iface, problems, path):
        fd = iface.options.get("forward_delay")
        if iface.options.get("stp") and fd is not None and fd < 2:
            problems.add(f"{path}.forward_delay", f"{fd} is out of range 2..30 while stp is on")

    def encode_value(self, opt, value, ctx, iface):
        if opt in self._CENTI:
            return value * 100
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
        for k in ("stp", "vlan_filtering"):
            if k in out:
                out[k] = bool(out[k])
        return out

    def iproute2(self, iface):
        names = {"stp": "stp_state", "vlan_filtering": "vlan_filtering", "ageing_time": "ageing_time",
                 "forward_delay": "forward_delay", "priority": "priority"}
        out = []
        for k, v in iface.options.items():
            if v is not None:
                out += [names[k], str(self.encode_value(k, v, None, iface))]
        return out


KIND = Bridge()
