"""How a command ends: its exit code, and what is said when it fails (a
user's error, the kernel's refusal, a lack of privilege, a bug) in one line."""
import json
import os
import sys

from ..errors import VnetError

# `vnet plan --exit-code`: changes pending (any error is then 1, as terraform's -detailed-exitcode)
PENDING = 2


class OutputError(Exception):
    """Standard output could not be written."""


def report(cmd, args, e):
    if getattr(args, "json", False):
        print(json.dumps({"error": type(e).__name__, "message": str(e),
                          "problems": getattr(e, "problems", None)}))
    else:
        print(f"vnet {cmd}: {e}" if not hasattr(e, "problems") else str(e), file=sys.stderr)


def internal_error(cmd, args, e):
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


def os_text(e):
    """An OSError as one line: its file (if any), then what went wrong."""
    import re
    if e.filename is not None:
        text = f"{e.filename}: {os.strerror(e.errno) if e.errno else e.strerror}"
        return text + (f" -> {e.filename2}" if e.filename2 is not None else "")
    return " ".join(re.sub(r"^\[Errno \d+\] ", "", str(e)).split())


def os_error(e):
    """The VnetError an OSError that reached the command line stands for:
    a refusal for want of privilege (exit 3), a file vnet could not use
    (exit 1), or, with neither, a bug (re-raised)."""
    import errno
    from ..kernel import netns
    if isinstance(e, getattr(netns, "NotANamespace", ())):   # a /run/netns entry vnet must not touch
        from ..errors import PlanError
        return PlanError(os_text(e))
    if e.errno in (errno.EPERM, errno.EACCES):
        from ..errors import NotPermitted
        return NotPermitted(os_text(e), hint=not privileged())
    if e.filename is not None:
        return VnetError(os_text(e))
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):   # only ever from a write: ours are to stdout
        return OutputError(os.strerror(e.errno))
    raise e


def refused(e):
    """A KernelError (exit 3) for an OSError the kernel gave back; for want
    of privilege, the command line's own message."""
    import errno
    if e.errno in (errno.EPERM, errno.EACCES) or e.filename is not None:
        return os_error(e)
    from ..errors import KernelError
    err = KernelError(0, os_text(e))
    err.errno = e.errno
    return err


def privileged():
    """Whether this process has CAP_NET_ADMIN and CAP_SYS_ADMIN (in its own
    user namespace: root in `unshare -r` has them)."""
    try:
        with open("/proc/self/status") as f:
            eff = next(int(ln.split()[1], 16) for ln in f if ln.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return os.geteuid() == 0
    return all(eff >> bit & 1 for bit in (12, 21))   # CAP_NET_ADMIN, CAP_SYS_ADMIN


def need_root():
    """Refuse up front a command that cannot do anything without privilege."""
    if not privileged():
        from ..errors import NotPermitted
        raise NotPermitted("Operation not permitted")
