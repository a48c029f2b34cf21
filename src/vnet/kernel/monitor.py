"""What the kernel announces in a namespace while vnet changes it: every
link change (a bridge port's too) and every address change comes to the
link and address groups' listeners, sent as the change is made. A
verification that listened from before the first change re-reads only the
devices announced, not the whole namespace (one device out of a thousand)."""
import errno
import socket
import struct

from .netlink import _HDR
from .rtnl import RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK

RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x1, 0x10, 0x100
_IFINDEX = struct.Struct("=4xi")   # ifinfomsg: family, pad, type; the index
_IFAINDEX = struct.Struct("=4xI")  # ifaddrmsg: family, prefix length, flags, scope; the index
_INDEX = {RTM_NEWLINK: _IFINDEX, RTM_DELLINK: _IFINDEX, RTM_NEWADDR: _IFAINDEX, RTM_DELADDR: _IFAINDEX}


class Monitor:
    """The link and address announcements of the namespace this thread is
    in when it is made."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)   # NETLINK_ROUTE
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        self.sock.setblocking(False)

    def close(self):
        self.sock.close()

    def announced(self, most):
        """The indexes of the devices announced so far; None when they were
        more than ``most`` or more than the socket held (ENOBUFS): some
        announcement may be lost, or reading everything again is cheaper."""
        out = set()
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    return None
                raise
            off = 0
            while off + 16 <= len(data):
                n, t, _f, _seq, _pid = _HDR.unpack_from(data, off)
                body = _INDEX.get(t)
                if body is not None and n >= 16 + body.size:
                    out.add(body.unpack_from(data, off + 16)[0])
                off += (n + 3) & ~3
            if len(out) > most:
                return None
