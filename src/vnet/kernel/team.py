"""The kernel team driver's generic netlink family ("team"): read-only here,
for what `vnet show` reports (the mode teamd set and the active port)."""
from . import netlink as nl

FAMILY = "team"
OPTIONS_GET = 2
ATTR_TEAM_IFINDEX, ATTR_LIST_OPTION = 1, 2
ITEM_OPTION = 1
OPT_NAME, OPT_DATA, OPT_PORT_IFINDEX = 1, 4, 6


def options(g, ifindex):
    """{option name: raw value} of the team device (per-port options left out)."""
    out = {}
    for body in g.get(OPTIONS_GET, nl.u32(ATTR_TEAM_IFINDEX, ifindex)):
        a = nl.parse(body)
        for _t, item in nl.parse_list(a.get(ATTR_LIST_OPTION, b"")):
            o = nl.parse(item)
            if OPT_NAME in o and OPT_PORT_IFINDEX not in o:
                out[nl.get_str(o[OPT_NAME])] = bytes(o[OPT_DATA]) if OPT_DATA in o else None
    return out


def state(g, ifindex):
    """(mode, active port ifindex or None)."""
    o = options(g, ifindex)
    mode = nl.get_str(o["mode"]) if o.get("mode") else None
    ap = o.get("activeport")
    return mode, (nl.get_u32(ap) or None) if ap else None
