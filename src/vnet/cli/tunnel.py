"""`vnet tunnel`: run the tunnel program for a TUN/TAP device, or supervise
it (--supervise): the child is the same command without that option."""
import sys

from . import report


def cmd_tunnel(args):
    from ..tunnel.options import NICE
    key = _key_and_endpoints(args)
    nice = NICE if args.nice is None else args.nice
    if args.supervise:
        return _supervise(args, nice)

    def ready(_t):
        if args.pidfile:
            from ..daemon import write_pidfile
            write_pidfile(args.pidfile)
    from ..tunnel.startup import start
    try:
        start(args.dev, args.listen, args.peer, key=key, netns=args.netns, tap=args.tap,
              underlay_mtu=args.underlay_mtu, stats_file=args.stats, ready=ready, create=not args.no_create,
              nice=nice)
    except OSError as e:   # the kernel refused the device (a name held by another kind, ...)
        raise report.refused(e) from None


def _key_and_endpoints(args):
    """The key (None: plain), once the key and the endpoints are known good."""
    from ..errors import SpecError
    from ..tunnel.endpoints import endpoints, read_key
    try:
        key = read_key(args.key_file, args.key_env)
    except (OSError, KeyError, ValueError) as e:
        raise SpecError(f"vnet tunnel: the key: {e}") from None
    try:
        endpoints(args.listen, args.peer)
    except ValueError as e:
        raise SpecError(f"vnet tunnel: {e}") from None
    return key


def _supervise(args, nice):
    """Run the tunnel as a supervised child, started again when it dies."""
    from ..daemon import supervise
    from ..errors import DeviceGone
    from ..tunnel.options import OPTIONS, argv
    from ..tunnel.startup import prioritize
    prioritize(nice)   # the session's autogroup too: the child is in this session, not its leader
    # the child: this command's options but the supervisor's own (its pid file is the supervisor's)
    given = {o.key: getattr(args, o.key) for o in OPTIONS if o.key not in ("supervise", "pidfile")}
    child = [sys.executable, "-m", "vnet", "tunnel", *argv(**{**given, "nice": nice})]
    # a device that is there (vnet apply made it, persistent): started again, the end attaches to
    # it or ends (7), and never makes a stray one; else each end makes its own, as the first does
    from ..kernel import rtnl
    from ..kernel.session import Kernel
    try:
        with Kernel() as k:
            there = (args.netns is None or k.has(args.netns)) and rtnl.get_link(k.sock(args.netns), args.dev)
    except OSError as e:
        raise report.refused(e) from None
    return supervise(child, f"vnet tunnel --dev {args.dev}", args.pidfile, final=(2, DeviceGone.exit_code),
                     restart_args=["--no-create"] if there else [])
