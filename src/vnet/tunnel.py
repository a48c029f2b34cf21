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

Chunks, network byte order:
    type (0x58 plain, 0x59 sealed) | epoch (6) | counter (6) | index (1) | count (1) | bytes
The 12 bytes after the type are the AEAD nonce of the message, and its first
13 bytes are authenticated with it. The epoch is the sender's start time in
milliseconds, so a restarted sender starts a new session; the receiver keeps
a sliding window of counters per session and never goes back to an older
one: forged, modified and replayed messages are dropped and counted."""
import os
import selectors
import signal
import socket
import struct
import sys
import time

PLAIN, SEALED = 0x58, 0x59
_HDR = struct.Struct("!B6s6sBB")
HEADER, TAG = _HDR.size, 16
VNET_HDR = 10
WINDOW = 4096
PENDING = 256          # messages being reassembled at most
SOL_UDP, UDP_SEGMENT, UDP_GRO = 17, 103, 104
GSO_SEGMENTS, GSO_BYTES = 64, 65000   # what one UDP GSO send may carry
DROPS = ("forged", "replayed", "stale_session", "malformed", "unsealed", "sealed_without_key", "incomplete",
         "send_failed")


def overhead(key, tap, v6=False):
    """Bytes an inner packet of one chunk costs on the underlay (so the
    device's MTU keeps every ordinary packet in one datagram)."""
    return (40 if v6 else 20) + 8 + HEADER + VNET_HDR + (TAG if key else 0) + (14 if tap else 0)


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
            self.bits = ((self.bits << shift) | 1) & ((1 << WINDOW) - 1) if shift < WINDOW else 1
            self.top = n
        else:
            self.bits |= 1 << (self.top - n)


class Tunnel:
    def __init__(self, dev, sock, peer, key=None, chunk=1400):
        self.dev, self.sock, self.peer = dev, sock, peer
        self.chunk = chunk     # payload bytes per datagram
        self.aead = None
        if key is not None:
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
            self.aead = ChaCha20Poly1305(key)
        self.epoch = (time.time_ns() // 1_000_000).to_bytes(6, "big")
        self.counter = 0
        self.rx_epoch = b"\0" * 6
        self.replay = Replay()
        self.pending = {}      # (epoch, counter) -> [count, {index: bytes}]
        # rx_whole: bursts that were one whole message (joined at once);
        # rx_chunks: datagrams taken one by one (a message over several bursts)
        self.stats = {"tx_packets": 0, "tx_bytes": 0, "rx_packets": 0, "rx_bytes": 0, "rx_whole": 0, "rx_chunks": 0,
                      "drops": dict.fromkeys(DROPS, 0)}
        self.running = True
        self._tx_buf = memoryview(bytearray(65536 + VNET_HDR))
        self._rx_buf = memoryview(bytearray(65535))

    # ---- a message each way -----------------------------------------------------
    def seal(self, msg):
        """The datagrams carrying ``msg``, each at most HEADER + chunk bytes."""
        return [bytes(h) + bytes(v) for h, v in self.seal_parts(msg)]

    def seal_parts(self, msg):
        """(header, body view) of each datagram."""
        iov = self.seal_iov(msg)
        return list(zip(iov[0::2], iov[1::2]))

    def seal_iov(self, msg):
        """The datagrams of ``msg`` as one iovec: header, body, header, body...
        Sent as it is (nothing copied here); the headers are built at once,
        differing only in their index byte."""
        self.counter += 1
        ctr = self.counter.to_bytes(6, "big")
        kind = PLAIN if self.aead is None else SEALED
        if self.aead is not None:
            msg = self.aead.encrypt(self.epoch + ctr, bytes(msg), bytes([kind]) + self.epoch + ctr)
        c = self.chunk
        n = max(1, -(-len(msg) // c))
        if n > 255:
            raise ValueError(f"a {len(msg)}-byte message needs {n} chunks of {c}: at most 255")
        heads = bytearray(_HDR.pack(kind, self.epoch, ctr, 0, n) * n)
        heads[HEADER - 2::HEADER] = bytes(range(n))
        hv, mv = memoryview(heads), memoryview(msg)
        iov = [hv] * (2 * n)
        iov[0::2] = [hv[i:i + HEADER] for i in range(0, n * HEADER, HEADER)]
        iov[1::2] = [mv[i:i + c] for i in range(0, n * c, c)]
        return iov

    def open(self, dgram):
        """The message completed by ``dgram``, or None (not complete yet, or dropped and counted)."""
        if len(dgram) < HEADER:
            self.stats["drops"]["malformed"] += 1
            return None
        kind, epoch, ctr_b, idx, n = _HDR.unpack_from(dgram)
        if not self._admit(kind, epoch, ctr_b, idx, n):
            return None
        if n == 1:
            return self._finish(kind, epoch, ctr_b, dgram[HEADER:])
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
        entry[1][idx] = bytes(dgram[HEADER:])   # the receive buffer is used again by the next burst
        if len(entry[1]) < n:
            return None
        del self.pending[key]
        return self._finish(kind, epoch, ctr_b, b"".join(entry[1][i] for i in range(n)))

    def open_burst(self, mv, seg):
        """The messages completed by a burst of datagrams of ``seg`` bytes (UDP
        GRO). A burst that is exactly one whole message in order, the usual
        case, is joined at once without per-chunk bookkeeping."""
        offs = range(0, len(mv), seg)
        if len(offs) > 1 and len(mv) >= HEADER and len(mv) - offs[-1] >= HEADER:
            kind, epoch, ctr_b, idx, n = _HDR.unpack_from(mv)
            # every datagram's header, byte by byte across the burst (strided
            # views): the same message, indexes 0..n-1 in order
            if idx == 0 and n == len(offs) and bytes(mv[HEADER - 2::seg]) == bytes(range(n)) \
                    and all(bytes(mv[j::seg]) == mv[j:j + 1].tobytes() * n
                            for j in (*range(HEADER - 2), HEADER - 1)):
                if not self._admit(kind, epoch, ctr_b, idx, n):
                    return []
                self.stats["rx_whole"] += 1
                parts = [mv[o + HEADER:o + seg] for o in offs]
                if self.aead is None:   # the parts as they are: one writev, no join
                    return [parts]
                m = self._finish(kind, epoch, ctr_b, b"".join(parts))
                return [] if m is None else [m]
        self.stats["rx_chunks"] += len(offs)
        return [m for m in (self.open(mv[o:o + seg]) for o in offs) if m is not None]

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
            if epoch == self.rx_epoch and not self.replay.fresh(int.from_bytes(ctr_b, "big")):
                drops["replayed"] += 1
                return False
        return True

    def _finish(self, kind, epoch, ctr_b, body):
        if self.aead is None:
            return body
        try:
            msg = self.aead.decrypt(epoch + ctr_b, bytes(body), bytes([kind]) + epoch + ctr_b)
        except Exception:   # cryptography's InvalidTag: forged or modified
            self.stats["drops"]["forged"] += 1
            return None
        if epoch > self.rx_epoch:   # an authentic message of a newer session: the peer restarted
            self.rx_epoch, self.replay = epoch, Replay()
            self.pending = {k: v for k, v in self.pending.items() if k[0] >= epoch}
        self.replay.mark(int.from_bytes(ctr_b, "big"))
        return msg

    # ---- the loop ------------------------------------------------------------
    def from_device(self):
        # one buffer for every read: a fresh 64 KiB object per read costs an
        # allocation and, as the heap grows and shrinks, page faults to fill
        fd, buf = self.dev.fileno(), self._tx_buf
        for _ in range(64):   # a burst per wakeup
            try:
                msg = buf[:os.readv(fd, (buf,))]
            except BlockingIOError:
                return
            iov = self.seal_iov(msg)
            try:
                if len(iov) == 2:
                    self.sock.sendmsg(iov, (), 0, self.peer)
                else:   # few sends (usually one), segmented by the kernel (UDP GSO): all but the last are full
                    seg = HEADER + len(iov[1])
                    per = 2 * min(GSO_SEGMENTS, GSO_BYTES // seg)
                    opt = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", seg))]
                    for i in range(0, len(iov), per):
                        self.sock.sendmsg(iov[i:i + per], opt, 0, self.peer)
            except OSError:
                self.stats["drops"]["send_failed"] += 1
                continue
            self.stats["tx_packets"] += 1
            self.stats["tx_bytes"] += len(msg) - VNET_HDR

    def from_peer(self):
        fd, buf = self.dev.fileno(), self._rx_buf
        for _ in range(64):
            try:
                n, anc, _f, _a = self.sock.recvmsg_into((buf,), 64)
            except BlockingIOError:
                return
            except OSError:   # ICMP port unreachable while the peer restarts
                continue
            data = buf[:n]   # written out (or copied, if incomplete) before the next burst
            seg = len(data)
            for level, typ, c in anc:
                if level == SOL_UDP and typ == UDP_GRO:
                    seg = struct.unpack("=i", c[:4])[0] or seg
            for msg in self.open_burst(data, seg):
                try:
                    n = os.writev(fd, msg) if isinstance(msg, list) else os.write(fd, msg)
                except OSError:
                    self.stats["drops"]["malformed"] += 1
                    continue
                self.stats["rx_packets"] += 1
                self.stats["rx_bytes"] += n - VNET_HDR

    def run(self, stats_file=None):
        self.dev.set_blocking(False)
        self.sock.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(self.dev, selectors.EVENT_READ, self.from_device)
        sel.register(self.sock, selectors.EVENT_READ, self.from_peer)

        def stop(*_a):
            self.running = False

        def dump(*_a):
            self.report(sys.stderr, stats_file)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGUSR1, dump)
        while self.running:
            for k, _ev in sel.select(1.0):
                k.data()
        self.report(None, stats_file)
        sel.close()

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
        mtu = underlay_mtu - overhead(key, tap, fam == socket.AF_INET6)
        chunk = underlay_mtu - (40 if fam == socket.AF_INET6 else 20) - 8 - HEADER
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
    if ready:
        ready(t)
    try:
        t.run(stats_file)
    finally:
        sock.close()
        dev.close()
    return t
