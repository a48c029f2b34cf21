"""The bridge port options of the reference bridge plugin's keys:
``hairpinMode``, ``vlan`` (the port's access VLAN: pvid, untagged),
``vlanTrunk`` (tagged VLANs) and ``preserveDefaultVlan`` (false: VLAN 1
leaves the port), set on the veth's host end once ADD has made it.

vnet sets them here, not in the attachment's topology: a topology gives
port options only to ports of a bridge it declares, and the bridge is
not the attachment's (it is the bridge's own topology's, or someone
else's). The veth is the attachment's, so DEL takes them with it; CHECK
reads them back."""
from ..kernel import netlink as nl
from ..kernel import rtnl
from ..kinds.bridge_port import PORT_FLAGS
from .errors import DRIFT, INVALID_CONFIG, KERNEL_REFUSED, CniError

HAIRPIN = PORT_FLAGS["hairpin"][0]   # IFLA_BRPORT_MODE
ACCESS = rtnl.BRIDGE_VLAN_INFO_PVID | rtnl.BRIDGE_VLAN_INFO_UNTAGGED
DEFAULT_VLAN = 1


class Port:
    """What a configuration asks of its veth's host end (``name``)."""

    def __init__(self, name, hairpin, vlans, drop_default):
        self.name, self.hairpin = name, hairpin
        self.vlans = vlans                  # {vid: BRIDGE_VLAN_INFO flags}
        self.drop_default = drop_default    # VLAN 1 leaves the port

    def __bool__(self):
        return bool(self.hairpin or self.vlans)


def of(conf, name):
    """The Port of configuration ``conf`` (canonical keys), for the host end
    ``name``; a VLAN id that is not one is an invalid configuration."""
    vlans = {}
    trunk = conf.get("vlanTrunk") or []
    if not isinstance(trunk, list):
        _invalid("vlanTrunk", "expected a list of {id} or {minID, maxID}")
    for i, t in enumerate(trunk):
        if not isinstance(t, dict) or ("id" in t) == ("minID" in t or "maxID" in t):
            _invalid(f"vlanTrunk[{i}]", "expected an object {id} or {minID, maxID}")
        first, last = (_vid(t["id"], f"vlanTrunk[{i}].id"),) * 2 if "id" in t else \
            (_vid(t.get("minID"), f"vlanTrunk[{i}].minID"), _vid(t.get("maxID"), f"vlanTrunk[{i}].maxID"))
        if first > last:
            _invalid(f"vlanTrunk[{i}]", f"minID {first} is above maxID {last}")
        vlans.update(dict.fromkeys(range(first, last + 1), 0))
    if conf.get("vlan"):   # 0: none, as the reference reads it
        vlans[_vid(conf["vlan"], "vlan")] = ACCESS
    drop = bool(vlans) and conf.get("preserveDefaultVlan") is False and DEFAULT_VLAN not in vlans
    return Port(name, bool(conf.get("hairpinMode")), vlans, drop)


def _vid(v, key):
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4094:
        return v
    _invalid(key, f"{v!r} is not a VLAN id (1-4094)")


def _invalid(key, msg):
    raise CniError(INVALID_CONFIG, f"network configuration: {key}: {msg}")


def set_on(k, port):
    """Make the kernel hold ``port`` (the host end made, a port of its
    bridge), as the reference does: hairpin, then each VLAN added."""
    sock = k.sock(None)
    try:
        idx = _index(sock, port.name)
        if port.hairpin:
            rtnl.set_link(sock, idx, attrs=rtnl.slave_linkinfo("bridge", nl.u8(HAIRPIN, 1)))
        for vid, flags in sorted(port.vlans.items(), key=lambda v: v[1]):   # the pvid last
            rtnl.bridge_vlan(sock, idx, vid, flags)
        if port.drop_default:
            rtnl.bridge_vlan(sock, idx, DEFAULT_VLAN, 0, add=False)
    except OSError as e:
        raise CniError(KERNEL_REFUSED, f"bridge port {port.name}: the kernel refused its "
                                       f"{_asked(port)}: {e.strerror or e}") from None


def drift(k, port):
    """How the live host end differs from ``port``: [what differs]."""
    sock = k.sock(None)
    ln = rtnl.get_link(sock, port.name)
    if ln is None:
        return [f"bridge port {port.name} is gone"]
    out = []
    if port.hairpin:
        data = nl.parse(ln.slave_data) if ln.slave_data is not None else {}
        if not (HAIRPIN in data and data[HAIRPIN][0]):
            out.append(f"bridge port {port.name}: hairpin is off")
    if port.vlans or port.drop_default:
        have = dict(rtnl.dump_bridge_vlans(sock).get(ln.ifindex, []))
        for vid, flags in sorted(port.vlans.items()):
            if vid not in have or have[vid] & ACCESS != flags:
                out.append(f"bridge port {port.name}: VLAN {vid} " + (
                    "is gone" if vid not in have else f"is {_words(have[vid])}, ADD made it {_words(flags)}"))
        if port.drop_default and DEFAULT_VLAN in have:
            out.append(f"bridge port {port.name}: VLAN {DEFAULT_VLAN} is back")
    return out


def check(k, port):
    problems = drift(k, port)
    if problems:
        raise CniError(DRIFT, "the attachment differs from what ADD made: " + "; ".join(problems))


def _index(sock, name):
    ln = rtnl.get_link(sock, name)
    if ln is None:
        raise OSError(19, f"no device {name}")
    return ln.ifindex


def _asked(port):
    parts = ["hairpin"] if port.hairpin else []
    parts += [f"VLAN {vid} ({_words(fl)})" for vid, fl in sorted(port.vlans.items())]
    return ", ".join(parts)


def _words(flags):
    return " ".join(w for bit, w in ((rtnl.BRIDGE_VLAN_INFO_PVID, "pvid"), (rtnl.BRIDGE_VLAN_INFO_UNTAGGED,
                                                                             "untagged")) if flags & bit) or "tagged"
