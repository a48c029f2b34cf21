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


def alive(pidfile, comm=None):
    """The program's pid if it runs (and is ``comm`` when given), else None."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] in ("Z", "X"):
                return None   # dead, not reaped yet (an init that reaps late)
        if comm is not None:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != comm:
                    return None
        return pid
    except (OSError, ValueError):
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
