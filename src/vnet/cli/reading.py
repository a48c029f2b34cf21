"""The commands that read a topology file and say something of it: validate,
plan, check, script, schema."""
import json
import sys

from . import report
from .output import count, emit
from .targets import load


def cmd_validate(args):
    t = load(args)
    n = sum(len(i.endpoints()) for i in t.interfaces)
    emit(args, {"valid": True, "name": t.name, "interfaces": n, "namespaces": len(t.namespaces),
                "warnings": t.warnings},
         lambda: print(f"{args.file}: valid topology {t.name!r}: {count(n, 'device')}, "
                       f"{count(len(t.namespaces), 'namespace')}"))


def cmd_plan(args):
    from .. import plan
    p = plan(load(args))
    def human():
        if not p.changes:
            print(f"{p.topology.name}: no changes; the kernel matches {args.file}")
            return
        from ..render.table import print_table
        print_table(f"plan for {p.topology.name}: {count(len(p.changes), 'change')}", ("action", "object", "reason"),
                    [(c.action, c.object, c.reason) for c in p.changes])
    emit(args, p.as_dict(), human)
    args.pending = bool(p.changes)
    return report.PENDING if args.exit_code and args.pending else 0


def cmd_check(args):
    t = load(args)
    report.need_root()   # else every check would fail, each for want of privilege
    return checks(args, t, {"topology": None})


def checks(args, t, out):
    """Run ``t``'s checks; print them as a table (or JSON); 1 if any failed."""
    from ..check.run import run
    from ..kernel.session import Kernel
    from ..render.table import print_table
    if not t.checks:
        print(f"{t.source}: no checks to run (add a `checks:` section)", file=sys.stderr)
        if args.json:
            emit(args, {**out, "topology": t.name, "checks": [], "passed": True}, None)
        return 0
    with Kernel() as k:
        results = run(t, k)
    failed = [r for r in results if not r.ok]
    out = {**out, "topology": t.name, "checks": [r.as_dict() for r in results], "passed": not failed}
    def human():
        print_table(f"vnet check {t.name}", ("check", "expected", "observed", "time", ""),
                    [(r.check, r.expected, r.observed, f"{r.seconds:.2f}s", "ok" if r.ok else "FAILED")
                     for r in results])
        print(f"{t.name}: {len(results) - len(failed)} of {len(results)} checks passed"
              + (f"; failed: {', '.join(r.check for r in failed)}" if failed else ""))
        for r in failed:
            if r.detail:
                print(f"  {r.check}: {r.detail}")
    emit(args, out, human)
    return 1 if failed else 0


def cmd_script(args):
    from .. import load as load_file
    from ..render.iproute2 import script
    lines = script(load_file(args.file))
    emit(args, {"commands": [ln for ln in lines if not ln.startswith("#")]}, lambda: print("\n".join(lines)))


def cmd_schema(args):
    from ..topofile.schema import schema
    print(json.dumps(schema(), indent=1))
