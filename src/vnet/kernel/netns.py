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


NSFS_MAGIC = 0x6E736673
NS_GET_NSTYPE = 0xB703   # _IO(0xb7, 0x3), Linux 4.11


class NotANamespace(OSError):
    """A /run/netns entry that is not a network namespace: an `ip netns add`
    or a vnet apply stopped between making the file and mounting the
    namespace on it (or someone else's file)."""

    def __init__(self, name):
        super().__init__(errno.EINVAL, f"{path(name)} exists but is not a network namespace "
                                       "(half made: its maker was stopped, or it is not one)")
        self.name = name


def is_netns(fd):
    """Is ``fd`` a network namespace (an nsfs file of type CLONE_NEWNET)?"""
    buf = ctypes.create_string_buffer(256)   # struct statfs; f_type (a long) comes first
    if _c().fstatfs(fd, buf) != 0:
        return False
    if ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF != NSFS_MAGIC:
        return False
    import fcntl
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError as e:
        return e.errno in (errno.ENOTTY, errno.EINVAL)   # a kernel before 4.11: nsfs is enough


def status(name):
    """'absent', 'netns', or 'other' (an entry that is not a network namespace)."""
    try:
        fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return "absent"
    except IsADirectoryError:
        return "other"
    try:
        return "netns" if is_netns(fd) else "other"
    finally:
        os.close(fd)


def list_names():
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def current_fd():
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def open_fd(name):
    """An fd of a named namespace; None when absent. An entry that is not a
    network namespace raises NotANamespace (setns would say only EINVAL)."""
    try:
        fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise NotANamespace(name) from None
    if not is_netns(fd):
        os.close(fd)
        raise NotANamespace(name)
    return fd


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


def create(name, finish=False):
    """Create the named namespace; return an fd of it. The thread's own
    namespace is restored even on failure. With ``finish``, an entry left
    half made (a file that is not a namespace: its maker was stopped between
    making the file and mounting the namespace on it) is made again; a
    namespace found there instead was made by someone else meanwhile, and is
    left alone (FileExistsError), as is any entry without ``finish``.

    A stop at any instant leaves nothing, a half-made entry, or a namespace
    (with lo still down if stopped before Kernel.create_ns brings it up)."""
    global _prepared
    if not _prepared:
        _prepare_run_dir()
        _prepared = True
    p = path(name)
    if finish and status(name) == "other":
        delete(name)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, f"{p} exists: namespace {name!r} was made by someone else "
                                            "meanwhile") from None
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


def run_in_each(pairs, f):
    """f(arg) for each (namespace fd, arg) of ``pairs``, run in that
    namespace: this thread enters each in turn and comes back once
    (entering and leaving for each costs a third of observing a namespace).
    SIGINT and SIGTERM wait until the thread is back: a handler that raised
    on the way home (an apply's Guard does) would leave it in a lab's
    namespace."""
    import signal
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        home = current_fd()
        try:
            for fd, arg in pairs:
                setns(fd)
                f(arg)
        finally:
            setns(home)
            os.close(home)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


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
