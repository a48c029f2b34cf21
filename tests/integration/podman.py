"""A real container runtime, podman 4.3 with its CNI backend, run against
CNI plugins inside a test's sandbox.

Everything podman, runc, conmon and libcni write goes to the test's tmp
directory or to mounts private to the test process: the sandbox's own /run
(/run/netns, /run/runc, and podman's runroot: conmon's exit command passes
it on the command line, where podman refuses one over 50 characters, so a
tmp path would not do), a tmpfs over /dev/shm (podman's lock file
libpod_lock) and an overlay over /var/lib whose upper half is in tmp
(libcni's cache /var/lib/cni, which podman 4.3 does not let us move). The
one thing that cannot be private is the cgroup hierarchy: each container's
cgroups go under a parent of this object's own, removed when it closes.

    with Podman(tmp_path, ["/usr/lib/cni"], {"net1": conflist}) as pm:
        pm.run(["ip", "-o", "addr"], network="net1")
"""
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

REFERENCE_PLUGINS = "/usr/lib/cni"   # Debian's containernetworking-plugins
# no CAP_SYS_RESOURCE here: podman's default rlimits (nofile 1048576) are refused
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
APPLETS = ["sh", "ip", "ping", "sleep", "cat", "ls", "true"]
# the mount namespace this was imported in: the machine's (collection runs
# before the tests' private one is made); podman never runs in it
_OUTER_MOUNTS = os.stat("/proc/self/ns/mnt").st_ino


def busybox_binary():
    """The static busybox that Debian's busybox-static installs."""
    out = subprocess.run(["dpkg", "-L", "busybox-static"], capture_output=True, text=True).stdout
    found = [p for p in out.split() if p.endswith("/bin/busybox") and os.path.isfile(p)]
    if not found:
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    return found[0]


def make_rootfs(root):
    """A container root file system: static busybox and its applets, root's
    passwd and group entries. No image, no registry."""
    root = Path(root)
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox_binary(), root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[network]
network_backend = "cni"
cni_plugin_dirs = {plugin_dirs}
network_config_dir = "{tmp}/net.d"
default_network = "podman-default-unused"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
runtime = "runc"
tmp_dir = "{tmp}/libpod-tmp"
static_dir = "{tmp}/storage/libpod"
volume_path = "{tmp}/storage/volumes"
"""

STORAGE_CONF = """\
[storage]
driver = "vfs"
graphroot = "{tmp}/storage"
runroot = "{runroot}"
"""


class Podman:
    """podman with its state in ``tmp``, the networks ``{name: conflist}``
    (dicts or JSON text) and the plugins found in ``cni_plugin_dirs``."""

    def __init__(self, tmp, cni_plugin_dirs, networks, rootfs=None):
        self.tmp = Path(tmp) / "podman"
        self.networks = {n: _as_dict(c) for n, c in networks.items()}
        self.cgroup = f"vnet-podman-{uuid.uuid4().hex[:12]}"
        self.rootfs = Path(rootfs) if rootfs else make_rootfs(self.tmp / "rootfs")
        self.env = self._write_config(list(map(str, cni_plugin_dirs)))

    def _write_config(self, plugin_dirs):
        (self.tmp / "net.d").mkdir(parents=True, exist_ok=True)
        for name, conf in self.networks.items():
            (self.tmp / "net.d" / f"{name}.conflist").write_text(json.dumps(conf, indent=1))
        fill = dict(tmp=self.tmp, runroot=f"/run/{self.cgroup}", plugin_dirs=json.dumps(plugin_dirs))
        (self.tmp / "containers.conf").write_text(CONTAINERS_CONF.format(**fill))
        (self.tmp / "storage.conf").write_text(STORAGE_CONF.format(**fill))
        return {**os.environ, "CONTAINERS_CONF": str(self.tmp / "containers.conf"),
                "CONTAINERS_STORAGE_CONF": str(self.tmp / "storage.conf")}

    # -- the private mounts ------------------------------------------------

    def __enter__(self):
        if os.stat("/proc/self/ns/mnt").st_ino == _OUTER_MOUNTS:
            raise RuntimeError("Podman must run in a private mount namespace (the sandbox fixture)")
        self.private, self.mounted = self.tmp / "private", []
        self.private.mkdir()
        try:
            self._mount("-t", "tmpfs", "none", self.private)
            self._mount("-t", "tmpfs", "none", "/dev/shm")
            for d in ("upper", "work"):
                (self.private / d).mkdir()
            self._mount("-t", "overlay", "overlay", "-o", f"lowerdir=/var/lib,upperdir={self.private}/upper,"
                        f"workdir={self.private}/work", "/var/lib")
        except BaseException:
            self._undo()
            raise
        return self

    def _mount(self, *args):
        subprocess.run(["mount", *map(str, args)], check=True)
        self.mounted.append(str(args[-1]))

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Every container removed, every podman and conmon ended, then the
        private mounts and the cgroups undone."""
        try:
            self.podman("rm", "--all", "--force", "--time", "0", check=False)
        finally:
            self._undo()

    def _undo(self):
        _end_my_namespace_processes()
        while self.mounted:
            subprocess.run(["umount", "-l", self.mounted.pop()], check=False)
        _remove_cgroup(self.cgroup)

    # -- running -----------------------------------------------------------

    def podman(self, *args, check=True):
        r = subprocess.run(["podman", *map(str, args)], capture_output=True, text=True, env=self.env,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def run_args(self, cmd, network, options=()):
        """`podman run`'s arguments. --rootfs is a switch: the rootfs is the
        first positional argument, so every option goes before it."""
        return ["run", "--network", network, "--runtime", "runc", "--cgroup-parent", f"/{self.cgroup}",
                *ULIMITS, *options, "--rootfs", self.rootfs, *cmd]

    def run(self, cmd, network, options=(), check=True):
        """Run ``cmd`` in a throwaway container (--rm); its standard output."""
        return self.podman(*self.run_args(cmd, network, ["--rm", *options]), check=check).stdout

    def start(self, name, network, options=(), cmd=("sleep", "600")):
        """A detached container ``name`` that stays (a sleep); its address."""
        self.podman(*self.run_args(cmd, network, ["--detach", "--name", name, *options]))
        return self.address(name, network)

    def address(self, name, network):
        fmt = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
        return self.podman("inspect", "--format", fmt, name).stdout.strip()

    def remove(self, name):
        self.podman("rm", "--force", "--time", "0", name)

    def ping(self, address, network, count=1):
        """A second container on ``network`` pings ``address``: its output."""
        return self.run(["ping", "-c", str(count), "-W", "2", address], network)

    # -- what is left ------------------------------------------------------

    def leftovers(self):
        """What podman and the plugins leave: host-local reservations, the
        sandbox's interfaces, container namespaces, libcni's cache, podman's
        containers."""
        return {"reservations": self.reservations(), "links": _links(), "netns": sorted(os.listdir("/run/netns")),
                "cni_cache": _files(self.private / "upper" / "cni"),
                "containers": self.podman("ps", "--all", "--quiet").stdout.split()}

    def reservations(self):
        """{network: [reserved address...]} from every host-local dataDir."""
        out = {}
        for name, conf in self.networks.items():
            for plugin in conf["plugins"]:
                data = plugin.get("ipam", {}).get("dataDir")
                if data:
                    out[name] = out.get(name, []) + _addresses_in(Path(data) / name)
        return out


def _as_dict(conflist):
    return json.loads(conflist) if isinstance(conflist, str) else conflist


def _links():
    return sorted(ln["ifname"] for ln in json.loads(subprocess.run(
        ["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout))


def _files(root):
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _addresses_in(d):
    """The files host-local names after the addresses it reserved."""
    out = []
    for f in (d.iterdir() if d.exists() else ()):
        try:
            out.append(str(ipaddress.ip_address(f.name)))
        except ValueError:
            pass   # its lock and last_reserved_ip.N
    return sorted(out)


def _my_namespace_pids():
    """The conmon, podman and runc processes in this process's private mount
    namespace (conmon, podman's exit commands): every one started from here."""
    mine, out = os.stat("/proc/self/ns/mnt").st_ino, []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.stat(f"/proc/{p}/ns/mnt").st_ino == mine \
                    and Path(f"/proc/{p}/comm").read_text().strip() in ("conmon", "podman", "runc"):
                out.append(int(p))
        except OSError:
            pass
    return out


def _end_my_namespace_processes(grace=5.0):
    """Give conmon and `podman container cleanup` a moment, then kill what
    is left: none may outlive the private mounts it writes through."""
    deadline = time.monotonic() + grace
    while _my_namespace_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in _my_namespace_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _remove_cgroup(name):
    """The cgroups made under ``name`` in every hierarchy, deepest first."""
    roots = [Path("/sys/fs/cgroup")] + [p for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir()]
    for root in roots:
        top = root / name
        if top.is_dir():
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                d.rmdir()
            top.rmdir()
