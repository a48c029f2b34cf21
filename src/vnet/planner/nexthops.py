"""Nexthop objects: what the file declares against what the kernel holds
and what the record says vnet made. A changed one is replaced in place
(the routes through it stay), or, where the kernel replaces none (a single
one to a group, a resilient group), deleted and made again with the routes
through it; one the kernel drops with its device is made again, and the
routes through it with it; a group a member was taken out of is set again."""
from ..kernel.rtnl import RTPROT_STATIC
from ..topology.model import HOST, nexthop_label, nexthop_text
from .changes import Change


def plan_nexthops(p):
    """Nexthops to make (members before groups), to replace, and those vnet
    made that the file no longer declares: deleted first (groups before
    members), but the members of a group that stays, once it no longer
    names them; forgotten where the kernel has none (or someone else's)."""
    live = {nh.key: nh for nhs in p.state.nexthops.values() for nh in nhs}
    recorded = {tuple(k) for k in p.record.nexthops}
    p.nh_gone = _dropped(p, live)
    declared = [nh for nh in p.topo.nexthops if p.in_scope(nh.netns)]
    remade = set()
    for nh in sorted(declared, key=lambda n: bool(n.group)):
        have = None if nh.key in p.nh_gone else live.get(nh.key)
        if have is not None and nh.key not in recorded and nh.netns not in p.topo.namespaces:
            p.conflicts.append(f"{nh.path}: nexthop {nh.id} exists in {_where(nh.netns)} and is not vnet's: vnet "
                               "does not replace it (give another id)")
        elif have is None:
            why = "its device is made again (the kernel drops it)" if nh.key in p.nh_gone else "missing"
            p.nexthops.append(Change("create", nh.label, why, ("nh_add", nh)))
        elif bool(have.group) != bool(nh.group) or have.attrs[-1]:
            remade.add(nh.key)
            p.nexthops.append(Change("recreate", nh.label, f"{nexthop_text(have.attrs)} -> {nexthop_text(nh.attrs)}: "
                                     "deleted and made again, with the routes through it (the kernel replaces a "
                                     "nexthop only by one of its sort)", ("nh_remake", nh, have, _through(p, have))))
        elif have.attrs != nh.attrs:
            p.nexthops.append(Change("modify", nh.label, f"{nexthop_text(have.attrs)} -> {nexthop_text(nh.attrs)}: "
                                     "replaced in place (the routes through it stay)", ("nh_set", nh, have)))
        elif any((nh.netns, m) in p.nh_gone for m, _w in nh.group):
            p.nexthops.append(Change("modify", nh.label, "a member is made again (the kernel takes it out of the "
                                     "group with its device): set again", ("nh_set", nh, have)))
    p.nh_gone |= remade   # (the routes through them are made again after them)
    _not_declared(p, live, recorded, {nh.key for nh in declared})


def _not_declared(p, live, recorded, names):
    """The nexthops vnet made that the file no longer declares: deleted, or
    forgotten when gone (or someone else's since: not vnet's protocol)."""
    kept_members = {(k[0], m) for k, nh in live.items() if k in names for m, _w in nh.group}
    early = []
    for k in sorted(recorded - names, key=lambda k: (k[0] or "", k[1])):
        have = live.get(k)
        if not p.in_scope(k[0]):
            continue
        label = nexthop_label(*k)
        if have is None or k in p.nh_gone or have.proto != RTPROT_STATIC:
            why = "gone already" if have is None or k in p.nh_gone else \
                "someone else's now (not made by vnet): left as it is"
            p.removals.append(Change("delete", label, f"no longer declared; {why}: forgotten", ("nh_forget", k)))
            continue
        change = Change("delete", label, "no longer declared", ("nh_del", have, _through(p, have)))
        if k in kept_members:
            p.nh_removals.append(change)   # once the group that stays no longer names it
        else:
            early.append((not have.group, change))
    p.removals[0:0] = [c for _g, c in sorted(early, key=lambda x: x[0])]   # groups first


def _through(p, have):
    """The observed routes through nexthop ``have`` (the kernel deletes them with it)."""
    return [r for r in p.state.routes.get(have.netns, ()) if r.nhid == have.id]


def _dropped(p, live):
    """(netns, id) of the nexthops the kernel drops with the devices the
    plan deletes or makes again: through one, or a group of such only."""
    out = {k for k, nh in live.items() if nh.dev and (k[0], nh.dev) in p.gone}
    out |= {k for k, nh in live.items() if nh.group and all((k[0], m) in out for m, _w in nh.group)}
    return out


def _where(ns):
    return "vnet's own namespace" if ns is HOST else f"namespace {ns}"
