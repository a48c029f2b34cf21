"""The reference's TUN application (Figure 1b): packets read from a TUN (or
TAP) device travel to a peer inside UDP datagrams, and the peer writes them
to its own device.

The device runs in offload mode: the kernel hands over TCP super-packets of
up to 64 KiB with a virtio_net_hdr in front (one read instead of dozens) and
takes them back the same way on the other side, where it segments them
itself. A message (virtio_net_hdr + packet) is sealed once, cut into chunks
that fit the underlay's MTU, and the chunks leave in one send (UDP GSO,
UDP_SEGMENT); the receiver takes bursts of them in one read (UDP GRO) and
writes each reassembled message to its device. Small messages (TCP's ACKs)
read in one wakeup leave together in one GSO send too.

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
PENDING_BYTES = 4 << 20   # and their chunks' bytes at most (they are not authenticated until whole)
MAX_CHUNKS = 255       # datagrams of one message at most (the index is one byte)
READ_MAX = 65536 + VNET_HDR + 64   # the largest read from the device (a super-packet)
_INDEXES = [bytes(range(n)) for n in range(MAX_CHUNKS + 1)]
SOL_UDP, UDP_SEGMENT, UDP_GRO = 17, 103, 104
GSO_SEGMENTS, GSO_BYTES = 64, 65000   # what one UDP GSO send may carry
DROPS = ("forged", "replayed", "reflected", "stale_session", "malformed", "unsealed", "sealed_without_key",
         "incomplete", "send_failed", "write_failed")
ROLE_BIT = 1 << 47   # of the 48-bit counter: the sender's role
_PER_SEND, _PER_BATCH = 14, 15   # in Tunnel._out_args: datagrams per GSO send, messages per batch


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
    """One end of the tunnel. Its buffers are made once, in slots of one
    datagram each; a message takes consecutive slots.

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
    message (measured, docs/benchmarks.md). Messages of one datagram (TCP's
    ACKs) read in one wakeup take slots 0, 1, 2... and leave together, and
    the other end takes such a batch apart (``from_device``, ``_batch``)."""

    def __init__(self, dev, sock, peer, key=None, chunk=1400, role=0):
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
        self.role = role       # the top bit of every counter this end sends (see the module's text)
        self.counter = ROLE_BIT if role else 0
        self.rx_epoch = b"\0" * 6
        self.replay = Replay()
        self.pending = {}      # (epoch, counter) -> [count, {index: bytes}]
        self.pending_bytes = 0
        # rx_whole: messages taken whole from one read (one datagram, or a burst
        # that was exactly one message in order); rx_chunks: datagrams taken one
        # by one (a message over several bursts, or bursts out of order)
        self.stats = {"tx_packets": 0, "tx_bytes": 0, "rx_packets": 0, "rx_bytes": 0, "rx_whole": 0, "rx_chunks": 0,
                      "drops": dict.fromkeys(DROPS, 0)}
        self.running = True
        self._gso = True       # False once the kernel refuses UDP GSO toward the peer (_give_up_gso)
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
        q = self._q = self._heads.view.cast("Q")
        st = self._st8 = self._stride // 8   # slot i's header: words _q[i * st] and _q[i * st + 1]
        self._firsts = [q[0:n * st:st] for n in range(MAX_CHUNKS + 1)]   # [n]: the first word of slots 0..n-1
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
        """The session: the second word of the header of a message's i-th
        datagram is the epoch and i. Slot i holds index i, but for a message
        framed from another slot (a batch's, after a batch), which leaves the
        slots dirty until the next message of several datagrams from slot 0."""
        self._epoch = value
        self._second = memoryview(array("Q", (int.from_bytes(value + bytes((i, 0)), sys.byteorder)
                                              for i in range(MAX_CHUNKS))))
        self._q[1::self._st8] = self._second
        self._dirty = False

    # ---- a message each way -----------------------------------------------------
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
        word = self.kind | n << 8 | ctr << 16
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
            entry = self.pending[key] = [n, {}]
        if entry[0] != n:
            self.stats["drops"]["malformed"] += 1
            return None
        before = entry[1].get(idx)
        chunk = entry[1][idx] = bytes(dgram[HEADER:])   # the receive buffers are used again by the next burst
        self.pending_bytes += len(chunk) - (len(before) if before is not None else 0)
        if len(entry[1]) < n:
            self._evict()
            return None
        del self.pending[key]
        self.pending_bytes -= sum(map(len, entry[1].values()))
        return self._finish(dgram, epoch, ctr_b, b"".join(entry[1][i] for i in range(n)))

    def _evict(self):
        """Messages never completed (a chunk was lost, or forged chunks that
        cannot be authenticated until whole): the oldest go, counted, while
        there are more than PENDING or their bytes pass PENDING_BYTES."""
        while len(self.pending) > PENDING or self.pending_bytes > PENDING_BYTES:
            _n, chunks = self.pending.pop(next(iter(self.pending)))
            self.pending_bytes -= sum(map(len, chunks.values()))
            self.stats["drops"]["incomplete"] += 1

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
        if seg == size or seg == full:   # one datagram, or a burst of full ones
            n = -(-size // full)
            rh = self._rh.buf   # its index 0, its count n, and the rest of the headers alike but for their index
            if rh[HEADER - 2] == 0 and rh[1] == n and (n == 1 or rh.startswith(_headers(rh[:HEADER], n))):
                if rh[0] == self.kind == PLAIN:   # nothing to check or open: _admit and _finish in short
                    self.stats["rx_whole"] += 1
                    return [self._rb.view[:size - n * HEADER]]
                kind, _count, ctr_b, epoch, idx = _HDR.unpack_from(rh)
                if not self._admit(kind, epoch, ctr_b, idx, n):
                    return []
                self.stats["rx_whole"] += 1
                m = self._finish(rh, epoch, ctr_b, self._rb.view[:size - n * HEADER], self._out)
                return [] if m is None else [m]
            dgrams = self._datagrams(size, full)
        elif size <= full:   # one-datagram messages sent together (a batch): the first header in rh, the rest in rb
            return self._batch(size, seg)
        else:   # datagrams of another size: the bytes as they came, then cut
            lin = b"".join(p.view[o:o + ln] for p, o, ln in self._rx_pieces[:2 * (-(-size // full))])[:size]
            dgrams = [lin[o:o + seg] for o in range(0, size, seg)]
        self.stats["rx_chunks"] += len(dgrams)
        return [m for m in (self.open(d) for d in dgrams) if m is not None]

    def _batch(self, size, seg):
        """The messages of a burst of ``seg``-byte datagrams of one message
        each, ``size`` <= one full datagram: plain ones are handed over where
        they lie, others opened one by one."""
        rh, rb, plain, out = self._rh.view, self._rb.view, self.kind == PLAIN, []
        end, whole = size - HEADER, 0
        starts = range(-HEADER, end, seg)   # datagram j's header at rb[o:o + HEADER] (the first's in rh)
        for o in starts:
            h = rh[:HEADER] if o < 0 else rb[o:o + HEADER]
            body = rb[o + HEADER:min(o + seg, end)]
            if plain and h[0] == PLAIN and h[1] == 1 and h[HEADER - 2] == 0:   # type, count 1, index 0
                out.append(body)
                whole += 1
                continue
            m = self.open(bytes(h) + bytes(body))
            if m is not None:
                out.append(m)
        self.stats["rx_whole"] += whole
        self.stats["rx_chunks"] += len(starts) - whole
        return out

    def _datagrams(self, size, full):
        """The datagrams of a burst of full-sized ones (the last may be short), as bytes."""
        c, hv, bv, out = self.chunk, self._rh.view, self._rb.view, []
        for i in range(-(-size // full)):
            left = min(full, size - i * full)
            out.append(bytes(hv[i * HEADER:i * HEADER + min(HEADER, left)])
                       + bytes(bv[i * c:i * c + max(0, left - HEADER)]))
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
            if ctr_b[5] >> 7 == self.role:   # this end's own role: its own datagram sent back
                drops["reflected"] += 1
                return False
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
            self.pending_bytes = sum(len(c) for _n, chunks in self.pending.values() for c in chunks.values())
        self.replay.mark(int.from_bytes(ctr_b, "little"))
        return msg

    # ---- the loop ------------------------------------------------------------
    def _vectors(self):
        """The iovecs over the buffers above: the device's read (plain: the
        payload slots, from any slot on; sealed: the message buffer), a
        message's send (plain: one piece from any slot on; sealed: header,
        ciphertext slice...), a batch's send (its own UDP_SEGMENT) and the
        receive."""
        import ctypes
        from .kernel.msgio import Vector, readv, recvmsg, sendmsg, sockaddr
        seg = struct.pack("=QiiH", 18, SOL_UDP, UDP_SEGMENT, HEADER + self.chunk) + bytes(6)   # one cmsg: UDP_SEGMENT
        name = sockaddr(self.sock.family, self.peer)
        fd, sfd, c, full = self.dev.fileno(), self.sock.fileno(), self.chunk, HEADER + self.chunk
        plain = self.aead is None
        if plain:   # a datagram is one piece: its slot
            self._txv = Vector([(self._wire, 0, full)], name=name, control=seg)
            self._batchv = Vector([(self._wire, i * full, full) for i in range(MAX_CHUNKS)], name=name, control=seg)
            self._devv = Vector(self._slots)
        else:       # a datagram is two pieces: its header, its slice of the ciphertext
            self._txv = Vector(self._tx_pieces, name=name, control=seg)
            self._batchv = Vector(self._tx_pieces, name=name, control=seg)
            self._devv = Vector([(self._msg, 0, min(READ_MAX, len(self._msg.buf)))])
        self._rxv = Vector(self._rx_pieces, control_room=64)
        # what the loops take at each wakeup, in one tuple
        dev, tx, batch, rx = self._devv.parts(), self._txv.parts(), self._batchv.parts(), self._rxv.parts()
        b_seg = ctypes.c_uint16.from_address(ctypes.addressof(batch.cmsg[2]))   # the batch's UDP_SEGMENT
        # the device read from slot k on: plain, iovs[k]; sealed, always the message buffer
        dev_iovs = dev.iovs if plain else dev.iovs * GSO_SEGMENTS
        self._out_args = (fd, sfd, readv, sendmsg, dev_iovs, min(len(dev.lens), -(-READ_MAX // c)),
                          1 if plain else 2, tx.lens, tx.hdrs, tx.bases[0], self._wire.addr if plain else 0,
                          batch.lens, batch.hdrs, b_seg, min(GSO_SEGMENTS, GSO_BYTES // full) if self._gso else 1,
                          GSO_SEGMENTS if self._gso else 1, c, full, HEADER if plain else 0, 0 if plain else TAG)
        assert self._out_args[_PER_BATCH] == (GSO_SEGMENTS if self._gso else 1)
        self._in_args = (fd, sfd, recvmsg, rx.hdrs[-1][True], rx.ctl_len, rx.room) + tuple(rx.cmsg)

    def from_device(self):
        """Read messages from the device and send them. A message of several
        datagrams leaves in one UDP GSO send, which the kernel segments.
        Messages of one datagram (TCP's ACKs, mostly) wait in slots 0, 1,
        2... and leave together: one GSO send for a run of equal sizes (the
        last may be shorter), at most one full datagram's bytes, so one send
        and one receive for a burst of them instead of one each. Plain
        messages are read into the wire layout, from the first free slot on,
        and leave from where they lie; sealed ones are read whole and sealed
        into their slots. The calls are made here, through the iovecs' parts:
        this runs once per message."""
        (fd, sfd, readv, sendmsg, dev_iovs, pieces, per_dgram, lens, hdrs, one_at, wire, b_lens, b_hdrs,
         b_seg, per, bcap, c, full, head, tag) = self._out_args   # head: header bytes in a batch piece (plain: 16)
        frame, plain = self.frame, per_dgram == 1
        k, bsize, bmax, bbytes, sent, nbytes, failed = 0, 0, 0, 0, 0, 0, 0

        def flush():   # the batch in slots 0..k-1
            nonlocal k, bbytes, sent, nbytes, failed
            if sendmsg(sfd, b_hdrs[per_dgram * k][k > 1], 0) >= 0 or (
                    k > 1 and self._gso_failed(self._batch_parts(k, b_lens, per_dgram), b_seg.value)):
                sent, nbytes = sent + k, nbytes + bbytes
            else:
                failed += k
            k = bbytes = 0

        for _ in range(64):   # a burst per wakeup
            size = readv(fd, dev_iovs[k], pieces)   # plain: into slots k, k + 1...
            if size < 0:
                break
            if size + tag <= c and (k == 0 or size <= bsize):   # one datagram: into the batch
                frame(size, k)
                if k == 0:
                    bsize = size
                    bmax = min(bcap, full // (HEADER + size + tag))
                    b_seg.value = HEADER + size + tag
                b_lens[per_dgram * k + per_dgram - 1].value = head + size + tag
                k += 1
                bbytes += size - VNET_HDR
                if size < bsize or k >= bmax:   # a shorter one ends it: only a GSO send's last may be short
                    flush()
                continue
            at = k if plain else 0   # several datagrams, or one larger than the batch's: the batch leaves first
            if k:
                flush()
            n, total = frame(size, at)
            if n > per:   # more than one send (only if the device ignored gso_max_size)
                ok = self._send_split(n, total, per, at)
            elif plain:   # the wire layout from its slot on: one piece, the headers' bytes included
                one_at.value = wire + at * full
                lens[0].value = total + n * HEADER
                ok = sendmsg(sfd, hdrs[1][n > 1], 0) >= 0
            else:   # header, slice of the ciphertext, header...: the last slice cut
                last = lens[2 * n - 1]
                last.value = total - (n - 1) * c
                ok = sendmsg(sfd, hdrs[2 * n][n > 1], 0) >= 0
                last.value = c
            if not ok and 1 < n <= per:
                ok = self._gso_failed(self._parts(n, total, at), full)
            if ok:
                sent, nbytes = sent + 1, nbytes + size - VNET_HDR
            else:
                failed += 1
        if k:
            flush()
        if sent or failed:
            self._count("tx", sent, nbytes, "send_failed", failed)

    def _batch_parts(self, k, lens, per_dgram):
        """(header, payload) views of the batch in slots 0..k-1, as its send's lengths say."""
        c, full = self.chunk, HEADER + self.chunk
        if per_dgram == 1:   # plain: slot i is the wire layout, its header included in its one length
            w = self._wire.view
            return [(w[i * full:i * full + HEADER], w[i * full + HEADER:i * full + lens[i].value]) for i in range(k)]
        h, ct = self._heads.view, self._ct.view
        return [(h[i * HEADER:(i + 1) * HEADER], ct[i * c:i * c + lens[2 * i + 1].value]) for i in range(k)]

    def _gso_failed(self, parts, seg):
        """A UDP GSO send (datagrams ``parts`` of ``seg`` bytes) failed. Once
        more through the socket module, which says why: a kernel that
        refuses UDP GSO on this path (EIO: Debian 12's 6.1 when the underlay
        device does no checksum offload) gets these datagrams, and all from
        now on, one by one. True if they left. Only for what one send carried:
        a message split over several sends is not sent twice in part."""
        if self._gso:
            try:
                self.sock.sendmsg([v for pair in parts for v in pair],
                                  [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", seg))], 0, self.peer)
                return True
            except OSError as e:
                if not self._give_up_gso(e):   # EINVAL, say (a segment above a path MTU that fell): this one lost
                    return False
        return self._one_by_one(parts)

    def _give_up_gso(self, e):
        """After a GSO send failed with ``e``: if the kernel refuses UDP GSO on
        this path (EIO), every send from now on is one datagram. True then."""
        import errno
        if e.errno != errno.EIO:
            return False
        if self._gso:
            print(f"vnet tunnel: the kernel refuses UDP GSO toward the peer ({e.strerror}; the underlay device "
                  "may not offload checksums): sending datagrams one by one, which is slower",
                  file=sys.stderr, flush=True)
            self._gso = False
            out = list(self._out_args)   # not _vectors(): a send in progress holds the iovecs it has
            out[_PER_SEND] = out[_PER_BATCH] = 1   # one datagram each, from the next wakeup on
            self._out_args = tuple(out)
        return True

    def _one_by_one(self, parts):
        try:
            for pair in parts:
                self.sock.sendmsg(pair, [], 0, self.peer)
        except OSError:
            return False
        return True

    def _send_split(self, n, total, per, at=0):
        """A message of more datagrams than one GSO send carries, in several
        (one datagram each once GSO is given up, or from the group the kernel
        refused on: nothing is sent twice)."""
        parts = self._parts(n, total, at)
        for first in range(0, n, per):
            group = parts[first:first + per]
            iov = [v for pair in group for v in pair]
            opt = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", HEADER + self.chunk))] if len(group) > 1 else []
            try:
                self.sock.sendmsg(iov, opt, 0, self.peer)
            except OSError as e:
                if len(group) > 1 and self._give_up_gso(e):
                    return self._one_by_one(parts[first:])
                return False
        return True

    def from_peer(self):
        """Receive bursts of datagrams and write each completed message to the device."""
        fd, sfd, recvmsg, ptr, ctl_len, room, level, typ, value = self._in_args
        arrived, write, got, nbytes, failed = self.arrived, os.write, 0, 0, 0
        for _ in range(64):
            ctl_len.value = room
            size = recvmsg(sfd, ptr, 0)
            if size < 0:   # nothing more (or an error, cleared by reading it): epoll says when there is more
                break
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
            self._count("rx", got, nbytes, "write_failed", failed)

    def _count(self, way, packets, nbytes, drop, drops):
        st = self.stats
        st[way + "_packets"] += packets
        st[way + "_bytes"] += nbytes
        st["drops"][drop] += drops

    def run(self, stats_file=None, ready=None):
        """Carry packets until SIGTERM (or until the device is gone: then
        ``self.gone`` says so). ``ready(self)`` is called once the signals
        are handled: a SIGUSR1 (counters, please) that came before would end
        the process, as is its default. A signal also writes a byte into a
        pipe the loop watches, so SIGTERM ends a wait at once."""
        import select

        def stop(*_a):
            self.running = False

        def dump(*_a):
            try:
                self.report(sys.stderr, stats_file)
            except OSError as e:   # a full disk, say: the tunnel goes on
                print(f"vnet tunnel: cannot write the counters: {e}", file=sys.stderr, flush=True)
        ep = select.epoll()
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wake = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.gone = None
        try:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGUSR1, dump)
            self.dev.set_blocking(False)
            self.sock.setblocking(False)
            self._vectors()
            dfd, sfd = self.dev.fileno(), self.sock.fileno()
            ep.register(dfd, select.EPOLLIN)
            ep.register(sfd, select.EPOLLIN)
            ep.register(wake_r, select.EPOLLIN)
            if ready:
                ready(self)
            from_device, from_peer, broken = self.from_device, self.from_peer, select.EPOLLERR | select.EPOLLHUP
            while self.running:
                for fd, ev in ep.poll(1.0):
                    if fd == dfd:
                        if ev & broken:   # the device was deleted: nothing to carry any more
                            self.gone, self.running = "its device is gone (deleted?)", False
                            break
                        from_device()
                    elif fd == sfd:
                        from_peer()
                    else:
                        try:
                            while os.read(wake_r, 256):
                                pass
                        except BlockingIOError:
                            pass
        finally:
            signal.set_wakeup_fd(old_wake)
            os.close(wake_r)
            os.close(wake_w)
            ep.close()
        self.report(None, stats_file)

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
    """The headers of a whole message of ``n`` datagrams whose first header is ``first`` (a bytearray)."""
    h = first * n
    h[HEADER - 2::HEADER] = _INDEXES[n]
    return h


IFLA_GSO_MAX_SIZE = 41


def super_packet(chunk, key):
    """The largest super-packet whose message fits one UDP GSO send: the
    device's gso_max_size, so that the kernel never hands over more."""
    chunks = min(GSO_SEGMENTS, GSO_BYTES // (chunk + HEADER))
    return chunks * chunk - VNET_HDR - (TAG if key else 0)


def parse_addr(text):
    """ADDR:PORT or [V6ADDR]:PORT -> (family, (addr, port)); ValueError saying what is wrong."""
    import ipaddress
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not ADDR:PORT with a port from 1 to 65535")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "%" in host:
        raise ValueError(f"{text!r}: a scoped address (%zone) cannot be a tunnel's end; give a global one")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IP address (ADDR:PORT, or [V6ADDR]:PORT)") from None
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), (str(ip), int(port))


def endpoints(listen, peer):
    """(family, local address, peer address) of a tunnel; ValueError if they
    cannot be the two ends of one."""
    fam, laddr = parse_addr(listen)
    pfam, paddr = parse_addr(peer)
    if fam != pfam:
        raise ValueError(f"listen {listen} and peer {peer}: one is IPv4, the other IPv6")
    if laddr == paddr:
        raise ValueError(f"listen and peer are the same address, {listen}")
    return fam, laddr, paddr


def _unspecified(addr):
    import ipaddress
    return ipaddress.ip_address(addr).is_unspecified


def role(fam, laddr, paddr, route=None):
    """This end's role, 0 or 1: 0 for the end whose (port, address) is the
    lower, as both ends see them. A wildcard listen address with the peer's
    port needs the address it sends from: ``route()`` (the kernel's choice
    toward the peer), ValueError if there is none."""
    def key(a):
        return a[1], socket.inet_pton(fam, a[0])
    if laddr[1] == paddr[1] and _unspecified(laddr[0]):
        src = route() if route else None
        if src is None:
            raise ValueError(f"listen {laddr[0]} (any address) on the peer's port {paddr[1]}: the two ends tell "
                             "their roles apart by (port, address); give the address, or another port")
        laddr = (src, laddr[1])
    return 0 if key(laddr) < key(paddr) else 1


def read_key(key_file=None, key_env=None):
    """A 32-byte key from a file or variable holding 64 hex digits."""
    if key_file is None and key_env is None:
        return None
    text = open(key_file).read() if key_file else os.environ[key_env]
    key = bytes.fromhex(text.strip())
    if len(key) != 32:
        raise ValueError(f"a tunnel key is 32 bytes (64 hex digits), this one has {len(key)}")
    return key


NICE = -5   # the tunnel's default scheduling priority (see ``prioritize``)


def prioritize(nice):
    """Run at the scheduling priority ``nice`` (as nice(1) gives it), and
    give the same to the process's autogroup if it leads a session of its own
    (as `vnet apply` starts it): with autogroups, a task's nice weighs it only
    against the tasks of its own session, and the group's weighs the session
    against the others. Why a tunnel runs ahead of other processes by
    default: it carries their packets, which the kernel's own tunnels carry
    in softirq, ahead of every process; at an equal share it competes with
    the very senders it serves (measured: docs/benchmarks.md). A warning,
    not a failure, without the privilege to raise it."""
    warn = []
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as e:
        warn.append(f"the process: {e.strerror}")
    if os.getsid(0) == os.getpid() and os.path.exists("/proc/self/autogroup"):
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
        except OSError as e:
            warn.append(f"its autogroup: {e.strerror}")
    if warn:
        print(f"vnet tunnel: cannot set the priority to nice {nice} for " + "; ".join(warn)
              + ": running at the priority it has", file=sys.stderr, flush=True)


def _source(fam, paddr):
    """The address the kernel sends from toward ``paddr``, or None (no route yet)."""
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.connect(paddr)
        except OSError:
            return None
        return s.getsockname()[0]


def start(dev_name, listen, peer, key=None, netns=None, tap=False, underlay_mtu=1500, stats_file=None,
          ready=None, nice=NICE, create=True):
    """Open the device (made if absent, unless not ``create``: then
    DeviceGone) and the socket in ``netns``, size the device's MTU for the
    overhead, bring it up, and run until SIGTERM at priority ``nice`` (None:
    as it is)."""
    from .errors import DeviceGone
    from . import tun
    from .kernel import netlink as nl
    from .kernel import rtnl
    from .kernel.session import Kernel
    fam, laddr, paddr = endpoints(listen, peer)
    with Kernel() as k:
        with k.entered(netns):
            try:
                me = role(fam, laddr, paddr, lambda: _source(fam, paddr))
            except ValueError as e:
                from .errors import SpecError
                raise SpecError(f"vnet tunnel: {e}") from None
        if not create and rtnl.get_link(k.sock(netns), dev_name) is None:
            raise DeviceGone(f"{dev_name}: no such device{'' if netns is None else ' in ' + netns}, "
                             "and it is not to be made (--no-create)")
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
        try:
            sock.bind(laddr)
        except OSError as e:
            sock.close()
            dev.close()
            from .errors import VnetError
            raise VnetError(f"cannot listen on {laddr[0]} port {laddr[1]}: {e.strerror}") from None
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
    t = Tunnel(dev, sock, paddr, key, chunk=chunk, role=me)
    if nice is not None:
        prioritize(nice)
    if key is None:
        print(f"vnet tunnel {dev_name}: NO KEY: packets cross the underlay in plain text, unauthenticated "
              "(give --key-file to seal them)", file=sys.stderr, flush=True)
    try:
        t.run(stats_file, ready)
    finally:
        sock.close()
        dev.close()
    if t.gone:
        raise DeviceGone(f"{dev_name}: {t.gone}")
    return t
