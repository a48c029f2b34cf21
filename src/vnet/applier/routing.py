"""The steps of addresses and routes, each returning its undo, and what an
undo puts back of the routes the kernel drops with a device, an address or
a nexthop."""
import errno
import ipaddress

from ..kernel import netlink, rtnl
from ..topology.model import key_networks
from . import entries, nexthops


def addr_add(ctx, rec, key, a, remember=False):
    """Add address ``a`` to device ``key`` (``remember``: on the record, a
    device vnet did not make: lo's, taken away once no longer declared).
    There already (an IPv6 address kept as its device went down, with
    keep_addr_on_down): nothing to undo."""
    try:
        rtnl.add_addr(ctx.sock(key[0]), ctx.ifindex(*key), a)
    except netlink.NetlinkError as e:
        if e.errno != errno.EEXIST:
            raise
        return None
    if remember:
        rec.remember_address(key, a)
    return lambda: addr_del(ctx, rec, key, a)


def addr_del(ctx, rec, key, a):
    """Delete address ``a`` of device ``key``; its undo adds it back, and
    the IPv4 routes the kernel dropped with it (``_dropped_with``)."""
    routes = _dropped_with(ctx, key, a)
    try:
        rtnl.del_addr(ctx.sock(key[0]), ctx.ifindex(*key), a)
    except netlink.NetlinkError as e:
        if e.errno != errno.EADDRNOTAVAIL:
            raise
        rec.forget_address(key, a)
        return None   # gone already (with its primary, say): nothing to put back
    ctx.addresses_gone.add((key, a))
    remembered = rec.forget_address(key, a)

    def undo():
        addr_add(ctx, rec, key, a, remembered)
        routes_back(ctx, routes)
    return undo


def _dropped_with(ctx, key, a):
    """The IPv4 routes (someone's too) that the kernel drops as address
    ``a`` of device ``key`` goes: those with it as their source
    (fib_sync_down_addr), where the routes were read, and when it is the
    device's last IPv4 address (those deleted before it in this apply
    counted), every one through the device (fib_disable_ip)."""
    dev = ctx.state.device(*key)
    if a.version != 4 or dev is None:
        return ()
    last = not [x for x in dev.addresses if x.version == 4 and x != a and (key, x) not in ctx.addresses_gone]
    routes = ctx.around(*key)[0] if last else ctx.read_routes(key[0])
    through = routes_through([(dev, routes)]) if last else []
    sourced = [r for r in routes if r.restorable and r.src is not None and str(r.src) == str(a.ip)]
    return [r for r in through + [r for r in sourced if r not in through] if r.to.version == 4]


def route_args(ctx, ns, to, via, dev, metric, table):
    """rtnl.add_route's and del_route's arguments for route key (ns, to,
    via, dev, metric, table) (``to`` with its source prefix, if any:
    ``route_source``)."""
    return (key_networks(to)[0], ipaddress.ip_address(via) if via else None,
            ctx.ifindex(ns, dev) if dev else 0, metric, table)


def _hops(ctx, ns, next_hops):
    """A route's next hops ((via text, dev, weight), ...) as rtnl takes them."""
    return [(ipaddress.ip_address(via) if via else None, ctx.ifindex(ns, dev) if dev else 0, weight)
            for via, dev, weight in next_hops]


def route_source(rk):
    """The source prefix of route key ``rk`` (an IPv6 route's `from`), or None."""
    return key_networks(rk[1])[1]


def _route_put(ctx, rk, attrs, raw=None, place=None):
    """Add the route ``rk`` with ``attrs`` (src, scope, onlink, type, next
    hops, metrics, nhid, protocol, pref; a scope of None: the default, as for an IPv6 route), or
    as the kernel's message ``raw`` showed it (rtnl.add_route_again); with
    ``place`` ("first", "last"), beside the route in its slot (rtnl.PLACES)."""
    src, scope, onlink, rtype, next_hops, metrics, nhid, protocol, pref = attrs
    hops = _hops(ctx, rk[0], next_hops)
    if raw is not None:
        rtnl.add_route_again(ctx.sock(rk[0]), raw, ctx.ifindex(rk[0], rk[3]) if rk[3] else None, [h[1] for h in hops],
                             place)
        return
    rtnl.add_route(ctx.sock(rk[0]), *route_args(ctx, *rk), src=ipaddress.ip_address(src) if src else None,
                   scope=scope, onlink=onlink, rtype=rtype, hops=hops, metrics=metrics, nhid=nhid, protocol=protocol,
                   pref=pref, place=place, source=route_source(rk))


def route_add(ctx, rec, r):
    _route_put(ctx, r.key, r.attrs)
    _remember_route(rec, r.key)
    return lambda: route_del(ctx, rec, r.key, r.attrs)


def _remember_route(rec, rk):
    if tuple(rk) not in rec.routes:   # once: a route added again after drift is one route
        rec.routes.append(tuple(rk))


def route_del(ctx, rec, rk, attrs, raw=None, place=None):
    """Delete route ``rk``; its undo adds it back as it was, with ``attrs``
    (or as ``raw``, the kernel's message, showed it), and on the record if
    it was (a route someone else made stays theirs); ``place``: beside the
    declared route of its slot, "first" or "last", where it goes back."""
    rk = tuple(rk)
    exact = _exactly(ctx, rk[0], attrs) if place is not None and key_networks(rk[1])[0].version == 4 else None
    return entries.deleted(lambda: rtnl.del_route(ctx.sock(rk[0]), *route_args(ctx, *rk), exact=exact,
                                                  source=route_source(rk)),
                           errno.ESRCH, lambda: _route_put(ctx, rk, attrs, raw, place), rec.routes, rk)


def _exactly(ctx, ns, attrs):
    """What tells an IPv4 route of ``attrs`` from the others of its slot,
    for its deletion (rtnl.del_route): its source, scope, type, next hops,
    nexthop object and protocol. (IPv6 merges the routes of a slot through
    a gateway into one multipath route, each next hop with its own
    protocol: a deletion saying one would leave the others.)"""
    src, scope, _onlink, rtype, next_hops, _metrics, nhid, protocol, _pref = attrs
    return {"src": ipaddress.ip_address(src) if src else None, "scope": scope, "rtype": rtype,
            "hops": _hops(ctx, ns, next_hops), "nhid": nhid, "protocol": protocol}


def nexthops_and_routes_back(ctx, nhs, routes):
    """The routes not through a nexthop object first (a nexthop's gateway
    may be reached by one), then the nexthops ``nhs``, then the routes
    through them."""
    routes_back(ctx, [r for r in routes if r.nhid is None])
    nexthops.put_back(ctx, nhs)
    routes_back(ctx, [r for r in routes if r.nhid is not None])


def routes_back(ctx, routes):
    """Observed ``routes`` added again: those through a device alone first
    (a gateway may be reached by one); then again what failed while any
    went in: the first error left is said."""
    todo = sorted(routes, key=lambda r: r.via is not None or bool(r.nexthops))
    while todo:
        failed = []
        for r in todo:
            try:
                route_back(ctx, r)
            except netlink.NetlinkError as e:
                failed.append((r, e))
        if len(failed) == len(todo):
            raise failed[0][1]
        todo = [r for r, _e in failed]


def route_back(ctx, r):
    """Observed route ``r`` added again (there already: nothing; through a
    device that is not back yet, another's undo: left to that one's)."""
    try:
        index = {d: ctx.ifindex(r.netns, d) for d in {r.dev} | {d for _v, d, _w in r.nexthops} if d}
    except netlink.NetlinkError as e:
        if e.errno == errno.ENODEV:
            return
        raise
    try:
        if r.raw is not None:   # as someone made it: its protocol, metrics...
            rtnl.add_route_again(ctx.sock(r.netns), r.raw, index.get(r.dev, 0),
                                 [index.get(d, 0) for _v, d, _w in r.nexthops])
        else:
            rtnl.add_route(ctx.sock(r.netns), r.to, r.via, index.get(r.dev, 0), r.metric, r.table,
                           ipaddress.ip_address(r.src) if r.src else None, r.scope, r.onlink, r.type,
                           [(v, index.get(d, 0), w) for v, d, w in r.nexthops], metrics=r.metrics, nhid=r.nhid,
                           protocol=r.proto, pref=r.pref, source=r.source)
    except netlink.NetlinkError as e:
        if e.errno == errno.EINVAL and r.nhid is not None and not nexthops.exists(ctx, r.netns, r.nhid):
            return   # its nexthop is not back yet: left to the undo that makes it (and puts it back)
        if e.errno != errno.EEXIST:
            raise


def routes_through(devs):
    """The observed routes someone (or vnet) made through the devices of
    ``devs`` [(device, the routes read there: context.Context.around)], which the
    kernel drops with them: for an undo to put back once the devices are
    made again."""
    out = []
    for d, routes in devs:
        for r in routes:
            if r.restorable and r not in out and \
                    (r.dev == d.name or any(dev == d.name for _v, dev, _w in r.nexthops)):
                out.append(r)
    return out


def nh_del(ctx, rec, old, through):
    return nexthops.nh_del(ctx, rec, old, through, route_back)


def nh_remake(ctx, rec, nh, old, through):
    return nexthops.nh_remake(ctx, rec, nh, old, through, route_back)

