"""A lean netlink codec: message framing, attributes, requests with extended
acks, dumps. Decoding is lazy: callers take only the attributes they need."""
import errno as _errno
import _socket as socket   # the C module: socket.py's enums cost a CNI call 2 ms
import _thread
import struct

NLMSG_ERROR, NLMSG_DONE = 2, 3
F_REQUEST, F_MULTI, F_ACK, F_ECHO = 0x1, 0x2, 0x4, 0x8
F_ROOT, F_MATCH, F_DUMP = 0x100, 0x200, 0x300
F_REPLACE, F_EXCL, F_CREATE, F_APPEND = 0x100, 0x200, 0x400, 0x800
F_ACK_TLVS = 0x200
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12
NLMSGERR_ATTR_MSG = 1

_HDR = struct.Struct("=IHHII")

# fault injection for the crash-safety tests: with VNET_KILL_AT_REQUEST=k the
# process kills itself (SIGKILL, or the signal VNET_KILL_SIGNAL names: INT,
# TERM) right after its k-th changing request is done
_KILL_AT = None
_done = 0
_NLA = struct.Struct("=HH")


def _pad(n):
    return (n + 3) & ~3


# ---- attribute encoding -------------------------------------------------

def attr(t, data):
    n = 4 + len(data)
    return _NLA.pack(n, t) + data + b"\0" * (_pad(n) - n)


def nest(t, *parts):
    return attr(t, b"".join(parts))


def u8(t, v):
    return attr(t, struct.pack("=B", v))


def u16(t, v):
    return attr(t, struct.pack("=H", v))


def u32(t, v):
    return attr(t, struct.pack("=I", v))


def s32(t, v):
    return attr(t, struct.pack("=i", v))


def u64(t, v):
    return attr(t, struct.pack("=Q", v))


def be16(t, v):
    return attr(t, struct.pack(">H", v))


def string(t, v):
    return attr(t, v.encode() + b"\0")


def flag(t):
    return attr(t, b"")


def mac(t, v):
    return attr(t, bytes.fromhex(v.replace(":", "")))


def ip(t, v):
    """An address; ``t`` is one attribute id, or a pair (IPv4 id, IPv6 id)
    for the attributes that have one per family (VXLAN's local, local6)."""
    if isinstance(t, tuple):
        t = t[0] if v.version == 4 else t[1]
    return attr(t, v.packed)


# a kind's IFLA_INFO_DATA table names these codecs: "ip_unicast" and
# "ip_multicast" are two options sharing one address attribute (VXLAN's
# remote and group), each taking the addresses of its class
ENCODERS = {"u8": u8, "u16": u16, "u32": u32, "u64": u64, "be16": be16, "str": string,
            "mac": mac, "ip": ip, "ip_unicast": ip, "ip_multicast": ip, "flag": lambda t, v: flag(t) if v else b"",
            "bool8": lambda t, v: u8(t, 1 if v else 0)}


_RECV = {}   # thread id -> its receive buffer (recv_into releases the GIL: one buffer per thread)


# ---- attribute decoding --------------------------------------------------

def parse(buf, off=0, end=None):
    """Attributes of buf[off:end] as {type: memoryview}; the last one of a type wins."""
    mv = memoryview(buf)
    end = len(mv) if end is None else end
    out = {}
    while off + 4 <= end:
        n, t = _NLA.unpack_from(mv, off)
        if n < 4:
            break
        out[t & NLA_TYPE_MASK] = mv[off + 4:off + n]
        off += _pad(n)
    return out


def parse_some(buf, off, want):
    """Like ``parse``, keeping only the attribute types in ``want``: a link
    carries some 40 attributes of which observation reads ten. A message
    laid out as one seen before (``_Layout``) is read in one step."""
    mv = memoryview(buf)
    end = len(mv)
    if end - off < _Layout.SHORTEST:   # an address, a route: a few attributes, walked
        return _walk_some(mv, off, end, want)
    key = (want, off, end)
    try:
        layouts = _LAYOUTS.get(key)
    except TypeError:   # ``want`` a set, not a frozenset: walked each time
        layouts, key = (), None
    if layouts:
        for lay in layouts:
            got = lay.read(mv)
            if got is not None:
                return got
    out = _walk_some(mv, off, end, want)
    # learned once per new layout (an empty list: a message of too few attributes there)
    if key is not None and (layouts is None or 0 < len(layouts) < 4) and len(_LAYOUTS) < _Layout.MOST:
        lay = _Layout.learn(mv, off, end, want)
        kept = _LAYOUTS.setdefault(key, [])
        if lay is not None:
            kept.append(lay)
    return out


def _walk_some(mv, off, end, want):
    out = {}
    unpack = _NLA.unpack_from
    while off + 4 <= end:
        n, t = unpack(mv, off)
        if n < 4:
            break
        t &= NLA_TYPE_MASK
        if t in want:
            out[t] = mv[off + 4:off + n]
        off += (n + 3) & ~3
    return out


_LAYOUTS = {}   # (wanted types, offset, length) -> [_Layout]


class _Layout:
    """Where the attributes of a message were: the offset of each header,
    and of each wanted attribute. A message of the same length whose
    headers are all the same, at the same offsets, has exactly the same
    attributes in the same places (each header's length gives the next
    one's offset): one ``struct`` call reads every header to check that,
    instead of a Python step per attribute. Devices of one kind differ
    in their values, rarely in their layout."""
    FEWEST = 12      # attributes: below this the plain walk is as fast
    SHORTEST = 160   # bytes: a message shorter has too few attributes to keep a layout of
    MOST = 256       # keys kept in all (each of at most 4 layouts)

    @classmethod
    def learn(cls, mv, off, end, want):
        """The layout of the message, walked as ``_walk_some`` walks it
        (a header that ends the walk, length under 4, is one it checks);
        None for one of too few attributes to be worth it."""
        heads, slots = [], {}
        while off + 4 <= end:
            n, t = _NLA.unpack_from(mv, off)
            heads.append(off)
            if n < 4:
                break
            if t & NLA_TYPE_MASK in want:
                slots[t & NLA_TYPE_MASK] = (off + 4, off + n)
            off += (n + 3) & ~3
        return cls(mv, heads, slots) if len(heads) >= cls.FEWEST else None

    def __init__(self, mv, heads, slots):
        fmt, prev = ["="], heads[0]
        for h in heads:
            if h > prev:
                fmt.append(f"{h - prev - 4}x")
            fmt.append("I")
            prev = h
        self.struct = struct.Struct("".join(fmt))
        self.first = heads[0]
        self.heads = self.struct.unpack_from(mv, self.first)
        self.slots = tuple((t, a, b) for t, (a, b) in slots.items())   # the last of a type, as the walk keeps

    def read(self, mv):
        if self.struct.unpack_from(mv, self.first) != self.heads:
            return None
        return {t: mv[a:b] for t, a, b in self.slots}


def find(buf, want, off=0):
    """The first attribute of type ``want`` in buf[off:], or None: stops
    there (a bridge port's mode is the fourth of some forty)."""
    mv = memoryview(buf)
    end = len(mv)
    unpack = _NLA.unpack_from
    while off + 4 <= end:
        n, t = unpack(mv, off)
        if n < 4:
            break
        if t & NLA_TYPE_MASK == want:
            return mv[off + 4:off + n]
        off += (n + 3) & ~3
    return None


def parse_list(buf):
    """Attributes in order, as (type, memoryview) pairs (for repeated types)."""
    mv = memoryview(buf)
    off, out = 0, []
    while off + 4 <= len(mv):
        n, t = _NLA.unpack_from(mv, off)
        if n < 4:
            break
        out.append((t & NLA_TYPE_MASK, mv[off + 4:off + n]))
        off += _pad(n)
    return out


def get_u8(v):
    return v[0]


def get_u16(v):
    return struct.unpack_from("=H", v)[0]


def get_u32(v):
    return struct.unpack_from("=I", v)[0]


def get_s32(v):
    return struct.unpack_from("=i", v)[0]


def get_u64(v):
    return struct.unpack_from("=Q", v)[0]


def get_be16(v):
    return struct.unpack_from(">H", v)[0]


def get_str(v):
    b = bytes(v)
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).decode(errors="replace")


def get_mac(v):
    return bytes(v).hex(":")


def get_ip(v):
    import ipaddress
    b = bytes(v)
    return ipaddress.IPv4Address(b) if len(b) == 4 else ipaddress.IPv6Address(b)


def get_set_ip(v, multicast=None):
    """An address attribute of a table: None when unset (all zero) or, with
    ``multicast`` given, when it is not of that class."""
    a = get_ip(v) if any(bytes(v)) else None
    return a if a is None or multicast is None or a.is_multicast == multicast else None


def attr_of(attrs, t):
    """The value of attribute ``t`` (one id, or a pair of ids, one per
    address family: whichever is there) in parsed ``attrs``, else None."""
    if isinstance(t, tuple):
        return next((attrs[i] for i in t if i in attrs), None)
    return attrs.get(t)


DECODERS = {"u8": get_u8, "u16": get_u16, "u32": get_u32, "u64": get_u64, "be16": get_be16,
            "str": get_str, "mac": get_mac, "ip": get_set_ip, "ip_unicast": lambda v: get_set_ip(v, False),
            "ip_multicast": lambda v: get_set_ip(v, True), "flag": lambda v: True,
            "bool8": lambda v: bool(v[0])}


# ---- the socket ------------------------------------------------------------

def _after_request():
    global _KILL_AT, _done
    if _KILL_AT is None:
        import os
        _KILL_AT = int(os.environ.get("VNET_KILL_AT_REQUEST") or 0)
    _done += 1
    if _done == _KILL_AT:
        import os
        import signal
        os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get("VNET_KILL_SIGNAL", "KILL")))


class NetlinkError(OSError):
    """A negative ack; ``.msg`` holds the kernel's extended-ack text if any."""

    def __init__(self, err, msg=""):
        super().__init__(err, _errno.errorcode.get(err, str(err)))
        self.msg = msg

    def __str__(self):
        import os
        return os.strerror(self.errno) + (f" ({self.msg})" if self.msg else "")


class Socket:
    """A netlink socket, bound to the network namespace it was created in."""
    sent = 0

    def __init__(self, proto=0):
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
        for opt in (NETLINK_EXT_ACK, NETLINK_CAP_ACK):
            try:
                s.setsockopt(SOL_NETLINK, opt, 1)
            except OSError:
                pass
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind((0, 0))
        self.sock = s
        self.seq = 0
        self.requests = 0   # changing requests sent (for the no-op guarantee)
        self.sent = 0       # every message sent: dumps and queries too (for the cost guard)

    def close(self):
        self.sock.close()

    def _send(self, mtype, flags, body):
        self.seq += 1
        self.sent += 1
        self.sock.send(_HDR.pack(16 + len(body), mtype, flags, self.seq, 0) + body)
        return self.seq

    def _messages(self):
        # into a buffer kept per thread, then copied out at its length:
        # recv(1 MiB) would allocate (mmap) and shrink a fresh 1 MiB object
        # each call, ten times the cost of a small dump
        buf = _RECV.get(_thread.get_ident())
        if buf is None:
            buf = _RECV[_thread.get_ident()] = memoryview(bytearray(1 << 20))
        data = bytes(buf[:self.sock.recv_into(buf)])
        off = 0
        while off + 16 <= len(data):
            n, t, f, seq, _pid = _HDR.unpack_from(data, off)
            yield t, f, seq, memoryview(data)[off + 16:off + n]
            off += _pad(n)

    @staticmethod
    def _error(flags, payload):
        err = struct.unpack_from("=i", payload)[0]
        if not err:
            return None
        msg = ""
        if flags & F_ACK_TLVS:
            # payload: error, original header (CAP_ACK: header only), then TLVs
            a = parse(payload, 4 + 16)
            if NLMSGERR_ATTR_MSG in a:
                msg = get_str(a[NLMSGERR_ATTR_MSG])
        return NetlinkError(-err, msg)

    def request(self, mtype, body, flags=0):
        """Send one changing request and wait for its ack; raise NetlinkError.
        Returns what the kernel echoed before the ack (with F_ECHO in
        ``flags``), as (type, body) pairs."""
        self.requests += 1
        seq = self._send(mtype, F_REQUEST | F_ACK | flags, body)
        echoed = []
        while True:
            for t, f, s, p in self._messages():
                if s != seq:
                    continue
                if t == NLMSG_ERROR:
                    e = self._error(f, p)
                    if e:
                        raise e
                    _after_request()
                    return echoed
                echoed.append((t, bytes(p)))

    def request_many(self, mtype, bodies, per_send=256):
        """Changing requests sent back to back, up to ``per_send`` in one
        sendmsg (the kernel carries them out in order, each with its own
        sequence number and ack), the acks read as they come. None stops the
        rest: returns {position in ``bodies``: NetlinkError} of those that
        failed, for the caller to judge. Worth it where each request is
        cheap for the kernel, so that the round trips are the cost. A send
        holds no more requests than their acks fit the receive buffer (each
        ack is charged some 800 bytes there), nor more than 64 KiB; on a
        socket error the socket is emptied before it is raised, so that no
        ack of these is taken for a later request's."""
        failed = {}
        most = max(1, min(per_send, self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2048))
        start = 0
        while start < len(bodies):
            chunk, size = [], 0
            for b in bodies[start:start + most]:
                if chunk and size + 16 + len(b) > 1 << 16:
                    break
                chunk.append(b)
                size += 16 + _pad(len(b))
            first = self.seq + 1
            self.seq += len(chunk)
            self.requests += len(chunk)
            self.sent += len(chunk)
            try:
                self.sock.send(b"".join(_HDR.pack(16 + len(b), mtype, F_REQUEST | F_ACK, first + i, 0)
                                        + b + bytes(_pad(len(b)) - len(b)) for i, b in enumerate(chunk)))
                waiting = len(chunk)
                while waiting:
                    for t, f, s, p in self._messages():
                        if t == NLMSG_ERROR and first <= s <= self.seq:
                            waiting -= 1
                            e = self._error(f, p)
                            if e:
                                failed[start + s - first] = e
                            _after_request()
            except OSError:
                self._drain()
                raise
            start += len(chunk)
        return failed

    def _drain(self):
        """Everything queued on the socket read and dropped (past an
        overflow's ENOBUFS, which the kernel reports once, then queues anew)."""
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    self.sock.recv(1 << 16)
                except OSError as e:
                    if e.errno != _errno.ENOBUFS:
                        break
        finally:
            self.sock.setblocking(True)

    def query(self, mtype, body):
        """Send a get request (no dump); return the reply's body."""
        seq = self._send(mtype, F_REQUEST, body)
        while True:
            for t, f, s, p in self._messages():
                if s != seq:
                    continue
                if t == NLMSG_ERROR:
                    e = self._error(f, p)
                    if e:
                        raise e
                    return None
                return bytes(p)

    def query_all(self, mtype, body):
        """A get request whose answer may come in several messages (NLM_F_MULTI
        until NLMSG_DONE): every reply's body."""
        return [bytes(p) for _t, p in self._replies(self._send(mtype, F_REQUEST, body), until_single=True)]

    def dump(self, mtype, body):
        """All replies to a dump request, as (type, body) pairs."""
        return self._replies(self._send(mtype, F_REQUEST | F_DUMP, body))

    def dump_filtered(self, mtype, body):
        """A dump whose request's header and attributes the kernel filters
        by (NETLINK_GET_STRICT_CHK, for this request only: a route dump of
        one device's routes, not a host's whole table)."""
        self.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        try:
            return self.dump(mtype, body)
        finally:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 0)

    def _replies(self, seq, until_single=False):
        out = []
        while True:
            for t, f, s, p in self._messages():
                if s != seq:
                    continue
                if t == NLMSG_DONE:
                    return out
                if t == NLMSG_ERROR:
                    e = self._error(f, p)
                    if e:
                        raise e
                    return out
                out.append((t, p))
                if until_single and not f & F_MULTI:
                    return out
