"""The Python API's functions (re-exported by ``vnet``): load, observe,
plan, apply, destroy. Each imports what it needs when called, so that
importing vnet costs a command nothing it does not use."""


def load(path):
    """Load and validate a topology file; raise SpecError listing every problem."""
    from .topofile.loader import load as _load
    return _load(path)


def _topology_namespaces(topo, rec):
    return [None] + list(dict.fromkeys(list(topo.namespaces) + topo.joined_namespaces() + list(rec.namespaces)
                                       + [k[0] for k in rec.devices]))


def observe(k, topo, rec, only=None, known=None, all_routes=False, devices=None, all_fdb=False):
    """The live state of every namespace the topology or its record names
    (with ``only`` and ``known``: of those in ``only``, the rest as known,
    and with ``devices``, {namespace: indexes}, of those namespaces only
    those devices; with ``all_routes``, the routes, rules and neighbours of all of them, for show; with
    ``all_fdb`` or ``all_routes``, the static entries on every bridge port, for export)."""
    from .observer import observe as _observe
    nss = _topology_namespaces(topo, rec)
    if only is not None:
        nss = [ns for ns in nss if ns in only]
    # (where nexthops are: the routes through one the kernel deletes with it, for an undo to put back)
    routes_in = [r.netns for r in topo.routes] + [r[0] for r in rec.routes] + [n.netns for n in topo.nexthops] \
        + [n[0] for n in rec.nexthops] + (nss if all_routes else [])
    rules_in = [r.netns for r in topo.rules] + [r[0] for r in rec.rules] + (nss if all_routes else [])
    neighbours_in = [n.netns for n in topo.neighbours] + [n[0] for n in rec.neighbours] + (nss if all_routes else [])
    sysctls = [(s.netns, s.key) for s in topo.sysctls] + list(rec.sysctls)
    fdb_in = [e.netns for i in topo.interfaces for e in i.endpoints() if "fdb" in e.port] + (nss if all_routes or all_fdb else [])
    nexthops_in = [n.netns for n in topo.nexthops] + [n[0] for n in rec.nexthops] + (nss if all_routes else [])
    st = _observe(k, nss, routes_in, sysctls, known=known, devices=devices, rules_in=rules_in,
                  neighbours_in=neighbours_in, fdb_in=fdb_in, nexthops_in=nexthops_in)
    from .observer import read_sysctls
    from .planner import sysctls_unread
    read_sysctls(k, st, sysctls_unread(topo, st), st.namespaces)
    return st


def _check_sysctls(topo):
    """Every sysctl the file sets exists on this kernel (a device's, for any
    device): known before the first change, not when its write fails."""
    from .errors import SpecError
    from .kernel.sysctl import unknown
    problems = []
    for s in topo.sysctls:
        near = unknown(s.key, s.device)
        if near is not None:
            hint = f" (did you mean {near!r}?)" if near else ""
            problems.append(f"{topo.source}: {s.path}.key: {s.key!r}: no such sysctl on this kernel{hint}")
    if problems:
        raise SpecError(problems)


def plan(topo, k=None):
    """The ordered changes that would make the kernel match ``topo``."""
    from .kernel.session import Kernel
    from .ownership import Record
    from .planner import plan as _plan
    _check_sysctls(topo)
    own = k is None
    k = k or Kernel()
    try:
        rec = Record.load(topo.name)
        return _plan(topo, observe(k, topo, rec), rec)
    finally:
        if own:
            k.close()


def apply(topo, on_step=None, lock_timeout=60.0, on_plan=None):
    """Apply ``topo``: plan, execute, verify; on any failure, or SIGINT or
    SIGTERM before it is verified, every change is undone. ``on_plan`` is
    given the plan before its first change, ``on_step`` each change once it
    is made. Returns
    (executed plan, changing requests sent); ``late_signal`` on the plan
    names a signal that came after the last change was verified, ``after``
    the state that verified it."""
    from .applier import Guard, Stop, run
    from .errors import Interrupted
    from .kernel.session import Kernel
    from .ownership import lock
    with Guard() as guard:
        try:
            with lock(topo.name, lock_timeout), Kernel() as k:
                p = plan(topo, k)
                if on_plan is not None:
                    on_plan(p)
                if not p.changes:   # the state just observed is the verification: observing twice is waste
                    p.after = p.state
                    guard.disarm()
                    p.late_signal = guard.late
                    return p, k.requests

                monitors = _listen(k, p)   # from before the first change

                def verify_with(rec):
                    # by observing again what the changes can have reached:
                    # one namespace for a one-option change in a lab of a
                    # thousand, and there the devices the kernel announced
                    from .applier import verify
                    from .planner import plan as _plan, touched_namespaces, verified_devices
                    touched = touched_namespaces(p)
                    if touched is None:
                        st = observe(k, topo, rec)
                        verify(_plan(topo, st, rec))
                    else:   # and plans those namespaces' devices read again or changed
                        st = observe(k, topo, rec, only=touched, known=p.state, devices=_announced(monitors, p))
                        verify(_plan(topo, st, rec, scope=touched, devices=verified_devices(p, st, touched)))
                    p.after = st

                try:
                    sent = run(k, p, on_step, guard, verify_with)
                finally:
                    for m in monitors.values():
                        m.close()
                p.late_signal = guard.late
                return p, sent
        except Stop as e:   # before any change
            raise Interrupted(f"interrupted by {e.args[0]} before any change; nothing was changed") from None


LISTEN_MOST = 64   # a plan of more changes is verified by reading its namespaces whole (each change is announced)
HEARD_MOST = 256   # a namespace with more devices announced is read whole (the kernel's own work, IPv6 start-up...)


def _listen(k, p):
    """{namespace: Monitor} for the namespaces where every change ``p``
    makes is announced (planner.announced_namespaces), listening from
    before the first change; none for a plan of more than LISTEN_MOST
    changes (reading the namespaces whole costs less than hearing them).
    What another program changes between the plan's observation and this
    is not heard: as what it changes just after the verification, which no
    verification sees."""
    from .kernel.monitor import Monitor
    from .planner import announced_namespaces
    if len(p.changes) > LISTEN_MOST:
        return {}
    out = {}
    try:
        for ns in announced_namespaces(p):
            if ns in p.state.namespaces and k.has(ns):
                with k.entered(ns):
                    out[ns] = Monitor()
    except BaseException:
        for m in out.values():
            m.close()
        raise
    return out


def _announced(monitors, p):
    """{namespace: indexes of the devices announced there}, for the
    namespaces whose announcements were all heard and few; with those
    plan ``p``'s changes name, heard or not (the kernel announces an IPv6
    address from its DAD work, which may not have run yet)."""
    from .planner import changed_devices
    out = {}
    for ns, m in monitors.items():
        got = m.announced(most=HEARD_MOST)
        if got is not None:
            out[ns] = got
    for ns, name in changed_devices(p):
        d = p.state.device(ns, name)
        if ns in out and d is not None:
            out[ns].add(d.ifindex)
    return out


def destroy(name, lock_timeout=60.0, on_removed=None):
    """Remove everything topology ``name`` owns. Returns what was removed
    (each also given to ``on_removed`` as it goes)."""
    from .destroyer import remove_owned
    from .errors import VnetError
    from .kernel.session import Kernel
    from .ownership import Record, drop_lock, lock
    with lock(name, lock_timeout), Kernel() as k:
        rec = Record.load(name)
        if not rec.exists():
            raise VnetError(f"topology {name!r} has no record in {rec.path}: nothing vnet owns to destroy")
        removed = remove_owned(k, rec, on_removed)
        drop_lock(name)
        return removed
