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
    _remember(rec, nh.key)   # (an undo's record is the journal's: as it was held before)
    return lambda: nexthop.add_nexthop(ctx.sock(nh.netns), nh.id, replace=True, proto=old.proto, **_fields(ctx, old))


def dropped_with(state, ns, names):
    """What the kernel drops with the devices ``names`` of ``ns`` (deleted,
    or taken down), as the plan observed it: (the nexthops through them and
    the groups they are members of, singles first; the routes through any
    of those), for an undo to put back (``put_back``) once they are back."""
    nhs = state.nexthops.get(ns, ())
    singles = [nh for nh in nhs if nh.dev in names and not nh.unwritable]
    ids = {nh.id for nh in singles}
    groups = [nh for nh in nhs if nh.group and ids & {m for m, _w in nh.group} and not nh.unwritable]
    ids |= {nh.id for nh in groups}
    return singles + groups, [r for r in state.routes.get(ns, ()) if r.nhid in ids]


def exists(ctx, ns, nhid):
    """Does the kernel hold nexthop ``nhid`` in ``ns``?"""
    return any(i == nhid for i, *_rest in nexthop.dump_nexthops(ctx.sock(ns)))


def put_back(ctx, nhs):
    """Nexthops ``nhs`` (``dropped_with``) made again as they were, with
    their protocol: a group the kernel kept with fewer members set whole;
    one with a member not back yet (another undo's, which sets it) left."""
    for nh in nhs:
        try:
            nexthop.add_nexthop(ctx.sock(nh.netns), nh.id, replace=True, proto=nh.proto, **_fields(ctx, nh))
        except netlink.NetlinkError as e:
            if not nh.group or e.errno not in (errno.EINVAL, errno.ENOENT):
                raise


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
    makes it again, sets whole again the groups the kernel took it out of,
    then puts back the routes ``through`` it the kernel deleted with it
    (``route_back``: how an undo adds an observed route again)."""
    groups = [g for g in ctx.state.nexthops.get(old.netns, ()) if old.id in {m for m, _w in g.group}
              and not g.unwritable]
    ids = {g.id for g in groups}   # (one the kernel deletes once empty: with its routes)
    through = list(through) + [r for r in ctx.state.routes.get(old.netns, ()) if r.nhid in ids]
    try:
        nexthop.del_nexthop(ctx.sock(old.netns), old.id)
    except netlink.NetlinkError as e:
        if e.errno != errno.ENOENT:
            raise
        _forget(rec, old.key)
        return lambda: None
    _forget(rec, old.key)

    def undo():   # (made already by another undo that put back what a device took: set as it was)
        nexthop.add_nexthop(ctx.sock(old.netns), old.id, replace=True, proto=old.proto, **_fields(ctx, old))
        _remember(rec, old.key)
        put_back(ctx, groups)
        for r in through:
            route_back(ctx, r)
    return undo
