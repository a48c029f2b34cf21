"""The steps of nexthop objects: made, replaced in place, deleted; each
returns its undo. A deletion takes the routes through the object with it
(the kernel's), which its undo puts back."""
import errno

from ..kernel import netlink, nexthop


def _fields(ctx, nh):
    """add_nexthop's fields of a declared or observed nexthop."""
    return dict(family=nh.family, gw=nh.via, oif=ctx.ifindex(nh.netns, nh.dev) if nh.dev else 0, onlink=nh.onlink,
                blackhole=nh.blackhole, group=nh.group)


def _remember(rec, key):
    if key not in rec.nexthops:
        rec.nexthops.append(key)


def _forget(rec, key):
    if key in rec.nexthops:
        rec.nexthops.remove(key)


def nh_add(ctx, rec, nh):
    nexthop.add_nexthop(ctx.sock(nh.netns), nh.id, **_fields(ctx, nh))
    _remember(rec, nh.key)

    def undo():
        nexthop.del_nexthop(ctx.sock(nh.netns), nh.id)
        _forget(rec, nh.key)
    return undo


def nh_set(ctx, rec, nh, old):
    """``nh`` in place of the nexthop there (observed as ``old``), its
    routes kept; the undo puts ``old`` back, with its protocol."""
    nexthop.add_nexthop(ctx.sock(nh.netns), nh.id, replace=True, **_fields(ctx, nh))
    was = nh.key in rec.nexthops
    _remember(rec, nh.key)

    def undo():
        nexthop.add_nexthop(ctx.sock(nh.netns), nh.id, replace=True, proto=old.proto, **_fields(ctx, old))
        if not was:
            _forget(rec, nh.key)
    return undo


def nh_remake(ctx, rec, nh, old, through, route_back):
    """Delete nexthop ``old`` (the routes ``through`` it go with it) and make
    ``nh`` in its place (of another sort: the kernel replaces none such);
    the undo puts ``old`` back, then its routes."""
    undo_del = nh_del(ctx, rec, old, through, route_back)
    try:
        undo_add = nh_add(ctx, rec, nh)
    except BaseException:
        undo_del()
        raise

    def undo():
        undo_add()
        undo_del()
    return undo


def nh_forget(ctx, rec, key):
    """Take nexthop ``key`` off the record (the kernel has it no more, or it is someone else's)."""
    _forget(rec, key)
    return lambda: _remember(rec, key)


def nh_del(ctx, rec, old, through, route_back):
    """Delete nexthop ``old`` (gone already: nothing to undo); the undo
    makes it again, then the routes ``through`` it the kernel deleted with
    it (``route_back``: how an undo adds an observed route again)."""
    try:
        nexthop.del_nexthop(ctx.sock(old.netns), old.id)
    except netlink.NetlinkError as e:
        if e.errno != errno.ENOENT:
            raise
        _forget(rec, old.key)
        return lambda: None
    _forget(rec, old.key)

    def undo():
        nexthop.add_nexthop(ctx.sock(old.netns), old.id, proto=old.proto, **_fields(ctx, old))
        _remember(rec, old.key)
        for r in through:
            route_back(ctx, r)
    return undo
