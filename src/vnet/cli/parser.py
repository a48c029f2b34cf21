"""The parser of the `vnet` command: its commands, their arguments and help,
built anew each run; the kinds in the help are read only when it is shown."""
import argparse
import sys

from ..errors import EXIT_CODES
from . import arguments as a

# filled in by _Parser.format_help from the kinds registry, only when help is shown
# (importing the kinds at every start would cost more than a plan of a small file)
KINDS = "{kinds}"
EPILOG = "{epilog}"   # the same, for the exit codes: textwrap is imported only for the help
DESCRIPTION = (f"Declarative Linux virtual networking: network namespaces and {KINDS} devices from one "
               "topology file, with addresses, routes and sysctls, applied through netlink, verified, "
               "undone on failure.")
NO_JSON = ("--json: every command takes it but exec (the output is the command's), tunnel (counters on "
           "stderr) and diagram (a drawing)")
TARGET = "an applied topology: its file, or its name (vnet list shows them)"


def kinds_text():
    """The kinds a topology file can declare, as the help lists them."""
    from ..kinds import REGISTRY
    return ", ".join(k.name for k in REGISTRY if k.creatable)


def build():
    """The parser: `vnet --version`, then each group of commands in the order the help lists them."""
    from .. import __version__
    _Parser.building = True
    try:
        return _build(__version__)
    finally:
        _Parser.building = False


def _build(__version__):
    p = _Parser(prog="vnet", description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"vnet {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for group in (_file_commands, _applied_commands, _drawing_commands, _other_commands):
        group(sub)
    _complete_targets(sub)
    return p


def _command(sub, name, help_, file=True, json_=True, lock=False, quiet=False):
    """A command and the options many share: FILE, --json, -q, --lock-timeout."""
    s = sub.add_parser(name, help=help_, description=help_)
    if file:
        s.add_argument("file", metavar="FILE", help="topology file (YAML or JSON)").completer = a.files
    if json_:
        s.add_argument("--json", action="store_true",
                       help="machine-readable output on stdout (an error too: {error, message, problems})")
    if quiet:
        s.add_argument("-q", "--quiet", action="store_true",
                       help="no progress and no lines of changes: only errors, warnings, and what --json or "
                       "--check asks for")
    if lock:
        s.add_argument("--lock-timeout", type=a.seconds, default=60.0, metavar="S",
                       help="wait at most S seconds for another vnet command on this topology (0: don't wait)")
    return s


def _target(s, optional=False, what="an applied topology: its file, or its name"):
    s.add_argument("target", nargs="?" if optional else None, metavar="FILE|NAME", help=what)


def _file_commands(sub):
    """validate, plan, apply, check: a topology file's commands."""
    _command(sub, "validate", "check a topology file; change nothing")
    pl = _command(sub, "plan", "show what apply would change, with a reason each")
    pl.add_argument("--exit-code", action="store_true",
                    help="exit 0 when the kernel matches the file, 2 when changes are pending, 1 on any error "
                    "(an invalid file included), as terraform plan -detailed-exitcode")
    ap = _command(sub, "apply", "make the kernel match the file; verified, undone on failure", lock=True,
                  quiet=True)
    ap.add_argument("--check", action="store_true", help="then run the file's checks (exit 1 if one fails)")
    _command(sub, "check", "run the file's checks with real traffic: what must reach reaches, what must be "
             "isolated is")


def _applied_commands(sub):
    """destroy, list, show, export: the applied topologies and the live state."""
    _target(_command(sub, "destroy", "remove everything a topology owns", file=False, lock=True, quiet=True),
            what="the topology: its file, or its name (vnet list shows them)")
    _command(sub, "list", "the applied topologies: name, source file, namespaces, devices, and whether the "
             "kernel still matches (ok, missing: N recorded objects gone, drifted: N changes apply would make)",
             file=False)
    s = _command(sub, "show", "the live state: a topology's namespaces, or with no argument every namespace",
                 file=False)
    s.add_argument("target", nargs="?", metavar="FILE|NAME")
    s.add_argument("--netns", action="append", metavar="NS", help="only this namespace (repeatable; 'host' "
                   "for vnet's own)")
    s.add_argument("--kind", action="append", metavar="KIND", help="only devices of this kind (repeatable)")
    e = _command(sub, "export", "the live state as a topology file that apply accepts: what a topology owns, "
                 "or with no argument every namespace", file=False)
    e.add_argument("target", nargs="?", metavar="FILE|NAME")
    e.add_argument("--netns", action="append", metavar="NS", help="only this namespace (repeatable)")
    e.add_argument("--no-mac", action="store_true", help="leave MAC addresses out (a template for other machines)")
    e.add_argument("--name", type=a.topology_name,
                   help="topology name to write (default: the topology's, or 'exported')")


def _drawing_commands(sub):
    """script, diagram: a topology said as commands, or drawn."""
    _command(sub, "script", "the equivalent iproute2 commands")
    g = _command(sub, "diagram", "draw a topology file, a topology's live state (NAME) or, with --live, every "
                 "namespace of the machine, as the reference's figures do", file=False, json_=False)
    _target(g, optional=True, what="a topology file to draw, or the name of an applied topology to draw live")
    g.add_argument("--live", action="store_true", help="draw the kernel's state (with FILE: that topology's; "
                   "alone: every namespace, including devices vnet did not create)")
    g.add_argument("--netns", action="append", metavar="NS", help="only this namespace (repeatable; 'host' "
                   "for vnet's own)")
    g.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="OUT.svg, .png, .dot or .md (Mermaid); default: DOT on stdout")


def _other_commands(sub):
    """exec, schema, tunnel, cni."""
    x = _command(sub, "exec", "run a command in a network namespace ('host': the one vnet runs in); the exit "
                 "code is the command's", file=False, json_=False)
    x.add_argument("netns", type=a.nsname, metavar="NS",
                   help="a namespace under /run/netns, or 'host'").completer = a.namespaces
    x.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command and its arguments")
    _command(sub, "schema", "print the JSON Schema of the topology format (for editors; it is JSON: --json "
             "changes nothing)", file=False)
    t = sub.add_parser("tunnel", help="run a UDP tunnel for a TUN/TAP device (the reference's Figure 1b)",
                       description="carry the packets of a TUN (or TAP) device to a peer inside UDP "
                       "datagrams, sealed with ChaCha20-Poly1305 when a key is given; runs until SIGTERM "
                       "(SIGUSR1: counters on stderr)")
    _tunnel_arguments(t)
    c = sub.add_parser("cni", help="vnet as a container runtime's CNI plugin: `vnet cni install` puts it in CNI_PATH",
                       description="install the executable a container runtime runs as the CNI plugin of type "
                       "\"vnet\" (docs/cni.md)")
    c.add_argument("action", choices=["install"], help="install: write the plugin executable into --dir")
    c.add_argument("--dir", default="/opt/cni/bin", metavar="DIR",
                   help="the plugin directory the runtime searches (CNI_PATH; default /opt/cni/bin)")
    c.add_argument("--python", metavar="PATH", help="the interpreter the executable names, as the system that "
                   "runs it sees it (an installer in a container writing for its host); default: this Python")
    c.add_argument("--package-dir", metavar="PATH", help="the directory holding vnet (and its dependencies) "
                   "there, put on the executable's path; default: this vnet's")
    c.add_argument("--no-compile", action="store_true", help="write the Python script only, even where a C "
                   "compiler could build the executable's fast path (src/vnet/cni/client.c)")


def _complete_targets(sub):
    """Every FILE|NAME completes to applied topologies and files."""
    for c in sub.choices.values():
        for act in c._actions:
            if act.dest == "target":
                act.completer = a.targets
                act.help = act.help or TARGET


def _tunnel_arguments(t):
    """`vnet tunnel`'s options, from their one definition."""
    from ..tunnel.options import OPTIONS
    types = {"ifname": a.ifname, "netns": a.nsname, "mtu": a.mtu, "nice": a.nice}
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
        if self.epilog == EPILOG:
            self.epilog = _epilog()
        return super().format_help()

    def _get_formatter(self):
        # add_argument makes a formatter for each argument only to check its
        # metavar, and a formatter asks the terminal's width (importing
        # shutil): while the parser is built, a fixed width does
        if _Parser.building:
            return self.formatter_class(prog=self.prog, width=79)
        return super()._get_formatter()

    building = False


def complete(parser):
    """Shell completion, when argcomplete is installed and the shell asks
    (it answers and exits); without it vnet works the same."""
    import os
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)
