"""The reference's TUN application (Figure 1b): packets read from a TUN (or
TAP) device travel to a peer inside UDP datagrams, and the peer writes them
to its own device.

The device runs in offload mode: the kernel hands over TCP super-packets of
up to 64 KiB with a virtio_net_hdr in front (one read instead of dozens) and
takes them back the same way on the other side, where it segments them
itself. A message (virtio_net_hdr + packet) is sealed once, cut into chunks
that fit the underlay's MTU, and the chunks leave in one send (UDP GSO,
UDP_SEGMENT); the receiver takes bursts of them in one read (UDP GRO) and
writes each reassembled message to its device.

Datagrams: a 16-byte header, then bytes.
    type (0x5a plain, 0x5b sealed) | count (1) | counter (6) | epoch (6) | index (1) | 0 (1)
The first 8 bytes are one little-endian 64-bit word (type | count << 8 |
counter << 16); the epoch is big-endian. A message's datagrams differ only
in their index. Epoch and counter are the AEAD nonce of the message, and
the first 14 bytes (all but the index) are authenticated with it. The
epoch is the sender's start time in milliseconds, so a restarted sender
starts a new session; the receiver keeps
a sliding window of counters per session and never goes back to an older
one: forged, modified and replayed messages are dropped and counted.

A datagram's size is a multiple of 8, so the 8 bytes that change from one
message to the next (type, count, counter) are one 64-bit word in every
header: one strided store writes them all."""
import errno
import os
import signal
import socket
import struct
import sys
import time
from array import array

PLAIN, SEALED = 0x5A, 0x5B
_HDR = struct.Struct("<BB6s6sBx")     # type, count, counter, epoch, index
_LITTLE = sys.byteorder == "little"   # the header word is stored as a native 64-bit integer
HEADER, TAG, AUTH = _HDR.size, 16, 14  # AUTH: the header bytes authenticated (all but index and pad)
VNET_HDR = 10
WINDOW = 4096
_WINDOW_MASK = (1 << WINDOW) - 1
PENDING = 256          # messages being reassembled at most
MAX_CHUNKS = 255       # datagrams of one message at most (the index is one byte)
READ_MAX = 65536 + VNET_HDR + 64   # the largest read from the device (a super-packet)
_INDEXES = [bytes(range(n)) for n in range(MAX_CHUNKS + 1)]
SOL_UDP, UDP_SEGMENT, UDP_GRO = 17, 103, 104
GSO_SEGMENTS, GSO_BYTES = 64, 65000   # what one UDP GSO send may carry
DROPS = ("forged", "replayed", "stale_session", "malformed", "unsealed", "sealed_without_key", "incomplete",
         "send_failed")


def datagram_size(underlay_mtu, v6=False):
    """The largest datagram payload the underlay carries, down to a multiple of 8."""
    return (underlay_mtu - (40 if v6 else 20) - 8) // 8 * 8


def inner_mtu(underlay_mtu, key, tap, v6=False):
    """The device's MTU: its largest packet, with the virtio_net_hdr (and
    the tag, and the Ethernet header on TAP), fits one datagram."""
    return datagram_size(underlay_mtu, v6) - HEADER - VNET_HDR - (TAG if key else 0) - (14 if tap else 0)


class Replay:
    """Sliding-window replay protection for one session (RFC 6479 style)."""

    def __init__(self):
        self.top = -1
        self.bits = 0

    def fresh(self, n):
        if n > self.top:
            return True
        return self.top - n < WINDOW and not (self.bits >> (self.top - n)) & 1

    def mark(self, n):
        if n > self.top:
            shift = n - self.top
            self.bits = ((self.bits << shift) | 1) & _WINDOW_MASK if shift < WINDOW else 1
            self.top = n
        else:
            self.bits |= 1 << (self.top - n)


class Tunnel:
    """One end of the tunnel. Its buffers are made once, and every header
    slot in them already holds the session's epoch and its own index.

    Out, plain: a message is read from the device straight into the payload
    slots of a buffer laid out as the datagrams go on the wire (header,
    payload, header, payload...), one store fills in the headers, and the
    whole is one contiguous send. Out, sealed: the message is read whole,
    sealed into a second buffer, and sent as an iovec of headers and slices
    of the ciphertext. In: a burst is received as an iovec that puts the
    headers in one buffer and the payloads end to end in another, so a whole
    message is checked at once and written to the device (or decrypted)
    where it lies. No per-datagram Python object, no join; a contiguous send
    because gathering 90 pieces costs the kernel about 10 us per 64 KiB
    message (measured, docs/benchmarks.md)."""

    def __init__(self, dev, sock, peer, key=None, chunk=1400):
        from .kernel.msgio import Pinned
        if (chunk + HEADER) % 8:
            raise ValueError(f"a datagram of {chunk} + {HEADER} bytes: its size must be a multiple of 8")
        self.dev, self.sock, self.peer = dev, sock, peer
        self.chunk = chunk     # payload bytes per datagram
        self.aead = None
        if key is not None:
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
            self.aead = ChaCha20Poly1305(key)
        self.kind = PLAIN if self.aead is None else SEALED
        self.counter = 0
        self.rx_epoch = b"\0" * 6
        self.replay = Replay()
        self.pending = {}      # (epoch, counter) -> [count, {index: bytes}]
        # rx_whole: messages taken whole from one read (one datagram, or a burst
        # that was exactly one message in order); rx_chunks: datagrams taken one
        # by one (a message over several bursts, or bursts out of order)
        self.stats = {"tx_packets": 0, "tx_bytes": 0, "rx_packets": 0, "rx_bytes": 0, "rx_whole": 0, "rx_chunks": 0,
                      "drops": dict.fromkeys(DROPS, 0)}
        self.running = True
        full = HEADER + chunk
        if self.aead is None:
            # out: the wire layout itself, headers every ``full`` bytes
            self._wire = Pinned(MAX_CHUNKS * full)
            self._heads, self._stride = self._wire, full
            self._slots = [(self._wire, i * full + HEADER, chunk) for i in range(MAX_CHUNKS)]
        else:
            # out: the message, its ciphertext, the headers end to end
            self._msg, self._ct = Pinned(MAX_CHUNKS * chunk), Pinned(MAX_CHUNKS * chunk)
            self._heads, self._stride = Pinned(MAX_CHUNKS * HEADER), HEADER
            self._tx_pieces = [p for i in range(MAX_CHUNKS)
                               for p in ((self._heads, i * HEADER, HEADER), (self._ct, i * chunk, chunk))]
        words, st = self._heads.view.cast("Q"), self._stride // 8
        self._words = [words[0:n * st:st] for n in range(MAX_CHUNKS + 1)]   # [n]: the first word of n headers
        # in: the largest burst (64 KiB) as headers and payloads
        self._burst = 65535 // full + 1
        self._rh, self._rb = Pinned(self._burst * HEADER), Pinned(self._burst * chunk)
        self._out = Pinned(self._burst * chunk) if self.aead is not None else None
        self._rx_pieces = [p for i in range(self._burst)
                           for p in ((self._rh, i * HEADER, HEADER), (self._rb, i * chunk, chunk))]
        self.epoch = (time.time_ns() // 1_000_000).to_bytes(6, "big")

    @property
    def epoch(self):
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        """The session; every outgoing header slot holds it, and its index."""
        self._epoch = value
        h, st = self._heads.buf, self._stride
        for i in range(MAX_CHUNKS):
            h[i * st + 8:i * st + HEADER] = value + bytes((i, 0))

    # ---- a message each way -----------------------------------------------------
    def frame(self, size):
        """Frame the message of ``size`` bytes that is in place (plain: in the
        payload slots; sealed: in the message buffer): seal it if there is a
        key, store its word in every header, and give (datagrams, bytes of
        payload); all datagrams are full but the last."""
        c = self.chunk
        total = size + (TAG if self.aead is not None else 0)
        n = -(-total // c) or 1
        if n > MAX_CHUNKS:
            raise ValueError(f"a {size}-byte message needs {n} chunks of {c}: at most {MAX_CHUNKS}")
        self.counter = ctr = self.counter + 1
        word = self.kind | n << 8 | ctr << 16
        if self.aead is not None:   # nonce: epoch and counter; authenticated: the header but its index
            head = word.to_bytes(8, "little")
            self.aead.encrypt_into(self._epoch + head[2:], self._msg.view[:size], head + self._epoch,
                                   self._ct.view[:total])
        self._words[n][:] = array("Q", (word if _LITTLE else _swap(word),)) * n
        return n, total

    def seal_parts(self, msg):
        """(header, payload) of each datagram carrying ``msg``: views of the
        tunnel's buffers, good until the next message."""
        size, c = len(msg), self.chunk
        if -(-size // c) > MAX_CHUNKS:
            raise ValueError(f"a {size}-byte message needs more than {MAX_CHUNKS} chunks of {c}")
        if self.aead is None:
            for i in range(0, size, c):
                p, off, _ln = self._slots[i // c]
                p.view[off:off + min(c, size - i)] = msg[i:i + c]
        else:
            self._msg.view[:size] = msg
        return self._parts(*self.frame(size))

    def _parts(self, n, total):
        """(header, payload view) of each datagram of the message just framed."""
        c, hv, st = self.chunk, self._heads.view, self._stride
        body, base, bstep = (self._wire.view, HEADER, st) if self.aead is None else (self._ct.view, 0, c)
        return [(hv[i * st:i * st + HEADER], body[base + i * bstep:base + i * bstep + min(c, total - i * c)])
                for i in range(n)]

    def seal(self, msg):
        """The datagrams carrying ``msg``, each at most HEADER + chunk bytes."""
        return [bytes(h) + bytes(v) for h, v in self.seal_parts(msg)]

    def open(self, dgram):
        """The message completed by ``dgram``, or None (not complete yet, or dropped and counted)."""
        if len(dgram) < HEADER:
            self.stats["drops"]["malformed"] += 1
            return None
        kind, n, ctr_b, epoch, idx = _HDR.unpack_from(dgram)
        if not self._admit(kind, epoch, ctr_b, idx, n):
            return None
        if n == 1:
            return self._finish(dgram, epoch, ctr_b, bytes(dgram[HEADER:]))
        key = (epoch, ctr_b)
        entry = self.pending.get(key)
        if entry is None:
            if len(self.pending) >= PENDING:   # the oldest never completed (a chunk was lost)
                self.pending.pop(next(iter(self.pending)))
                self.stats["drops"]["incomplete"] += 1
            entry = self.pending[key] = [n, {}]
        if entry[0] != n:
            self.stats["drops"]["malformed"] += 1
            return None
        entry[1][idx] = bytes(dgram[HEADER:])   # the receive buffers are used again by the next burst
        if len(entry[1]) < n:
            return None
        del self.pending[key]
        return self._finish(dgram, epoch, ctr_b, b"".join(entry[1][i] for i in range(n)))

    def open_burst(self, mv, seg):
        """The messages completed by a burst of datagrams of ``seg`` bytes (UDP
        GRO), given as one buffer: laid into the receive buffers as the
        kernel's scatter would, then taken as a received burst is."""
        pos, total = 0, len(mv)
        for p, off, ln in self._rx_pieces:
            if pos >= total:
                break
            take = min(ln, total - pos)
            p.view[off:off + take] = mv[pos:pos + take]
            pos += take
        return self.arrived(total, seg)

    def arrived(self, size, seg):
        """The messages completed by the ``size`` bytes just received into the
        receive buffers, datagrams of ``seg`` bytes. A read that is exactly one
        whole message in order, the usual case, is taken where it lies: its
        payloads are already end to end, and its headers are checked at once."""
        full = HEADER + self.chunk
        if size < HEADER:
            self.stats["drops"]["malformed"] += 1
            return []
        if size <= full or seg == full:
            n = -(-size // full)
            rh = self._rh.buf
            kind, count, ctr_b, epoch, idx = _HDR.unpack_from(rh)
            if idx == 0 and count == n and (n == 1 or rh[:n * HEADER] == _headers(rh[:HEADER], n)):
                if kind == self.kind == PLAIN:   # nothing to check or open: _admit and _finish in short
                    self.stats["rx_whole"] += 1
                    return [self._rb.view[:size - n * HEADER]]
                if not self._admit(kind, epoch, ctr_b, idx, n):
                    return []
                self.stats["rx_whole"] += 1
                m = self._finish(rh, epoch, ctr_b, self._rb.view[:size - n * HEADER], self._out)
                return [] if m is None else [m]
            dgrams = self._datagrams(size, full)
        else:   # datagrams of another size: the bytes as they came, then cut
            lin = b"".join(p.view[o:o + ln] for p, o, ln in self._rx_pieces[:2 * (-(-size // full))])[:size]
            dgrams = [lin[o:o + seg] for o in range(0, size, seg)]
        self.stats["rx_chunks"] += len(dgrams)
        return [m for m in (self.open(d) for d in dgrams) if m is not None]

    def _datagrams(self, size, full):
        """The datagrams of a burst of full-sized ones (the last may be short), as bytes."""
        c, hv, bv, out = self.chunk, self._rh.view, self._rb.view, []
        for i in range(-(-size // full)):
            left = min(full, size - i * full)
            out.append(bytes(hv[i * HEADER:i * HEADER + min(HEADER, left)]) + bytes(bv[i * c:i * c + max(0, left - HEADER)]))
        return out

    def _admit(self, kind, epoch, ctr_b, idx, n):
        """Checks before any work: type, session, replay (counted when they fail)."""
        drops = self.stats["drops"]
        if kind not in (PLAIN, SEALED) or idx >= n:
            drops["malformed"] += 1
            return False
        if (kind == PLAIN) != (self.aead is None):
            drops["unsealed" if kind == PLAIN else "sealed_without_key"] += 1
            return False
        if self.aead is not None:
            if epoch < self.rx_epoch:
                drops["stale_session"] += 1
                return False
            if epoch == self.rx_epoch and not self.replay.fresh(int.from_bytes(ctr_b, "little")):
                drops["replayed"] += 1
                return False
        return True

    def _finish(self, head, epoch, ctr_b, body, out=None):
        """The message of an admitted ``body``: as it is, or decrypted (into
        ``out``'s buffer if given); None if forged or modified (counted).
        ``head``: the first header (its first AUTH bytes are authenticated)."""
        if self.aead is None:
            return body
        nonce, aad = epoch + ctr_b, bytes(head[:AUTH])
        try:
            if out is not None and len(body) >= TAG:
                msg = out.view[:len(body) - TAG]
                self.aead.decrypt_into(nonce, body, aad, msg)
            else:
                msg = self.aead.decrypt(nonce, bytes(body), aad)
        except Exception:   # cryptography's InvalidTag: forged or modified
            self.stats["drops"]["forged"] += 1
            return None
        if epoch > self.rx_epoch:   # an authentic message of a newer session: the peer restarted
            self.rx_epoch, self.replay = epoch, Replay()
            self.pending = {k: v for k, v in self.pending.items() if k[0] >= epoch}
        self.replay.mark(int.from_bytes(ctr_b, "little"))
        return msg

    # ---- the loop ------------------------------------------------------------
    def _vectors(self):
        """The outgoing and incoming iovecs over the buffers above, and the
        device's read iovec (plain: the payload slots)."""
        from .kernel.msgio import Vector, errno as last_errno, readv, recvmsg, sendmsg, sockaddr
        seg = struct.pack("=QiiH", 18, SOL_UDP, UDP_SEGMENT, HEADER + self.chunk) + bytes(6)   # one cmsg: UDP_SEGMENT
        name = sockaddr(self.sock.family, self.peer)
        if self.aead is None:
            self._txv = Vector([(self._wire, 0, len(self._wire.buf))], name=name, control=seg)
            self._devv = Vector(self._slots[:-(-READ_MAX // self.chunk)])
        else:
            self._txv = Vector(self._tx_pieces, name=name, control=seg)
            self._devv = Vector([(self._msg, 0, min(READ_MAX, len(self._msg.buf)))])
        self._rxv = Vector(self._rx_pieces, control_room=64)
        # what the loops take at each wakeup, in one tuple
        fd, sfd, c = self.dev.fileno(), self.sock.fileno(), self.chunk
        dev_iov, dev_lens = self._devv.parts()[:2]
        _b, lens, hdrs = self._txv.parts()[:3]
        per = min(GSO_SEGMENTS, GSO_BYTES // (HEADER + c))   # datagrams one GSO send may carry
        self._out_args = (fd, sfd, readv, sendmsg, dev_iov, len(dev_lens), lens, hdrs, per, self.aead is None, c)
        _b, _l, hdrs, ctl_len, room, cmsg = self._rxv.parts()
        self._in_args = (fd, sfd, recvmsg, last_errno, hdrs[-1][True], ctl_len, room) + tuple(cmsg)

    def from_device(self):
        """Read messages from the device and send each (usually one UDP GSO
        send, which the kernel segments). The calls are made here, through
        the iovecs' parts: this runs once per message."""
        fd, sfd, readv, sendmsg, dev_iov, pieces, lens, hdrs, per, plain, c = self._out_args
        frame, sent, nbytes, failed = self.frame, 0, 0, 0
        for _ in range(64):   # a burst per wakeup
            size = readv(fd, dev_iov, pieces)
            if size < 0:
                break
            n, total = frame(size)
            if n > per:   # more than one send (only if the device ignored gso_max_size)
                ok = self._send_split(n, total, per)
            elif plain:   # the wire layout: one piece, the headers' bytes included
                lens[0].value = total + n * HEADER
                ok = sendmsg(sfd, hdrs[1][n > 1], 0) >= 0
            else:   # header, slice of the ciphertext, header...: the last slice cut
                last = lens[2 * n - 1]
                last.value = total - (n - 1) * c
                ok = sendmsg(sfd, hdrs[2 * n][n > 1], 0) >= 0
                last.value = c
            if not ok:
                failed += 1
                continue
            sent += 1
            nbytes += size - VNET_HDR
        if sent or failed:
            self._count("tx", sent, nbytes, "send_failed", failed)

    def _send_split(self, n, total, per):
        """A message of more datagrams than one GSO send carries, in several."""
        parts = self._parts(n, total)
        for first in range(0, n, per):
            group = parts[first:first + per]
            iov = [v for pair in group for v in pair]
            opt = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", HEADER + self.chunk))] if len(group) > 1 else []
            try:
                self.sock.sendmsg(iov, opt, 0, self.peer)
            except OSError:
                return False
        return True

    def from_peer(self):
        """Receive bursts of datagrams and write each completed message to the device."""
        fd, sfd, recvmsg, last_errno, ptr, ctl_len, room, level, typ, value = self._in_args
        arrived, write, got, nbytes, failed = self.arrived, os.write, 0, 0, 0
        for _ in range(64):
            ctl_len.value = room
            size = recvmsg(sfd, ptr, 0)
            if size < 0:
                if last_errno() in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                continue   # e.g. ICMP port unreachable while the peer restarts
            gro = ctl_len.value >= 20 and level.value == SOL_UDP and typ.value == UDP_GRO
            for m in arrived(size, value.value if gro else size):
                try:
                    n = write(fd, m)
                except OSError:
                    failed += 1
                    continue
                got += 1
                nbytes += n - VNET_HDR
        if got or failed:
            self._count("rx", got, nbytes, "malformed", failed)

    def _count(self, way, packets, nbytes, drop, drops):
        st = self.stats
        st[way + "_packets"] += packets
        st[way + "_bytes"] += nbytes
        st["drops"][drop] += drops

    def run(self, stats_file=None, ready=None):
        """Carry packets until SIGTERM. ``ready(self)`` is called once the
        signals are handled: a SIGUSR1 (counters, please) that came before
        would end the process, as is its default."""
        import select

        def stop(*_a):
            self.running = False

        def dump(*_a):
            self.report(sys.stderr, stats_file)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGUSR1, dump)
        self.dev.set_blocking(False)
        self.sock.setblocking(False)
        self._vectors()
        dfd, sfd = self.dev.fileno(), self.sock.fileno()
        ep = select.epoll()
        ep.register(dfd, select.EPOLLIN)
        ep.register(sfd, select.EPOLLIN)
        if ready:
            ready(self)
        from_device, from_peer = self.from_device, self.from_peer
        while self.running:
            for fd, _ev in ep.poll(1.0):
                if fd == dfd:
                    from_device()
                else:
                    from_peer()
        self.report(None, stats_file)
        ep.close()

    def report(self, out, stats_file):
        import json
        text = json.dumps(self.stats)
        if out is not None:
            print(text, file=out, flush=True)
        if stats_file:
            tmp = stats_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, stats_file)


def _swap(word):
    return int.from_bytes(word.to_bytes(8, "little"), "big")


def _headers(first, n):
    """The headers of a whole message of ``n`` datagrams whose first header is ``first``."""
    h = bytearray(first * n)
    h[HEADER - 2::HEADER] = _INDEXES[n]
    return h


IFLA_GSO_MAX_SIZE = 41


def super_packet(chunk, key):
    """The largest super-packet whose message fits one UDP GSO send: the
    device's gso_max_size, so that the kernel never hands over more."""
    chunks = min(GSO_SEGMENTS, GSO_BYTES // (chunk + HEADER))
    return chunks * chunk - VNET_HDR - (TAG if key else 0)


def parse_addr(text):
    """ADDR:PORT or [V6ADDR]:PORT -> (family, (addr, port))."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))


def read_key(key_file=None, key_env=None):
    """A 32-byte key from a file or variable holding 64 hex digits."""
    if key_file is None and key_env is None:
        return None
    text = open(key_file).read() if key_file else os.environ[key_env]
    key = bytes.fromhex(text.strip())
    if len(key) != 32:
        raise ValueError(f"a tunnel key is 32 bytes (64 hex digits), this one has {len(key)}")
    return key


def start(dev_name, listen, peer, key=None, netns=None, tap=False, underlay_mtu=1500, stats_file=None,
          ready=None):
    """Open the device and the socket in ``netns``, size the device's MTU for
    the overhead, bring it up, and run until SIGTERM."""
    from . import tun
    from .kernel import netlink as nl
    from .kernel import rtnl
    from .kernel.session import Kernel
    fam, laddr = parse_addr(listen)
    _pfam, paddr = parse_addr(peer)
    with Kernel() as k:
        dev = tun.open(dev_name, tap=tap, netns=netns, offload=True)
        with k.entered(netns):
            sock = socket.socket(fam, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        # the address may not be there yet (vnet apply adds addresses after
        # creating devices): bind anyway, it is ours once it is
        if fam == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, 78, 1)   # IPV6_FREEBIND
        else:
            sock.setsockopt(socket.IPPROTO_IP, 15, 1)     # IP_FREEBIND
        sock.bind(laddr)
        try:
            sock.setsockopt(SOL_UDP, UDP_GRO, 1)   # bursts of chunks in one read
        except OSError:
            pass
        mtu = inner_mtu(underlay_mtu, key, tap, fam == socket.AF_INET6)
        chunk = datagram_size(underlay_mtu, fam == socket.AF_INET6) - HEADER
        idx = rtnl.get_link(k.sock(netns), dev_name).ifindex
        rtnl.set_link(k.sock(netns), idx, up=True, attrs=rtnl.link_attrs(mtu=mtu))
        try:   # super-packets that leave in one UDP GSO send arrive as one burst: joined without bookkeeping
            rtnl.set_link(k.sock(netns), idx, attrs=nl.u32(IFLA_GSO_MAX_SIZE, super_packet(chunk, key)))
        except OSError:
            pass
    t = Tunnel(dev, sock, paddr, key, chunk=chunk)
    if key is None:
        print(f"vnet tunnel {dev_name}: NO KEY: packets cross the underlay in plain text, unauthenticated "
              "(give --key-file to seal them)", file=sys.stderr, flush=True)
    try:
        t.run(stats_file, ready)
    finally:
        sock.close()
        dev.close()
    return t
