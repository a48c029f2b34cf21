"""A warm vnet for the CNI plugin: a process with the plugin's modules
imported, listening on a Unix socket under vnet's state directory (root
only). Each call is a request from vnet.cni.client with the caller's
environment and its stdin, stdout and stderr (SCM_RIGHTS); the server
forks a child that runs vnet.cni.main on them exactly as the plugin
process would, and answers the exit status. A caller that goes away
mid-call takes its child with it (SIGKILL), as a killed plugin would.
The server leaves when idle for ``IDLE`` seconds.

Started by the first plugin call that finds none (client.spawn), in that
call's namespaces; a call from other namespaces is declined and runs in
its own process."""
import os
import select
import signal
import sys

from .client import MAGIC, identity, socket_path

IDLE = float(os.environ.get("VNET_CNI_IDLE", "600"))
WARM = ("vnet.cni.main", "vnet.cni.commands", "vnet.cni.upkeep", "vnet.cni.config", "vnet.cni.ipam",
        "vnet.cni.versions", "vnet.cni.attachment", "vnet.topofile.loader", "vnet.api", "vnet.applier",
        "vnet.planner", "vnet.observer", "vnet.destroyer", "vnet.kernel.session", "vnet.ownership", "resource",
        "threading")


def main(build):
    os.closerange(3, 1 << 16)   # nothing of the first caller's (its runtime's pipes) held open
    os.chdir("/")               # nor its directory
    import importlib
    for m in WARM:
        importlib.import_module(m)
    _warm()
    listener = _listen(socket_path(build))
    _unlink_path(socket_path(build) + ".starting")
    if listener is not None:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # its socket goes with it
        try:
            Server(listener, identity()).run()
        finally:
            _unlink(listener)


# configurations read once at start: the caches they fill (compiled patterns,
# the kinds' fields) are the children's from then on
SAMPLES = ({"cniVersion": "1.0.0", "name": "warm", "type": "vnet", "master": "eth9", "mode": "bridge"},
           {"cniVersion": "1.0.0", "name": "warm", "type": "vnet", "bridge": "br9", "isGateway": True},
           {"cniVersion": "1.0.0", "name": "warm", "type": "vnet", "interfaces": [{"kind": "vlan", "link": "eth9",
                                                                                  "id": 9}]})


def _warm():
    """Every kind loaded, sample configurations read, and all of it frozen
    out of the garbage collector's way (a child never walks it, nor
    copies it by touching it)."""
    import gc
    import vnet.kinds
    from . import commands, config
    vnet.kinds.REGISTRY
    env = commands.Env({"CNI_CONTAINERID": "warm", "CNI_NETNS": "/run/netns/warm", "CNI_IFNAME": "eth0"})
    for conf in SAMPLES:
        net = config.read(conf, env)
        commands._topology(net, commands._addressed(net, {"ips": [{"address": "10.9.9.2/24", "gateway": "10.9.9.1"}],
                                                       "routes": [{"dst": "0.0.0.0/0"}]}, env), env)
    _netlink_warm()
    gc.collect()
    gc.freeze()


def _netlink_warm():
    """One query answered: netlink's receive buffer (1 MiB, made on a
    thread's first read, 0.7 ms of zeroed pages) is then the children's
    from the start, as everything else the first query sets up."""
    from vnet.kernel import netlink, rtnl
    s = netlink.Socket()
    try:
        rtnl.get_link(s, "lo")
    finally:
        s.close()


def _listen(path):
    """The listening socket at ``path``, or None when another server has it."""
    import socket
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)   # the socket is root's alone
    try:
        s.bind(path)
    except OSError:
        if _answers(path):
            return None
        _unlink_path(path)   # a server that died left it
        try:
            s.bind(path)
        except OSError:
            return None
    finally:
        os.umask(old)
    s.listen(128)
    return s


def _answers(path):
    import socket
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(path)
        return True
    except OSError:
        return False
    finally:
        c.close()


def _unlink(listener):
    _unlink_path(listener.getsockname())


def _unlink_path(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class Server:
    def __init__(self, listener, ident):
        self.listener, self.ident = listener, ident
        self.children = {}   # connection fd -> (child pid, connection)
        self.poll = select.poll()
        self.poll.register(listener.fileno(), select.POLLIN)

    def run(self):
        import time
        last = time.monotonic()
        while self.children or time.monotonic() - last < IDLE:
            # callers that hung up first: a runtime that killed a call and
            # then sends DEL finds the killed call's child gone, not at work
            for fd, ev in sorted(self.poll.poll(1000), key=lambda e: e[0] == self.listener.fileno()):
                if fd == self.listener.fileno():
                    self._accept()
                    last = time.monotonic()
                elif ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLIN):
                    self._gone(fd)
            self._reap()

    def _accept(self):
        import socket
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        try:
            env, fds = _read_request(conn, socket)
        except (OSError, ValueError):
            conn.close()
            return
        if env is None or env.pop("\0ident", None) != self.ident or _peer_uid(conn, socket) != os.getuid():
            _answer(conn, -1)
            _close_all(fds, conn)
            return
        try:
            pid = os.fork()
        except OSError:   # no process to be had (a limit): declined, the caller runs it in its own
            _answer(conn, -1)
            _close_all(fds, conn)
            return
        if pid == 0:
            self.listener.close()
            _child(conn, env, fds)
        for fd in fds:
            os.close(fd)
        self.children[conn.fileno()] = (pid, conn)
        self.poll.register(conn.fileno(), select.POLLRDHUP)

    def _gone(self, fd):
        """The caller hung up: a child still at work goes with it, and with
        the processes it started (an IPAM plugin), before the next call is
        taken, as they would go with a killed plugin's process."""
        pid, conn = self.children.pop(fd, (None, None))
        if pid is None:
            return
        for kill in (os.killpg, os.kill):   # its group, and itself if it is not its group's leader yet
            try:
                kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
        self.poll.unregister(fd)
        conn.close()

    def _reap(self):
        for fd, (pid, conn) in list(self.children.items()):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                try:
                    self.poll.unregister(fd)
                except KeyError:
                    pass
                conn.close()
                del self.children[fd]


def _read_request(conn, socket):
    """(environment with the caller's namespaces under "\\0ident", [fds 0, 1, 2])."""
    import array
    conn.settimeout(5)
    fds = array.array("i")
    head, anc, _, _ = conn.recvmsg(4, socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    fds = list(fds)
    if len(head) != 4 or len(fds) != 3:
        _close_all(fds)
        raise ValueError("not a request")
    n = int.from_bytes(head, "little")
    data = b""
    while len(data) < n:
        b = conn.recv(n - len(data))
        if not b:
            _close_all(fds)
            raise ValueError("cut short")
        data += b
    if not data.startswith(MAGIC):
        _close_all(fds)
        raise ValueError("not a request")
    ident, _, blob = data[len(MAGIC):].partition(b"\n")
    env = dict(kv.decode().split("=", 1) for kv in blob.split(b"\0") if b"=" in kv)
    env["\0ident"] = ident.decode()
    return env, fds


def _peer_uid(conn, socket):
    import struct
    cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", cred)[1]


def _answer(conn, status):
    try:
        conn.sendall(int(status).to_bytes(4, "little", signed=True))
    except OSError:
        pass


def _close_all(fds, conn=None):
    for fd in fds:
        os.close(fd)
    if conn is not None:
        conn.close()


def _child(conn, env, fds):
    """Run the call on the caller's stdin, stdout and stderr with its
    environment, answer its status, and end."""
    status = 1
    try:
        os.setpgid(0, 0)   # a group of its own, killed whole with its caller
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        import gc
        gc.disable()   # a call's garbage goes with its process
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from .main import main as plugin
        status = plugin()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        _answer(conn, status)
        os._exit(0)
