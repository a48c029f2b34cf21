"""The one ethtool request vnet needs: a device's driver name (it tells a
net_failover master from the physical devices, which carry no link kind)."""
import ctypes
import fcntl
import socket
import struct

SIOCETHTOOL, ETHTOOL_GDRVINFO = 0x8946, 3
_DRVINFO_SIZE = 196   # struct ethtool_drvinfo


def driver(name, sock=None):
    """The driver of device ``name`` in the namespace of ``sock`` (an
    AF_INET datagram socket), or None when it has none or it is gone."""
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        buf = ctypes.create_string_buffer(struct.pack("=I", ETHTOOL_GDRVINFO), _DRVINFO_SIZE)
        ifr = struct.pack("16sP", name.encode(), ctypes.addressof(buf)).ljust(40, b"\0")
        try:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)
        except OSError:
            return None
        return buf.raw[4:36].split(b"\0")[0].decode() or None
    finally:
        if own:
            sock.close()
