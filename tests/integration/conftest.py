"""Integration tests run as root against this machine's kernel, each inside
a sandbox made for it: a private mount namespace with its own /run (so
/run/netns and /run/vnet are private) and a fresh network namespace. Nothing
a test builds can reach the machine's own interfaces, and whatever it leaves
vanishes with the sandbox."""
import contextlib
import ctypes
import os
import subprocess
import sys

import pytest

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
MNT_DETACH = 2
libc = ctypes.CDLL(None, use_errno=True)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_private = False

if os.geteuid() != 0:
    # these tests exist to prove the kernel does what we claim; without root they cannot
    pytest.exit("integration tests need root (they build networks in private namespaces)", returncode=1)


def _ok(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


_machine_run = None   # the machine's own /run, opened before the tests' hid it


def _private_session():
    """Once per test process: a private mount namespace whose /run is a
    tmpfs of its own, beneath every sandbox's. What runs between sandboxes,
    or outlives one (a process a test left in a namespace of its own, a
    teardown after the sandbox's), then writes there: with the machine's
    /run beneath each sandbox's, it wrote to the machine's /run/netns."""
    global _private, _machine_run
    if _private:
        return
    _ok(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _ok(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _machine_run = os.open("/run", os.O_RDONLY | os.O_DIRECTORY)
    _ok(libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, None), "mount the session's /run")
    _private = True


def machine_namespaces():
    """The names in the machine's own /run/netns (not the tests')."""
    try:
        return set(os.listdir(f"/proc/self/fd/{_machine_run}/netns"))
    except FileNotFoundError:
        return set()


@pytest.fixture(autouse=True)
def _the_machine_is_left_alone():
    """No test leaves a namespace in the machine's /run/netns."""
    _private_session()
    before = machine_namespaces()
    yield
    left = machine_namespaces() - before
    assert not left, f"the test left namespaces in the machine's /run/netns: {', '.join(sorted(left))}"


@contextlib.contextmanager
def sandboxed(tmp_path):
    """A fresh network namespace and private /run, lo up, undone on exit.
    Nests: a sandbox made inside another hides the outer one's /run until
    it ends (a round trip builds in one and re-creates in a second)."""
    home_net = os.open("/proc/self/ns/net", os.O_RDONLY)
    _private_session()
    _ok(libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, None), "mount /run")
    os.makedirs("/run/netns")
    _ok(libc.unshare(CLONE_NEWNET), "unshare(net)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    try:
        yield Sandbox(tmp_path)
    finally:
        _kill_processes_in(["/proc/self/ns/net"] + [f"/run/netns/{n}" for n in os.listdir("/run/netns")])
        subprocess.run(["sh", "-c", "for n in $(ls /run/netns); do umount -l /run/netns/$n; done"],
                       check=False)
        _ok(libc.setns(home_net, CLONE_NEWNET), "setns(home)")
        os.close(home_net)
        libc.umount2(b"/run", MNT_DETACH)


@pytest.fixture
def sandbox(tmp_path):
    """A fresh network namespace and private /run for one test; lo is up."""
    with sandboxed(tmp_path) as s:
        yield s


def _kill_processes_in(ns_files):
    """Whatever still runs in the sandbox's namespaces (a teamd or tunnel a
    failed test left) is killed: nothing outlives its test."""
    import signal
    inodes = set()
    for f in ns_files:
        try:
            inodes.add(os.stat(f).st_ino)
        except OSError:
            pass
    me = os.getpid()
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != me:
            try:
                if os.stat(f"/proc/{p}/ns/net").st_ino in inodes:
                    os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass


class Sandbox:
    def __init__(self, tmp):
        self.tmp = tmp

    def vnet(self, *args, check=True, input=None):
        """Run the vnet command as a user would."""
        r = subprocess.run([sys.executable, "-m", "vnet", *map(str, args)], capture_output=True, text=True,
                           input=input, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
        if check and r.returncode != 0:
            raise AssertionError(f"vnet {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def sh(self, cmd, check=True):
        r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def vnet_killed_at(self, k, *args):
        """`vnet ARGS` killed (SIGKILL) after its k-th changing request
        (VNET_KILL_AT_REQUEST): its completed process, unchecked."""
        os.environ["VNET_KILL_AT_REQUEST"] = str(k)
        try:
            return self.vnet(*args, check=False)
        finally:
            del os.environ["VNET_KILL_AT_REQUEST"]

    def write(self, name, text):
        p = self.tmp / name
        p.write_text(text)
        return str(p)

    def ip_json(self, ns=None, what="link"):
        import json
        pre = f"ip -n {ns}" if ns else "ip"
        return json.loads(self.sh(f"{pre} -j -d {what} show"))

    def links(self, ns=None):
        return {ln["ifname"]: ln for ln in self.ip_json(ns)}

    def external(self, name="eth1", addr=None):
        """An existing device not owned by vnet: one end of a veth pair,
        settled (see ``settle``)."""
        self.sh(f"ip link add {name} type veth peer name {name}-p && ip link set {name} up && ip link set {name}-p up")
        if addr:
            self.sh(f"ip addr add {addr} dev {name}")
        self.settle(name, f"{name}-p")

    def settle(self, *devs):
        """``devs`` as they will stay: the carrier up (linkwatch takes a
        moment) and IPv6's link-local address out of DAD with its route in
        place, so that a comparison of the kernel before and after a command
        sees only what the command did."""
        import time
        end = time.monotonic() + 10
        while time.monotonic() < end:
            links = self.sh("; ".join(f"ip link show {d}" for d in devs))
            v6 = self.sh("; ".join(f"ip -6 addr show dev {d}" for d in devs))
            routes = self.sh("; ".join(f"ip -6 route show dev {d}" for d in devs))
            if "NO-CARRIER" not in links and "tentative" not in v6 and \
                    routes.count("fe80::/64") == v6.count("inet6 fe80::"):
                return
            time.sleep(0.05)

    def settle_netns(self, ns, limit=10):
        """Namespace ``ns`` as it will stay: every device up with its carrier
        has its IPv6 link-local address out of DAD. The kernel announces a
        carrier (linkwatch batches them, up to a second later), then the
        address, then its DAD's end: a monitor listening before that sees
        those devices change."""
        import json
        import time
        end = time.monotonic() + limit
        while time.monotonic() < end:
            links = json.loads(self.sh(f"ip -n {ns} -j link show up") or "[]")
            addrs = {a["ifname"]: a.get("addr_info", []) for a in json.loads(self.sh(f"ip -n {ns} -j -6 addr") or "[]")}
            busy = [ln["ifname"] for ln in links if ln.get("ifname", "lo") != "lo" and "LOWER_UP" in ln["flags"]
                    and (ln.get("operstate") not in ("UP", "UNKNOWN")
                         or not [a for a in addrs.get(ln["ifname"], []) if a["local"].startswith("fe80:")
                                 and not a.get("tentative")])]
            if not busy:
                return
            time.sleep(0.05)
        raise AssertionError(f"namespace {ns} not settled after {limit} s")

    def settled_dump(self, quiet=0.3, limit=10):
        """``dump_all`` once the kernel has stopped changing it by itself:
        the same for ``quiet`` seconds and no IPv6 address tentative
        anywhere (a device just made or brought up gets its carrier and
        link-local route a moment later, in any namespace)."""
        import time
        end = time.monotonic() + limit
        last = self.dump_all()
        while time.monotonic() < end:
            time.sleep(quiet)
            now = self.dump_all()
            tentative = any("tentative" in self.sh(f"ip -n {ns} -6 addr" if ns else "ip -6 addr")
                            for ns in [None] + sorted(os.listdir("/run/netns")))
            if now == last and not tentative:
                return now
            last = now
        return last

    def dump_all(self):
        """Every namespace's links (minus volatile counters), addresses and routes: for 'nothing changed'."""
        out = {}
        for ns in [None] + sorted(os.listdir("/run/netns")):
            pre = f"ip -n {ns}" if ns else "ip"
            # the operstate column is the kernel's running state (a bridge's goes
            # UNKNOWN -> UP as ports move), not configuration: left out
            links = "\n".join(" ".join(ln.split()[:1] + ln.split()[2:]) for ln in self.sh(f"{pre} -br link").splitlines())
            addrs = "\n".join(" ".join(ln.split()[:1] + ln.split()[2:]) for ln in self.sh(f"{pre} -br addr").splitlines())
            out[ns] = links + "\n" + addrs + "\n" + self.sh(f"{pre} route; {pre} -6 route")
        return out
