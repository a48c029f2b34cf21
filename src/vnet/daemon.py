"""Programs vnet runs for a device (teamd for a team, `vnet tunnel` for a
TUN/TAP tunnel): a state directory per namespace under /run/vnet, a pid
file each, started in the device's namespace, stopped before it goes."""
import contextlib
import os
import signal
import time

from .statedir import state_dir


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


# A program started for a device must not outlive a starter killed before it
# knew the program was running (a `vnet apply` killed by SIGKILL between
# starting a tunnel's supervisor and seeing it ready): it would run on as an
# orphan nobody recorded, beside the one the next apply starts. So it is
# started held: it gets SIGTERM if its starter dies, until the starter, having
# seen it ready, lets it go (a byte on its stdin).
HOLD_ENV = "VNET_HELD_BY_STARTER"


def start_held(argv, **kw):
    """Popen ``argv`` held by this process (see above); ``let_go`` it once ready."""
    import subprocess
    env = {**(kw.pop("env", None) or os.environ), HOLD_ENV: "1"}
    return subprocess.Popen(argv, stdin=subprocess.PIPE, env=env, preexec_fn=_die_with_parent(os.getpid()), **kw)


def let_go(proc):
    """Tell a program started by ``start_held`` that it may outlive us."""
    try:
        proc.stdin.write(b"\n")
        proc.stdin.close()
    except OSError:
        pass   # it has ended: whoever looks next finds it dead


def _wait_to_be_let_go(held, timeout=120):
    """In a program started held: wait for the starter's word, then no more
    SIGTERM when it dies. False when the starter died (or closed) first."""
    import select
    if not held:
        return True
    ready, _w, _x = select.select([0], [], [], timeout)
    word = os.read(0, 1) if ready else b""
    if not word:
        return False
    import ctypes
    ctypes.CDLL(None).prctl(1, 0)   # PR_SET_PDEATHSIG: none
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return True


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
    ".child". The child gets SIGTERM if the supervisor dies. Started by
    ``start_held``, it stops (its pid file removed) if its starter dies
    before it lets it go (``let_go``) once its pid file is there. Returns the
    exit code."""
    import sys
    s = _Supervision(argv, name, pidfile, final, restart_args,
                     say or (lambda text: print(text, file=sys.stderr, flush=True)))
    s.handle_signals()
    try:
        return s.run()
    finally:
        s.clean_up()


class _Supervision:
    """One supervise(): its child (the running one), whether it was told to
    stop, and the files it keeps."""

    def __init__(self, argv, name, pidfile, final, restart_args, say):
        import tempfile
        self.argv, self.name, self.pidfile, self.final, self.restart_args, self.say = \
            argv, name, pidfile, final, restart_args, say
        self.held = os.environ.pop(HOLD_ENV, None)   # not for the child
        self.private = None if pidfile else tempfile.mkdtemp(prefix="vnet-supervise-")
        self.child_pidfile = (pidfile or os.path.join(self.private, "run.pid")) + ".child"
        self.child, self.stopping = None, False

    def ready(self):
        c = self.child
        return c is not None and c.poll() is None and alive(self.child_pidfile) == c.pid

    def stop(self, *_a):
        self.stopping = True
        c = self.child
        if c is not None and c.poll() is None:
            c.send_signal(signal.SIGTERM)

    def usr1(self, *_a):
        if self.ready():
            self.child.send_signal(signal.SIGUSR1)

    def handle_signals(self):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGUSR1, self.usr1)

    def run(self):
        """Start the child, wait for it, start it again after a pause, until
        told to stop or it ends with a final exit code; the exit code."""
        delay, first = 0.5, True
        while not self.stopping:
            c = self._start(first)
            started = time.monotonic()
            if first and (rc := self._first_run(c)) is not None:
                return rc
            first = False
            rc = c.wait()
            ran = time.monotonic() - started
            if self.stopping:
                return 0
            if rc in self.final:
                self.say(f"vnet: {self.name} ended with exit code {rc}: not started again")
                return rc
            self.say(f"vnet: {self.name} ended ({_how(rc)}): starting it again in {delay:g} s")
            self._pause(delay)
            delay = 0.5 if ran > 30 else min(delay * 2, 10)
        return 0

    def _start(self, first):
        import subprocess
        self.child = c = subprocess.Popen([*self.argv, *(() if first else self.restart_args), "--pidfile",
                                           self.child_pidfile], preexec_fn=_die_with_parent(os.getpid()),
                                          stdin=subprocess.DEVNULL)
        if self.stopping:   # told to stop while the child was being made
            c.send_signal(signal.SIGTERM)
        return c

    def _first_run(self, c):
        """Wait for the first child to be ready; then write this process's
        pid file and wait to be let go. The child's exit code if it ended
        before it was ready, else None."""
        while not self.ready() and c.poll() is None and not self.stopping:
            time.sleep(0.01)
        if c.poll() is not None and not self.stopping:
            rc = c.returncode   # never ready: the caller hears why from its output
            return rc if rc >= 0 else 128 - rc
        if self.pidfile and not self.stopping:
            write_pidfile(self.pidfile)
            if not _wait_to_be_let_go(self.held):   # its starter died before it knew: no orphan
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.pidfile)
                self.stop()
        return None

    def _pause(self, delay):
        end = time.monotonic() + delay
        while time.monotonic() < end and not self.stopping:
            time.sleep(0.05)

    def clean_up(self):
        """The child stopped (killed after 10 s), its pid file and this run's private directory gone."""
        import shutil
        import subprocess
        c = self.child
        if c is not None and c.poll() is None:
            c.send_signal(signal.SIGTERM)
            try:
                c.wait(10)
            except subprocess.TimeoutExpired:
                c.kill()
        try:
            os.unlink(self.child_pidfile)
        except FileNotFoundError:
            pass
        if self.private:
            shutil.rmtree(self.private, ignore_errors=True)


def _how(rc):
    """How a child ended, for a log line: `exit code 1`, `signal SIGKILL`."""
    if rc >= 0:
        return f"exit code {rc}"
    try:
        return f"signal {signal.Signals(-rc).name}"
    except ValueError:
        return f"signal {-rc}"

