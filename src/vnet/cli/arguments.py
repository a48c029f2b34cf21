"""The types of the command line's arguments (a bad value is a usage error
that says why) and their shell completers."""
import argparse
import os


def files(prefix, **_kw):
    """Completion: topology files (and directories to go on into)."""
    import glob
    out = []
    for f in glob.glob(os.path.expanduser(prefix) + "*"):
        if os.path.isdir(f):
            out.append(f + "/")
        elif f.endswith((".yaml", ".yml", ".json")):
            out.append(f)
    return out


def targets(prefix, **kw):
    """Completion of FILE|NAME: the applied topologies (records in the state
    directory), then topology files."""
    from ..ownership import recorded_names
    return [n for n in recorded_names() if n.startswith(prefix)] + files(prefix, **kw)


def namespaces(prefix, **_kw):
    from ..kernel.netns import list_names
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


def seconds(text):
    return _number(text, float, 0, float("inf"), "give a number of seconds, 0 or more")


def mtu(text):
    return _number(text, int, 68, 65535, "an MTU is 68..65535")


def nice(text):
    return _number(text, int, -20, 19, "a nice value is -20..19")


def ifname(text):
    import re
    if not re.fullmatch(r"[^/:\s\x00]+", text) or len(text.encode()) > 15:   # the spec's rule, as the kernel's
        raise argparse.ArgumentTypeError(f"{text!r}: an interface name is 1-15 bytes without '/', ':' or "
                                         "whitespace")
    return text


def nsname(text):
    """A name `ip netns` accepts (any namespace, not only vnet's): a file name under /run/netns."""
    if text in ("", ".", "..") or "/" in text or "\x00" in text or len(os.fsencode(text)) > 255:
        raise argparse.ArgumentTypeError(f"{text!r}: not a namespace name (a file name under /run/netns)")
    return text


def topology_name(text):
    from .targets import is_name
    if not is_name(text):
        raise argparse.ArgumentTypeError(f"{text!r}: a topology name is 1-32 of a-z, 0-9, '-'")
    return text
