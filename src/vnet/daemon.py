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


def _stat(pid):
    """The fields of /proc/PID/stat after the command: [0] the state, [19] the start time."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()


def _started(pid):
    """The process's start time (clock ticks after boot)."""
    return _stat(pid)[19]


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
        fields = _stat(pid)
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


def _die_with_parent(parent):
    """In a child, before it runs: SIGTERM when the parent dies (PR_SET_PDEATHSIG)."""
    def setup():
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
        if os.getppid() != parent:   # the parent died before the call
            os._exit(1)
    return setup


def supervise(argv, name, pidfile=None, final=(2,), restart_args=(), say=None):
    """Run ``argv`` (a program, ``name`` in the log lines, that writes the pid file it is given with
    ``--pidfile`` once it handles its signals) and start it again, with
    ``restart_args`` added, whenever it ends but when told to stop (SIGTERM,
    SIGINT: passed on) or with an exit code in ``final`` (it would only fail
    again); SIGUSR1 is passed on once it is ready. Restarts come after 0.5 s,
    doubling to 10 s, back to 0.5 s after a run of 30 s. A first run that
    ends before it is ready ends the supervisor with its exit code (so that
    whoever started it hears of it). This process's own pid file is written
    once the first run is ready; the running child's is ``pidfile`` +
    ".child". The child gets SIGTERM if the supervisor dies. Returns the exit
    code."""
    import shutil
    import subprocess
    import sys
    import tempfile
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    private = None if pidfile else tempfile.mkdtemp(prefix="vnet-supervise-")
    child_pidfile = (pidfile or os.path.join(private, "run.pid")) + ".child"
    state = {"child": None, "stopping": False}

    def ready():
        c = state["child"]
        return c is not None and c.poll() is None and alive(child_pidfile) == c.pid

    def on_stop(*_a):
        state["stopping"] = True
        c = state["child"]
        if c is not None and c.poll() is None:
            c.send_signal(signal.SIGTERM)

    def on_usr1(*_a):
        if ready():
            state["child"].send_signal(signal.SIGUSR1)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGUSR1, on_usr1)
    delay, first = 0.5, True
    try:
        while not state["stopping"]:
            state["child"] = c = subprocess.Popen([*argv, *(() if first else restart_args), "--pidfile",
                                                   child_pidfile], preexec_fn=_die_with_parent(os.getpid()))
            if state["stopping"]:   # told to stop while the child was being made
                c.send_signal(signal.SIGTERM)
            started = time.monotonic()
            while first and not ready() and c.poll() is None and not state["stopping"]:
                time.sleep(0.01)
            if first and c.poll() is not None and not state["stopping"]:
                rc = c.returncode   # never ready: the caller hears why from its output
                return rc if rc >= 0 else 128 - rc
            if first and pidfile and not state["stopping"]:
                write_pidfile(pidfile)
            first = False
            rc = c.wait()
            ran = time.monotonic() - started
            if state["stopping"]:
                return 0
            if rc in final:
                say(f"vnet: {name} ended with exit code {rc}: not started again")
                return rc
            say(f"vnet: {name} ended ({_how(rc)}): starting it again in {delay:g} s")
            end = time.monotonic() + delay
            while time.monotonic() < end and not state["stopping"]:
                time.sleep(0.05)
            delay = 0.5 if ran > 30 else min(delay * 2, 10)
        return 0
    finally:
        c = state["child"]
        if c is not None and c.poll() is None:
            c.send_signal(signal.SIGTERM)
            try:
                c.wait(10)
            except subprocess.TimeoutExpired:
                c.kill()
        try:
            os.unlink(child_pidfile)
        except FileNotFoundError:
            pass
        if private:
            shutil.rmtree(private, ignore_errors=True)


def _how(rc):
    """How a child ended, for a log line: `exit code 1`, `signal SIGKILL`."""
    if rc >= 0:
        return f"exit code {rc}"
    try:
        return f"signal {signal.Signals(-rc).name}"
    except ValueError:
        return f"signal {-rc}"

