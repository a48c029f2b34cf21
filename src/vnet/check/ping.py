"""ICMP echo from inside a namespace, in Python (no `ping` binary needed):
a raw socket opened in the namespace stays bound to it."""
import os
import select
import socket
import struct
import time


def _checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO = 23, 2


def ping(ns, addr, timeout=2.0, count=1, size=56, df=False):
    """True when ``addr`` answers an echo sent from namespace ``ns``
    (None: vnet's own) within ``timeout`` seconds per try. ``size`` is the
    echo payload; with ``df`` the packet may not be fragmented (a packet
    larger than the path's MTU fails)."""
    import ipaddress
    from ..kernel.session import Kernel
    ip = ipaddress.ip_address(addr)
    v6 = ip.version == 6
    with Kernel() as k, k.entered(ns):
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                          socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    with s:
        if df:
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
            else:
                s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        ident = os.getpid() & 0xFFFF
        for seq in range(count):
            payload = os.urandom(size)
            typ = 128 if v6 else 8
            hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
            csum = 0 if v6 else _checksum(hdr + payload)   # the kernel fills ICMPv6 checksums
            try:
                s.sendto(struct.pack("!BBHHH", typ, 0, csum, ident, seq) + payload, (str(ip), 0))
            except OSError:   # EMSGSIZE (larger than the route's MTU with df), unreachable...
                time.sleep(min(timeout, 0.2))
                continue
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                data, src = s.recvfrom(65535)
                icmp = data if v6 else data[(data[0] & 0xF) * 4:]
                if len(icmp) < 8:
                    continue
                t, _c, _ck, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
                if t == (129 if v6 else 0) and rid == ident and rseq == seq and icmp[8:] == payload:
                    return True
        return False
