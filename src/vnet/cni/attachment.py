"""What one attachment (a network's interface in one container) is to vnet:
a topology named for (network, container id, ifname), with the record
every topology has; its source names the three, so that GC finds the
attachments of a network among vnet's other records."""
import json
import os
import re

from .config import attachment_name   # noqa: F401  (the topology's name)

SOURCE = "cni network {net} container {container} interface {ifname}"
_SOURCE = re.compile(r"cni network (\S+) container (\S+) interface (\S+)")


def source(net, container, ifname):
    return SOURCE.format(net=net, container=container, ifname=ifname)


def of_network(net):
    """(topology name, container id, ifname) of every attachment of network
    ``net`` that vnet has a record of."""
    from ..statedir import state_dir
    d = state_dir()
    try:
        names = [f for f in os.listdir(d) if f.startswith("cni-") and f.endswith(".json")
                 and not f.startswith("cni-bridge-")]
    except FileNotFoundError:
        return []
    out = []
    for f in sorted(names):
        try:
            with open(os.path.join(d, f)) as fh:
                src = json.load(fh).get("source") or ""
        except (OSError, ValueError, AttributeError):
            continue   # a record being written or not one: GC leaves it
        m = _SOURCE.fullmatch(src)
        if m and m.group(1) == net:
            out.append((f[:-5], m.group(2), m.group(3)))
    return out
