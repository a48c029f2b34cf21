"""Execute a Plan: each step journaled with its inverse; on any failure every
step already done is undone in reverse and the error names the step. After
success the kernel is observed again and must match the file.

    steps     the kernel step of each kind of change, and its inverse (by the
              step modules: context, devices, routing, entries, nexthops)
    journal   the Guard against signals mid-step, and the Journal that undoes
    (here)    the run of the steps, the error that names a step, verification"""
from ..errors import Interrupted, KernelError, VerifyError, VnetError
from ..kernel import netlink
from .journal import Guard, Journal, Stop
from .steps import NEEDS_STATE, OPS, Context
from ..topology.rule import rule_entry


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
        if c.op[0] == "rule_add" and rule_entry(c.op[1]) not in rec.rules:
            rec.rules.append(rule_entry(c.op[1]))
        if c.op[0] == "neigh_set" and c.op[2] is None and c.op[1].key not in rec.neighbours:
            rec.neighbours.append(c.op[1].key)   # (one vnet makes: none there)
        if c.op[0] in ("nh_add", "nh_set", "nh_remake") and c.op[1].key not in rec.nexthops:
            rec.nexthops.append(c.op[1].key)
    rec.save()


def _run_steps(journal, on_step, guard):
    """Each change of the plan, journaled; a kernel refusal raised as
    KernelError, a signal as Stop once the step under way is done. What a
    run of creations holds back (its peers' settling: steps.Context.held)
    is sent once the run ends or a change refers to it."""
    plan, ctx, rec = journal.plan, journal.ctx, journal.rec
    ctx.held, held_by, held_keys = [], [], set()   # held_by: the change of each held entry
    for c in plan.changes:
        if ctx.held and not _joins_run(c, held_keys):
            _send_held(ctx, held_by)
            held_keys.clear()
        try:
            u = _step(ctx, rec, c, plan.state)
        except (OSError, ValueError) as e:
            raise _kernel_error(e, c) from None
        held_keys.update(key for key, _f in ctx.held[len(held_by):])   # the set kept as the run grows: no pass over it per change
        held_by += [c] * (len(ctx.held) - len(held_by))
        if u:
            journal.done.append((c, u))
        if on_step:
            on_step(c)
        guard.step_done(c)
    _send_held(ctx, held_by)
    ctx.held = None
    rec.save()


def _joins_run(c, held):
    """May change ``c`` go before the settling held back: a creation that
    refers to none of the held devices."""
    if c.op[0] not in ("dev_create", "dev_recreate"):
        return False
    iface = c.op[1]
    return not any(ref.resolve((iface.peer if fld.startswith("peer.") else iface).netns) in held
                   for fld, ref in iface.refs())


def _send_held(ctx, held_by):
    """Send what the run of creations held back, in order (its step is
    journaled already: a refusal here undoes it with the rest)."""
    held, ctx.held = ctx.held, []
    for (_key, send), c in zip(held, held_by):
        try:
            send()
        except (OSError, ValueError) as e:
            raise _kernel_error(e, c) from None
    held_by.clear()


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
        if rec.routes_dropped:   # the devices that lost them were made again (the plan said so)
            rec.routes_dropped = []
            rec.save()
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


def verify(plan_after):
    """Raise VerifyError if a fresh plan still has changes."""
    if plan_after.changes:
        raise VerifyError([f"{c.object}: {c.reason}" for c in plan_after.changes])
