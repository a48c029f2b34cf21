"""The kind contract. A kind module makes one ``Kind`` instance; generic code
only ever talks to that surface, never to a kind by name.

- ``options``: the typed kind options (field declarations: validation + schema);
- capabilities as data: ``link_option`` (the option naming the lower device),
  ``peer`` (has a peer endpoint), ``creatable``,
  ``inplace`` (options the kernel changes in place; others force a re-create);
- ``netlink``: the IFLA_INFO_DATA table, option -> (attribute id, codec); the
  codec encodes and decodes it both ways (an address with one attribute per
  family: a pair of ids, (IPv4, IPv6), codec "ip");
- ``iproute2``: the equivalent `ip link add` arguments;
- ``doc``, ``options_doc``, ``example``: what README.md's kinds table says
  of it (scripts/kind_tables.py writes the table);
- ``sample``: devices of it in the topology every kind is declared in,
  tests/golden/script/all-kinds.yaml (scripts/kind_tables.py writes them);
- ``probes``: how the test suite learns whether this kernel has it;
- ``show_words`` (and ``show_details``, ``show_nested``, ``show_port``): how
  `vnet show` writes an observed device, in `ip -d link show`'s words.
"""
from ..kernel import netlink as nl
from ..kernel import rtnl
from ..topology.fields import RefField
from ..topology.model import Ref


class Kind:
    name = ""               # the topology file's kind
    kernel_kind = ""        # IFLA_INFO_KIND
    doc = ""
    options_doc = ""        # its row of README.md's kinds table: the options, in a line of Markdown
    example = None          # the file in examples/ that shows it (README.md links it; a test checks it)
    sample = None           # YAML list items: its devices in tests/golden/script/all-kinds.yaml
    options = {}
    netlink = {}            # option -> (IFLA_<KIND>_* id or (IPv4 id, IPv6 id), codec name)
    link_option = None      # option holding the lower device Ref
    link_attr = None        # top-level attribute carrying it (IFLA_LINK), else in `netlink`
    peer = False
    is_master = False       # other devices may name it as `master`
    creatable = True
    inplace = frozenset()   # options changeable without re-creating
    late_options = frozenset()  # Ref options set after creation (they name a port of this device)
    ports_join_down = False     # a port must be down to join (bond: "can not be enslaved while up")
    ports_take_its_mtu = False  # a port joining takes its MTU and MAC (bond_enslave): a port's own are set after
    mac_from_ports = False      # with no MAC set, it takes a port's (a bridge: the lowest; a bond: the first's):
                                # a port coming or going may change it, which drops its neighbour entries
    port_options = {}           # options its ports may carry (a bridge port's vlans)
    rx_handler = None           # what it takes of its lower device's receive path (one per device)
    port_rx_handler = None      # what a master takes of each port's receive path
    link_layer = "ether"        # what it carries: "ether", "ip" (a TUN: no Ethernet header), "can"
    lower_layers = None         # the link layers its lower device may have (None: any)
    port_layers = None          # the link layers its ports may have (None: any)
    default_mtu = 1500          # the MTU the kernel gives a new device of this kind (on no lower device)
    max_mtu = 65535             # the kernel's max_mtu for a device of this kind
    txqueuelen = 1000           # the queue length the kernel gives a new device of this kind (an export leaves it out)
    arp, multicast = True, True  # its link flags as the kernel makes it (ip link set arp/multicast; export: the same)
    flags_from_lower = False    # it is made with its lower device's ARP and multicast flags instead (a VLAN)
    announced = True            # observation reads nothing of it but its link messages, whose every change
                                # the kernel announces: a verification may read again only the devices
                                # announced (False: it reads more, an fdb, genl, a program's files...)
    ports_follow = frozenset()  # its options whose change alters its ports' without announcing them
    # an export's comparison of settings (vnet.export_settings): the
    # IFLA_INFO_DATA ids (and its ports' IFLA_INFO_SLAVE_DATA ids) that
    # report state (timers, ids derived from a MAC, counts), not settings;
    # iproute2's words for the ids it has no option for
    state_attrs = frozenset()
    port_state_attrs = frozenset()
    setting_names = {}
    port_setting_names = {}

    def ports_take_its_mac(self, options):
        """Do its ports take its MAC (a bond's, a team's), given its options?"""
        return False

    def takes_a_port_mac(self, options):
        """May its MAC be one of its ports' (a bridge's, until one is set)?"""
        return self.is_master and not self.ports_take_its_mac(options)

    def exported_options(self, options, mac):
        """Its observed options as a file writes them (``mac``: the device's)."""
        return options

    def inner_refs(self, options):
        """(field path, Ref) of the devices named within its options'
        values (a VXLAN fdb entry's `via`), which it depends on as on a
        Ref option: made first, checked declared."""
        return []

    def kernel_features(self, iface):
        """What the kernel must support to build ``iface`` (tests pick their layer by it)."""
        return {self.kernel_kind} if self.creatable and self.kernel_kind else set()

    def probes(self, lower):
        """{feature: RTM_NEWLINK attributes besides the name} making a
        throwaway device with each feature ``kernel_features`` may name, on
        the lower device ``lower`` (an ifindex) of a scratch namespace: the
        test suite learns from them what this kernel can do (a test that
        needs what it cannot runs in the full-kernel guest)."""
        if not (self.creatable and self.kernel_kind):
            return {}
        link = rtnl.link_attrs(link=lower) if self.link_option and self.link_attr else b""
        return {self.kernel_kind: link + rtnl.linkinfo(self.kernel_kind, self.probe_data())}

    def port_snapshot(self, sock, idx):
        """A callable putting back what port ``idx`` holds as a port of a
        device of this kind (the kernel drops it as the port leaves: an
        undo makes it a port again, then calls this), or None."""
        return None

    def port_announced(self, port_options):
        """Does setting these options of a port of this kind only change
        what the port's link messages say (see ``announced``)?"""
        return self.announced

    def unmasked(self, item):
        """An exported interface ``item`` (the file's mapping) that the
        loader takes, its secrets the kernel never gives back (written
        masked) replaced by stand-ins: what an export's comparison of
        settings builds its devices from."""
        return item

    def _setting(self, aid, port):
        """(word, codec) of attribute ``aid`` (a ``*setting_names`` value is
        a word, or (word, codec): a DECODERS name or a function of the raw
        bytes); (None, None) for one it does not know."""
        spec = (self.port_setting_names if port else self.setting_names).get(aid)
        if spec is None and not port:
            spec = next(((o, c) for o, (a, c) in self.netlink.items()
                         if aid in (a if isinstance(a, tuple) else (a,))), None)
        return spec if isinstance(spec, tuple) else (spec, None)

    def setting_name(self, aid, port=False):
        """iproute2's word for IFLA_INFO_DATA (``port``: a port's
        IFLA_INFO_SLAVE_DATA) attribute ``aid`` of this kind, or None."""
        return self._setting(aid, port)[0]

    def setting_text(self, aid, raw, port=False):
        """Raw attribute ``aid`` as its value reads (None: "none")."""
        codec = self._setting(aid, port)[1]
        if raw is None:
            return "none"
        if callable(codec) or codec in nl.DECODERS:
            v = codec(raw) if callable(codec) else nl.DECODERS[codec](raw)
            return str(int(v) if isinstance(v, bool) else v)
        if not raw:
            return "on"   # a flag
        return str(int.from_bytes(raw, "little")) if len(raw) in (1, 2, 4) else raw.hex()

    def probe_data(self, iface=None):
        """The IFLA_INFO_DATA a throwaway device needs (a VXLAN's VNI, a veth's
        peer), beside what ``iface``'s options give where one is made like it."""
        return b""

    # ---- spec side ---------------------------------------------------------
    def validate(self, iface, problems, path):
        """Cross-field rules of this kind; add problems, return nothing."""

    def validate_port(self, master, port, problems, path):
        """Rules for a port's ``port_options`` given its master's Interface."""

    def port_state(self, port_options):
        """Port options in the form declared and observed ones compare."""
        return port_options

    def observe_ports(self, ports, dumps):
        """Fill each observed port Device's ``port`` from the namespace dumps."""

    def set_port(self, ctx, endpoint):
        """Make the kernel hold ``endpoint.port``; return an undo callable."""

    def iproute2_port(self, endpoint):
        return []

    def in_new_namespace(self, endpoint):
        """Does ``endpoint`` exist in a namespace as soon as it is made (lo)?"""
        return False

    def addresses_refused(self, endpoint, created):
        """Why the file may not set the addresses of ``endpoint``, a device
        of this kind, or None when it may (every device vnet makes).
        ``created``: its namespace is one the file creates."""
        return None if self.creatable else f"an {self.name} device is only referred to, never changed"

    def kernel_addresses(self, endpoint):
        """The addresses the kernel gives ``endpoint`` itself: a file need
        not declare them, and vnet never removes them (lo's 127.0.0.1/8)."""
        return frozenset()

    def layer(self, endpoint):
        """The link layer of ``endpoint``, a device of this kind ("ether",
        "ip", "can", "loopback"), or None when the file does not tell."""
        return self.link_layer

    def validate_all(self, ifaces, problems):
        """Rules across all interfaces of this kind (after each passed ``check``)."""

    def lint(self, ifaces, topo, problems, warnings):
        """Rules about how this kind's interfaces sit in the whole topology
        (routes, checks, neighbours): errors to ``problems``, the rest to
        ``warnings``. Runs once the whole file is valid."""

    def normalize(self, opt, value):
        """The form in which declared and observed values of ``opt`` compare."""
        return value

    def describe(self, opt, value):
        """How a plan shows a value of ``opt`` (None: the generic way)."""
        return None

    def describe_port(self, opt, value):
        """How a plan shows a value of a port's ``opt`` (a ``port_options``
        one) (None: the generic way)."""
        return None

    def in_place(self, opt, old, new):
        """Can the kernel change ``opt`` from ``old`` to ``new`` without re-creating?"""
        return opt in self.inplace

    # ---- kernel side -------------------------------------------------------
    def matches(self, link):
        return link.kind == self.kernel_kind

    def recognize(self, link, dumps):
        """For a link without a link kind: is it one of ours by other signs
        (its driver...)? ``dumps`` gives the namespace's other facts."""
        return False

    def encode_value(self, opt, value, ctx, iface):
        if isinstance(value, Ref):
            return ctx.ifindex(*value.resolve(iface.netns))
        return value

    def info_data(self, iface, ctx, only=None):
        parts = []
        for opt, (aid, codec) in self.netlink.items():
            if only is None and opt in self.late_options or only is not None and opt not in only:
                continue
            v = iface.options.get(opt)
            if v is None:
                continue
            parts.append(nl.ENCODERS[codec](aid, self.encode_value(opt, v, ctx, iface)))
        return b"".join(parts)

    def decode(self, link, resolve):
        """Kind options of an observed link. ``resolve(ifindex, nsid)`` gives
        the (namespace, name) of a device the link refers to."""
        out = {}
        a = nl.parse(link.data) if link.data is not None else {}
        for opt, (aid, codec) in self.netlink.items():
            raw = nl.attr_of(a, aid)
            if raw is not None:
                v = nl.DECODERS[codec](raw)
                if isinstance(self.options.get(opt), RefField):
                    v = resolve(v, link.link_nsid) if v else None
                out[opt] = v
            elif codec == "flag":
                out[opt] = False
        if self.link_attr and link.link:
            out[self.link_option] = resolve(link.link, link.link_nsid)
        return out

    def sock_ns(self, iface):
        """The namespace whose socket creates the device: the lower device's
        (the kernel looks the link index up there), else the device's own."""
        if self.link_option and iface.options.get(self.link_option):
            return iface.options[self.link_option].resolve(iface.netns)[0]
        return iface.netns

    def create(self, ctx, iface):
        sns = self.sock_ns(iface)
        link = None
        if self.link_attr and iface.options.get(self.link_option):
            link = ctx.ifindex(*iface.options[self.link_option].resolve(iface.netns))
        down = ctx.joins_down(iface)
        attrs = rtnl.link_attrs(
            name=iface.name, mtu=iface.mtu, mac=iface.mac, link=link, group=ctx.group,
            master=ctx.ifindex(*iface.master_key()) if iface.master and not down else None,
            ns_fd=ctx.fd(iface.netns) if sns != iface.netns else None)
        attrs += rtnl.linkinfo(self.kernel_kind, self.info_data(iface, ctx) + self.extra_data(ctx, iface))
        made = rtnl.new_link(ctx.sock(sns), up=iface.up and not down, attrs=attrs, echo=sns == iface.netns)
        if made is not None and made.name == iface.name:
            ctx.learn(iface.key, made.ifindex)   # no query when a later step needs it
        if down and iface.master:
            # a master that takes only down ports (bond, team) gets it down and
            # by a separate request: a team port named in the creation request
            # is dropped again (seen on 6.1); it goes up after joining
            rtnl.set_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key),
                          attrs=rtnl.link_attrs(master=ctx.ifindex(*iface.master_key())))
            ctx.joined(iface)

    def link_defaults(self, options):
        """{field: value} of the common link fields the kernel gives a new
        device of this kind with these options (an export writes a device's
        where they differ)."""
        return {"txqueuelen": self.txqueuelen, "arp": self.arp, "multicast": self.multicast, "allmulticast": False}

    def port_joined(self, ctx, endpoint):
        """``endpoint`` was just made a port of a device of this kind."""

    def release(self, k, ns, name):
        """Before device ``name`` in ``ns`` is deleted (or its namespace is):
        stop what vnet runs for it (teamd). ``k`` is the kernel session."""

    def extra_data(self, ctx, iface):
        """More IFLA_INFO_DATA for creation (a veth's peer)."""
        return b""

    def modify(self, ctx, iface, changed):
        """Apply changed kind options in place (all in ``self.inplace``)."""
        data = self.info_data(iface, ctx, only=set(changed))
        rtnl.set_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key),
                      attrs=rtnl.linkinfo(self.kernel_kind, data))

    # ---- the reference article's notation -------------------------------
    def iproute2(self, iface):
        """Arguments after `type <kind>` in `ip link add`."""
        return []

    def iproute2_add(self, iface):
        return iproute2_add(self, iface)

    def iproute2_extra(self, iface):
        """Commands after the `ip link add` line (fdb entries...)."""
        return []

    def iproute2_late(self, iface):
        """Commands once every device exists and ports have joined (late options)."""
        return []

    def observe_more(self, link, opts, dumps):
        """Complete ``opts`` from other dumps of the link's namespace
        (``dumps.cached("fdb", take)``...), taken lazily only when a kind asks."""

    def observed_extra(self, link, resolve, dumps):
        """Facts for `vnet show` that are not options (e.g. /dev/tapN)."""
        return {}

    # ---- `vnet show`: the words of `ip -d link show` ----------------------
    # option -> (iproute2's word, format): how `ip -d link show` prints it,
    # in its order; a format is a SHOW_FORMATS name or a function (word, value) -> text
    show_words = {}

    def show_details(self, dev, ref):
        """`ip -d link show`'s words for the observed Device ``dev``
        (["mode bridge", "id 100", ...]); ``ref((ns, name))`` names a
        referenced device. Options without a word come last, as `opt value`;
        facts of ``dev.extra`` come through ``show_extra``."""
        out = []
        for opt, (word, fmt) in self.show_words.items():
            v = dev.options.get(opt)
            if v is not None:
                out.append((SHOW_FORMATS.get(fmt) or fmt)(word, ref(v) if isinstance(v, tuple) else v))
        for opt, v in dev.options.items():
            if opt not in self.show_words and v is not None and not isinstance(v, (list, dict)):
                out.append(show_value(opt, ref(v) if isinstance(v, tuple) else v))
        return [w for w in out + self.show_extra(dev.extra, ref) if w]

    def show_extra(self, extra, ref):
        """Words for the facts of ``observed_extra`` (scalars as `key value`)."""
        return [show_value(k, v) for k, v in extra.items() if v is not None and not isinstance(v, (list, dict))]

    def show_nested(self, dev, ref):
        """Lines of their own under the device's row (SAs, FDB entries)."""
        return []

    def show_port(self, port):
        """(words, lines) for a port of a device of this kind, from the
        port's observed ``port`` options (a bridge port's VLANs)."""
        return [], []

    # ---- diagrams (`vnet diagram`) ------------------------------------
    shape = "box"           # the Graphviz node shape of this kind
    colour = "#eeeeee"      # its fill colour

    def diagram_detail(self, options):
        """A short line under the device's name (a VXLAN's VNI)."""
        return ""

    def link_label(self, options):
        """The label on the edge to the lower device: the mode by default."""
        return str(options.get("mode") or "")

    def port_label(self, port):
        """The label on the edge from a port to a master of this kind."""
        return ""

    def tunnels(self, options):
        """Tunnels this device ends: (local address or None, remote address,
        label) for each; a diagram joins two ends that name each other."""
        return []

    def processes(self, dev, live):
        """Processes on the device's other side, as labels (a TUN's reader)."""
        return []


def show_value(word, v):
    """`word value` as iproute2 writes it: a boolean as on/off."""
    return f"{word} {'on' if v else 'off'}" if isinstance(v, bool) else f"{word} {v}"


SHOW_FORMATS = {
    "value": show_value,
    "01": lambda w, v: f"{w} {int(v)}",                      # bridge's stp_state 0
    "flag": lambda w, v: w if v else f"no{w}",               # vxlan's learning / nolearning
    "ifset": lambda w, v: w if v else "",                    # tun's multi_queue
    "word": lambda w, v: str(v),                             # the value alone (ipvlan's bridge)
    "centi": lambda w, v: f"{w} {round(v * 100)}",           # seconds, printed in 1/100 s
    "skip": lambda w, v: "",                                 # shown otherwise, by the kind's own code
}


def ipcmd(ns, *args):
    """One `ip` command line, in namespace ``ns`` (None: where vnet runs)."""
    return " ".join(["ip"] + (["-n", ns] if ns is not None else []) + [str(a) for a in args])


def iproute2_add(kind, iface):
    """The `ip link add` line creating ``iface``, in the reference's notation."""
    sns = kind.sock_ns(iface)
    args = ["link", "add"]
    if kind.link_attr and iface.options.get(kind.link_option):
        args += ["link", iface.options[kind.link_option].name]
    args.append(iface.name)
    if sns != iface.netns:
        args += ["netns", iface.netns if iface.netns is not None else "1"]
    if iface.mtu:
        args += ["mtu", iface.mtu]
    if iface.mac:
        args += ["address", iface.mac]
    return ipcmd(sns, *args, "type", kind.kernel_kind, *kind.iproute2(iface))
