"""VXLAN: Ethernet over UDP, 24-bit network ids (RFC 7348; Figure 8)."""
from ..kernel import netlink as nl
from ..kernel import rtnl
from ..topology.fields import Bool, IfName, Int, IP, ListOf, Obj, MAC, RefField
from ..topology.model import Ref
from .base import Kind

IFLA_VXLAN_ID, IFLA_VXLAN_GROUP, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL = 1, 2, 3, 4
IFLA_VXLAN_TTL, IFLA_VXLAN_TOS, IFLA_VXLAN_LEARNING, IFLA_VXLAN_AGEING, IFLA_VXLAN_PORT = 5, 6, 7, 8, 15
IFLA_VXLAN_UDP_CSUM, IFLA_VXLAN_COLLECT_METADATA = 18, 25
IFLA_VXLAN_GROUP6, IFLA_VXLAN_LOCAL6 = 16, 17
ZERO_MAC = "00:00:00:00:00:00"


class Vxlan(Kind):
    name = kernel_kind = "vxlan"
    announced = False         # observation reads its fdb entries (neighbour announcements)
    doc = "a VXLAN tunnel endpoint: Ethernet frames in UDP to `remote`, a multicast `group`, or `fdb` peers"
    options_doc = (   # README.md's kinds table
        '`vni` (1-16777215, required unless `external`), `external` (flow based, `ip link add ... type '
        'vxlan external`: eBPF or Open vSwitch give each packet its VNI and destination), `local`, '
        '`remote` or `group`, `dev`, `dstport` (default 4789), '
        '`ttl`, `tos` (1: inherit), `learning`, `ageing` (s), `udp_csum` (a change re-creates it: the '
        'kernel refuses it in place), `fdb` (static entries `{mac, dst, vni, port, via}`: vni and port the '
        'device\'s unless given, via a device of its namespace to send by; several all-zero MACs give head-end '
        'replication)')
    example = "fig8-vxlan.yaml"
    sample = """\
    - {name: vx0, kind: vxlan, vni: 100, local: 1.1.1.1, remote: 2.2.2.2, dev: eth0, dstport: 4789}
    - {name: vx1, kind: vxlan, vni: 200, dev: eth0, learning: false,
       fdb: [{dst: 192.0.2.1}, {dst: 192.0.2.2}]}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "hexagon", "#ffd966"
    options = {
        "vni": Int("VXLAN network identifier (required unless external)", lo=1, hi=16777215),
        "external": Bool("flow based (collect_metadata): eBPF or Open vSwitch give each packet its VNI and "
                         "destination; a change re-creates it"),
        "local": IP("source address of the outer packets"),
        "remote": IP("unicast peer (default destination)"),
        "group": IP("multicast group (default destination)"),
        "dev": RefField("underlay device"),
        "dstport": Int("UDP destination port (IANA: 4789)", lo=1, hi=65535, default=4789),
        "ttl": Int("outer TTL (0: auto, the route's hop limit)", lo=0, hi=255),
        "tos": Int("outer TOS byte (0: the kernel's default; 1: inherit the inner packet's)", lo=0, hi=255),
        "learning": Bool("learn remote MACs from received packets"),
        "ageing": Int("seconds a learned remote MAC stays in the FDB (kernel default 300)", lo=0, hi=2**32 - 1),
        "udp_csum": Bool("compute UDP checksums of outer IPv4 packets (the default depends on the kernel: on in 6.18)"),
        "fdb": ListOf(Obj({"mac": MAC("inner MAC, 00:00:00:00:00:00 for every unknown destination",
                                      default="00:00:00:00:00:00", zero_ok=True),
                           "dst": IP("outer destination", required=True),
                           "vni": Int("the VNI the frames go with (default: the device's)", lo=1, hi=16777215),
                           "port": Int("the outer UDP destination port (default: the device's dstport)",
                                       lo=1, hi=65535),
                           "via": IfName("the device of the VXLAN's namespace its packets leave by (default: the "
                                         "one the kernel routes dst by)")}),
                      "static forwarding entries (several all-zero entries: head-end replication)"),
    }
    link_option = "dev"
    # in the order `ip -d -j link show` has them; remote and group share an attribute
    netlink = {"vni": (IFLA_VXLAN_ID, "u32"),
               "local": ((IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6), "ip"),
               "group": ((IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6), "ip_multicast"),
               "remote": ((IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6), "ip_unicast"),
               "dev": (IFLA_VXLAN_LINK, "u32"), "dstport": (IFLA_VXLAN_PORT, "be16"),
               "ttl": (IFLA_VXLAN_TTL, "u8"), "tos": (IFLA_VXLAN_TOS, "u8"),
               "learning": (IFLA_VXLAN_LEARNING, "bool8"), "ageing": (IFLA_VXLAN_AGEING, "u32"),
               "udp_csum": (IFLA_VXLAN_UDP_CSUM, "bool8"), "external": (IFLA_VXLAN_COLLECT_METADATA, "bool8")}
    setting_names = {9: "maxaddress", 10: ("srcport", lambda v: f"{int.from_bytes(v[:2], 'big')} "
                                                          f"{int.from_bytes(v[2:4], 'big')}"),
                     11: "proxy", 12: "rsc", 13: "l2miss", 14: "l3miss",
                     19: "udp6zerocsumtx", 20: "udp6zerocsumrx", 21: "remcsumtx", 22: "remcsumrx", 23: "gbp",
                     24: "remcsum_nopartial", 25: "external", 26: ("flowlabel", lambda v: int.from_bytes(v, "big")),
                     27: "gpe", 28: "ttl inherit", 29: ("df", lambda v: ("unset", "set", "inherit")[v[0]]
                                                        if v[0] < 3 else v[0]),
                     30: "vnifilter", 31: "localbypass", 32: "label_policy", 33: ("reserved_bits", bytes.hex),
                     34: "mcroute"}
    show_words = {"external": ("external", lambda w, v: w if v else ""),
                  "vni": ("id", "value"), "group": ("group", "value"), "remote": ("remote", "value"),
                  "local": ("local", "value"), "dev": ("dev", "value"), "dstport": ("dstport", "value"),
                  "learning": ("learning", "flag"), "ttl": ("ttl", lambda w, v: f"ttl {v or 'auto'}"),
                  "tos": ("tos", lambda w, v: "" if not v else "tos inherit" if v == 1 else f"tos {v:#x}"),
                  "ageing": ("ageing", "value"), "udp_csum": ("udpcsum", "flag")}

    def describe(self, opt, value):
        """A plan names FDB entries by their destinations (and VNI, port
        and device, where an entry has its own)."""
        if opt == "fdb" and value is not None:
            return "[" + ", ".join(_fdb_words(e, str(e["dst"])) for e in value) + "]"
        return None

    def show_nested(self, dev, ref):
        """Static FDB entries as `bridge fdb show` writes them."""
        return [_fdb_words(e, f"fdb {e['mac']} dst {e['dst']}") for e in dev.options.get("fdb") or []]

    def diagram_detail(self, options):
        return f"VNI {options.get('vni')}"

    def link_label(self, options):
        return "underlay"

    def tunnels(self, options):
        port = options.get("dstport") or 4789
        label = f"VXLAN VNI {options.get('vni')}, UDP {port}"
        local = str(options["local"]) if options.get("local") else None
        dsts = [options.get("remote"), options.get("group")] + [e.get("dst") for e in options.get("fdb") or []]
        seen = []
        for d in dsts:
            if d is not None and str(d) not in seen:
                seen.append(str(d))
        return [(local, d, label) for d in seen]
    inplace = frozenset({"ttl", "tos", "learning", "ageing", "fdb"})   # the kernel refuses the others' change

    def probe_data(self, iface=None):
        external = iface is not None and iface.options.get("external")
        return b"" if external or iface is not None and iface.options.get("vni") else nl.u32(IFLA_VXLAN_ID, 7)

    def validate(self, iface, problems, path):
        o = iface.options
        if o.get("vni") is None and not o.get("external"):
            problems.add(f"{path}.vni", "is required (1-16777215), unless the device is flow based (external: true)")
        elif o.get("vni") is not None and o.get("external"):   # (iproute2 refuses both, the kernel ignores the vni)
            problems.add(f"{path}.vni", "a flow based device (external: true) has no vni: give one or the other")
        if o.get("remote") is not None and o.get("group") is not None:
            problems.add(f"{path}.group", "give either remote or group, not both")
        if o.get("group") is not None and not o["group"].is_multicast:
            problems.add(f"{path}.group", f"{o['group']} is not a multicast address (use remote for a unicast peer)")
        if o.get("remote") is not None and o["remote"].is_multicast:
            problems.add(f"{path}.remote", f"{o['remote']} is multicast: use group")
        if o.get("group") is not None and o.get("dev") is None:
            problems.add(f"{path}.dev", "a multicast group needs an underlay dev")
        fams = {a.version for a in (o.get("local"), o.get("remote"), o.get("group")) if a is not None}
        fams |= {e["dst"].version for e in o.get("fdb") or []}
        for n, e in enumerate(o.get("fdb") or []):
            for w, own in (("vni", o.get("vni")), ("port", o.get("dstport") or 4789)):
                if e.get(w) is not None and e[w] == own:
                    problems.add(f"{path}.fdb[{n}].{w}", f"{own} is the device's own: leave it out")
        if len(fams) > 1:
            problems.add(path, "local, remote/group and fdb destinations must all be IPv4 or all IPv6")

    def lint(self, ifaces, topo, problems, warnings):
        self._lint_mtu(ifaces, topo, problems, warnings)
        self._lint_vni(ifaces, problems)

    def _lint_vni(self, ifaces, problems):
        """One VNI on one UDP port and address family per namespace: the
        kernel refuses a second (EEXIST, "A VXLAN device with the specified
        VNI already exists"). The namespace is the one whose socket makes
        the device (its underlay's), where its UDP socket lives."""
        seen = {}
        for i in ifaces:
            o = i.options
            v6 = any(a is not None and a.version == 6 for a in (o.get("local"), o.get("remote"), o.get("group")))
            ns = self.sock_ns(i)
            key = (ns, o.get("vni"), o.get("dstport") or 4789, v6, bool(o.get("external")))
            if key in seen:
                what = f"VNI {o['vni']}" if o.get("vni") else "a flow based device"
                problems.add(f"{i.path}.vni", f"{what} on UDP port {key[2]} is also {seen[key].label}'s, "
                             f"in namespace {ns or 'host'}: the kernel refuses a second (EEXIST); give another "
                             "vni or dstport")
            else:
                seen[key] = i

    def _lint_mtu(self, ifaces, topo, problems, warnings):
        """The 50 bytes (70 over IPv6) VXLAN adds must fit the underlay's MTU."""
        declared = topo.by_key()
        for i in ifaces:
            o = i.options
            v6 = any(a is not None and a.version == 6 for a in (o.get("local"), o.get("remote"), o.get("group")))
            overhead = 70 if v6 else 50
            if o.get("dev") is None:
                if i.mtu is None or i.mtu > 1500 - overhead:
                    warnings.add(f"{i.path}.mtu", f"no underlay dev: the MTU is {i.mtu or 1500} and outer packets "
                                 f"reach {(i.mtu or 1500) + overhead} bytes, more than a 1500-byte underlay carries; "
                                 f"give dev (the kernel then sizes the MTU) or mtu: {1500 - overhead}")
                continue
            under = declared.get(o["dev"].resolve(i.netns))
            if under is None or not under[0].kind_module.creatable:
                continue   # an external underlay: its MTU is not in the file
            umtu = under[1].mtu or 1500
            if i.mtu is not None and i.mtu > umtu - overhead:
                problems.add(f"{i.path}.mtu", f"{i.mtu} leaves no room for the {overhead} bytes VXLAN adds on "
                             f"{under[1].label} (mtu {umtu}): at most {umtu - overhead}, or raise "
                             f"{under[1].label}'s mtu to {i.mtu + overhead}")

    def decode(self, link, resolve):
        """The table's options, every one named (None when unset: remote and
        group share one attribute, the other stays None)."""
        out = dict.fromkeys(self.netlink) | super().decode(link, resolve)
        # the kernel says udp_csum for IPv6 ends too, where it does not apply
        if any(out[k] is not None and out[k].version == 6 for k in ("local", "group", "remote")):
            out["udp_csum"] = None
        out["external"] = bool(out.get("external"))
        if out["external"] and not out["vni"]:
            out["vni"] = None   # (the kernel says 0)
        return out

    def exported_options(self, options, mac):
        """``external`` only where it is on."""
        return {k: v for k, v in options.items() if k != "external" or v}

    def inner_refs(self, options):
        """The devices fdb entries go out by (`via`): made before it."""
        return [(f"fdb[{n}].via", Ref(e["via"])) for n, e in enumerate(options.get("fdb") or []) if e.get("via")]

    # static fdb entries live beside the link: created, observed and compared here
    def create(self, ctx, iface):
        super().create(ctx, iface)
        self._set_fdb(ctx, iface, [], iface.options.get("fdb") or [])

    def modify(self, ctx, iface, changed):
        rest = [c for c in changed if c != "fdb"]
        if rest:
            super().modify(ctx, iface, rest)
        if "fdb" in changed:
            self._set_fdb(ctx, iface, changed["fdb"] or [], iface.options.get("fdb") or [])

    def _set_fdb(self, ctx, iface, old, new):
        sock, idx = ctx.sock(iface.netns), ctx.ifindex(*iface.key)
        key = lambda e: (e["mac"], str(e["dst"]), e.get("vni"), e.get("port"), e.get("via"))  # noqa: E731
        have, want = {key(e) for e in old}, {key(e) for e in new}
        for e in old:
            if key(e) not in want:
                rtnl.del_fdb(sock, idx, *_fdb_args(ctx, iface, e))
        for e in new:
            if key(e) not in have:
                rtnl.add_fdb(sock, idx, *_fdb_args(ctx, iface, e))

    def observe_more(self, link, opts, dumps):
        """The fdb option, from the namespace's fdb dump (the default
        destination's own all-zero entry excluded); an entry's VNI and port
        where they are not the device's, and the device it goes by (`via`)."""
        fdb = dumps.cached("fdb", lambda k, ns: rtnl.dump_fdb(k.sock(ns)))
        names = dumps.cached("names", lambda k, ns: {ln.ifindex: ln.name for ln in dumps.links}) \
            if any(e[5] for e in fdb) else {}
        opts["fdb"] = [{"mac": m, "dst": d, **({"vni": vni} if vni is not None else {}),
                        **({"port": port} if port is not None else {}),
                        **({"via": names.get(via, f"if{via}")} if via else {})}
                       for idx, m, d, vni, port, via in fdb
                       if idx == link.ifindex
                       and not (m == ZERO_MAC and d in (opts.get("remote"), opts.get("group")) and vni is None
                                and port is None)]   # (the default's: through the device's dev, if it has one)

    def iproute2(self, iface):
        o = iface.options
        out = (["external"] if o.get("external") else []) + (["id", o["vni"]] if o.get("vni") else [])
        for k in ("local", "remote", "group"):
            if o.get(k) is not None:
                out += [k, o[k]]
        if o.get("dev"):
            out += ["dev", o["dev"].name]
        out += ["dstport", o.get("dstport") or 4789]
        if o.get("ttl") is not None:
            out += ["ttl", o["ttl"]]
        if o.get("tos") is not None:
            out += ["tos", "inherit" if o["tos"] == 1 else f"{o['tos']:#x}"]
        if o.get("learning") is not None:
            out.append("learning" if o["learning"] else "nolearning")
        if o.get("ageing") is not None:
            out += ["ageing", o["ageing"]]
        if o.get("udp_csum") is not None:
            out.append("udpcsum" if o["udp_csum"] else "noudpcsum")
        return out

    def iproute2_extra(self, iface):
        ns = [] if iface.netns is None else ["-n", iface.netns]
        return [_fdb_words(e, " ".join(["bridge", *ns, "fdb", "append", e["mac"], "dev", iface.name, "dst",
                                        str(e["dst"])]))
                for e in iface.options.get("fdb") or []]


def _fdb_words(e, head):
    """``head`` and fdb entry ``e``'s own VNI, port and device, as `bridge fdb` words."""
    return " ".join([head] + [f"{w} {e[w]}" for w in ("vni", "port", "via") if e.get(w) is not None])


def _fdb_args(ctx, iface, e):
    """(mac, dst, vni, port, via) of fdb entry ``e`` of ``iface`` as the
    kernel takes them: its VNI and port None where they are the device's
    own (the kernel then gives the device's, and finds an entry to delete
    by them), its via device's index (None: none)."""
    vni, port, options = e.get("vni"), e.get("port"), iface.options
    return (e["mac"], e["dst"], None if vni == options.get("vni") else vni,
            None if port == (options.get("dstport") or 4789) else port,
            ctx.ifindex(iface.netns, e["via"]) if e.get("via") else None)


KIND = Vxlan()
