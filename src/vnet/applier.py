"""Execute a Plan: each step journaled with its inverse; on any failure every
step already done is undone in reverse and the error names the step. After
success the kernel is observed again and must match the file."""
import contextlib
import errno
import signal

from .declare import to_interface
from .errors import Interrupted, KernelError, VerifyError, VnetError
from .kernel import netlink, rtnl, sysctl
from .kinds import BY_NAME
from .ownership import undo_group
from .topology.model import where


class Context:
    """What kind modules get to act on the kernel: sockets and fds per
    namespace, ifindex lookup, the topology's link group tag."""

    def __init__(self, k, state, group, topo=None):
        self.k = k
        self.group = group
        self._index = {d.key: d.ifindex for d in state.devices()}
        self._kinds = {key: i.kind_module for key, (i, _e) in topo.by_key().items()} if topo else {}
        for d in state.devices():
            if d.kind:
                self._kinds.setdefault(d.key, d.kind)

    def joins_down(self, endpoint):
        """Must ``endpoint`` be down to join its master?"""
        m = endpoint.master_key() if endpoint.master else None
        return bool(m and getattr(self._kinds.get(m), "ports_join_down", False))

    def joined(self, endpoint):
        """``endpoint`` was just made a port of its master: the master's kind
        may confirm it (teamd sometimes drops a port added as it appears)."""
        m = endpoint.master_key() if endpoint.master else None
        kind = self._kinds.get(m)
        if kind is not None:
            kind.port_joined(self, endpoint)

    def sock(self, ns):
        return self.k.sock(ns)

    def fd(self, ns):
        """The namespace's fd; a namespace that is gone is an error (never
        None, which would mean the namespace vnet runs in)."""
        fd = self.k.fd(ns)
        if fd is None and ns is not None:
            raise FileNotFoundError(errno.ENOENT, f"network namespace {ns!r} does not exist (removed by someone else?)")
        return fd

    def genl(self, ns, family):
        return self.k.genl(ns, family)

    def entered(self, ns):
        return self.k.entered(ns)

    def ifindex(self, ns, name):
        i = self._index.get((ns, name))
        if i is None:
            ln = rtnl.get_link(self.k.sock(ns), name)
            if ln is None:
                raise netlink.NetlinkError(errno.ENODEV, f"device {where(ns, name)} not found")
            i = self._index[(ns, name)] = ln.ifindex
        return i

    def learn(self, key, ifindex):
        self._index[key] = ifindex

    def forget(self, ns, name):
        self._index.pop((ns, name), None)

    def forget_ns(self, ns):
        for key in [k for k in self._index if k[0] == ns]:
            del self._index[key]


# ---- the operations: each does its step and returns its inverse ------------

def _ns_create(ctx, rec, ns, how=None):
    """Make namespace ``ns``; ``how``: "finish" one left half made (a
    /run/netns entry that is not a namespace yet), "lo" bring up the lo of
    one made by an apply stopped before it did (nothing to undo)."""
    if how == "lo":
        ctx.k.lo_up(ns)
        return None
    try:
        ctx.k.create_ns(ns, finish=how == "finish")
    except BaseException as err:   # stopped half way: not left half made (unless the name is taken)
        if getattr(err, "errno", None) != errno.EEXIST:
            with contextlib.suppress(Exception):
                ctx.k.delete_ns(ns)
        raise
    if ns not in rec.namespaces:
        rec.namespaces.append(ns)
    return lambda: _ns_delete(ctx, rec, ns)


def _release_recorded(k, rec, only_ns=False, ns=None):
    """Stop what vnet runs for the recorded devices (teamd, tunnels), all of
    them or those of namespace ``ns``, before their devices go."""
    for (dns, name), kind in list(rec.devices.items()):
        if (not only_ns or dns == ns) and kind in BY_NAME:
            BY_NAME[kind].release(k, dns, name)


def _ns_delete(ctx, rec, ns):
    _release_recorded(ctx.k, rec, only_ns=True, ns=ns)
    ctx.forget_ns(ns)
    ctx.k.delete_ns(ns)
    if ns in rec.namespaces:
        rec.namespaces.remove(ns)
    return lambda: _ns_create(ctx, rec, ns)


def _create(ctx, rec, iface):
    for e in iface.endpoints():
        ctx.forget(*e.key)
        rec.devices[e.key] = iface.kind
    try:
        iface.kind_module.create(ctx, iface)
        _tag_and_settle(ctx, iface)
    except BaseException as err:
        # what the step made before it failed (a TUN the kernel would not
        # enslave, a tunnel that did not start) goes too; a name someone
        # else holds (EEXIST) is theirs
        if getattr(err, "errno", None) != errno.EEXIST:
            with contextlib.suppress(Exception):
                _delete_iface(ctx, rec, iface)
        raise
    return lambda: _delete_iface(ctx, rec, iface)


def _tag_and_settle(ctx, iface):
    """What a creation request cannot carry for a peer: its group tag, its
    master and its up state (the kernel refuses to bring a peer up in
    another namespace at creation: ENOTCONN on 6.18)."""
    for i, e in enumerate(iface.endpoints()):
        if i == 0:
            if e.up and ctx.joins_down(e) and iface.kind_module.creatable:
                rtnl.set_link(ctx.sock(e.netns), ctx.ifindex(*e.key), up=True)
            continue
        sock = ctx.sock(e.netns)
        attrs = rtnl.link_attrs(group=ctx.group, master=ctx.ifindex(*e.master_key()) if e.master else None)
        # by name: the peer's index would cost a query, the name is known
        rtnl.set_link_by_name(sock, e.name, up=None if ctx.joins_down(e) else e.up, attrs=attrs)
        if e.master:
            ctx.joined(e)
        if ctx.joins_down(e) and e.up:
            rtnl.set_link_by_name(sock, e.name, up=True)


def _delete_iface(ctx, rec, iface):
    iface.kind_module.release(ctx.k, iface.netns, iface.name)
    try:
        rtnl.del_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key))
    except netlink.NetlinkError as e:
        if e.errno != errno.ENODEV:
            raise
    for e in iface.endpoints():
        ctx.forget(*e.key)
        rec.devices.pop(e.key, None)


def _dev_delete(ctx, rec, dev, state):
    old = to_interface(dev, state)
    if dev.kind:
        dev.kind.release(ctx.k, dev.netns, dev.name)
    try:
        rtnl.del_link(ctx.sock(dev.netns), dev.ifindex)
    except netlink.NetlinkError as e:
        if e.errno != errno.ENODEV:   # gone already: with its lower device, or its peer
            raise
    keys = [dev.key] + ([dev.peer] if dev.peer else [])
    for k in keys:
        ctx.forget(*k)
        rec.devices.pop(k, None)
    return (lambda: _restore(ctx, rec, old)) if old else None


def _restore(ctx, rec, iface):
    _create(ctx, rec, iface)
    for e in iface.endpoints():
        for a in e.addresses:
            rtnl.add_addr(ctx.sock(e.netns), ctx.ifindex(*e.key), a)


def _recreate(ctx, rec, iface, dev, state):
    undo_del = _dev_delete(ctx, rec, dev, state)
    try:
        undo_new = _create(ctx, rec, iface)
    except BaseException:
        if undo_del:
            undo_del()
        raise

    def undo():
        undo_new()
        if undo_del:
            undo_del()
    return undo


def _options(ctx, rec, iface, changed):
    iface.kind_module.modify(ctx, iface, changed)

    def undo():
        old = iface.replace(options={**iface.options, **changed})
        iface.kind_module.modify(ctx, old, {k: iface.options[k] for k in changed})
    return undo


def _set(ctx, rec, e, new, old):
    _set_fields(ctx, e, new)
    return lambda: _set_fields(ctx, e, old)


def _set_fields(ctx, e, fields):
    m = fields.get("master", False)
    attrs = rtnl.link_attrs(mtu=fields.get("mtu"), mac=fields.get("mac"), group=fields.get("group"),
                            master=None if m is False else (ctx.ifindex(*m) if m else 0))
    sock, idx = ctx.sock(e.netns), ctx.ifindex(*e.key)
    up = fields.get("up")
    if m and ctx.joins_down(e):   # down to join, then to the state it should have
        rtnl.set_link(sock, idx, up=False)
        rtnl.set_link(sock, idx, attrs=attrs)
        ctx.joined(e)
        rtnl.set_link(sock, idx, up=e.up)
        return
    rtnl.set_link(sock, idx, up=up, attrs=attrs)


def _addr_add(ctx, rec, key, a):
    rtnl.add_addr(ctx.sock(key[0]), ctx.ifindex(*key), a)
    return lambda: _addr_del(ctx, rec, key, a)


def _addr_del(ctx, rec, key, a):
    try:
        rtnl.del_addr(ctx.sock(key[0]), ctx.ifindex(*key), a)
    except netlink.NetlinkError as e:
        if e.errno != errno.EADDRNOTAVAIL:
            raise
        return None   # gone already (with its primary, say): nothing to put back
    return lambda: _addr_add(ctx, rec, key, a)


def _route_args(ctx, ns, to, via, dev, metric, table):
    import ipaddress
    return (ipaddress.ip_network(to), ipaddress.ip_address(via) if via else None,
            ctx.ifindex(ns, dev) if dev else 0, metric, table)


def _route_put(ctx, rk, attrs):
    """Add the route ``rk`` with ``attrs`` (src, scope, onlink; a scope of
    None: the default, as for an IPv6 route)."""
    import ipaddress
    src, scope, onlink = attrs
    rtnl.add_route(ctx.sock(rk[0]), *_route_args(ctx, *rk), src=ipaddress.ip_address(src) if src else None,
                   scope=scope, onlink=onlink)


def _route_add(ctx, rec, r):
    _route_put(ctx, r.key, r.attrs)
    _remember_route(rec, r.key)
    return lambda: _route_del(ctx, rec, r.key, r.attrs)


def _remember_route(rec, rk):
    if tuple(rk) not in rec.routes:   # once: a route added again after drift is one route
        rec.routes.append(tuple(rk))


def _route_del(ctx, rec, rk, attrs):
    """Delete route ``rk``; its undo adds it back as it was, with ``attrs``."""
    rk = tuple(rk)
    try:
        rtnl.del_route(ctx.sock(rk[0]), *_route_args(ctx, *rk))
    except netlink.NetlinkError as e:
        if e.errno != errno.ESRCH:
            raise
    while rk in rec.routes:
        rec.routes.remove(rk)

    def undo():
        _route_put(ctx, rk, attrs)
        _remember_route(rec, rk)
    return undo


def _sysctl_set(ctx, rec, ns, key, value):
    had = (ns, key) in rec.sysctls
    with ctx.entered(ns):
        old = sysctl.read(key)
        if not had:
            rec.sysctls[(ns, key)] = old
            if ns not in rec.namespaces:   # saved before the write: a stop right after it still restores it
                rec.save()
        try:
            sysctl.write(key, value)
        except OSError:
            if not had:
                rec.sysctls.pop((ns, key), None)
            raise

    def undo():
        with ctx.entered(ns):
            sysctl.write(key, old)
        if not had:
            rec.sysctls.pop((ns, key), None)
    return undo


def _sysctl_restore(ctx, rec, ns, key, old):
    """Put back the value found before vnet first set it, and forget it."""
    with ctx.entered(ns):
        now = sysctl.read(key)
        sysctl.write(key, old)
    rec.sysctls.pop((ns, key), None)

    def undo():
        with ctx.entered(ns):
            sysctl.write(key, now)
        rec.sysctls[(ns, key)] = old
    return undo


def _port_set(ctx, rec, e, master_kind):
    return master_kind.set_port(ctx, e)


OPS = {"sysctl_restore": _sysctl_restore, "port_set": _port_set, "ns_create": _ns_create, "ns_delete": _ns_delete, "dev_create": _create,
       "dev_options": _options, "dev_set": _set, "addr_add": _addr_add, "addr_del": _addr_del,
       "route_add": _route_add, "route_del": _route_del, "sysctl_set": _sysctl_set}
NEEDS_STATE = {"dev_delete": _dev_delete, "dev_recreate": _recreate}


class Stop(BaseException):
    """SIGINT or SIGTERM during an apply: raised where the apply stands."""


class Guard:
    """SIGINT/SIGTERM during an apply. While it observes and plans, and
    while it verifies, the signal raises Stop at once; while it changes the
    kernel, the step under way finishes first (a step stopped halfway could
    not be undone exactly); while it undoes, or once verified, it is only
    noted."""

    def __init__(self):
        self.mode = "raise"   # raise | defer | note
        self.pending = None   # a signal deferred until the step under way is done
        self.late = None      # a signal that came when there was nothing left to stop
        self._old = {}

    def __enter__(self):
        import threading
        if threading.current_thread() is threading.main_thread():   # elsewhere Python takes no handler
            self._old = {s: signal.signal(s, self._on) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)

    def _on(self, signum, _frame):
        name = signal.Signals(signum).name
        if self.mode == "raise":
            self.mode = "note"   # once: a second signal must not cut the undo short
            raise Stop(name)
        if self.mode == "defer":
            self.pending = self.pending or name
        else:
            self.late = self.late or name

    def defer(self):
        self.mode = "defer"

    def arm(self):
        """Stop at once from now on (a signal deferred meanwhile: now)."""
        if self.pending:
            self.mode = "note"
            raise Stop(self.pending)
        self.mode = "raise"

    def step_done(self, change):
        if self.pending:
            self.mode = "note"
            raise Stop(self.pending, str(change))

    def disarm(self):
        self.mode = "note"


class Journal:
    """Every step done, with its inverse; undone in reverse on failure."""

    def __init__(self, ctx, rec, plan):
        self.ctx, self.rec, self.plan = ctx, rec, plan
        self.done = []   # (change, inverse)
        self.before = (set(rec.devices), list(rec.namespaces))
        self.held = (list(rec.routes), dict(rec.sysctls))   # as they were: what undo puts back

    def undo(self):
        """Undo every step, fast where it can: devices made in a namespace
        this apply made go with it; a run of devices made in one namespace
        goes in one request, as destroy does. What cannot be undone is said."""
        errors = []
        made_ns = {c.op[1] for c, _u in self.done if c.op[0] == "ns_create"}
        steps = [(c, u) for c, u in self.done if not (_in_made_ns(c, made_ns))]
        i = len(steps)
        while i > 0:
            j = i
            while j > 0 and steps[j - 1][0].op[0] == "dev_create":
                j -= 1
            if i - j > 1:
                errors += self._delete_made(steps[j:i])
                i = j
                continue
            c, u = steps[i - 1]
            try:
                u()
            except Exception as e:  # keep undoing the rest; report what could not be undone
                if not _gone_already(e):
                    errors.append(f"undo of '{c}' failed: {e}")
            i -= 1
        _forget_planned(self.rec, self.plan, self.before)
        # the routes and sysctls recorded are those held before (undo
        # skipped those in a namespace it deletes)
        self.rec.routes, self.rec.sysctls = list(self.held[0]), dict(self.held[1])
        self.rec.save()
        if errors:
            import sys
            print("\n".join(errors), file=sys.stderr)

    def _delete_made(self, steps):
        """Undo a run of device creations: each namespace's new devices
        deleted by their group in one request (one synchronize_net instead
        of one per device): the topology's own tag where the namespace held
        nothing of it before, else a tag of their own given first."""
        ctx, rec = self.ctx, self.rec
        held = {d.netns for d in self.plan.state.devices() if rec.owns_device(d)}
        by_ns = {}
        for c, _u in steps:
            iface = c.op[1]
            iface.kind_module.release(ctx.k, iface.netns, iface.name)
            by_ns.setdefault(iface.netns, []).append(iface)
        errors = []
        for ns, ifaces in by_ns.items():
            try:
                sock = ctx.sock(ns)
                tag = undo_group(rec.group) if ns in held else rec.group
                for iface in ifaces if ns in held else ():
                    try:
                        rtnl.set_link(sock, ctx.ifindex(*iface.key), attrs=rtnl.link_attrs(group=tag))
                    except netlink.NetlinkError as e:
                        if e.errno != errno.ENODEV:
                            raise
                rtnl.del_group(sock, tag)
            except Exception as e:
                if not _gone_already(e):
                    errors.append(f"undo of the {len(ifaces)} devices made in {where(ns, '')[:-1] or 'this namespace'}"
                                  f" failed: {e}")
            for iface in ifaces:
                for e in iface.endpoints():
                    ctx.forget(*e.key)
                    rec.devices.pop(e.key, None)
        return errors


def _in_made_ns(c, made_ns):
    """Does change ``c`` act only inside a namespace this apply made (and
    its undo deletes, with everything in it)?"""
    op, args = c.op[0], c.op[1:]
    if op == "dev_create":
        return all(e.netns in made_ns for e in args[0].endpoints())
    if op in ("dev_set", "port_set"):
        return args[0].netns in made_ns
    if op in ("addr_add", "addr_del"):
        return args[0][0] in made_ns
    if op == "route_add":
        return args[0].netns in made_ns
    if op == "sysctl_set":
        return args[0] in made_ns
    return False


def _gone_already(e):
    """An undo that finds its object gone (with its device or namespace)."""
    return getattr(e, "errno", None) in (errno.ENODEV, errno.ESRCH, errno.EADDRNOTAVAIL, errno.ENOENT)


def _step(ctx, rec, c, state):
    name, args = c.op[0], c.op[1:]
    if name in NEEDS_STATE:
        return NEEDS_STATE[name](ctx, rec, *args, state)
    return OPS[name](ctx, rec, *args)


def _kernel_error(e, c):
    if isinstance(e, netlink.NetlinkError):
        return KernelError(e.errno, e.msg, str(c))
    return KernelError(getattr(e, "errno", 0) or 0, getattr(e, "strerror", None) or str(e), str(c))


def _record_intent(rec, plan):
    """Record what the plan is about to create before creating it: a crash
    leaves a record a later apply or destroy can use."""
    for c in plan.changes:
        if c.op[0] == "ns_create" and c.op[1] not in rec.namespaces:
            rec.namespaces.append(c.op[1])
        if c.op[0] in ("dev_create", "dev_recreate"):
            for e in c.op[1].endpoints():
                rec.devices[e.key] = c.op[1].kind
    rec.save()


def _run_steps(journal, on_step, guard):
    """Each change of the plan, journaled; a kernel refusal raised as
    KernelError, a signal as Stop once the step under way is done."""
    plan, ctx, rec = journal.plan, journal.ctx, journal.rec
    for c in plan.changes:
        try:
            u = _step(ctx, rec, c, plan.state)
        except (OSError, ValueError) as e:
            raise _kernel_error(e, c) from None
        if u:
            journal.done.append((c, u))
        if on_step:
            on_step(c)
        guard.step_done(c)
    rec.save()


def _source(path):
    """The topology's file as its record keeps it: absolute, so that `vnet
    list` finds it from any directory (a text loaded from no file: as named)."""
    import os
    return os.path.abspath(path) if path and os.path.isfile(path) else path


def run(k, plan, on_step=None, guard=None, verify_with=None):
    """Execute ``plan``, then ``verify_with(record)`` (which raises on a
    mismatch); on any failure, or SIGINT/SIGTERM (through ``guard``), undo
    every change made and raise. Returns the changing requests sent."""
    rec = plan.record
    rec.source = _source(plan.topology.source)
    journal = Journal(Context(k, plan.state, rec.group, plan.topology), rec, plan)
    own_guard = guard is None
    guard = guard or Guard().__enter__()
    try:
        guard.defer()
        _record_intent(rec, plan)
        _run_steps(journal, on_step, guard)
        sent = k.requests
        guard.arm()
        if verify_with is not None:
            verify_with(rec)
        guard.disarm()
        return sent
    except Stop as e:
        guard.disarm()
        journal.undo()
        at = f" after '{e.args[1]}'" if len(e.args) > 1 else ""
        raise Interrupted(f"interrupted by {e.args[0]}{at}; the apply was undone") from None
    except BaseException as e:
        guard.disarm()
        journal.undo()
        if isinstance(e, VnetError):
            e.undone()
        raise
    finally:
        if own_guard:
            guard.__exit__()


def execute(k, plan, on_step=None):
    """Run ``plan``; undo everything on failure (or SIGINT/SIGTERM) and raise."""
    run(k, plan, on_step)


def _forget_planned(rec, plan, before):
    """After undo: drop the intent entries of what was never created."""
    old_keys, old_ns = before
    for c in plan.changes:
        if c.op[0] in ("dev_create", "dev_recreate"):
            for e in c.op[1].endpoints():
                if e.key not in old_keys:
                    rec.devices.pop(e.key, None)
        if c.op[0] == "ns_create" and c.op[1] in rec.namespaces and c.op[1] not in old_ns:
            rec.namespaces.remove(c.op[1])


def verify(plan_after):
    """Raise VerifyError if a fresh plan still has changes."""
    if plan_after.changes:
        raise VerifyError([f"{c.object}: {c.reason}" for c in plan_after.changes])
