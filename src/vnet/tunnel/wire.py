"""The wire format and sealing: a message (virtio_net_hdr + packet) is
framed, sealed once when there is a key, and cut into datagrams that fit
the underlay's MTU.

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

Both ends hold one key, so the two directions must never share a nonce,
and an end must never take its own datagrams sent back to it (a
reflection: a newer session than its peer's, it would lock the peer out).
The counter's top bit is the sender's role, 0 or 1: the end whose address
(address, port) is the lower of the two is 0 (``role``). Nonces differ by
direction even if both ends start in the same millisecond, and a datagram
carrying the receiver's own role is dropped and counted as reflected.

A datagram's size is a multiple of 8, so the 8 bytes that change from one
message to the next (type, count, counter) are one 64-bit word in every
header: one strided store writes them all."""
import struct
import sys
import time
from array import array

from ..kernel.msgio import Pinned

PLAIN, SEALED = 0x5A, 0x5B
_HDR = struct.Struct("<BB6s6sBx")     # type, count, counter, epoch, index
_LITTLE = sys.byteorder == "little"   # the header word is stored as a native 64-bit integer
HEADER, TAG, AUTH = _HDR.size, 16, 14  # AUTH: the header bytes authenticated (all but index and pad)
VNET_HDR = 10
MAX_CHUNKS = 255       # datagrams of one message at most (the index is one byte)
GSO_SEGMENTS, GSO_BYTES = 64, 65000   # what one UDP GSO send may carry
ROLE_BIT = 1 << 47   # of the 48-bit counter: the sender's role


def datagram_size(underlay_mtu, v6=False):
    """The largest datagram payload the underlay carries, down to a multiple of 8."""
    return (underlay_mtu - (40 if v6 else 20) - 8) // 8 * 8


def inner_mtu(underlay_mtu, key, tap, v6=False):
    """The device's MTU: its largest packet, with the virtio_net_hdr (and
    the tag, and the Ethernet header on TAP), fits one datagram."""
    return datagram_size(underlay_mtu, v6) - HEADER - VNET_HDR - (TAG if key else 0) - (14 if tap else 0)


def super_packet(chunk, key):
    """The largest super-packet whose message fits one UDP GSO send: the
    device's gso_max_size, so that the kernel never hands over more."""
    chunks = min(GSO_SEGMENTS, GSO_BYTES // (chunk + HEADER))
    return chunks * chunk - VNET_HDR - (TAG if key else 0)


def _swap(word):
    return int.from_bytes(word.to_bytes(8, "little"), "big")


class Sealing:
    """The sending side's framing, a part of ``loop.Tunnel``. Its buffers
    are made once, in slots of one datagram each; a message takes
    consecutive slots.

    Out, plain: a message is read from the device straight into the payload
    slots of a buffer laid out as the datagrams go on the wire (header,
    payload, header, payload...), one store fills in the headers, and the
    whole is one contiguous send. Out, sealed: the message is read whole,
    sealed into a second buffer, and sent as an iovec of headers and slices
    of the ciphertext."""

    def _init_sending(self, key, chunk, role):
        if (chunk + HEADER) % 8:
            raise ValueError(f"a datagram of {chunk} + {HEADER} bytes: its size must be a multiple of 8")
        self.chunk = chunk     # payload bytes per datagram
        self.aead = None
        if key is not None:   # imported only for a key: a plain tunnel starts without it
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
            self.aead = ChaCha20Poly1305(key)
        self.framing = PLAIN if self.aead is None else SEALED   # the datagrams' type byte
        self.role = role       # the top bit of every counter this end sends (see the module's text)
        self.counter = ROLE_BIT if role else 0
        full = HEADER + chunk
        if self.aead is None:   # the buffers the kernel copies from start on a page (``Pinned``)
            # out: the wire layout itself, headers every ``full`` bytes
            self._wire = Pinned(MAX_CHUNKS * full, paged=True)
            self._heads, self._stride = self._wire, full
            self._slots = [(self._wire, i * full + HEADER, chunk) for i in range(MAX_CHUNKS)]
        else:
            # out: the message, its ciphertext, the headers end to end
            self._msg, self._ct = Pinned(MAX_CHUNKS * chunk, paged=True), Pinned(MAX_CHUNKS * chunk, paged=True)
            self._heads, self._stride = Pinned(MAX_CHUNKS * HEADER), HEADER
            self._tx_pieces = [p for i in range(MAX_CHUNKS)
                               for p in ((self._heads, i * HEADER, HEADER), (self._ct, i * chunk, chunk))]
        q = self._q = self._heads.view.cast("Q")
        st = self._st8 = self._stride // 8   # slot i's header: words _q[i * st] and _q[i * st + 1]
        self._firsts = [q[0:n * st:st] for n in range(MAX_CHUNKS + 1)]   # [n]: the first word of slots 0..n-1
        self.epoch = (time.time_ns() // 1_000_000).to_bytes(6, "big")

    @property
    def epoch(self):
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        """The session: the second word of the header of a message's i-th
        datagram is the epoch and i. Slot i holds index i, but for a message
        framed from another slot (a batch's, after a batch), which leaves the
        slots dirty until the next message of several datagrams from slot 0."""
        self._epoch = value
        self._second = memoryview(array("Q", (int.from_bytes(value + bytes((i, 0)), sys.byteorder)
                                              for i in range(MAX_CHUNKS))))
        self._q[1::self._st8] = self._second
        self._dirty = False

    # ---- a message out ----------------------------------------------------------
    def frame(self, size, at=0):
        """Frame the message of ``size`` bytes that is in place (plain: in the
        payload slots from slot ``at`` on; sealed: in the message buffer,
        sealed into the ciphertext slots from slot ``at`` on): write its
        headers in slots ``at``, ``at + 1``... and give (datagrams, bytes of
        payload); all datagrams are full but the last."""
        c = self.chunk
        total = size + (TAG if self.aead is not None else 0)
        n = -(-total // c) or 1
        if n > MAX_CHUNKS - at:
            raise ValueError(f"a {size}-byte message needs {n} chunks of {c}: at most {MAX_CHUNKS - at}")
        self.counter = ctr = self.counter + 1
        word = self.framing | n << 8 | ctr << 16
        if self.aead is not None:   # nonce: epoch and counter; authenticated: the header but its index
            head = word.to_bytes(8, "little")
            self.aead.encrypt_into(self._epoch + head[2:], self._msg.view[:size], head + self._epoch,
                                   self._ct.view[at * c:at * c + total])
        if not _LITTLE:
            word = _swap(word)
        if n == 1:
            first = at * self._st8
            self._q[first] = word
            if at:
                self._q[first + 1] = self._second[0]
                self._dirty = True
        elif at == 0:
            if self._dirty:
                self._q[1::self._st8] = self._second
                self._dirty = False
            self._firsts[n][:] = array("Q", (word,)) * n
        else:
            q, st, first = self._q, self._st8, at * self._st8
            q[first:first + n * st:st] = array("Q", (word,)) * n
            q[first + 1:first + n * st + 1:st] = self._second[:n]
            self._dirty = True
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

    def _parts(self, n, total, at=0):
        """(header, payload view) of each datagram of the message just framed
        (from slot ``at`` on)."""
        c, hv, st = self.chunk, self._heads.view, self._stride
        body, base, bstep = (self._wire.view, HEADER, st) if self.aead is None else (self._ct.view, 0, c)
        return [(hv[j * st:j * st + HEADER], body[base + j * bstep:base + j * bstep + min(c, total - (j - at) * c)])
                for j in range(at, at + n)]

    def seal(self, msg):
        """The datagrams carrying ``msg``, each at most HEADER + chunk bytes."""
        return [bytes(h) + bytes(v) for h, v in self.seal_parts(msg)]

