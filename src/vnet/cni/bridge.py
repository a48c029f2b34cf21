"""The host bridge a bridge network's attachments share: made under its own
topology (never removed by an attachment), or someone else's used as it is."""
import os

from . import config
from .errors import KERNEL_REFUSED, NOT_OWNED, CniError
from .ipam import family


def ensure(net, got, lock_timeout):
    """The bridge ``net`` shares: made (or its gateway addresses added, or
    made promiscuous) under its own topology, never removed by an
    attachment. A bridge someone else made is used as it is, but made
    promiscuous for promiscMode as the reference plugin does; one that has
    what this call needs is left alone (fifty ADDs at once do not queue for
    its lock)."""
    from ..api import apply
    from ..ownership import Record
    from ..topofile.loader import parse
    doc = config.bridge_doc(net)
    gateways = []
    if net.gateway:
        prefix = {ip["gateway"]: ip["address"].split("/")[1] for ip in got.get("ips", []) if ip.get("gateway")}
        gateways = [f"{gw}/{n}" for gw, n in prefix.items()]
    live, have = state(net.bridge)
    promisc = bool(net.conf.get("promiscMode"))
    if live is not None and set(gateways) <= set(have) and (live.promisc or not promisc):
        return
    if live is not None and not Record.load(doc["name"]).exists():
        if not set(gateways) <= set(have):
            raise CniError(NOT_OWNED, f"bridge {net.bridge} exists and was not made by vnet, and it lacks the "
                                      f"gateway address {', '.join(sorted(set(gateways) - set(have)))} isGateway asks "
                                      "for: add it to the bridge, or let vnet make the bridge")
        _promisc_on(live)
        return
    if gateways:
        doc["interfaces"][0]["addresses"] = sorted(set(gateways) - set(have) | set(have.values()))
        _gateway(doc, live, {family(gw.split("/")[0]) for gw in gateways})
    apply(parse(doc, f"network {net.conf.get('name')!r}: bridge {net.bridge!r}"), None, lock_timeout)


def _promisc_on(live):
    """The bridge someone else made, promiscuous (and left so: it is not vnet's)."""
    from ..kernel import rtnl
    from ..kernel.session import Kernel
    try:
        with Kernel() as k:
            rtnl.set_link(k.sock(None), live.ifindex, promisc=True)
    except OSError as e:
        raise CniError(KERNEL_REFUSED, f"bridge {live.name}: the kernel refused promiscuous mode (promiscMode): "
                                       f"{e.strerror or e}") from None


def host_link(name, k=None):
    """The host's device ``name`` as the kernel has it (None when there is none)."""
    from ..kernel import rtnl
    from ..kernel.session import Kernel
    if k is None:
        with Kernel() as k:
            return host_link(name, k)
    return rtnl.get_link(k.sock(None), name)


def state(name):
    """The host's device ``name`` (None when there is none) and its
    addresses, {address/prefix: as a file gives it} (with a peer, a
    metric... someone gave it: declared again as it is)."""
    from ..kernel import rtnl
    from ..kernel.session import Kernel
    from ..topology.address import make, plain
    with Kernel() as k:
        ln = host_link(name, k)
        if ln is None:
            return None, {}
        return ln, {str(plain(ip)): str(ip) for index, ip, _ in rtnl.dump_addrs(k.sock(None), make, {ln.ifindex: ln.name})
                    if index == ln.ifindex}


def _gateway(doc, live, families):
    """As the reference plugin makes a bridge the containers' gateway: its
    MAC set (its own, or a new one), so that it stays when ports come and
    go (a bridge whose MAC was never set takes the lowest of its ports',
    and the containers' ARP entries for the gateway go stale), and
    forwarding on for each family of its addresses."""
    if live is not None and live.mac:
        mac = live.mac
    else:
        b = bytearray(os.urandom(6))
        b[0] = (b[0] & 0xFE) | 0x02   # unicast, locally administered
        mac = ":".join(f"{x:02x}" for x in b)
    doc["interfaces"][0]["mac"] = mac
    keys = {4: "net.ipv4.ip_forward", 6: "net.ipv6.conf.all.forwarding"}
    doc.setdefault("sysctls", []).extend({"key": keys[f], "value": 1} for f in sorted(families))
