"""Linux bridge: a software switch (the reference article's Figure 1a)."""
import re

from ..kernel import rtnl
from ..spec.fields import Bool, Field, Int, Invalid, ListOf, Obj, quote
from .base import Kind


class Vid(Field):
    """A VLAN id, or a range "10-20"."""
    json = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 4094},
                      {"type": "string", "pattern": "^[0-9]{1,4}-[0-9]{1,4}$"}]}

    def check(self, v):
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


IFLA_BRPORT_MODE = 4   # hairpin


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
    port_rx_handler = "bridge port"
    port_layers = frozenset({"ether"})   # br_add_if: EINVAL for lo or a non-Ethernet device
    _CENTI = ("ageing_time", "forward_delay")
    show_words = {"forward_delay": ("forward_delay", "centi"), "ageing_time": ("ageing_time", "centi"),
                  "stp": ("stp_state", "01"), "priority": ("priority", "value"),
                  "vlan_filtering": ("vlan_filtering", "01")}

    port_options = {"vlans": VLANS,
                    "hairpin": Bool("send frames back out of the port they came in on (reflective relay: "
                                    "lets VEPA macvlans behind this port reach each other)")}

    def kernel_features(self, iface):
        return super().kernel_features(iface) | ({"bridge_vlan_filtering"} if iface.options.get("vlan_filtering") else set())

    def check_port(self, master, port, problems, path):
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
        """(VLANs or None when not managed, hairpin)."""
        vlans = port_options.get("vlans")
        return (None if vlans is None else sorted((vid, v["pvid"], v["untagged"]) for v in vlans for vid in _vids(v["vid"])),
                bool(port_options.get("hairpin")))

    def _runs(self, port):
        """A port's VLANs as runs [first, last, pvid, untagged], and its hairpin."""
        vlans, hairpin = self.port_state(port)
        runs = []
        for vid, pvid, untagged in vlans or []:
            if runs and runs[-1][1] == vid - 1 and tuple(runs[-1][2:]) == (pvid, untagged):
                runs[-1][1] = vid
            else:
                runs.append([vid, vid, pvid, untagged])
        return runs, hairpin

    def port_label(self, port):
        """A port's VLANs as runs (``VLAN 10 pvid untagged, 100-103``), and hairpin."""
        runs, hairpin = self._runs(port)
        parts = [(f"{a}" if a == b else f"{a}-{b}") + " pvid" * p + " untagged" * u for a, b, p, u in runs]
        text = ("VLAN " + ", ".join(parts)) if parts else ""
        return ", ".join(x for x in (text, "hairpin" if hairpin else "") if x)

    def show_port(self, port):
        """`hairpin on` as `ip -d link show` says it of a bridge_slave; the
        VLANs as `bridge vlan show` does, one line per run."""
        runs, hairpin = self._runs(port)
        return (["hairpin on"] if hairpin else [],
                [f"vlan {a if a == b else f'{a}-{b}'}" + " PVID" * p + " Egress Untagged" * u for a, b, p, u in runs])

    def observe_ports(self, ports, dumps):
        from ..kernel import netlink as nl
        raw = {ln.ifindex: ln for ln in dumps.links}
        for d in ports:
            sd = raw[d.ifindex].slave_data if d.ifindex in raw else None
            mode = nl.find(sd, IFLA_BRPORT_MODE) if sd is not None else None
            if mode is not None and mode[0]:
                d.port["hairpin"] = True   # off (the default) is left out, as in a file
            have = dumps.bridge_vlans.get(d.ifindex)
            d.port["vlans"] = None if have is None else [
                {"vid": vid, "pvid": bool(fl & rtnl.BRIDGE_VLAN_INFO_PVID),
                 "untagged": bool(fl & rtnl.BRIDGE_VLAN_INFO_UNTAGGED)} for vid, fl in have]

    def set_port(self, ctx, endpoint):
        sock, idx = ctx.sock(endpoint.netns), ctx.ifindex(*endpoint.key)
        vlans, hairpin = self.port_state(endpoint.port)
        undo = []
        if vlans is not None:
            have = {vid: fl for vid, fl in rtnl.dump_bridge_vlans(sock).get(idx, [])}
            want = {vid: (rtnl.BRIDGE_VLAN_INFO_PVID if p else 0) | (rtnl.BRIDGE_VLAN_INFO_UNTAGGED if u else 0)
                    for vid, p, u in vlans}
            self._apply_vlans(sock, idx, have, want)
            undo.append(lambda: self._apply_vlans(sock, idx, want, have))
        if "hairpin" in endpoint.port:
            self._hairpin(sock, idx, hairpin)
            undo.append(lambda: self._hairpin(sock, idx, not hairpin))

        def undo_all():
            for u in reversed(undo):
                u()
        return undo_all

    @staticmethod
    def _hairpin(sock, idx, on):
        from ..kernel import netlink as nl
        rtnl.set_link(sock, idx, attrs=rtnl.slave_linkinfo("bridge", nl.u8(IFLA_BRPORT_MODE, 1 if on else 0)))

    @staticmethod
    def _apply_vlans(sock, idx, have, want):
        for vid in have:
            if vid not in want:
                rtnl.bridge_vlan(sock, idx, vid, 0, add=False)
        for vid, fl in want.items():
            if have.get(vid) != fl:
                rtnl.bridge_vlan(sock, idx, vid, fl)

    def iproute2_port(self, endpoint):
        pre = ["bridge"] + (["-n", endpoint.netns] if endpoint.netns is not None else [])
        want, hairpin = self.port_state(endpoint.port)
        out = [" ".join(pre + ["link", "set", "dev", endpoint.name, "hairpin", "on"])] if hairpin else []
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
KIND.shape, KIND.colour = "box3d", "#a4c2f4"
