"""Generic netlink: a family's id resolved by name through the controller,
then requests and dumps with the genl header in front of the attributes."""
import struct

from . import netlink as nl

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
_GENL = struct.Struct("=BBH")


class FamilyMissing(OSError):
    pass


class Genl:
    """One generic netlink family over a socket bound to one namespace."""

    def __init__(self, family, version=1):
        self.sock = nl.Socket(NETLINK_GENERIC)
        self.version = version
        try:
            reply = self.sock.query(GENL_ID_CTRL, _GENL.pack(CTRL_CMD_GETFAMILY, 1, 0)
                                    + nl.string(CTRL_ATTR_FAMILY_NAME, family))
        except nl.NetlinkError as e:
            self.sock.close()
            raise FamilyMissing(e.errno, f"the kernel has no generic netlink family {family!r} "
                                         f"(its module is not loaded or not built)") from None
        self.id = nl.get_u16(nl.parse(reply, _GENL.size)[CTRL_ATTR_FAMILY_ID])

    @property
    def requests(self):
        return self.sock.requests

    def close(self):
        self.sock.close()

    def _body(self, cmd, attrs):
        return _GENL.pack(cmd, self.version, 0) + b"".join(attrs)

    def request(self, cmd, *attrs):
        self.sock.request(self.id, self._body(cmd, attrs))

    def dump(self, cmd, *attrs):
        """Each reply's attributes, as bytes after the genl header."""
        return [bytes(p[_GENL.size:]) for _t, p in self.sock.dump(self.id, self._body(cmd, attrs))]

    def get(self, cmd, *attrs):
        """A get command's replies (one or several messages), as attributes."""
        return [p[_GENL.size:] for p in self.sock.query_all(self.id, self._body(cmd, attrs))]
