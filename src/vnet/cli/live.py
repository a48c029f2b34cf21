"""The commands that read the kernel's live state and say it: list, show,
export, diagram; and exec, which runs a command in a namespace."""
import json
import os
import sys

from ..errors import VnetError
from . import report
from .output import emit
from .targets import live


def cmd_list(args):
    from ..errors import NotPermitted, StateError
    from ..ownership import recorded_names
    from ..render.table import print_table
    rows, unusable = [], []
    for name in recorded_names():
        try:
            row = _listed(name)
        except StateError as e:   # said below, the others listed all the same
            unusable.append(e)
            row = {"name": name, "source": None, "namespaces": [], "devices": [],
                   "health": {"status": "unreadable", "count": None, "detail": str(e)}}
        if row is not None:
            rows.append(row)
    if not rows:
        print("no topology applied", file=sys.stderr)
    def human():
        if rows:
            print_table(None, ("name", "source", "namespaces", "devices", "health"),
                        [(r["name"], r["source"] or "", len(r["namespaces"]), len(r["devices"]), _health(r))
                         for r in rows])
    emit(args, {"topologies": rows}, human)
    for e in unusable:
        print(f"vnet list: {e}", file=sys.stderr)
    if unusable:
        return StateError.exit_code
    if any(r["health"]["status"] == "unknown" for r in rows):
        print(f"vnet list: the health is unknown: {NotPermitted.HINT}", file=sys.stderr)
        return NotPermitted.exit_code
    return 0


def _health(r):
    h = r["health"]
    if h["status"] in ("missing", "drifted"):
        return f"{h['status']}: {h['count']}"
    if h["status"] == "ok" and h["detail"]:   # its file could not be planned: nothing recorded is missing
        return "ok (record only)"
    return h["status"]


def _listed(name):
    """Topology ``name`` as `vnet list` says it, with its health from a quick
    observe (None: its record went meanwhile)."""
    from ..ownership import Record
    from ..topology.model import where
    rec = Record.load(name)
    if not rec.exists():
        return None
    return {"name": rec.name, "source": rec.source, "namespaces": list(rec.namespaces),
            "devices": [where(*k) for k in rec.devices], "health": _health_of(rec)}


def _health_of(rec):
    """ok; missing: N (recorded namespaces and devices gone from the kernel);
    drifted: N (the changes apply of its source file would make); unknown
    (without root: its namespaces cannot be observed)."""
    from .. import observe
    from ..kernel.session import Kernel
    from ..topology.model import Topology
    if not report.privileged():
        return {"status": "unknown", "count": None, "detail": "needs root"}
    with Kernel() as k:
        st = observe(k, Topology(name=rec.name), rec)
    gone = [ns for ns in rec.namespaces if not st.has_ns(ns)]
    gone += [key for key in rec.devices if (key[0] is None or st.has_ns(key[0]))
             and (st.device(*key) is None or not rec.owns_device(st.device(*key)))]
    if gone:
        return {"status": "missing", "count": len(gone), "detail": None}
    try:
        from .. import load, plan
        t = load(rec.source)
        if t.name != rec.name:
            raise VnetError(f"it now declares topology {t.name!r}")
        p = plan(t)
    except (VnetError, OSError, TypeError) as e:   # its file gone or changed: the record alone says
        return {"status": "ok", "count": 0, "detail": f"its file was not planned: {str(e).splitlines()[0]}"}
    if p.changes:
        return {"status": "drifted", "count": len(p.changes), "detail": None}
    return {"status": "ok", "count": 0, "detail": None}


def cmd_show(args):
    """The devices (routes, rules, sysctls) of a topology or of the machine, as
    iproute2 says them; --netns and --kind keep some."""
    from ..render import show
    keep = None if not args.netns else list(dict.fromkeys(None if n == "host" else n for n in args.netns))
    if keep and args.target is None:
        from ..kernel import netns
        show.known_namespaces(keep, [None] + netns.list_names(), "this machine has no")
    devs, st, t, rec = live(args.target, routes=True, namespaces=keep and [None] + [n for n in keep if n])
    v = show.view(devs, st, t, rec, keep, args.kind)
    title = f"vnet show {args.target or '(all namespaces)'}"
    emit(args, {k: v[k] for k in ("devices", "nexthops", "routes", "rules", "neighbours", "sysctls")},
         lambda: show.print_show(title, v["shown"], devs, v["routes"], v["sysctls"], v["rules"], v["neighbours"],
                                 v["nexthops"]))


def cmd_export(args):
    from ..export import export, macs_set, recorded_neighbours, recorded_rules
    from ..kernel.session import Kernel
    if args.target:
        devs, st, t, rec = live(args.target, fdb=True)
        with Kernel() as k:
            by_hand = macs_set(k, st)
        owned = {d.key for d in devs if rec.owns_device(d)}
        owned |= {(ns, dev) for ns, dev, _a in rec.addresses}   # lo, to which the topology gave addresses
        from ..planner import observed_routes
        routes = observed_routes(st)
        nss = _export_namespaces(args.netns, [None] + list(rec.namespaces))
        doc = export(st, args.name or t.name, nss, only=owned,
                     routes=[routes[r].replace(dev=r[3]) for r in rec.routes if r in routes],   # dev as declared
                     sysctls=list(rec.sysctls), macs=not args.no_mac, set_by_hand=by_hand,
                     rules=recorded_rules(st, rec), neighbours=recorded_neighbours(st, rec),
                     nexthops=[n for ns in st.nexthops.values() for n in ns if n.key in set(rec.nexthops)])
    else:
        from ..export import (changed_sysctls, exported_neighbours, exported_nexthops, exported_routes, exported_rules,
                              observe_network, unwritable_routes, unwritable_state)
        from ..kernel import sysctl
        from ..planner.routes import route_label
        nss = _export_namespaces(args.netns)
        from ..export_settings import lost_settings
        with Kernel() as k:
            st = observe_network(k, nss)
            by_hand = macs_set(k, st)
            unwritable = unwritable_state(k, st, nss)
            left = []
            doc = export(st, args.name or "exported", nss, macs=not args.no_mac, routes=exported_routes(st, nss),
                         set_by_hand=by_hand, rules=exported_rules(st, nss), neighbours=exported_neighbours(st, nss),
                         sysctls=changed_sysctls(st, nss, sysctl.fresh_defaults()), nexthops=exported_nexthops(st, nss),
                         said=left)
            lost, unchecked = lost_settings(k, st, doc)
        for line in left:
            print(f"vnet export: {line}", file=sys.stderr)
        unwritable += lost
        for line in unchecked:
            print(f"vnet export: did not compare {line}", file=sys.stderr)
        for r in unwritable_routes(st, nss):
            print(f"vnet export: left out {route_label(r.key)}: {r.unwritable}, which a topology cannot declare",
                  file=sys.stderr)
        for line in unwritable:
            print(f"vnet export: {line}, which a topology cannot declare", file=sys.stderr)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        import yaml
        print(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120), end="")


def _export_namespaces(asked, known=None):
    """The namespaces an export covers: ``asked`` (--netns, 'host' for
    vnet's own), else all of ``known`` (None: vnet's own and every named one)."""
    from ..errors import NotApplied
    if known is None:
        from ..kernel import netns
        known = [None] + netns.list_names()
    if not asked:
        return known
    labels = ["host" if n is None else n for n in known]
    unknown = [n for n in asked if n not in labels]
    if unknown:
        raise NotApplied(f"no namespace {unknown[0]!r} here (namespaces: {', '.join(labels)})")
    return [None if n == "host" else n for n in asked]


def cmd_diagram(args):
    from .. import diagram
    fmt = None if args.output == "-" else diagram.fmt_of(args.output)   # a bad OUT fails before any work
    if args.target and not args.live and os.path.isfile(args.target):
        from ..diagram.graph import from_topology
        from .targets import load
        args.file = args.target
        g = from_topology(load(args))
    elif args.target:
        devs, _st, t, rec = live(args.target)
        g = diagram.of_live(devs, [None] + list(dict.fromkeys([*t.namespaces, *rec.namespaces])),
                            f"live: topology {t.name}")
    elif args.live:
        from ..kernel import netns
        from ..kernel.session import Kernel
        from ..observer import observe
        names = [n for n in (args.netns or [None] + netns.list_names()) if n != "host"]
        if args.netns and "host" in args.netns:
            names = [None] + names
        with Kernel() as k:
            st = observe(k, names)
        g = diagram.of_live(list(st.devices()), names, "live: this machine")
    else:
        raise VnetError("diagram: give a topology FILE, a topology NAME, or --live")
    if args.netns:
        keep = {None if n == "host" else n for n in args.netns}
        g = _only_namespaces(g, keep)
    diagram.write(g, args.output, fmt)


def _only_namespaces(g, keep):
    ids = {n.id for n in g.nodes.values() if n.cluster in keep or n.cluster == ""}
    g.clusters = {ns: v for ns, v in g.clusters.items() if ns in keep}
    g.nodes = {i: n for i, n in g.nodes.items() if i in ids}
    g.edges = [e for e in g.edges if e.a in ids and e.b in ids]
    return g


def cmd_exec(args):
    from ..kernel import netns
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd or not cmd[0]:
        raise VnetError("exec: no command given (vnet exec NS -- CMD ...)")
    if args.netns != "host":   # host: the namespace vnet runs in, as everywhere else
        fd = netns.open_fd(args.netns)
        if fd is None:
            raise VnetError(f"exec: network namespace {args.netns!r} does not exist (`vnet list` and "
                            f"`ip netns list` show those there are; 'host' is the one vnet runs in)")
        netns.setns(fd)
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        raise VnetError(f"exec: {cmd[0]}: {e.strerror}") from None
