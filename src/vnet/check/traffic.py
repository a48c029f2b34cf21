"""TCP and UDP checks: vnet runs the listener itself (a socket opened in the
listening namespace, served by a thread), so a check needs no program in the
namespaces and leaves nothing behind: every socket closes when it ends."""
import os
import socket
import threading


def _sock(k, ns, family, kind):
    with k.entered(ns):
        return socket.socket(family, kind)


def _family(addr):
    return socket.AF_INET6 if ":" in str(addr) else socket.AF_INET


def stream(k, src, dst, port, listen, timeout=2.0, proto="tcp"):
    """True when a token sent from namespace ``src`` to ``dst``:``port`` comes
    back from a listener vnet runs in namespace ``listen``."""
    fam = _family(dst)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    srv = _sock(k, listen, fam, kind)
    cli = None
    token = os.urandom(16)
    stop = threading.Event()
    try:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
        srv.settimeout(0.2)
        if proto == "tcp":
            srv.listen(4)

        def serve():
            while not stop.is_set():
                try:
                    if proto == "tcp":
                        conn, _a = srv.accept()
                        with conn:
                            conn.settimeout(timeout)
                            conn.sendall(conn.recv(64))
                    else:
                        data, peer = srv.recvfrom(64)
                        srv.sendto(data, peer)
                except (socket.timeout, OSError):
                    continue
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        cli = _sock(k, src, fam, kind)
        cli.settimeout(timeout)
        try:
            if proto == "tcp":
                cli.connect((str(dst), port))
                cli.sendall(token)
                return cli.recv(64) == token
            for _ in range(3):   # datagrams may be lost while neighbours resolve
                cli.sendto(token, (str(dst), port))
                try:
                    if cli.recv(64) == token:
                        return True
                except socket.timeout:
                    continue
            return False
        except OSError:
            return False
    finally:
        stop.set()
        srv.close()
        if cli is not None:
            cli.close()
