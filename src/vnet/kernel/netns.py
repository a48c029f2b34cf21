"""Named network namespaces, the way `ip netns` keeps them (a bind mount of the
namespace under /run/netns), created and entered without forking: unshare and
setns on this thread, then back."""
import contextlib
import ctypes
import errno
import os

CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 1 << 20
MNT_DETACH = 2
NETNS_RUN_DIR = os.environ.get("VNET_NETNS_DIR", "/run/netns")

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(fd):
    _check(_c().setns(fd, CLONE_NEWNET), "setns")


def path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def exists(name):
    return os.path.exists(path(name))


def list_names():
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def current_fd():
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def open_fd(name):
    """An fd of a named namespace; None when absent."""
    try:
        return os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def _prepare_run_dir():
    """Make NETNS_RUN_DIR a shared mount, as `ip netns add` does, so the
    namespace mounts are seen by every mount namespace that shares it."""
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    c = _c()
    d = NETNS_RUN_DIR.encode()
    if c.mount(b"none", d, b"none", MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"mount --make-shared {NETNS_RUN_DIR}")
    _check(c.mount(d, d, b"none", MS_BIND | MS_REC, None), f"mount --bind {NETNS_RUN_DIR}")
    _check(c.mount(b"none", d, b"none", MS_SHARED | MS_REC, None), f"mount --make-shared {NETNS_RUN_DIR}")


_prepared = False


def create(name):
    """Create the named namespace; return an fd of it. The thread's own
    namespace is restored even on failure."""
    global _prepared
    if not _prepared:
        _prepare_run_dir()
        _prepared = True
    p = path(name)
    fd = os.open(p, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0)
    os.close(fd)
    home = current_fd()
    try:
        _check(_c().unshare(CLONE_NEWNET), "unshare")
        try:
            _check(_c().mount(b"/proc/thread-self/ns/net", p.encode(), b"none", MS_BIND, None),
                   f"mount {p}")
            return current_fd()
        finally:
            setns(home)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(p)
        raise
    finally:
        os.close(home)


def delete(name):
    """Remove the named namespace: the kernel frees it (and every device in
    it) once nothing holds it any more."""
    p = path(name).encode()
    _c().umount2(p, MNT_DETACH)
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def entered(fd):
    """Run a block with this thread in the namespace ``fd`` (None: stay)."""
    if fd is None:
        yield
        return
    home = current_fd()
    setns(fd)
    try:
        yield
    finally:
        setns(home)
        os.close(home)


CLONE_NEWNS = 0x00020000
MS_PRIVATE = 1 << 18


def read_sysfs(fd, paths):
    """Read files of /sys as seen from network namespace ``fd`` (sysfs shows
    the namespace it was mounted in: like `ip netns exec`, mount a fresh one,
    here in a private mount namespace of this thread, then come back).
    Returns {path: text or None}; all None when that is not possible (a
    multi-threaded caller cannot change its mount namespace)."""
    import tempfile
    out = dict.fromkeys(paths)
    c = _c()
    mnt = os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    net = current_fd()
    d = None
    try:
        setns(fd)
        if c.unshare(CLONE_NEWNS) != 0:
            return out
        c.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
        d = tempfile.mkdtemp(prefix="vnet-sys-")
        if c.mount(b"sysfs", d.encode(), b"sysfs", 0, None) != 0:
            return out
        for p in paths:
            try:
                with open(os.path.join(d, p)) as f:
                    out[p] = f.read().strip()
            except OSError:
                pass
        c.umount2(d.encode(), MNT_DETACH)
        return out
    finally:
        c.setns(mnt, CLONE_NEWNS)
        setns(net)
        os.close(mnt)
        os.close(net)
        if d:
            os.rmdir(d)
