"""The commands that change the kernel: apply and destroy."""
import sys

from . import report
from .output import count, emit, with_progress
from .targets import load, name_of


def cmd_apply(args):
    from .. import apply
    from ..render.progress import Progress
    t = load(args)
    report.need_root()
    steps = []
    progress = None
    lines = not (args.json or args.quiet)   # each change's line as it is done

    def planned(p):
        nonlocal progress
        if p.changes and not args.quiet:
            progress = Progress("applying", len(p.changes))

    def done(c):
        steps.append(c)
        if progress is not None:
            progress.step(f"  {c}" if lines else None)
    p, sent = with_progress(lambda: progress,
                            lambda: apply(t, on_step=done, on_plan=planned, lock_timeout=args.lock_timeout))
    def human():
        if args.quiet:
            return
        print(f"{t.name}: applied {count(len(steps), 'change')}, verified" if steps else
              f"{t.name}: no changes; the kernel already matches")
    out = {"topology": t.name, "applied": [c.as_dict() for c in steps], "requests": sent, "verified": True}
    if p.late_signal:   # nothing left to stop: say so rather than "interrupted"
        print(f"vnet apply: applied; the signal ({p.late_signal}) came after the last change", file=sys.stderr)
        return emit(args, out, human)
    if not args.check:
        return emit(args, out, human)
    if not args.json:
        human()
    from .reading import checks
    return checks(args, t, out)


def cmd_destroy(args):
    from .. import destroy
    from ..render.progress import Progress
    name = name_of(args.target)
    report.need_root()
    progress = None if args.quiet else Progress("destroying", unit="removed")
    lines = not (args.json or args.quiet)   # one line per object, as it goes
    removed = with_progress(lambda: progress, lambda: destroy(
        name, lock_timeout=args.lock_timeout,
        on_removed=progress and (lambda what: progress.step(f"  {what}" if lines else None))))
    def human():
        if not args.quiet:
            print(f"{name}: destroyed, {len(removed)} removed" if removed else f"{name}: destroyed (nothing left)")
    emit(args, {"topology": name, "removed": removed}, human)
