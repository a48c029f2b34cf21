"""What a command's FILE or FILE|NAME argument stands for: a topology read
from its file, an applied topology and its record, or its live state."""
import os
import re
import sys


def load(args):
    """The topology of ``args.file``; its lint warnings go to stderr."""
    from .. import load
    t = load(args.file)
    for w in t.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return t


def is_name(text):
    return re.fullmatch(r"[a-z0-9-]{1,32}", text) is not None   # the spec's topology name


def name_of(target):
    """The topology name of a FILE|NAME argument."""
    if os.path.exists(target) or target.endswith((".yaml", ".yml", ".json")) or not is_name(target):
        from .. import load
        return load(target).name
    return target


def applied(target):
    """(topology, record) of a FILE|NAME argument whose topology is applied
    (a NAME alone gives a topology of that name and nothing else)."""
    from ..errors import NotApplied
    from ..ownership import Record
    if os.path.exists(target) or not is_name(target):
        from .. import load
        t = load(target)
        rec = Record.load(t.name)
        if not rec.exists():
            raise NotApplied(f"topology {t.name!r} ({target}) is not applied: no record in {rec.path}")
        return t, rec
    from ..topology.model import Topology
    rec = Record.load(target)
    if not rec.exists():
        raise NotApplied(f"no topology {target!r}: not a file, and no record of that name in {rec.path}")
    return Topology(name=target), rec


def live(target, routes=False, namespaces=None, fdb=False):
    """(devices, state, topology, record) for show: a topology's namespaces,
    or with no target every namespace (or ``namespaces``; topology and
    record None); with ``routes``, the routes and rules of all of them too;
    with ``fdb`` or ``routes``, the static entries of every bridge port."""
    from ..kernel import netns
    from ..kernel.session import Kernel
    from ..observer import observe
    if target is None:
        names = namespaces or [None] + netns.list_names()
        with Kernel() as k:
            every = names if routes else ()
            st = observe(k, names, routes_in=every, rules_in=every, neighbours_in=every, nexthops_in=every)
        return list(st.devices()), st, None, None
    t, rec = applied(target)
    from .. import observe as obs_topo
    with Kernel() as k:
        st = obs_topo(k, t, rec, all_routes=routes, all_fdb=fdb)
    declared = set(t.by_key())
    nss = set(t.namespaces) | set(rec.namespaces)
    devs = [d for d in st.devices() if d.netns in nss or d.key in declared or rec.owns_device(d)]
    return devs, st, t, rec
