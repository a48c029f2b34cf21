# PYTHON_ARGCOMPLETE_OK   (argcomplete looks for this mark: `vnet` completes its commands and topologies)
"""The `vnet` command: parse arguments, call the API, render. No logic here."""
import argparse
import json
import os
import sys

from .errors import EXIT_CODES, VnetError

# filled in by _Parser.format_help from the kinds registry, only when help is shown
# (importing the kinds at every start would cost more than a plan of a small file)
KINDS = "{kinds}"
DESCRIPTION = (f"Declarative Linux virtual networking: network namespaces and {KINDS} devices from one "
               "topology file, with addresses, routes and sysctls, applied through netlink, verified, "
               "undone on failure.")
NO_JSON = ("--json: every command takes it but exec (the output is the command's), tunnel (counters on "
           "stderr) and diagram (a drawing)")


def kinds_text():
    """The kinds a topology file can declare, as the help lists them."""
    from .kinds import REGISTRY
    return ", ".join(k.name for k in REGISTRY if k.creatable)


def _p():
    from . import __version__
    p = _Parser(prog="vnet", description=DESCRIPTION, epilog=_epilog(),
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"vnet {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def cmd(name, help_, file=True, json_=True, lock=False, quiet=False):
        s = sub.add_parser(name, help=help_, description=help_)
        if file:
            s.add_argument("file", metavar="FILE", help="topology file (YAML or JSON)").completer = _files
        if json_:
            s.add_argument("--json", action="store_true",
                           help="machine-readable output on stdout (an error too: {error, message, problems})")
        if quiet:
            s.add_argument("-q", "--quiet", action="store_true",
                           help="no progress and no lines of changes: only errors, warnings, and what --json or "
                           "--check asks for")
        if lock:
            s.add_argument("--lock-timeout", type=_seconds, default=60.0, metavar="S",
                           help="wait at most S seconds for another vnet command on this topology (0: don't wait)")
        return s

    def target(s, optional=False, what="an applied topology: its file, or its name"):
        s.add_argument("target", nargs="?" if optional else None, metavar="FILE|NAME",
                       help=what)

    cmd("validate", "check a topology file; change nothing")
    pl = cmd("plan", "show what apply would change, with a reason each")
    pl.add_argument("--exit-code", action="store_true",
                    help="exit 0 when the kernel matches the file, 2 when changes are pending, 1 on any error "
                    "(an invalid file included), as terraform plan -detailed-exitcode")
    a = cmd("apply", "make the kernel match the file; verified, undone on failure", lock=True, quiet=True)
    a.add_argument("--check", action="store_true", help="then run the file's checks (exit 1 if one fails)")
    cmd("check", "run the file's checks with real traffic: what must reach reaches, what must be isolated is")
    target(cmd("destroy", "remove everything a topology owns", file=False, lock=True, quiet=True),
           what="the topology: its file, or its name (vnet list shows them)")
    cmd("list", "the applied topologies: name, source file, namespaces, devices, and whether the kernel still "
        "matches (ok, missing: N recorded objects gone, drifted: N changes apply would make)", file=False)
    s = cmd("show", "the live state: a topology's namespaces, or with no argument every namespace", file=False)
    s.add_argument("target", nargs="?", metavar="FILE|NAME")
    s.add_argument("--netns", action="append", metavar="NS", help="only this namespace (repeatable; 'host' "
                   "for vnet's own)")
    s.add_argument("--kind", action="append", metavar="KIND", help="only devices of this kind (repeatable)")
    e = cmd("export", "the live state as a topology file that apply accepts: what a topology owns, "
            "or with no argument every namespace", file=False)
    e.add_argument("target", nargs="?", metavar="FILE|NAME")
    e.add_argument("--netns", action="append", metavar="NS", help="only this namespace (repeatable)")
    e.add_argument("--no-mac", action="store_true", help="leave MAC addresses out (a template for other machines)")
    e.add_argument("--name", type=_topology_name,
                   help="topology name to write (default: the topology's, or 'exported')")
    cmd("script", "the equivalent iproute2 commands")
    g = cmd("diagram", "draw a topology file, a topology's live state (NAME) or, with --live, every namespace "
            "of the machine, as the reference's figures do", file=False, json_=False)
    target(g, optional=True, what="a topology file to draw, or the name of an applied topology to draw live")
    g.add_argument("--live", action="store_true", help="draw the kernel's state (with FILE: that topology's; "
                   "alone: every namespace, including devices vnet did not create)")
    g.add_argument("--netns", action="append", metavar="NS", help="only this namespace (repeatable; 'host' "
                   "for vnet's own)")
    g.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="OUT.svg, .png, .dot or .md (Mermaid); default: DOT on stdout")
    x = cmd("exec", "run a command in a network namespace ('host': the one vnet runs in); the exit code is "
            "the command's", file=False, json_=False)
    x.add_argument("netns", type=_nsname, metavar="NS",
                   help="a namespace under /run/netns, or 'host'").completer = _namespaces
    x.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command and its arguments")
    cmd("schema", "print the JSON Schema of the topology format (for editors; it is JSON: --json changes nothing)",
        file=False)
    t = sub.add_parser("tunnel", help="run a UDP tunnel for a TUN/TAP device (the reference's Figure 1b)",
                       description="carry the packets of a TUN (or TAP) device to a peer inside UDP "
                       "datagrams, sealed with ChaCha20-Poly1305 when a key is given; runs until SIGTERM "
                       "(SIGUSR1: counters on stderr)")
    _tunnel_arguments(t)
    for c in sub.choices.values():   # every FILE|NAME completes to applied topologies and files
        for act in c._actions:
            if act.dest == "target":
                act.completer = _targets
                act.help = act.help or "an applied topology: its file, or its name (vnet list shows them)"
    return p


def _tunnel_arguments(t):
    """`vnet tunnel`'s options, from their one definition."""
    from .tunnel.options import OPTIONS
    types = {"ifname": _ifname, "netns": _nsname, "mtu": _mtu, "nice": _nice}
    for o in OPTIONS:
        kw = {"action": "store_true"} if o.takes == "flag" else {"type": types.get(o.takes), "metavar": o.metavar}
        if o.default is not None:
            kw["default"] = o.default
        t.add_argument(o.flag, required=o.required, help=o.help, **{k: v for k, v in kw.items() if v is not None})


def _epilog():
    import textwrap
    codes = "\n".join(textwrap.fill(v, 79, initial_indent=f"  {k:<4} ", subsequent_indent=" " * 7)
                      for k, v in EXIT_CODES.items())
    return textwrap.fill(NO_JSON + ".", 79) + "\n\nexit codes:\n" + codes


def _files(prefix, **_kw):
    """Completion: topology files (and directories to go on into)."""
    import glob
    out = []
    for f in glob.glob(os.path.expanduser(prefix) + "*"):
        if os.path.isdir(f):
            out.append(f + "/")
        elif f.endswith((".yaml", ".yml", ".json")):
            out.append(f)
    return out


def _targets(prefix, **kw):
    """Completion of FILE|NAME: the applied topologies (records in the state
    directory), then topology files."""
    from .ownership import recorded_names
    return [n for n in recorded_names() if n.startswith(prefix)] + _files(prefix, **kw)


def _namespaces(prefix, **_kw):
    from .kernel.netns import list_names
    try:
        names = list_names()
    except OSError:
        names = []
    return [n for n in ["host", *names] if n.startswith(prefix)]


def _number(text, kind, lo, hi, what):
    try:
        n = kind(text)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:   # nan too (for seconds: a deadline never reached)
        raise argparse.ArgumentTypeError(f"{text!r}: {what}")
    return n


def _seconds(text):
    return _number(text, float, 0, float("inf"), "give a number of seconds, 0 or more")


def _mtu(text):
    return _number(text, int, 68, 65535, "an MTU is 68..65535")


def _ifname(text):
    import re
    if not re.fullmatch(r"[^/:\s\x00]+", text) or len(text.encode()) > 15:   # the spec's rule, as the kernel's
        raise argparse.ArgumentTypeError(f"{text!r}: an interface name is 1-15 bytes without '/', ':' or "
                                         "whitespace")
    return text


def _nsname(text):
    """A name `ip netns` accepts (any namespace, not only vnet's): a file name under /run/netns."""
    if text in ("", ".", "..") or "/" in text or "\x00" in text or len(os.fsencode(text)) > 255:
        raise argparse.ArgumentTypeError(f"{text!r}: not a namespace name (a file name under /run/netns)")
    return text


def _topology_name(text):
    if not _is_name(text):
        raise argparse.ArgumentTypeError(f"{text!r}: a topology name is 1-32 of a-z, 0-9, '-'")
    return text


def _nice(text):
    return _number(text, int, -20, 19, "a nice value is -20..19")


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1, as the README documents (argparse's own 2 is
    vnet's "invalid file"); the help lists the kinds of the registry."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")

    def format_help(self):
        if self.description and KINDS in self.description:
            import textwrap
            self.description = textwrap.fill(self.description.replace(KINDS, kinds_text()), 79)
        return super().format_help()


def _complete(parser):
    """Shell completion, when argcomplete is installed and the shell asks
    (it answers and exits); without it vnet works the same."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def main(argv=None):
    """Run one vnet command; return its exit code. Nothing escapes as a
    traceback: a user's error, the kernel's refusal or a lack of privilege is
    one line with its exit code; anything else is a bug, said in one line
    (exit 70; VNET_DEBUG=1 shows the traceback). With `plan --exit-code`
    every outcome but 0 and 2 (changes pending) is 1, as CI expects."""
    parsed = []
    rc = _main(argv, parsed)
    if parsed and getattr(parsed[0], "exit_code", False):
        return rc if rc == 0 or rc == PENDING and getattr(parsed[0], "pending", False) else 1
    return rc


def _main(argv, parsed):
    cmd, args = "command", None
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:   # closed (`vnet ... >&-`): what would go there goes nowhere
            setattr(sys, name, open(os.devnull, "w", errors="backslashreplace"))
        elif getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")   # a file name no encoding can show is no crash
    try:
        try:
            parser = _p()
            _complete(parser)
            args = parser.parse_args(argv)
            parsed.append(args)
        except SystemExit as e:   # --help, a usage error: argparse has said it
            return e.code if isinstance(e.code, int) else 1
        cmd = args.cmd
        try:
            rc = globals()["cmd_" + args.cmd](args) or 0
            sys.stdout.flush()   # here, where a failure to write is still ours to report
            return rc
        except OSError as e:
            raise _os_error(e) from e
    except KeyboardInterrupt:   # Ctrl-C (an apply undoes itself before it gets here)
        print(f"vnet {cmd}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `vnet script ... | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 0
    except _OutputError as e:   # stdout is a full disk: said once, not again as Python exits
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        print(f"vnet {cmd}: cannot write the output: {e}", file=sys.stderr)
        return 1
    except VnetError as e:
        _report(cmd, args, e)
        return e.exit_code
    except SystemExit:
        raise
    except BaseException as e:   # a bug: one line, the traceback on request
        return _internal_error(cmd, args, e)


class _OutputError(Exception):
    """Standard output could not be written."""


def _report(cmd, args, e):
    if getattr(args, "json", False):
        print(json.dumps({"error": type(e).__name__, "message": str(e),
                          "problems": getattr(e, "problems", None)}))
    else:
        print(f"vnet {cmd}: {e}" if not hasattr(e, "problems") else str(e), file=sys.stderr)


def _internal_error(cmd, args, e):
    if os.environ.get("VNET_DEBUG"):
        import traceback
        traceback.print_exc()
    text = " ".join(f"{type(e).__name__}: {e}".split())
    if len(text) > 300:
        text = text[:300] + "..."
    if getattr(args, "json", False):
        print(json.dumps({"error": "InternalError", "message": text, "problems": None}))
    print(f"vnet {cmd}: internal error: {text} (set VNET_DEBUG=1 for the traceback)", file=sys.stderr)
    return 70


def _os_text(e):
    """An OSError as one line: its file (if any), then what went wrong."""
    import re
    if e.filename is not None:
        text = f"{e.filename}: {os.strerror(e.errno) if e.errno else e.strerror}"
        return text + (f" -> {e.filename2}" if e.filename2 is not None else "")
    return " ".join(re.sub(r"^\[Errno \d+\] ", "", str(e)).split())


def _os_error(e):
    """The VnetError an OSError that reached the command line stands for:
    a refusal for want of privilege (exit 3), a file vnet could not use
    (exit 1), or, with neither, a bug (re-raised)."""
    import errno
    from .kernel import netns
    if isinstance(e, getattr(netns, "NotANamespace", ())):   # a /run/netns entry vnet must not touch
        from .errors import PlanError
        return PlanError(_os_text(e))
    if e.errno in (errno.EPERM, errno.EACCES):
        from .errors import NotPermitted
        return NotPermitted(_os_text(e), hint=not _privileged())
    if e.filename is not None:
        return VnetError(_os_text(e))
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):   # only ever from a write: ours are to stdout
        return _OutputError(os.strerror(e.errno))
    raise e


def _refused(e):
    """A KernelError (exit 3) for an OSError the kernel gave back; for want
    of privilege, the command line's own message."""
    import errno
    if e.errno in (errno.EPERM, errno.EACCES) or e.filename is not None:
        return _os_error(e)
    from .errors import KernelError
    err = KernelError(0, _os_text(e))
    err.errno = e.errno
    return err


def _privileged():
    """Whether this process has CAP_NET_ADMIN and CAP_SYS_ADMIN (in its own
    user namespace: root in `unshare -r` has them)."""
    try:
        with open("/proc/self/status") as f:
            eff = next(int(ln.split()[1], 16) for ln in f if ln.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return os.geteuid() == 0
    return all(eff >> bit & 1 for bit in (12, 21))   # CAP_NET_ADMIN, CAP_SYS_ADMIN


def _need_root():
    """Refuse up front a command that cannot do anything without privilege."""
    if not _privileged():
        from .errors import NotPermitted
        raise NotPermitted("Operation not permitted")


def _out(args, data, human):
    if args.json:
        print(json.dumps(data, indent=1, default=str))
    else:
        human()


def _load(args):
    """The topology of ``args.file``; its lint warnings go to stderr."""
    from . import load
    t = load(args.file)
    for w in t.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return t


def cmd_validate(args):
    t = _load(args)
    n = sum(len(i.endpoints()) for i in t.interfaces)
    _out(args, {"valid": True, "name": t.name, "interfaces": n, "namespaces": len(t.namespaces),
                "warnings": t.warnings},
         lambda: print(f"{args.file}: valid topology {t.name!r}: {count(n, 'device')}, "
                       f"{count(len(t.namespaces), 'namespace')}"))


def count(n, what):
    """'1 change', 'N changes'."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def cmd_plan(args):
    from . import plan
    p = plan(_load(args))
    def human():
        if not p.changes:
            print(f"{p.topology.name}: no changes; the kernel matches {args.file}")
            return
        from .render.table import print_table
        print_table(f"plan for {p.topology.name}: {count(len(p.changes), 'change')}", ("action", "object", "reason"),
                    [(c.action, c.object, c.reason) for c in p.changes])
    _out(args, p.as_dict(), human)
    args.pending = bool(p.changes)
    return PENDING if args.exit_code and args.pending else 0


# `vnet plan --exit-code`: changes pending (any error is then 1, as terraform's -detailed-exitcode)
PENDING = 2


def _with_progress(progress, work):
    """``work()``, then the Progress ``progress()`` gives (if any) finished;
    a write it lost (a reader gone, a full disk) is said once the work is done."""
    try:
        out = work()
    finally:
        if progress() is not None:
            progress().finish()
    if progress() is not None and progress().lost:
        raise progress().lost
    return out


def cmd_apply(args):
    from . import apply
    from .render.progress import Progress
    t = _load(args)
    _need_root()
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
    p, sent = _with_progress(lambda: progress,
                             lambda: apply(t, on_step=done, on_plan=planned, lock_timeout=args.lock_timeout))
    def human():
        if args.quiet:
            return
        print(f"{t.name}: applied {count(len(steps), 'change')}, verified" if steps else
              f"{t.name}: no changes; the kernel already matches")
    out = {"topology": t.name, "applied": [c.as_dict() for c in steps], "requests": sent, "verified": True}
    if p.late_signal:   # nothing left to stop: say so rather than "interrupted"
        print(f"vnet apply: applied; the signal ({p.late_signal}) came after the last change", file=sys.stderr)
        return _out(args, out, human)
    if not args.check:
        return _out(args, out, human)
    if not args.json:
        human()
    return _checks(args, t, out)


def cmd_tunnel(args):
    from .errors import DeviceGone, SpecError
    from .tunnel.endpoints import endpoints, read_key
    from .tunnel.options import NICE, OPTIONS, argv
    try:
        key = read_key(args.key_file, args.key_env)
    except (OSError, KeyError, ValueError) as e:
        raise SpecError(f"vnet tunnel: the key: {e}") from None
    try:
        endpoints(args.listen, args.peer)
    except ValueError as e:
        raise SpecError(f"vnet tunnel: {e}") from None
    nice = NICE if args.nice is None else args.nice
    if args.supervise:
        from .daemon import supervise
        from .tunnel.startup import prioritize
        prioritize(nice)   # the session's autogroup too: the child is in this session, not its leader
        # the child: this command's options but the supervisor's own (its pid file is the supervisor's)
        given = {o.key: getattr(args, o.key) for o in OPTIONS if o.key not in ("supervise", "pidfile")}
        child = [sys.executable, "-m", "vnet", "tunnel", *argv(**{**given, "nice": nice})]
        # a device that is there (vnet apply made it, persistent): started again, the end attaches to
        # it or ends (7), and never makes a stray one; else each end makes its own, as the first does
        from .kernel import rtnl
        from .kernel.session import Kernel
        try:
            with Kernel() as k:
                there = (args.netns is None or k.has(args.netns)) and rtnl.get_link(k.sock(args.netns), args.dev)
        except OSError as e:
            raise _refused(e) from None
        return supervise(child, f"vnet tunnel --dev {args.dev}", args.pidfile, final=(2, DeviceGone.exit_code),
                         restart_args=["--no-create"] if there else [])

    def ready(_t):
        if args.pidfile:
            from .daemon import write_pidfile
            write_pidfile(args.pidfile)
    from .tunnel.startup import start
    try:
        start(args.dev, args.listen, args.peer, key=key, netns=args.netns, tap=args.tap,
              underlay_mtu=args.underlay_mtu, stats_file=args.stats, ready=ready, create=not args.no_create,
              nice=nice)
    except OSError as e:   # the kernel refused the device (a name held by another kind, ...)
        raise _refused(e) from None


def cmd_check(args):
    t = _load(args)
    _need_root()   # else every check would fail, each for want of privilege
    return _checks(args, t, {"topology": None})


def _checks(args, t, out):
    """Run ``t``'s checks; print them as a table (or JSON); 1 if any failed."""
    from .check.run import run
    from .kernel.session import Kernel
    from .render.table import print_table
    if not t.checks:
        print(f"{t.source}: no checks to run (add a `checks:` section)", file=sys.stderr)
        if args.json:
            _out(args, {**out, "topology": t.name, "checks": [], "passed": True}, None)
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
    _out(args, out, human)
    return 1 if failed else 0


def _name_of(target):
    """The topology name of a FILE|NAME argument."""
    if os.path.exists(target) or target.endswith((".yaml", ".yml", ".json")) or not _is_name(target):
        from . import load
        return load(target).name
    return target


def _is_name(text):
    import re
    return re.fullmatch(r"[a-z0-9-]{1,32}", text) is not None   # the spec's topology name


def _applied(target):
    """(topology, record) of a FILE|NAME argument whose topology is applied
    (a NAME alone gives a topology of that name and nothing else)."""
    from .errors import NotApplied
    from .ownership import Record
    if os.path.exists(target) or not _is_name(target):
        from . import load
        t = load(target)
        rec = Record.load(t.name)
        if not rec.exists():
            raise NotApplied(f"topology {t.name!r} ({target}) is not applied: no record in {rec.path}")
        return t, rec
    from .topology.model import Topology
    rec = Record.load(target)
    if not rec.exists():
        raise NotApplied(f"no topology {target!r}: not a file, and no record of that name in {rec.path}")
    return Topology(name=target), rec


def cmd_destroy(args):
    from . import destroy
    from .render.progress import Progress
    name = _name_of(args.target)
    _need_root()
    progress = None if args.quiet else Progress("destroying", unit="removed")
    lines = not (args.json or args.quiet)   # one line per object, as it goes
    removed = _with_progress(lambda: progress, lambda: destroy(
        name, lock_timeout=args.lock_timeout,
        on_removed=progress and (lambda what: progress.step(f"  {what}" if lines else None))))
    def human():
        if not args.quiet:
            print(f"{name}: destroyed, {len(removed)} removed" if removed else f"{name}: destroyed (nothing left)")
    _out(args, {"topology": name, "removed": removed}, human)


def cmd_list(args):
    from .errors import NotPermitted, StateError
    from .ownership import recorded_names
    from .render.table import print_table
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
    _out(args, {"topologies": rows}, human)
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
    from .ownership import Record
    from .topology.model import where
    rec = Record.load(name)
    if not rec.exists():
        return None
    return {"name": rec.name, "source": rec.source, "namespaces": list(rec.namespaces),
            "devices": [where(*k) for k in rec.devices], "health": _health_of(rec)}


def _health_of(rec):
    """ok; missing: N (recorded namespaces and devices gone from the kernel);
    drifted: N (the changes apply of its source file would make); unknown
    (without root: its namespaces cannot be observed)."""
    from . import observe
    from .kernel.session import Kernel
    from .topology.model import Topology
    if not _privileged():
        return {"status": "unknown", "count": None, "detail": "needs root"}
    with Kernel() as k:
        st = observe(k, Topology(name=rec.name), rec)
    gone = [ns for ns in rec.namespaces if not st.has_ns(ns)]
    gone += [key for key in rec.devices if (key[0] is None or st.has_ns(key[0]))
             and (st.device(*key) is None or not rec.owns_device(st.device(*key)))]
    if gone:
        return {"status": "missing", "count": len(gone), "detail": None}
    try:
        from . import load, plan
        t = load(rec.source)
        if t.name != rec.name:
            raise VnetError(f"it now declares topology {t.name!r}")
        p = plan(t)
    except (VnetError, OSError, TypeError) as e:   # its file gone or changed: the record alone says
        return {"status": "ok", "count": 0, "detail": f"its file was not planned: {str(e).splitlines()[0]}"}
    if p.changes:
        return {"status": "drifted", "count": len(p.changes), "detail": None}
    return {"status": "ok", "count": 0, "detail": None}


def _live(target, routes=False, namespaces=None):
    """(devices, state, topology, record) for show: a topology's namespaces,
    or with no target every namespace (or ``namespaces``; topology and
    record None); with ``routes``, the routes of all of them too."""
    from .kernel import netns
    from .observer import observe
    from .kernel.session import Kernel
    if target is None:
        names = namespaces or [None] + netns.list_names()
        with Kernel() as k:
            st = observe(k, names, routes_in=names if routes else ())
        return list(st.devices()), st, None, None
    t, rec = _applied(target)
    from . import observe as obs_topo
    with Kernel() as k:
        st = obs_topo(k, t, rec, all_routes=routes)
    declared = set(t.by_key())
    nss = set(t.namespaces) | set(rec.namespaces)
    devs = [d for d in st.devices() if d.netns in nss or d.key in declared or rec.owns_device(d)]
    return devs, st, t, rec


def cmd_show(args):
    """The devices (routes, sysctls) of a topology or of the machine, as
    iproute2 says them; --netns and --kind keep some."""
    from .render import show
    keep = None if not args.netns else list(dict.fromkeys(None if n == "host" else n for n in args.netns))
    if keep and args.target is None:
        from .kernel import netns
        show.known_namespaces(keep, [None] + netns.list_names(), "this machine has no")
    devs, st, t, rec = _live(args.target, routes=True, namespaces=keep and [None] + [n for n in keep if n])
    v = show.view(devs, st, t, rec, keep, args.kind)
    title = f"vnet show {args.target or '(all namespaces)'}"
    _out(args, {k: v[k] for k in ("devices", "routes", "sysctls")},
         lambda: show.print_show(title, v["shown"], devs, v["routes"], v["sysctls"]))


def cmd_export(args):
    from .export import export
    if args.target:
        devs, st, t, rec = _live(args.target)
        owned = {d.key for d in devs if rec.owns_device(d)}
        from .planner import observed_routes
        live = observed_routes(st)
        nss = _export_namespaces(args.netns, [None] + list(rec.namespaces))
        doc = export(st, args.name or t.name, nss, only=owned,
                     routes=[live[r].replace(dev=r[3]) for r in rec.routes if r in live],   # dev as declared
                     sysctls=list(rec.sysctls), macs=not args.no_mac)
    else:
        from .export import changed_sysctls, exported_routes, observe_network
        from .kernel import sysctl
        from .kernel.session import Kernel
        nss = _export_namespaces(args.netns)
        with Kernel() as k:
            st = observe_network(k, nss)
        doc = export(st, args.name or "exported", nss, macs=not args.no_mac, routes=exported_routes(st, nss),
                     sysctls=changed_sysctls(st, nss, sysctl.fresh_defaults()))
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        import yaml
        print(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120), end="")


def _export_namespaces(asked, known=None):
    """The namespaces an export covers: ``asked`` (--netns, 'host' for
    vnet's own), else all of ``known`` (None: vnet's own and every named one)."""
    from .errors import NotApplied
    if known is None:
        from .kernel import netns
        known = [None] + netns.list_names()
    if not asked:
        return known
    labels = ["host" if n is None else n for n in known]
    unknown = [n for n in asked if n not in labels]
    if unknown:
        raise NotApplied(f"no namespace {unknown[0]!r} here (namespaces: {', '.join(labels)})")
    return [None if n == "host" else n for n in asked]


def cmd_script(args):
    from . import load
    from .render.iproute2 import script
    lines = script(load(args.file))
    _out(args, {"commands": [ln for ln in lines if not ln.startswith("#")]}, lambda: print("\n".join(lines)))


def cmd_diagram(args):
    from . import diagram
    fmt = None if args.output == "-" else diagram.fmt_of(args.output)   # a bad OUT fails before any work
    if args.target and not args.live and os.path.isfile(args.target):
        from .diagram.graph import from_topology
        args.file = args.target
        g = from_topology(_load(args))
    elif args.target:
        devs, _st, t, rec = _live(args.target)
        g = diagram.of_live(devs, [None] + list(dict.fromkeys([*t.namespaces, *rec.namespaces])),
                            f"live: topology {t.name}")
    elif args.live:
        from .kernel import netns
        from .observer import observe
        from .kernel.session import Kernel
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
    from .kernel import netns
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


def cmd_schema(args):
    from .topofile.schema import schema
    print(json.dumps(schema(), indent=1))


if __name__ == "__main__":
    sys.exit(main())
