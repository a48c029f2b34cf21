"""Nexthop objects: what the file declares against what the kernel holds
and what the record says vnet made. A changed one is replaced in place
(the routes through it stay); one the kernel drops with its device is made
again, and the routes through it with it."""
from ..topology.model import HOST, nexthop_text
from .changes import Change


def plan_nexthops(p):
    """Nexthops to make (members before groups), to replace, and those vnet
    made that the file no longer declares (groups before members, after
    the routes that go)."""
    live = {nh.key: nh for nhs in p.state.nexthops.values() for nh in nhs}
    recorded = {tuple(k) for k in p.record.nexthops}
    p.nh_gone = _dropped(p, live)
    declared = [nh for nh in p.topo.nexthops if p.in_scope(nh.netns)]
    for nh in sorted(declared, key=lambda n: bool(n.group)):
        have = None if nh.key in p.nh_gone else live.get(nh.key)
        if have is not None and nh.key not in recorded and nh.netns not in p.topo.namespaces:
            p.conflicts.append(f"{nh.path}: nexthop {nh.id} exists in {_where(nh.netns)} and is not vnet's: vnet "
                               "does not replace it (give another id)")
        elif have is None:
            why = "its device is made again (the kernel drops it)" if nh.key in p.nh_gone else "missing"
            p.nexthops.append(Change("create", nh.label, why, ("nh_add", nh)))
        elif have.attrs != nh.attrs:
            p.nexthops.append(Change("modify", nh.label, f"{nexthop_text(have.attrs)} -> {nexthop_text(nh.attrs)}: replaced in "
                                     "place (the routes through it stay)", ("nh_set", nh, have)))
    names = {nh.key for nh in declared}
    going = [live[k] for k in recorded if k not in names and k in live and k not in p.nh_gone and p.in_scope(k[0])]
    for have in sorted(going, key=lambda n: (not n.group, n.key)):
        through = [r for r in p.state.routes.get(have.netns, ()) if r.nhid == have.id]
        p.removals.append(Change("delete", f"nexthop {have.id}" + ("" if have.netns is HOST else f" in {have.netns}"),
                                 "no longer declared", ("nh_del", have, through)))


def _dropped(p, live):
    """(netns, id) of the nexthops the kernel drops with the devices the
    plan deletes or makes again: through one, or a group of such only."""
    out = {k for k, nh in live.items() if nh.dev and (k[0], nh.dev) in p.gone}
    out |= {k for k, nh in live.items() if nh.group and all((k[0], m) in out for m, _w in nh.group)}
    return out


def _where(ns):
    return "vnet's own namespace" if ns is HOST else f"namespace {ns}"

