"""Destroy: remove everything a topology owns, as its record names it. Only
vnet's own namespace is observed; the topology's namespaces go whole."""
import contextlib
import errno
import signal

from .applier.context import Context   # as undo's
from .applier.devices import release_lowers, release_recorded, stacked_namespaces
from .applier.routing import route_args, route_source
from .kernel import neighbours, netlink, rtnl, rules, sysctl
from .kinds import BY_NAME
from .ownership import undo_group
from .observer import observe
from .planner import route_label
from .topology.model import where
from .topology.neighbour import key_label
from .topology.rule import entry_rule


def remove_owned(k, rec, on_removed=None):
    """Destroy: remove what ``rec`` owns. Only vnet's own namespace and
    those it joined are observed; everything in the topology's namespaces
    goes with them. Returns what went, each also given to ``on_removed`` as
    it goes."""
    removed, refused = _Removed(on_removed), []
    for ns in _kept_namespaces(k, rec):
        _remove_in(k, rec, ns, removed, refused)
    stacked = stacked_namespaces(rec)
    for ns in rec.namespaces:
        if ns in stacked:
            release_lowers(k, rec, ns)
        k.delete_ns(ns)
        removed.append(f"netns {ns}")
    rec.remove()
    if refused:
        _kept(rec, refused)
    return list(removed)


def _kept(rec, refused):
    """A record of the rules destroy left (the kernel would have deleted
    someone's in their place), for a later destroy; said as a PlanError."""
    from .errors import PlanError
    from .ownership import Record
    left = Record(rec.name, {"group": rec.group, "source": rec.source})
    left.rules = [entry for entry, _why in refused]
    left.save()
    raise PlanError("\n".join(f"vnet destroy: left {entry_rule(entry).label}: {why}" for entry, why in refused)
                    + f"\n(the rest of {rec.name} is destroyed; its record keeps these: `vnet destroy {rec.name}` "
                      "again once that rule is gone or after it)")


def _kept_namespaces(k, rec):
    """vnet's own namespace, and the namespaces it joined (by path) that
    still exist: those outlive the topology, so its devices there go one by one."""
    nss = dict.fromkeys([None] + [ns for ns, _ in rec.devices]
                        + [x[0] for x in rec.routes + rec.rules + rec.neighbours + rec.nexthops])
    return [ns for ns in nss if ns is None or (ns not in rec.namespaces and k.has(ns))]


# a record with at most this many devices in a namespace (an attachment of
# the CNI plugin: one or two) has them asked for by name, not the namespace
# dumped: a host with thousands of devices costs no more than one without
FEW = 4


def _remove_in(k, rec, ns, removed, refused):
    """The routes, rules, neighbours, sysctls and devices ``rec`` owns in namespace ``ns``."""
    _remove_neighbours(k, rec, ns, removed)
    for entry in rec.rules:
        if entry[0] == ns:
            r = entry_rule(entry)
            try:
                if rules.del_rule(k.sock(ns), r, ns):
                    removed.append(r.label)
            except rules.InTheWay as e:   # left, kept on the record, and said: vnet never deletes a rule of someone's
                refused.append((entry, f"the kernel would delete the rule '{e.rule.text}' in its place"))
    if _by_name(rec, ns):
        return _remove_by_name(k, rec, ns, removed)
    st = observe(k, [ns], routes_in=[ns] if any(r[0] == ns for r in rec.routes) else [], fdb_in=())
    ctx = Context(k, st, rec.group)
    for rk in rec.routes:
        if rk[0] == ns:
            try:
                rtnl.del_route(k.sock(ns), *route_args(ctx, *rk), source=route_source(rk))
                removed.append(route_label(rk))
            except (netlink.NetlinkError, ValueError):
                pass   # gone with its device
    _remove_nexthops(k, rec, ns, removed)
    if ns is None:
        for (sns, key), old in rec.sysctls.items():
            if sns is None and old is not None:
                sysctl.write(key, old)
                removed.append(f"sysctl {key} restored to {old}")
        release_recorded(k, rec)
    here = st.namespaces.get(ns, {})
    mine = [d for d in here.values() if rec.owns_device(d)] + [d for d in rec.renamed(st) if d.netns == ns]
    tagged = [d for d in here.values() if d.group == rec.group]
    sock = k.sock(ns)
    by_group = mine and len(tagged) == len(mine)
    # one deletion: a stop waits for it (one by one, a stop between them is answered)
    with _signals_held() if by_group else contextlib.nullcontext():
        rtnl.before_deleting(sock, [d.ifindex for d in mine], lambda: rec.mark_routes_dropped(ns))
        if by_group:
            rtnl.del_group(sock, rec.group)   # one request, one synchronize_net
        for d in mine if not by_group else ():
            _delete_link(sock, d.ifindex)
    for d in mine:
        removed.append(f"link {d.name}" if ns is None else f"link {ns}/{d.name}")
    for d, lower in _theirs_on(here, mine):
        removed.append(f"link {where(ns, d.name)} (not vnet's: the kernel deleted it with its lower device {lower})")


def _theirs_on(here, mine):
    """[(device, lower's name)] of the devices of ``here`` someone else
    stacked on one of ``mine`` (a macvlan of theirs), which the kernel
    deletes with it: destroy says so (an apply refuses: planner)."""
    names = {d.name for d in mine}
    out = []
    for d in here.values():
        if d.lower is not None and d.lower[1] in names and d.name not in names:
            out.append((d, d.lower[1]))
    return out


def _remove_nexthops(k, rec, ns, removed):
    """The nexthop objects vnet made in ``ns`` (the routes through them go
    with them; gone already with their device, or by hand: nothing to do;
    one of that id someone made since, not of vnet's protocol: left)."""
    from .kernel import nexthop
    from .topology.model import nexthop_label
    mine = [nhid for nns, nhid in rec.nexthops if nns == ns]
    if not mine:
        return
    ours = {i for i, *_f, proto, _why in nexthop.dump_nexthops(k.sock(ns)) if proto == rtnl.RTPROT_STATIC}
    for nhid in mine:
        if nhid in ours:
            with contextlib.suppress(netlink.NetlinkError):
                nexthop.del_nexthop(k.sock(ns), nhid)
                removed.append(nexthop_label(ns, nhid))


def _remove_neighbours(k, rec, ns, removed):
    """The static neighbours vnet made in ``ns`` (gone already with their
    device, or by hand: nothing to do)."""
    import ipaddress
    for key in rec.neighbours:
        if key[0] != ns:
            continue
        ln = rtnl.get_link(k.sock(ns), key[1])
        with contextlib.suppress(netlink.NetlinkError):
            if ln is not None:
                neighbours.del_neighbour(k.sock(ns), ln.ifindex, ipaddress.ip_address(key[2]), key[3])
                removed.append(key_label(key))


@contextlib.contextmanager
def _signals_held():
    """SIGINT, SIGTERM and SIGHUP held back until the block is done (in
    this thread: the command line's only one). A stop between a device's
    routes going and the device is recovered from (``Record.routes_dropped``:
    the next apply makes the device again), but need not happen where the
    one deletion after them is as long to wait for as to interrupt."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _by_name(rec, ns):
    """Can ``rec``'s devices in ``ns`` go by name alone? Few of them, no
    sysctl of vnet's own namespace to restore (one in a joined namespace,
    a CNI container's arp_notify, is not restored by either way: it goes
    with its device or stays with the namespace), and every route there
    on one of them (it goes with its device), no nexthop object."""
    names = {n for dns, n in rec.devices if dns == ns}
    return len(names) <= FEW and (ns is not None or not any(sns is None for sns, _ in rec.sysctls)) \
        and all(r[3] in names for r in rec.routes if r[0] == ns) and not any(n[0] == ns for n in rec.nexthops)


def _remove_by_name(k, rec, ns, removed):
    """``rec``'s devices in ``ns`` asked for by name and deleted; where one
    is not there under its name (but a pair's end, which goes with its
    peer's namespace: a CNI container's), the namespace is read for one of
    ours renamed or moved there by hand (``Record.renamed``), which goes too."""
    if ns is None:
        release_recorded(k, rec)
    sock = k.sock(ns)
    names = [name for dns, name in rec.devices if dns == ns]
    links = {name: rtnl.get_link(sock, name) for name in names}
    for name, ln in links.items():
        if ln is None or ln.group not in (rec.group, undo_group(rec.group)):
            continue   # gone already (with its lower device), or not ours
        _delete_link(sock, ln.ifindex)
        removed.append(f"link {where(ns, name)}")
    if any(ln is None and not getattr(BY_NAME.get(rec.devices[(ns, name)]), "peer", False)
           for name, ln in links.items()):   # (a pair's end is gone with its peer's namespace: no dump for it)
        for d in rec.renamed(observe(k, [ns], routes_in=(), fdb_in=())):
            if d.netns == ns:
                _delete_link(sock, d.ifindex)
                removed.append(f"link {where(ns, d.name)}")


def _delete_link(sock, ifindex):
    try:
        rtnl.del_link(sock, ifindex)
    except netlink.NetlinkError as e:
        if e.errno != errno.ENODEV:   # (gone with its peer)
            raise


class _Removed(list):
    """What a destroy removed, each said to ``said`` as it is added."""

    def __init__(self, said):
        super().__init__()
        self.said = said

    def append(self, what):
        super().append(what)
        if self.said is not None:
            self.said(what)
