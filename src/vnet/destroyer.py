"""Destroy: remove everything a topology owns, as its record names it. Only
vnet's own namespace is observed; the topology's namespaces go whole."""
import errno

from .applier.steps import Context, _release_recorded, _route_args   # the same steps as undo
from .kernel import netlink, rtnl, sysctl
from .observer import observe
from .planner import route_label


def remove_owned(k, rec, on_removed=None):
    """Destroy: remove what ``rec`` owns. Only vnet's own namespace is
    observed; everything in the topology's namespaces goes with them.
    Returns what went, each also given to ``on_removed`` as it goes."""
    removed = _Removed(on_removed)
    st = observe(k, [None], routes_in=[None] if any(r[0] is None for r in rec.routes) else [])
    ctx = Context(k, st, rec.group)
    for rk in rec.routes:
        if rk[0] is None:
            try:
                rtnl.del_route(k.sock(None), *_route_args(ctx, *rk))
                removed.append(route_label(rk))
            except (netlink.NetlinkError, ValueError):
                pass   # gone with its device
    for (ns, key), old in rec.sysctls.items():
        if ns is None and old is not None:
            sysctl.write(key, old)
            removed.append(f"sysctl {key} restored to {old}")
    _release_recorded(k, rec)
    host = st.namespaces.get(None, {})
    mine = [d for d in host.values() if rec.owns_device(d)]
    tagged = [d for d in host.values() if d.group == rec.group]
    if mine and len(tagged) == len(mine):
        rtnl.del_group(k.sock(None), rec.group)   # one request, one synchronize_net
    else:
        for d in mine:
            try:
                rtnl.del_link(k.sock(None), d.ifindex)
            except netlink.NetlinkError as e:
                if e.errno != errno.ENODEV:
                    raise
    for d in mine:
        removed.append(f"link {d.name}")
    for ns in rec.namespaces:
        k.delete_ns(ns)
        removed.append(f"netns {ns}")
    rec.remove()
    return list(removed)


class _Removed(list):
    """What a destroy removed, each said to ``said`` as it is added."""

    def __init__(self, said):
        super().__init__()
        self.said = said

    def append(self, what):
        super().append(what)
        if self.said is not None:
            self.said(what)
