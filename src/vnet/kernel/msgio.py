"""readv, sendmsg and recvmsg through ctypes, over iovecs made once.

The tunnel moves a message as dozens of datagram pieces (a header, then a
slice of the body, for each datagram). Python's socket module takes and
checks a buffer per piece on every call, and a nonblocking call that finds
nothing raises an exception. Here the iovec array is built once over the
caller's buffers, a call changes only a count and a length, and an empty
socket is a negative return: 3 us instead of 6 us per 90-piece receive,
measured (docs/benchmarks.md).

The functions are called without argtypes and without use_errno, their
pointers given as ctypes objects made once: each of those costs a hot loop
about 0.4 us per call (measured on a 46-piece readv: 2.4-2.9 us -> 1.6-1.7
us). A caller that needs to know why a call failed does not use these."""
import collections
import ctypes
import mmap
import socket
import struct

_libc = ctypes.CDLL(None)


def _fn(name):
    f = getattr(_libc, name)
    f.restype = ctypes.c_ssize_t
    return f


# called by a hot loop itself, with a Vector's parts: (int fd, c_void_p, int flags or count); -1 on failure
readv = _fn("readv")
sendmsg = _fn("sendmsg")
recvmsg = _fn("recvmsg")


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


_IOV = ctypes.sizeof(_IoVec)
_CMSG = struct.Struct("=Qii")     # cmsg_len, level, type; the data follows, 8-aligned


class Pinned:
    """A buffer with a fixed address: a bytearray (it cannot be resized while
    this holds it), or with ``paged`` memory of its own that starts on a page
    boundary (``buf`` is then a memoryview, as ``view`` is).

    Why paged: the kernel copies to and from user memory with `rep movsb`,
    which on this build machine (AMD EPYC) runs at a quarter of its speed
    when the destination lies 1-15 bytes past the source modulo 4 KiB. A
    message written to a TUN device is copied into pages of its own, from
    their start, after its headers (10 + 52 bytes for TCP over IPv4): from a
    buffer that starts 4,032 bytes into a page, every 64 KiB message is that
    slow copy, and the tunnel spent 48% more CPU per GB (docs/benchmarks.md).
    A bytearray lies wherever the heap puts it, which moves with everything
    allocated before it (the modules imported, the size of the environment);
    from a paged buffer it would take some 4 KiB of headers."""

    def __init__(self, size, paged=False):
        if paged:
            self._map = mmap.mmap(-1, max(size, 1))
            self.buf = self.view = memoryview(self._map)[:size]
            self._c = (ctypes.c_char * size).from_buffer(self._map)
        else:
            self.buf = bytearray(size)
            self.view = memoryview(self.buf)
            self._c = (ctypes.c_char * size).from_buffer(self.buf)
        self.addr = ctypes.addressof(self._c)


def sockaddr(family, addr):
    """The C sockaddr of (host, port) for sendmsg's msg_name."""
    host, port = addr[0], addr[1]
    if family == socket.AF_INET6:
        return struct.pack("=H", family) + struct.pack("!HI", port, 0) + socket.inet_pton(family, host) + bytes(4)
    return struct.pack("=H", family) + struct.pack("!H", port) + socket.inet_pton(family, host) + bytes(8)


Parts = collections.namedtuple("Parts", "iovs lens hdrs ctl_len room cmsg bases")


class Vector:
    """One iovec over fixed pieces [(Pinned, offset, length)...], an optional
    destination and an optional control buffer, with a msghdr made in
    advance for every number of pieces (with and without the control
    buffer): a send of the first k pieces, the last cut short, sets one length."""

    def __init__(self, pieces, name=b"", control=b"", control_room=0):
        self.iov = (_IoVec * len(pieces))()
        for i, (p, off, ln) in enumerate(pieces):
            self.iov[i].base, self.iov[i].len = p.addr + off, ln
        base = self._base = ctypes.addressof(self.iov)
        self._len = [ctypes.c_size_t.from_address(base + i * _IOV + _IoVec.len.offset) for i in range(len(pieces))]
        self._at = [ctypes.c_void_p.from_address(base + i * _IOV) for i in range(len(pieces))]
        self._name = ctypes.create_string_buffer(name, len(name)) if name else None
        room = self._room = max(len(control), control_room)
        self._ctl = ctypes.create_string_buffer(control, room) if room else None
        name_at, ctl_at = ctypes.addressof(self._name) if name else None, ctypes.addressof(self._ctl) if room else None

        def hdr(count, ctl):
            return _MsgHdr(name_at, len(name), base, count, ctl_at if ctl else None, room if ctl else 0, 0)
        # a msghdr for each number of pieces, without and with the control buffer
        self._hdrs = [(hdr(k, False), hdr(k, True)) for k in range(len(pieces) + 1)]
        self._ptrs = [(ctypes.c_void_p(ctypes.addressof(a)), ctypes.c_void_p(ctypes.addressof(b)))
                      for a, b in self._hdrs]
        self._ptr = self._ptrs[-1][bool(room)].value
        self._ctl_len = ctypes.c_size_t.from_address(self._ptr + _MsgHdr.controllen.offset)
        if room >= _CMSG.size + 4:   # the first control message, where the kernel puts it
            self._cmsg = [ctypes.c_int.from_address(ctl_at + 8), ctypes.c_int.from_address(ctl_at + 12),
                          ctypes.c_int.from_address(ctl_at + _CMSG.size)]

    def parts(self):
        """What a hot loop needs to call readv, sendmsg and recvmsg itself:
        ``iovs``, the iovec from each piece on (c_void_p); ``lens``, the
        length of each piece and ``bases``, its address (ctypes values: set
        ``.value``); ``hdrs``, the msghdr by [count][with control]
        (c_void_p); ``ctl_len``, the control length (set it to ``room``
        before a receive); ``cmsg``, the first control message (level, type,
        int value; when sending, its value is the control's own)."""
        return Parts([ctypes.c_void_p(self._base + i * _IOV) for i in range(len(self._len))], self._len, self._ptrs,
                     self._ctl_len, self._room, self._cmsg if self._room >= _CMSG.size + 4 else None, self._at)
