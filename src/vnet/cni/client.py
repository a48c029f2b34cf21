"""The plugin's fast path: hand the call to a warm vnet (vnet.cni.server),
which forks a child with every module already imported to run it on this
process's own stdin, stdout and stderr (passed over a Unix socket), with
this call's environment, in this process's namespaces. A call then costs
a Python start and a fork, not vnet's imports.

Imports nothing but the interpreter's built-in modules. When there is no
warm vnet to talk to (the first call, another namespace, any failure
before the call is handed over), ``call`` returns None and the caller runs
the command itself; the first such call starts a server for the next ones."""
import os

MAGIC = b"VNETCNI1"
SPAWN_WAIT = 10.0   # a server being started for this long is taken to have failed


def run(build):
    """The plugin: the call handed to the warm vnet of ``build`` (the
    installed executable's id), else run here. VNET_CNI_SERVER=0: always here."""
    if os.environ.get("VNET_CNI_SERVER", "1") != "0":
        status = call(socket_path(build), spawn=lambda: _spawn(build))
        if status is not None:
            return status
    from .main import main
    return main()


def socket_path(build):
    from ..statedir import state_dir
    return os.path.join(state_dir(), f"cni-{build}.sock")


def _spawn(build):
    """Start the server, unless another call is starting it (its mark is
    younger than SPAWN_WAIT)."""
    import time
    mark = socket_path(build) + ".starting"
    try:
        os.makedirs(os.path.dirname(mark), exist_ok=True)
        fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        try:
            if time.time() - os.stat(mark).st_mtime < SPAWN_WAIT:
                return
            os.unlink(mark)
        except OSError:
            pass
        return
    except OSError:
        return
    os.close(fd)
    import sys
    package_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spawn(sys.executable, package_dir, build)


def spawn(python, package_dir, build):
    """Start a server for ``build`` (the installed plugin's id) in the background."""
    code = (f"import sys; sys.path[:0] = [{package_dir!r}]; from vnet.cni.server import main; main({build!r})")
    try:
        os.posix_spawn(python, [python, "-IS", "-c", code], dict(os.environ), setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    except OSError:
        pass   # no warm vnet then: every call runs in its own process


def identity():
    """This process's network and mount namespaces: a server in others
    would do the work in the wrong place."""
    try:
        return "%d:%d" % (os.stat("/proc/self/ns/net").st_ino, os.stat("/proc/self/ns/mnt").st_ino)
    except OSError:
        return ""


def request(environ):
    """The bytes of a request: MAGIC, our namespaces, the environment."""
    env = b"\0".join(k.encode() + b"=" + v.encode() for k, v in environ.items() if "\0" not in k + v)
    return MAGIC + identity().encode() + b"\n" + env


def call(path, environ=None, spawn=None):
    """The exit status of the command run by the server at ``path``; None
    when no server took it (``spawn()`` is then called to start one)."""
    import _socket
    environ = os.environ if environ is None else environ
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        try:
            s.connect(path)
        except OSError:
            if spawn is not None:
                spawn()
            return None
        data = request(environ)
        fds = (0).to_bytes(4, "little") + (1).to_bytes(4, "little") + (2).to_bytes(4, "little")
        try:
            s.sendmsg([len(data).to_bytes(4, "little"), data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        except OSError:
            return None   # nothing handed over (a closed stdin, say): run here
        answer = _recv_exactly(s, 4)
        if answer is None:
            return 1   # the server's child died mid-call: a failed call (the runtime's DEL cleans up)
        status = int.from_bytes(answer, "little", signed=True)
        return None if status == -1 else status   # -1: declined (another namespace): run it here
    finally:
        s.close()


def _recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            return None
        buf += b
    return buf
