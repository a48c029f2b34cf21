"""The reference's TUN application (Figure 1b): packets read from a TUN (or
TAP) device travel to a peer inside UDP datagrams, and the peer writes them
to its own device.

Datagrams, network byte order:
    plain:  0x56 | packet
    sealed: 0x57 | epoch (6 bytes) | counter (6 bytes) | ChaCha20-Poly1305(packet) | tag (16)
The 12 header bytes after the type are the AEAD nonce, and the whole header
is authenticated. The epoch is the sender's start time in milliseconds, so
a restarted sender starts a new session; the receiver keeps a sliding window
of counters per session and never goes back to an older one: forged,
modified and replayed datagrams are dropped and counted."""
import os
import selectors
import signal
import socket
import struct
import sys
import time

PLAIN, SEALED = 0x56, 0x57
_HDR = struct.Struct("!B6s6s")
HEADER, TAG = _HDR.size, 16
WINDOW = 4096
DROPS = ("forged", "replayed", "stale_session", "malformed", "unsealed", "sealed_without_key", "send_failed")


def overhead(key, tap, v6=False):
    """Bytes the tunnel adds to an inner packet on the underlay."""
    return (40 if v6 else 20) + 8 + (HEADER + TAG if key else 1) + (14 if tap else 0)


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
    def __init__(self, dev, sock, peer, key=None):
        self.dev, self.sock, self.peer = dev, sock, peer
        self.aead = None
        if key is not None:
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
            self.aead = ChaCha20Poly1305(key)
        self.epoch = (time.time_ns() // 1_000_000).to_bytes(6, "big")
        self.counter = 0
        self.rx_epoch = b"\0" * 6
        self.replay = Replay()
        self.stats = {"tx_packets": 0, "tx_bytes": 0, "rx_packets": 0, "rx_bytes": 0,
                      "drops": dict.fromkeys(DROPS, 0)}
        self.running = True

    # ---- one packet each way --------------------------------------------------
    def seal(self, pkt):
        if self.aead is None:
            return bytes([PLAIN]) + pkt
        self.counter += 1
        hdr = _HDR.pack(SEALED, self.epoch, self.counter.to_bytes(6, "big"))
        return hdr + self.aead.encrypt(hdr[1:], bytes(pkt), hdr)

    def open(self, dgram):
        """The inner packet of ``dgram``, or None (the drop counted)."""
        drops = self.stats["drops"]
        if not dgram:
            drops["malformed"] += 1
            return None
        t = dgram[0]
        if t == PLAIN:
            if self.aead is not None:
                drops["unsealed"] += 1
                return None
            return dgram[1:]
        if t != SEALED or len(dgram) < HEADER + TAG:
            drops["malformed" if t != SEALED or self.aead else "sealed_without_key"] += 1
            return None
        if self.aead is None:
            drops["sealed_without_key"] += 1
            return None
        epoch, ctr = dgram[1:7], int.from_bytes(dgram[7:13], "big")
        if epoch < self.rx_epoch:
            drops["stale_session"] += 1
            return None
        if epoch == self.rx_epoch and not self.replay.fresh(ctr):
            drops["replayed"] += 1
            return None
        try:
            pkt = self.aead.decrypt(bytes(dgram[1:HEADER]), bytes(dgram[HEADER:]), bytes(dgram[:HEADER]))
        except Exception:   # cryptography's InvalidTag: forged or modified
            drops["forged"] += 1
            return None
        if epoch > self.rx_epoch:   # an authentic datagram of a newer session: the peer restarted
            self.rx_epoch, self.replay = epoch, Replay()
        self.replay.mark(ctr)
        return pkt

    # ---- the loop ------------------------------------------------------------
    def from_device(self):
        for _ in range(64):   # a burst per wakeup
            try:
                pkt = self.dev.read()
            except BlockingIOError:
                return
            try:
                self.sock.sendto(self.seal(pkt), self.peer)
            except OSError:
                self.stats["drops"]["send_failed"] += 1
                continue
            self.stats["tx_packets"] += 1
            self.stats["tx_bytes"] += len(pkt)

    def from_peer(self):
        for _ in range(64):
            try:
                dgram = self.sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:   # ICMP port unreachable while the peer restarts
                continue
            pkt = self.open(dgram)
            if pkt is None:
                continue
            try:
                self.dev.write(pkt)
            except OSError:
                self.stats["drops"]["malformed"] += 1
                continue
            self.stats["rx_packets"] += 1
            self.stats["rx_bytes"] += len(pkt)

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
    from .kernel import rtnl
    from .kernel.session import Kernel
    fam, laddr = parse_addr(listen)
    _pfam, paddr = parse_addr(peer)
    with Kernel() as k:
        dev = tun.open(dev_name, tap=tap, netns=netns)
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
        mtu = underlay_mtu - overhead(key, tap, fam == socket.AF_INET6)
        idx = rtnl.get_link(k.sock(netns), dev_name).ifindex
        rtnl.set_link(k.sock(netns), idx, up=True, attrs=rtnl.link_attrs(mtu=mtu))
    t = Tunnel(dev, sock, paddr, key)
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
