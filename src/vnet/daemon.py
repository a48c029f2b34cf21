"""Programs vnet runs for a device (teamd for a team, `vnet tunnel` for a
TUN/TAP tunnel): a state directory per namespace under /run/vnet, a pid
file each, started in the device's namespace, stopped before it goes."""
import os
import signal
import time

from .ownership import state_dir


def paths(kind, ns, name):
    """(directory, config file, pid file) of the program for device ``name`` in ``ns``."""
    d = os.path.join(state_dir(), kind, ns if ns is not None else "@host")
    return d, os.path.join(d, f"{name}.json"), os.path.join(d, f"{name}.pid")


def _started(pid):
    """The process's start time (clock ticks after boot), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[19]


def write_pidfile(path):
    """This process's pid and start time: a pid the kernel has given to
    another process since does not pass for this one (``alive``)."""
    pid = os.getpid()
    with open(path + ".tmp", "w") as f:
        f.write(f"{pid} {_started(pid)}\n")
    os.replace(path + ".tmp", path)


def alive(pidfile, comm=None):
    """The program's pid if it runs (and is ``comm`` when given, and started
    when the pid file says, if it says), else None."""
    try:
        with open(pidfile) as f:
            words = f.read().split()
        pid = int(words[0])
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        if fields[0] in ("Z", "X"):
            return None   # dead, not reaped yet (an init that reaps late)
        if len(words) > 1 and fields[19] != words[1]:
            return None   # the pid is another process's now
        if comm is not None:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != comm:
                    return None
        return pid
    except (OSError, ValueError, IndexError):
        return None


def stop(pidfile, comm=None, files=()):
    """SIGTERM, wait up to 10 s (then SIGKILL), and remove its files."""
    pid = alive(pidfile, comm)
    if pid:
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 10
        while alive(pidfile, comm) and time.monotonic() < end:
            time.sleep(0.02)
        if alive(pidfile, comm):
            os.kill(pid, signal.SIGKILL)
    for fn in (pidfile, *files):
        try:
            os.unlink(fn)
        except FileNotFoundError:
            pass
