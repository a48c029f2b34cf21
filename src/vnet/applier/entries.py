"""The steps of policy rules, static neighbour entries and sysctls, each
returning its undo; ``deleted``: a deletion journaled with its record."""
import errno

from ..kernel import neighbours, netlink, rules, sysctl
from ..topology.rule import entry_rule, rule_entry


def deleted(delete, gone, put_back, recorded, entry):
    """Run ``delete`` (an errno ``gone``: gone already) and take ``entry``
    off the ``recorded`` list; the undo runs ``put_back`` (EEXIST: there
    again, as it was) and records it again if it was."""
    try:
        delete()
    except netlink.NetlinkError as e:
        if e.errno != gone:
            raise
    was = entry in recorded
    while entry in recorded:
        recorded.remove(entry)

    def undo():
        try:
            put_back()
        except netlink.NetlinkError as e:
            if e.errno != errno.EEXIST:
                raise
        if was and entry not in recorded:
            recorded.append(entry)
    return undo


def rule_add(ctx, rec, r):
    entry = rule_entry(r, rules.add_rule(ctx.sock(r.netns), r))   # with the priority the kernel gave
    intent = rule_entry(r)   # said before the run (applier._record_intent)
    while intent in rec.rules:
        rec.rules.remove(intent)
    if entry not in rec.rules:
        rec.rules.append(entry)
    return lambda: rule_del(ctx, rec, entry, entry_rule(entry))


def rule_del(ctx, rec, entry, have):
    """Delete rule ``have`` (recorded as ``entry``) and no other; its undo
    adds it back."""
    sock = ctx.sock(have.netns)

    def delete():
        try:
            rules.del_rule(sock, have, have.netns)
        except rules.InTheWay as e:
            raise netlink.NetlinkError(errno.EBUSY, f"the kernel would delete the rule '{e.rule.text}' "
                                                    "in its place") from None
    return deleted(delete, None, lambda: rules.add_rule(sock, have), rec.rules, entry)


def neigh_set(ctx, rec, n, old):
    """Make static neighbour ``n``, or make the entry there as declared
    (``old``: the entry found, someone's or another MAC); recorded when vnet
    made it. The undo puts back what was."""
    sock = ctx.sock(n.netns)
    neighbours.set_neighbour(sock, ctx.ifindex(n.netns, n.dev), n.address, n.lladdr, n.proxy)
    made = old is None   # (on the record already: applier._record_intent)
    if made and n.key not in rec.neighbours:
        rec.neighbours.append(n.key)

    def undo():
        idx = ctx.ifindex(n.netns, n.dev)   # now: an undo may have made the device again
        if old is None:
            _neigh_gone(lambda: neighbours.del_neighbour(sock, idx, n.address, n.proxy))
        else:
            neighbours.set_neighbour(sock, idx, n.address, old.lladdr, n.proxy, old.nud)
        if made and n.key in rec.neighbours:
            rec.neighbours.remove(n.key)
    return undo


def _neigh_gone(delete):
    try:
        delete()
    except netlink.NetlinkError as e:
        if e.errno != errno.ENOENT:
            raise


def neigh_del(ctx, rec, key, have):
    """Delete the static neighbour ``key`` (``have``, as found: the undo puts it back)."""
    sock = ctx.sock(have.netns)
    return deleted(lambda: neighbours.del_neighbour(sock, ctx.ifindex(have.netns, have.dev), have.address, have.proxy),
                    errno.ENOENT, lambda: neigh_back(ctx, have), rec.neighbours, tuple(key))


def neigh_back(ctx, n):
    """Observed entry ``n`` put back as it was (its device's index now)."""
    neighbours.set_neighbour(ctx.sock(n.netns), ctx.ifindex(n.netns, n.dev), n.address, n.lladdr, n.proxy, n.nud)


def neigh_forget(ctx, rec, key):
    """Forget an entry vnet made whose device goes (the kernel takes it with it)."""
    key = tuple(key)
    was = key in rec.neighbours
    while key in rec.neighbours:
        rec.neighbours.remove(key)

    def undo():
        if was and key not in rec.neighbours:
            rec.neighbours.append(key)
    return undo


def sysctl_set(ctx, rec, ns, key, value):
    """Set a sysctl; the record keeps the value the plan found (before this
    apply's writes: ip_forward sets every device's forwarding), which
    destroy puts back; the undo, the value it had just before (undone in
    reverse, the run's writes come back to what the plan found)."""
    had = (ns, key) in rec.sysctls
    with ctx.entered(ns):
        old = sysctl.read(key)
        if not had:
            rec.sysctls[(ns, key)] = ctx.state.sysctls.get((ns, key), old)
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


def sysctl_restore(ctx, rec, ns, key, old):
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

