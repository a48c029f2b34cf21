"""`vnet tunnel`'s options, spelled once: the CLI's argument parser, the
TUN/TAP kind's `tunnel:` fields, and whatever builds a tunnel's command
line (`vnet apply`, `vnet script`, the supervisor) read them here. It
imports nothing: the CLI builds its parser from it for every command."""

NICE = -5   # the tunnel's default scheduling priority (see ``startup.prioritize``)
UNDERLAY_MTU = 1500   # --underlay-mtu's default: left out of a command line
ADDR_PATTERN = r"\[?[0-9a-fA-F.:]+\]?:[0-9]{1,5}"   # ADDR:PORT or [V6ADDR]:PORT, checked by endpoints.parse_addr


class Option:
    """One option of `vnet tunnel`. ``key``: its name in a topology's
    `tunnel:` and in the parsed arguments; ``flag``: ``--key`` with
    dashes. ``takes``: its value, one of "addr", "file", "var", "mtu",
    "nice", "ifname", "netns", "flag" (none). ``doc``: its text in a
    topology, for the options a `tunnel:` holds; None for the others (the
    device, its namespace and type come from the interface). ``lo``,
    ``hi``: the range a topology accepts (the CLI's parser has its own
    for an MTU, 68..65535)."""
    __slots__ = ("key", "takes", "help", "doc", "required", "metavar", "lo", "hi", "default", "flag")

    def __init__(self, key, takes, help, doc=None, required=False, metavar=None, lo=None, hi=None, default=None):
        self.key, self.takes, self.help, self.doc, self.required = key, takes, help, doc, required
        self.metavar, self.lo, self.hi, self.default = metavar, lo, hi, default
        self.flag = "--" + key.replace("_", "-")


# in the order of a command line (``argv``) and of a topology's `tunnel:`
OPTIONS = (
    Option("netns", "netns", "namespace of the device and the socket"),
    Option("dev", "ifname", "the TUN/TAP device (created if absent)", required=True),
    Option("tap", "flag", "a TAP device: carry Ethernet frames"),
    Option("listen", "addr", "local UDP address", "local UDP address, ADDR:PORT", required=True, metavar="ADDR:PORT"),
    Option("peer", "addr", "the other end's UDP address", "the other end's UDP address, ADDR:PORT", required=True,
           metavar="ADDR:PORT"),
    Option("key_file", "file", "file with the 32-byte key in hex (both ends the same)",
           "file with the 32-byte key in hex (relative to the topology file)"),
    Option("key_env", "var", "environment variable with the key in hex", "environment variable with the key in hex",
           metavar="VAR"),
    Option("underlay_mtu", "mtu", f"MTU of the path to the peer (default {UNDERLAY_MTU})",
           "MTU of the path to the peer", lo=576, hi=65535, default=UNDERLAY_MTU),
    Option("nice", "nice", f"scheduling priority, as nice(1) (-20..19; default {NICE}: ahead of the processes whose "
           "packets it carries, as the kernel's tunnels are)",
           f"the tunnel's scheduling priority, as nice(1); default {NICE}, ahead of the processes whose packets it "
           "carries (`vnet tunnel --nice`)", metavar="N", lo=-20, hi=19),
    Option("supervise", "flag", "run the tunnel in a child process and start it again whenever it ends but by "
           "SIGTERM (after 0.5 s, doubling to 10 s); SIGTERM and SIGUSR1 are passed on (vnet apply runs it so)"),
    Option("pidfile", "file", "write the pid here once the tunnel runs", metavar="FILE"),
    Option("stats", "file", "write the counters here on SIGUSR1 and at exit", metavar="FILE"),
    Option("no_create", "flag", "end (exit code 7) if the device does not exist, rather than make it"),
)
TOPOLOGY = tuple(o for o in OPTIONS if o.doc is not None)   # the keys of a topology's `tunnel:`


def argv(**values):
    """`vnet tunnel`'s arguments (after `vnet tunnel`) for these option
    values, keyed as ``Option.key``: those that are None, False or empty left out,
    and the underlay's MTU when it is the default."""
    unknown = set(values) - {o.key for o in OPTIONS}
    if unknown:
        raise TypeError(f"not an option of vnet tunnel: {', '.join(sorted(unknown))}")
    out = []
    for o in OPTIONS:
        v = values.get(o.key)
        if v is None or v is False or v == "" or (o.key == "underlay_mtu" and v == UNDERLAY_MTU):
            continue
        out += [o.flag] if o.takes == "flag" else [o.flag, str(v)]
    return out
