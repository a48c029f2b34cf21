"""What makes an apply undoable: the Guard that holds SIGINT and SIGTERM off
while a step runs, and the Journal that undoes the steps done, in reverse."""
import errno
import signal

from ..kernel import netlink, rtnl
from ..ownership import undo_group
from ..topology.model import where


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
        self.before = (set(rec.devices), set(rec.namespaces))
        # as they were: what undo puts back
        self.held = (list(rec.routes), dict(rec.sysctls), list(rec.rules), list(rec.neighbours), list(rec.nexthops))

    def undo(self):
        """Undo every step, fast where it can: devices made in a namespace
        this apply made go with it; a run of devices made in one namespace
        goes in one request, as destroy does. What cannot be undone is said."""
        errors = []
        self.ctx.held = None   # what a run of creations held back and never sent: its devices go now
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
                if c.op[0] == "dev_delete" or not _gone_already(e):   # (a device to make again is never gone)
                    errors.append(f"undo of '{c}' failed: {e}")
            i -= 1
        errors += self.ctx.entries_back()
        _forget_planned(self.rec, self.plan, self.before)
        # the routes, sysctls, rules, neighbours and nexthops recorded are
        # those held before (undo skipped those in a namespace it deletes)
        routes, sysctls, rules, neighbours, nexthops = self.held
        self.rec.routes, self.rec.sysctls, self.rec.rules = list(routes), dict(sysctls), list(rules)
        self.rec.neighbours, self.rec.nexthops = list(neighbours), list(nexthops)
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
                said = ns in rec.routes_dropped   # by an earlier run stopped in its deletion: not for this one to clear
                rtnl.before_deleting(sock, _tagged(sock, tag, ifaces, ns), lambda: rec.mark_routes_dropped(ns))
                rtnl.del_group(sock, tag)
                if not said and ns in rec.routes_dropped:   # gone with their devices: nothing left to make again
                    rec.routes_dropped.remove(ns)
            except Exception as e:
                if not _gone_already(e):
                    errors.append(f"undo of the {len(ifaces)} devices made in {where(ns, '')[:-1] or 'this namespace'}"
                                  f" failed: {e}")
            for iface in ifaces:
                for e in iface.endpoints():
                    ctx.forget(*e.key)
                    rec.devices.pop(e.key, None)
        return errors


def _tagged(sock, tag, ifaces, ns):
    """The indexes of the devices of group ``tag``, those the deletion will
    take, from one dump; none asked for when the run made fewer devices
    there than are worth their routes going first (a pair's ends both)."""
    made = sum(1 for iface in ifaces for e in iface.endpoints() if e.netns == ns)
    if made < rtnl.ROUTES_FIRST:
        return []
    try:
        return [ln.ifindex for ln in rtnl.dump_links(sock) if ln.group == tag]
    except OSError:   # only time is at stake: the deletion takes the routes itself
        return []


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
    if op in ("route_add", "rule_add", "neigh_set"):
        return args[0].netns in made_ns
    if op in ("neigh_del", "neigh_forget"):
        return args[0][0] in made_ns
    if op == "sysctl_set":
        return args[0] in made_ns
    return False


def _gone_already(e):
    """An undo that finds its object gone (with its device or namespace)."""
    return getattr(e, "errno", None) in (errno.ENODEV, errno.ESRCH, errno.EADDRNOTAVAIL, errno.ENOENT)


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
