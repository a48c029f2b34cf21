"""A bridge's ports: their options (IFLA_BRPORT_*, in a port's
IFLA_INFO_SLAVE_DATA) and their VLANs (`bridge vlan`), validated, planned,
set, observed and said in `ip`'s words. ``BridgePorts`` gives the bridge
kind its port hooks; the VLAN helpers serve the bridge's own VLANs too."""
import re

from ..kernel import neighbours as nb
from ..kernel import netlink as nl
from ..kernel import rtnl
from ..topology.fields import MAC, Bool, Field, Int, Invalid, ListOf, Obj, quote
from .base import ipcmd


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


FDB = ListOf(Obj({"mac": MAC("the MAC frames are sent this port for", required=True),
                  "vlan": Int("its VLAN (a vlan_filtering bridge's)", lo=1, hi=4094),
                  "permanent": Bool("a local entry: frames to it are the bridge's own (`bridge fdb add` without "
                                    "`static`); else static: forwarded out of this port", default=False)}),
             "static entries of the bridge's forwarding database on this port (`bridge fdb add MAC dev PORT master"
             " static`); those not listed are removed (the port's own MAC is the kernel's)", default=None)


def _fdb_state(entries):
    """A port's entries in the form declared and observed ones compare."""
    return sorted((e["mac"], e.get("vlan"), bool(e.get("permanent"))) for e in entries or [])


def _fdb_dicts(state):
    return [{"mac": m, **({"vlan": v} if v else {}), **({"permanent": True} if p else {})} for m, v, p in state]


def _fdb_text(state):
    return [f"fdb {m}{f' vlan {v}' if v else ''} {'permanent' if p else 'static'}" for m, v, p in state or []]


def _port_entries(statics, idx, own_mac):
    """``_fdb_state`` of the entries someone put on port ``idx``, of a
    ``dump_bridge_statics``: not the kernel's own (permanent ones of the
    port's MAC, ``own_mac``)."""
    return sorted((m, v, p) for i, m, v, p in statics if i == idx and not (p and m == own_mac))


def _port_fields():
    out = {"vlans": VLANS, "fdb": FDB}
    out.update({k: Bool(doc) for k, (_a, _d, _w, doc) in PORT_FLAGS.items()})
    out["cost"] = Int("STP path cost of this port (kernel default from its speed: 2 at 10 Gb/s, 100 unknown)",
                      lo=1, hi=65535)
    out["priority"] = Int("STP priority of this port (kernel default 32)", lo=0, hi=63)
    return out


def port_defaults():
    return {**{k: d for k, (_a, d, _w, _doc) in PORT_FLAGS.items()},
            **{k: d for k, (_a, _c, d) in PORT_NUMBERS.items()}}


_PORT_DEFAULTS = port_defaults()
# the attributes of a port's IFLA_INFO_SLAVE_DATA that are read (of some forty)
_PORT_ATTRS = frozenset([a for a, *_ in PORT_FLAGS.values()] + [a for a, *_ in PORT_NUMBERS.values()])


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


class BridgePorts:
    """The port hooks of the bridge kind (a mixin of ``bridge.Bridge``)."""

    port_options = _port_fields()
    # its state (STP's, ids, timers, counts), not its settings
    port_state_attrs = frozenset({1, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 35, 36, 38, 41})
    port_setting_names = {**{aid: word for aid, _d, word, _doc in PORT_FLAGS.values()},
                          IFLA_BRPORT_PRIORITY: "priority", IFLA_BRPORT_COST: "cost", 11: "learning_sync",
                          12: "proxy_arp_wifi", 25: "mcast_router", 28: "mcast_to_unicast", 29: "vlan_tunnel",
                          31: "group_fwd_mask", 34: ("backup_port", lambda v: f"device {int.from_bytes(v, 'little')}"),
                          37: "mcast_eht_hosts_limit", 39: "locked",
                          40: "mab", 42: "mcast_max_groups", 43: "neigh_vlan_suppress", 44: "backup_nhid"}

    def port_announced(self, port_options):
        """A port's static entries are announced as neighbour messages, not link ones."""
        return self.announced and "fdb" not in port_options

    def validate_port(self, master, port, problems, path):
        seen = set()
        filtering = master.options.get("vlan_filtering")
        vids = {v for x in port.port.get("vlans") or [] for v in _vids(x["vid"])}
        own = {m for m in (port.mac, master.mac) if m}
        for i, e in enumerate(port.port.get("fdb") or []):
            if e.get("vlan") and not filtering:
                problems.add(f"{path}.fdb[{i}].vlan", f"bridge {master.name!r} does not filter VLANs: an entry of "
                             "VLAN needs vlan_filtering: true on it")
            elif filtering and not e.get("vlan"):   # (the kernel would add it for every VLAN of the port)
                problems.add(f"{path}.fdb[{i}]", f"bridge {master.name!r} filters VLANs: give the entry's vlan")
            elif filtering and port.port.get("vlans") is not None and e["vlan"] not in vids:
                problems.add(f"{path}.fdb[{i}].vlan", f"VLAN {e['vlan']} is not one of the port's vlans")
            if (e["mac"], e.get("vlan")) in seen:
                problems.add(f"{path}.fdb[{i}]", f"{e['mac']} is listed twice")
            if e["mac"] in own:
                whose = port.label if e["mac"] == port.mac else getattr(master, "label", master.name)
                problems.add(f"{path}.fdb[{i}].mac", f"{e['mac']} is the MAC of {whose}: its entry is the kernel's own")
            seen.add((e["mac"], e.get("vlan")))
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
            elif k == "fdb":
                out[k] = _fdb_state(v)
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
                        for a, b, p, u in self._runs(state)] + _fdb_text(state.get("fdb")))

    def observe_ports(self, ports, dumps):
        raw = {ln.ifindex: ln for ln in dumps.links}
        masters = {d.master[1] for d in ports}
        # a bridge that does not filter still lists each port's default VLAN:
        # not the port's VLANs (a file gives them only with vlan_filtering)
        filtering = {ln.name for ln in dumps.links if ln.name in masters
                     and self.decode(ln, lambda i, n: None).get("vlan_filtering")}
        statics = dumps.cached("bridge_statics", lambda k, ns: nb.dump_bridge_statics(k.sock(ns))) if dumps.fdb else None
        for d in ports:
            sd = raw[d.ifindex].slave_data if d.ifindex in raw else None
            d.port.update(self._port_options(sd))
            have = _vlans_dump(dumps).get(d.ifindex) if d.master[1] in filtering else None
            d.port["vlans"] = None if have is None else _vlan_dicts(have)
            fdb = _port_entries(statics or (), d.ifindex, d.mac)
            if fdb:   # (none: no key, as where they are not read)
                d.port["fdb"] = _fdb_dicts(fdb)

    @staticmethod
    def _port_options(slave_data):
        """The port options of a port's IFLA_INFO_SLAVE_DATA; those at the
        kernel's default are left out, as in a file (a cost is always there:
        its default depends on the port's speed)."""
        a = nl.parse_some(slave_data, 0, _PORT_ATTRS) if slave_data is not None else {}
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
        fdb = want.pop("fdb", None)
        undo = []
        if vlans is not None:   # (before the entries: the kernel refuses one of a VLAN not on the port)
            have = dict(rtnl.dump_bridge_vlans(sock).get(idx, []))
            wanted = _vlan_flags(vlans)
            self._apply_vlans(sock, idx, have, wanted)
            undo.append(lambda: self._apply_vlans(sock, idx, wanted, have))
        if fdb is not None:
            undo.append(self._set_fdb(sock, idx, fdb))
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

    def port_snapshot(self, sock, idx):
        """The port's options, static entries and VLANs, put back as they are."""
        ln = rtnl.get_link_by_index(sock, idx)
        if ln is None:
            return None
        opts = {k: v for k, v in {**_PORT_DEFAULTS, **self._port_options(ln.slave_data)}.items() if v is not None}
        fdb = _port_entries(nb.dump_bridge_statics(sock), idx, ln.mac)
        vlans = dict(rtnl.dump_bridge_vlans(sock).get(idx, []))

        def back():
            rtnl.set_link(sock, idx, attrs=rtnl.slave_linkinfo("bridge", self._port_data(opts)))
            self._apply_vlans(sock, idx, dict(rtnl.dump_bridge_vlans(sock).get(idx, [])), vlans)
            self._apply_fdb(sock, idx, [], fdb)
        return back

    def _set_fdb(self, sock, idx, want):
        """Make port ``idx``'s static entries ``want``; return the undo, which
        also puts back on its port an entry the change moved from another."""
        ln = rtnl.get_link_by_index(sock, idx)
        statics = nb.dump_bridge_statics(sock)
        have = _port_entries(statics, idx, ln.mac if ln else None)
        elsewhere = {(m, v): (i, p) for i, m, v, p in statics if i != idx}
        moved = [(m, v, *elsewhere[(m, v)]) for m, v, _p in want if (m, v) in elsewhere]
        self._apply_fdb(sock, idx, have, want)

        def back():
            self._apply_fdb(sock, idx, want, have)
            for m, v, i, p in moved:
                nb.set_bridge_static(sock, i, m, v, p)
        return back

    @staticmethod
    def _apply_fdb(sock, idx, have, want):
        """Make port ``idx``'s static entries ``have`` into ``want`` (``_fdb_state``'s)."""
        keep = {(m, v) for m, v, _p in want}
        for m, v, _p in have:
            if (m, v) not in keep:
                nb.del_bridge_static(sock, idx, m, v)
        for e in want:
            if e not in have:
                nb.set_bridge_static(sock, idx, *e)

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
        fdb = state.pop("fdb", None)
        words = []
        for k, v in state.items():
            if k in PORT_FLAGS:
                words += [PORT_FLAGS[k][2], "on" if v else "off"]
            elif v is not None:
                words += [k, str(v)]
        out = [ipcmd(endpoint.netns, "link", "set", "dev", endpoint.name, "type", "bridge_slave", *words)] if words else []
        fdb_lines = [" ".join(pre + ["fdb", "replace", m, "dev", endpoint.name, "master", "permanent" if p else "static"]
                              + (["vlan", str(v)] if v else [])) for m, v, p in fdb or []]
        if want is None:
            return out + fdb_lines
        out += [] if any(v == 1 for v, _p, _u in want) else [" ".join(pre + ["vlan", "del", "dev", endpoint.name, "vid", "1"])]
        for v in endpoint.port["vlans"]:
            out.append(" ".join(pre + ["vlan", "add", "dev", endpoint.name, "vid", str(v["vid"])]
                                + (["pvid"] if v["pvid"] else []) + (["untagged"] if v["untagged"] else [])))
        return out + fdb_lines

    def describe_port(self, opt, value):
        if opt == "fdb":
            return "[" + ", ".join(t.removeprefix("fdb ") for t in _fdb_text(_fdb_state(value))) + "]"
        return _describe_vlans(value) if opt == "vlans" and value is not None else None
