"""The result of ADD, in the spec's 1.x shape, and after a previous plugin's."""
from . import versions
from .ipam import family


def of_add(net, topo, state, got, env):
    """The result of ADD (1.x shape): the devices made, the container's with
    its sandbox; IPAM's addresses on it, its routes, DNS."""
    ifaces = []
    if net.bridge:
        ifaces.append(_iface(state, None, net.bridge, env))
    container = None
    for i in topo.interfaces:
        if i.kind == "external":
            continue
        for e in sorted(i.endpoints(), key=lambda e: e.netns is not None):
            if e.netns == env.netns and e.name == env.ifname:
                container = len(ifaces)
            ifaces.append(_iface(state, e.netns, e.name, env))
    out = {"interfaces": ifaces}
    if got.get("ips"):   # none without IPAM: left out, as the reference plugins leave it
        out["ips"] = [{**ip, "interface": container} for ip in got["ips"]]
    if got.get("routes"):
        out["routes"] = got["routes"]
    if net.default_route:
        have = {r.get("dst") for r in out.get("routes", [])}
        out.setdefault("routes", []).extend(
            {"dst": "0.0.0.0/0" if family(ip["gateway"]) == 4 else "::/0", "gw": ip["gateway"]}
            for ip in got.get("ips", []) if ip.get("gateway")
            and ("0.0.0.0/0" if family(ip["gateway"]) == 4 else "::/0") not in have)
    out["dns"] = got.get("dns") or net.conf.get("dns") or {}   # always there, as the reference plugins write it
    return out


def _iface(state, ns, name, env):
    d = state.device(ns, name) if state else None
    out = {"name": name}
    if d is not None and d.mac:
        out["mac"] = d.mac
    if ns is not None:
        out["sandbox"] = env.netns
    return out


def merged(prev, ours):
    """Our result after a previous plugin's: its interfaces, addresses and
    routes first, ours after (their interface indexes moved along)."""
    if not isinstance(prev, dict) or not prev.get("interfaces") and not prev.get("ips"):
        return ours
    prev = versions.normalized(prev)
    n = len(prev.get("interfaces") or [])
    out = {"interfaces": list(prev.get("interfaces") or []) + ours["interfaces"],
           "ips": list(prev.get("ips") or []) + [{**ip, "interface": ip["interface"] + n}
                                                 for ip in ours.get("ips", [])]}
    if not out["ips"]:
        del out["ips"]
    routes = list(prev.get("routes") or []) + ours.get("routes", [])
    if routes:
        out["routes"] = routes
    if ours.get("dns") or prev.get("dns"):
        out["dns"] = ours.get("dns") or prev.get("dns")
    return out
