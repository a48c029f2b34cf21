"""Frames on a device, captured with an AF_PACKET socket opened in its
namespace while other traffic runs. PACKET_AUXDATA gives back the outer
VLAN tag the kernel takes off received frames."""
import socket
import struct
import threading
import time

SOL_PACKET, PACKET_AUXDATA = 263, 8
ETH_P_ALL = 3
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
_AUX = struct.Struct("=IIIHHHH")   # tpacket_auxdata


class Frame:
    __slots__ = ("data", "tags")

    def __init__(self, data, tags):
        self.data, self.tags = data, tags   # tags: [(tpid, vid)] outermost first

    @property
    def ethertype(self):
        """The ethertype after all VLAN tags (what the payload is)."""
        off = 12
        while off + 2 <= len(self.data):
            et = struct.unpack_from("!H", self.data, off)[0]
            if et not in (0x8100, 0x88A8):
                return et
            off += 4
        return None


class Capture:
    """``with Capture(k, ns, dev) as cap: ...`` then ``cap.frames``."""

    def __init__(self, k, ns, dev):
        with k.entered(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((dev, 0))
        self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        self.sock.settimeout(0.1)
        self.frames = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.1)   # the last frames of the traffic
        self._stop.set()
        self._t.join()
        self.sock.close()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, anc, _f, _a = self.sock.recvmsg(65535, socket.CMSG_SPACE(_AUX.size))
            except (socket.timeout, OSError):
                continue
            tags = []
            for level, typ, cdata in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= _AUX.size:
                    status, _l, _s, _m, _n, tci, tpid = _AUX.unpack_from(cdata)
                    if status & TP_STATUS_VLAN_VALID:
                        tags.append((tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100, tci & 0xFFF))
            off = 12
            while off + 4 <= len(data) and struct.unpack_from("!H", data, off)[0] in (0x8100, 0x88A8):
                tags.append((struct.unpack_from("!H", data, off)[0], struct.unpack_from("!H", data, off + 2)[0] & 0xFFF))
                off += 4
            self.frames.append(Frame(data, tags))


def udp_dport(frame):
    """The UDP destination port of an IPv4/IPv6 frame, else None."""
    d = frame.data
    off = 12
    while off + 2 <= len(d) and struct.unpack_from("!H", d, off)[0] in (0x8100, 0x88A8):
        off += 4
    et, ip = frame.ethertype, off + 2
    if et == 0x0800 and len(d) >= ip + 20 and d[ip + 9] == 17:
        l4 = ip + (d[ip] & 0xF) * 4
    elif et == 0x86DD and len(d) >= ip + 40 and d[ip + 6] == 17:
        l4 = ip + 40
    else:
        return None
    return struct.unpack_from("!H", d, l4 + 2)[0] if len(d) >= l4 + 4 else None


def matches(frame, ethertype=None, vlan=None, contains=None, udp_port=None):
    """Does ``frame`` pass every filter given?"""
    if ethertype is not None and frame.ethertype != ethertype:
        return False
    if udp_port is not None and udp_dport(frame) != udp_port:
        return False
    if vlan is not None and (not frame.tags or frame.tags[0][1] != vlan):
        return False
    if contains is not None and contains.encode() not in frame.data:
        return False
    return True
