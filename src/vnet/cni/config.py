"""A CNI network configuration read into a topology document, which the
topology loader then validates as it does a file (same rules, same
messages).

Two ways to write one:

- vnet's own: ``interfaces``, a small stack of interfaces in the syntax of
  a topology file, the last one the container's (named CNI_IFNAME). An
  interface is in the container unless its ``netns`` is ``host``; a veth's
  ``peer`` is on the host unless it says ``container``. A device it refers
  to (``link``, ``master``...) that the stack does not declare is an
  existing device of the host.
- one interface, in the keys of the reference plugins (``master``,
  ``mode``, ``vlanId``, ``bridge``, ``isGateway``...) or vnet's own option
  names at the top level, with ``kind`` saying which when the keys do not
  (a conflist written for the reference plugins works by changing
  ``type`` to ``vnet``). docs/cni.md has the table.

Keys are matched without regard to case, as the Go plugins' JSON decoder
does (``"MASTER"`` is ``master``)."""

import os

from .errors import INVALID_CONFIG, UNSUPPORTED_FIELD, CniError

CONTAINER, HOST_NS = "container", "host"

# the spec's keys and those of the reference plugins vnet reads, by their lower-case spelling
# (cniVersions: a configuration list's, which libcni may pass whole with a single configuration)
KEYS = {k.lower(): k for k in (
    "cniVersion", "cniVersions", "name", "type", "args", "runtimeConfig", "prevResult", "ipam", "dns", "capabilities",
    "interfaces", "kind", "master", "mode", "mtu", "mac", "linkInContainer", "vlanId", "bridge", "isGateway",
    "isDefaultGateway", "hairpinMode", "vlan", "vlanTrunk", "promiscMode", "multiQueue", "owner", "group",
    "ipMasq", "forceAddress", "preserveDefaultVlan", "macspoofchk", "enabledad")}
# keys of the reference plugins vnet does not do, and the value that asks for nothing
UNSUPPORTED = {"forceAddress": False}
IPVLAN_MODES = ("l2", "l3", "l3s")
BRIDGE_KEYS = ("bridge", "isGateway", "isDefaultGateway", "hairpinMode", "vlan", "vlanTrunk", "promiscMode")
TAP_KEYS = ("multiQueue", "owner", "group")
# reference key -> vnet option, for the one-interface form
RENAMED = {"vlanId": "id", "multiQueue": "multi_queue", "hairpinMode": "hairpin"}


class Network:
    """A configuration read: its name and version, the topology document of
    one attachment (without IPAM's addresses yet), the bridge it shares
    with other attachments (or None), and how to say its problems."""

    def __init__(self, conf, doc, bridge=None, gateway=False, default_route=False):
        self.conf, self.doc, self.bridge = conf, doc, bridge
        self.gateway, self.default_route = gateway, default_route
        self.renamed = {}   # option path in the document -> the key the configuration wrote
        self.secrets = None   # the keys the runtime passed, by name (keys.passed)
        self.masq = False   # ipMasq: the container's addresses masqueraded on the host (masq.py)
        self.spoofchk = False   # macspoofchk: frames from other MACs dropped at the bridge (spoofchk.py)
        self.host_end = None    # the bridge form: the veth's host end, the bridge's port


def canonical(conf):
    """``conf`` with the keys vnet knows spelt as the spec spells them;
    an unknown key close to a known one is a mistake worth naming."""
    if not isinstance(conf, dict):
        raise CniError(INVALID_CONFIG, f"the network configuration is a JSON {type(conf).__name__}, not an object")
    out = {}
    for k, v in conf.items():
        known = KEYS.get(k.lower())
        if known is None:
            near = _close(k.lower(), KEYS)
            if near:
                raise CniError(INVALID_CONFIG, f"network configuration: unknown field {k!r} (did you mean "
                                               f"{KEYS[near]!r}?)")
        out[known or k] = v
    return out


def _digest(text, algo="sha256"):
    """sha256 (or ``algo``) of ``text`` in hex, by the interpreter's own module
    (hashlib loads OpenSSL first: 2 ms of a call a runtime makes per container)."""
    for module in ("_sha2", "_" + algo, "hashlib"):   # _sha2: Python 3.12 on
        try:
            return getattr(__import__(module), algo)(text.encode()).hexdigest()
        except (ImportError, AttributeError):
            continue


def _close(word, choices):
    import difflib
    near = difflib.get_close_matches(word, choices, n=1, cutoff=0.85)
    return near[0] if near else None


def attachment_name(net, container, ifname):
    """The topology name of one attachment: unique per (network, container,
    interface), within the 32 characters a topology name may have."""
    h = _digest(f"{net}\0{container}\0{ifname}")
    return "cni-" + h[:28]


def host_name(container, ifname, i, kind="veth"):
    """The name of a device the configuration leaves unnamed (a veth's host
    end): its kind and 8 hex digits unique per attachment, as the reference
    plugins' vethXXXXXXXX (a vxcan's peer is vxcanXXXXXXXX)."""
    prefix = kind[:7] if isinstance(kind, str) and kind.isalnum() and kind.isascii() else "dev"
    return prefix + _digest(f"{container}\0{ifname}\0{i}")[:8]


def read(conf, env):
    """The Network of configuration ``conf`` (canonical keys) for the
    attachment ``env`` names (container id, netns path, ifname)."""
    for key, off in UNSUPPORTED.items():
        if key in conf and conf[key] not in (off, None):
            raise CniError(UNSUPPORTED_FIELD, f"network configuration: {key} {_json(conf[key])} is not supported "
                                              f"by vnet", f"remove {key!r} or set it to {_json(off)}")
    from . import keys
    net = _stack(conf, env) if "interfaces" in conf else _single(conf, env)
    net.secrets = keys.passed(conf)
    net.masq = _flag(conf, "ipMasq")
    net.spoofchk = _flag(conf, "macspoofchk")
    if net.spoofchk and not net.bridge:
        raise CniError(UNSUPPORTED_FIELD, "network configuration: macspoofchk true is supported by vnet with the "
                                          "bridge plugin's keys only (the bridge port is where it drops frames)",
                       "remove 'macspoofchk', or use the one-interface bridge form")
    return net


def _flag(conf, key):
    v = conf.get(key)
    if v is None or isinstance(v, bool):
        return bool(v)
    raise CniError(INVALID_CONFIG, f"network configuration: {key}: {_json(v)} is not true or false")


def _json(v):
    import json
    return json.dumps(v)


def _stack(conf, env):
    ifaces = conf["interfaces"]
    if not isinstance(ifaces, list) or not ifaces or not all(isinstance(i, dict) for i in ifaces):
        raise CniError(INVALID_CONFIG, "network configuration: interfaces: expected a list of interfaces "
                                       "(objects), the last one the container's")
    extra = sorted(set(conf) & set(BRIDGE_KEYS + TAP_KEYS + ("master", "mode", "vlanId", "kind")))
    if extra:
        raise CniError(INVALID_CONFIG, f"network configuration: {', '.join(extra)}: not with 'interfaces' "
                                       "(write the options in the interfaces themselves)")
    stack = [dict(i) for i in ifaces]
    stack[-1].setdefault("name", env.ifname)
    if stack[-1]["name"] != env.ifname:
        return _fail(f"interfaces[{len(stack) - 1}].name", f"{stack[-1]['name']!r}: the container's interface is "
                     f"named by the runtime (CNI_IFNAME={env.ifname}): omit the name")
    for i, it in enumerate(stack):
        _place(it, i, stack, env)
    doc = {"name": attachment_name(conf.get("name"), env.container, env.ifname), "interfaces": stack}
    _add_externals(doc, env)
    return Network(conf, doc)


def _fail(path, msg):
    raise CniError(INVALID_CONFIG, f"network configuration: {path}: {msg}")


def _place(it, i, stack, env):
    """Interface ``it`` of the stack in its namespace (the container's path,
    or the host's: omitted), named if it is not; its peer likewise."""
    where = it.pop("netns", CONTAINER)
    if where not in (CONTAINER, HOST_NS):
        _fail(f"interfaces[{i}].netns", f"{where!r}: an interface is in the 'container' (the default) or on the 'host'")
    if where == CONTAINER:
        it["netns"] = env.netns
    if "name" not in it:
        it["name"] = (host_name(env.container, env.ifname, i, it.get("kind")) if where == HOST_NS
                      else f"{env.ifname[:11]}-s{i}")
    peer = it.get("peer")
    if isinstance(peer, dict):
        peer = it["peer"] = dict(peer)
        pwhere = peer.pop("netns", HOST_NS)
        if pwhere == CONTAINER:
            peer["netns"] = env.netns
        elif pwhere != HOST_NS:
            _fail(f"interfaces[{i}].peer.netns", f"{pwhere!r}: a peer is on the 'host' (the default) or in the "
                                                 "'container'")
        peer.setdefault("name", host_name(env.container, env.ifname, f"{i}p", it.get("kind")))


def _add_externals(doc, env):
    """Each device the stack refers to and does not declare, as an existing
    device (kind external) of the host; a reference written as a name only
    then points there."""
    from ..topofile.loader import interface_field
    from ..kinds import BY_NAME
    from ..topology.fields import RefField
    declared = {(i.get("netns"), i.get("name")) for i in doc["interfaces"]}
    declared |= {(i["peer"].get("netns"), i["peer"].get("name")) for i in doc["interfaces"]
                 if isinstance(i.get("peer"), dict)}
    names_here = {}
    for ns, name in declared:
        names_here.setdefault(name, ns)
    hosts = []
    for it in doc["interfaces"]:
        kind = BY_NAME.get(it.get("kind"))
        if kind is None:
            continue
        fields = interface_field(kind).fields
        ends = [(it, fields)]
        if isinstance(it.get("peer"), dict) and "peer" in fields:
            ends.append((it["peer"], fields["peer"].fields))
        for end, end_fields in ends:
            hosts += _refs_to_host(end, end_fields, names_here, RefField)
    for name in dict.fromkeys(hosts):
        # after the stack: a message's interfaces[i] is the i the configuration wrote
        doc["interfaces"].append({"name": name, "kind": "external"})


def _refs_to_host(end, fields, names_here, ref_field):
    """Point ``end``'s references by name at the host's device when the
    stack does not declare one of that name; the names of those."""
    out = []
    for key, val in list(end.items()):
        if not isinstance(fields.get(key), ref_field) or not isinstance(val, str):
            continue
        if val not in names_here:
            out.append(val)
            if end.get("netns") is not None:
                end[key] = {"name": val}   # the host's, from the container
        elif names_here[val] != end.get("netns"):
            end[key] = {"name": val, "netns": names_here[val]} if names_here[val] else {"name": val}
    return out


def _single(conf, env):
    """The one-interface form: the reference plugins' keys, or vnet's option
    names of ``kind``, at the top level."""
    kind = _kind_of(conf)
    if kind in ("bridge", "veth"):
        return _bridged(conf, env)
    it = {"name": env.ifname, "kind": kind, "netns": env.netns}
    net = Network(conf, None)
    fields = _fields_of(kind)
    for key, val in conf.items():
        opt = RENAMED.get(key, key)
        if key in KEYS.values() and key not in ("mode", "mtu", "mac", "vlanId", "owner", "group", "multiQueue"):
            continue   # the spec's own keys, and reference keys read below
        if opt in fields and opt not in ("name", "netns", "kind"):
            it[opt] = val
            if opt != key:
                net.renamed[opt] = key
        elif _close(key, fields):
            _fail(key, f"unknown field (did you mean {_close(key, fields)!r}, an option of {kind}?)")
    lower = _lower_option(kind)
    if lower and lower not in it and (conf.get("master") or _needs_lower(kind)):
        # the reference plugins' master: the host's device of the default route unless named
        it[lower] = conf.get("master") or _default_route_device()
        net.renamed[lower] = "master"
    if isinstance(it.get(lower), str) and not conf.get("linkInContainer"):
        it[lower] = {"name": it[lower]}   # a device of the host's (not of the container's, where the interface is)
    if kind in ("macvlan", "macvtap") and "mode" not in it:
        it["mode"] = "bridge"   # the reference plugin's default (vnet's own, in a file: vepa)
    if kind in ("ipvlan", "ipvtap") and "mode" not in it:
        it["mode"] = "l2"   # the reference plugin's default (vnet's own, in a file: l3)
    doc = {"name": attachment_name(conf.get("name"), env.container, env.ifname), "interfaces": [it]}
    if isinstance(it.get(lower), dict):
        doc["interfaces"].insert(0, {"name": it[lower]["name"], "kind": "external"})
    elif conf.get("linkInContainer") and isinstance(it.get(lower), str):
        # the master is an existing device of the container's
        doc["interfaces"].insert(0, {"name": it[lower], "kind": "external", "netns": env.netns})
    net.doc = doc
    return net


def _kind_module(kind):
    """vnet's Kind named ``kind`` (None for one it does not know: the loader says so)."""
    from ..kinds import BY_NAME
    return BY_NAME.get(kind) if isinstance(kind, str) else None


def _lower_option(kind):
    """The option of ``kind`` naming its lower device (``link``; a VXLAN's
    ``dev``), or None."""
    return getattr(_kind_module(kind), "link_option", None)


def _needs_lower(kind):
    """Can ``kind`` not be without its lower device (its schema requires
    the option)? With no master named, it takes the reference plugins'
    default: the device of the host's default route."""
    k, lower = _kind_module(kind), _lower_option(kind)
    return bool(lower and getattr(k.options.get(lower), "required", False))


def _fields_of(kind):
    """The fields an interface of ``kind`` has in a topology file (none for
    a kind vnet does not know)."""
    from ..topofile.loader import interface_field
    k = _kind_module(kind)
    return interface_field(k).fields if k else {}


def _kind_of(conf):
    kind = conf.get("kind")
    if kind is not None:
        return kind
    if "vlanId" in conf:
        return "vlan"
    if any(k in conf for k in BRIDGE_KEYS):
        return "bridge"
    if any(k in conf for k in TAP_KEYS):
        return "tap"
    if conf.get("mode") in IPVLAN_MODES:
        return "ipvlan"
    if "master" in conf:
        return "macvlan"
    raise CniError(INVALID_CONFIG, "network configuration: which interface? Set 'kind' (macvlan, ipvlan, vlan, "
                                   "bridge, tap, ...) or the reference plugins' keys ('master', 'vlanId', "
                                   "'bridge'...), or give 'interfaces'")


def _bridged(conf, env):
    """The reference bridge plugin's form: a veth pair, the container's end
    named CNI_IFNAME, the host's end a port of the bridge (made if missing,
    shared by every attachment, never removed by one). The port's options
    (hairpinMode, vlan, vlanTrunk) are the veth's: the planner sets them as
    the live bridge takes them."""
    bridge = conf.get("bridge", "cni0")
    peer = {"name": host_name(env.container, env.ifname, 0), "master": bridge}
    if conf.get("hairpinMode"):
        peer["hairpin"] = True
    vlans = _port_vlans(conf)
    if vlans:
        peer["vlans"] = vlans
    it = {"name": env.ifname, "kind": "veth", "netns": env.netns, "peer": peer}
    if conf.get("mtu") is not None:
        it["mtu"] = peer["mtu"] = conf["mtu"]
    if conf.get("mac") is not None:
        it["mac"] = conf["mac"]
    doc = {"name": attachment_name(conf.get("name"), env.container, env.ifname),
           "interfaces": [{"name": bridge, "kind": "external"}, it]}
    _flag(conf, "promiscMode")
    default = bool(conf.get("isDefaultGateway"))
    net = Network(conf, doc, bridge=bridge, gateway=default or bool(conf.get("isGateway")), default_route=default)
    net.host_end = peer["name"]
    if vlans and net.gateway:
        # the reference gives the gateway address to a veth of its own in
        # the port's VLAN (BRIDGE.VLAN, a port of the bridge); on the bridge
        # itself, outside the VLAN, no container would reach it
        raise CniError(UNSUPPORTED_FIELD, "network configuration: isGateway with vlan/vlanTrunk is not supported "
                                          "by vnet (the gateway would be outside the port's VLAN)",
                       "remove isGateway/isDefaultGateway, or the VLANs")
    return net


def _port_vlans(conf):
    """The bridge port's VLANs: ``vlan`` its access VLAN (pvid, untagged),
    ``vlanTrunk`` the tagged ones; with either, the port stays in the
    default VLAN 1 (untagged; its pvid without ``vlan``) unless
    ``preserveDefaultVlan`` is false, as the reference plugin does."""
    out = []
    trunk = conf.get("vlanTrunk") or []
    if not isinstance(trunk, list):
        _fail("vlanTrunk", "expected a list of {id} or {minID, maxID}")
    access = _vid(conf["vlan"], "vlan") if conf.get("vlan") else None   # 0: none, as the reference reads it
    if access:
        out.append({"vid": access, "pvid": True, "untagged": True})
    has_1 = access == 1
    for i, t in enumerate(trunk):
        if not isinstance(t, dict) or ("id" in t) == ("minID" in t or "maxID" in t):
            _fail(f"vlanTrunk[{i}]", "expected an object {id} or {minID, maxID}")
        if "id" in t:
            first = last = _vid(t["id"], f"vlanTrunk[{i}].id")
            out.append({"vid": first})
        else:
            first, last = _vid(t.get("minID"), f"vlanTrunk[{i}].minID"), _vid(t.get("maxID"), f"vlanTrunk[{i}].maxID")
            if first > last:
                _fail(f"vlanTrunk[{i}]", f"minID {first} is above maxID {last}")
            out.append({"vid": f"{first}-{last}"})
        has_1 = has_1 or first == 1
    if out and not has_1 and conf.get("preserveDefaultVlan", True) is not False:
        out.append({"vid": 1, "pvid": not access, "untagged": True})
    return out


def _vid(v, key):
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4094:
        return v
    _fail(key, f"{v!r} is not a VLAN id (1-4094)")


def bridge_doc(net):
    """The topology of the bridge ``net`` shares (vlan filtering when a
    port has VLANs, promiscuous with promiscMode)."""
    b = {"name": net.bridge, "kind": "bridge"}
    if net.conf.get("vlan") or net.conf.get("vlanTrunk"):
        b["vlan_filtering"] = True
    if net.conf.get("promiscMode"):
        b["promisc"] = True
    # no `mtu`: the bridge follows its ports' (the reference plugin gives it at
    # creation, which the kernel does not keep as the user's: 1500 again once
    # the last port leaves); a topology's bridge `mtu` is kept whatever its ports
    h = _digest(net.bridge)[:20]
    doc = {"name": "cni-bridge-" + h, "interfaces": [b]}
    if os.path.isdir("/proc/sys/net/ipv6") and "." not in net.bridge:
        # as the reference plugin: the bridge takes no IPv6 router advertisements (its routes are the plugin's)
        doc["sysctls"] = [{"key": f"net.ipv6.conf.{net.bridge}.accept_ra", "value": 0}]
    return doc


def _default_route_device():
    """The device of the host's IPv4 default route, as the reference
    macvlan plugin takes for its master when none is named."""
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if len(cols) > 2 and cols[1] == "00000000":
                    return cols[0]
    except OSError:
        pass
    raise CniError(INVALID_CONFIG, "network configuration: master: not given, and the host has no IPv4 default "
                                   "route whose device it could be")
