"""The full-kernel guest: ONE QEMU guest per test run, booted from Debian's
kernel with virtme-ng (TCG: KVM guests hang in early boot on our build
machines), sharing this machine's root file system read-only. It runs the
tests this kernel cannot, with the project's own venv, and writes their
results to a shared directory; the host reports each as a real pass or
failure with the guest's output."""
import fcntl
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT_TIMEOUT = float(os.environ.get("VNET_GUEST_TIMEOUT", 3300))   # the whole guest run (about 20 min alone; TCG slows with the load beside it)
BOOT_WAIT = float(os.environ.get("VNET_GUEST_BOOT_WAIT", 180))     # until its first command (~45 s)
BOOT_TRIES = 3
LOCK_WAIT = float(os.environ.get("VNET_GUEST_LOCK_WAIT", BOOT_TIMEOUT))   # for another run's guest to end
LOCK = "/tmp/vnet-guest.lock"
FAILOVER_MAC = "52:54:00:76:6e:01"   # the guest's failover device


def kernel():
    """The guest kernel: $VNET_GUEST_KERNEL, else the newest /boot/vmlinuz-*."""
    k = os.environ.get("VNET_GUEST_KERNEL")
    if k:
        return k
    found = sorted(glob.glob("/boot/vmlinuz-*"), key=os.path.getmtime)
    return found[-1] if found else None


class Guest:
    def __init__(self, nodeids):
        self.nodeids = list(nodeids)
        self.dir = None   # made when the guest starts: a run that needs no guest leaves nothing
        self.proc = None
        self.error = None
        self._results = None
        self.started = None
        self.lock = None

    def command(self):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="vnet-guest-", dir="/tmp")
        bindir = os.path.dirname(sys.executable)
        vng = shutil.which("vng") or os.path.join(bindir, "vng")
        k = kernel()
        if not os.path.exists(vng):
            return None, "virtme-ng is not installed (pip install virtme-ng; scripts/setup.sh does it)"
        if not k:
            return None, "no guest kernel in /boot (apt-get install linux-image-amd64; scripts/setup.sh does it)"
        if not shutil.which("qemu-system-x86_64"):
            return None, "qemu is not installed (apt-get install qemu-system-x86; scripts/setup.sh does it)"
        # the test ids go in a file: the guest's command travels on the kernel
        # command line, and Debian's 6.1 panics in early boot (a fortify
        # check in start_kernel) when that line is too long
        with open(f"{self.dir}/args", "w") as f:
            f.write("\n".join(["-q", "-rN", "--vnet-report", f"{self.dir}/results.json", *self.nodeids]) + "\n")
        # the tests' own settings (how many random labs) as on the host: the same test ids
        passed = "".join(f"{k}={shlex.quote(v)} " for k, v in sorted(os.environ.items()) if k.startswith("VNET_RANDOM_"))
        inner = (f"cd {shlex.quote(ROOT)} && export VNET_IN_GUEST=1 PYTHONDONTWRITEBYTECODE=1 {passed}"
                 f"PATH={shlex.quote(bindir)}:$PATH PYTHONPATH={shlex.quote(os.path.join(ROOT, 'tests', 'vm'))} && "
                 f"uname -r > {self.dir}/kernel && {shlex.quote(sys.executable)} -m pytest -p no:cacheprovider -p report @{self.dir}/args "
                 f"> {self.dir}/pytest.log 2>&1; echo $? > {self.dir}/exit")
        cmd = [vng, "--verbose", "--run", k, "--disable-kvm", "--force-9p", "--user", "root", "--memory", "2G",
               "--cpus", str(min(2, os.cpu_count() or 1)), "--rwdir", self.dir,
               # a virtio-net device with the STANDBY feature, for net_failover;
               # its backend is a hub port with nothing else on the hub
               f"--qemu-opts=-netdev hubport,id=vnetfo,hubid=7 -device virtio-net-pci,netdev=vnetfo,mac={FAILOVER_MAC},failover=on",
               "--", "sh", "-c", inner]
        return cmd, None

    def start(self):
        cmd, self.error = self.command()
        if cmd is None:
            return
        env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", "")}
        self._take_lock()
        self.started = time.monotonic()   # after the lock: another run's guest is not this one's boot time
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(f"{self.dir}/console.log", "w"),
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True, pass_fds=(self.lock,))
        os.pwrite(self.lock, f"{os.getpid()}, its guest {self.proc.pid}".ljust(40).encode(), 0)

    def _take_lock(self):
        """One guest at a time on this machine: TCG guests starve each other
        (two cores). Waits for another run's guest, at most LOCK_WAIT
        seconds (a guest whose test run was killed may hang: it is named);
        the guest inherits the lock, so it stays held while that guest
        lives, even if this process is killed."""
        if self.lock is not None:
            return
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        end = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise GuestError(f"another run's guest (pid {holder}) has held {LOCK} for {LOCK_WAIT:.0f} s "
                                     "(VNET_GUEST_LOCK_WAIT): kill it if it hangs") from None
                time.sleep(1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self.lock = fd

    def stop(self):
        """Kill the guest if it still runs (the host run ended early)."""
        if self.proc is not None and self.proc.poll() is None:
            import signal
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self):
        """Stop it, and remove its directory once its results were reported
        (a failed boot keeps its logs there for a look)."""
        self.stop()
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None
        if self.dir and self._results is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def results(self):
        """{nodeid: {outcome, longrepr, sections, duration}}; boots the guest
        on first use and waits for it."""
        if self._results is not None:
            return self._results
        for attempt in range(BOOT_TRIES):
            if self.proc is None:
                self.start()
            if self.error:
                raise GuestError(self.error)
            if self._wait_boot():
                break
            self.stop()   # no sign of life: boot again (TCG boots were seen to hang)
            self.proc = None
        else:
            raise GuestError(f"the guest did not boot in {BOOT_TRIES} tries of {BOOT_WAIT:.0f} s\n" + self._logs())
        try:
            self.proc.wait(timeout=max(1, BOOT_TIMEOUT - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.stop()
            raise GuestError(f"the guest did not finish in {BOOT_TIMEOUT:.0f} s\n" + self._logs()) from None
        try:
            with open(f"{self.dir}/results.json") as f:
                self._results = json.load(f)
        except (OSError, ValueError):
            raise GuestError("the guest ran no tests\n" + self._logs()) from None
        return self._results

    def _wait_boot(self):
        """True once the guest ran its first command (it writes its kernel
        release), or exited; False after BOOT_WAIT seconds without either."""
        end = time.monotonic() + BOOT_WAIT
        while time.monotonic() < end:
            if os.path.exists(f"{self.dir}/kernel") or self.proc.poll() is not None:
                return True
            time.sleep(1)
        return False

    def _logs(self):
        out = []
        for name in ("console.log", "pytest.log"):
            try:
                with open(f"{self.dir}/{name}") as f:
                    out.append(f"--- {name} (tail) ---\n" + "".join(f.readlines()[-60:]))
            except OSError:
                pass
        return "\n".join(out)

    def kernel_release(self):
        try:
            with open(f"{self.dir}/kernel") as f:
                return f.read().strip()
        except OSError:
            return None


class GuestError(Exception):
    pass
