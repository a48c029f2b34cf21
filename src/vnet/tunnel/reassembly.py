"""Reassembly and replay: the receiving side. A burst is received as an
iovec that puts the headers in one buffer and the payloads end to end in
another, so a whole message is checked at once and written to the device
(or decrypted) where it lies; a message over several bursts, or out of
order, is gathered datagram by datagram. Each session (the sender's epoch)
has a sliding window of counters, and the receiver never goes back to an
older session."""
from .wire import _HDR, AUTH, HEADER, MAX_CHUNKS, PLAIN, SEALED, TAG
from ..kernel.msgio import Pinned

WINDOW = 4096
_WINDOW_MASK = (1 << WINDOW) - 1
PENDING = 256          # messages being reassembled at most
PENDING_BYTES = 4 << 20   # and their chunks' bytes at most (they are not authenticated until whole)
_INDEXES = [bytes(range(n)) for n in range(MAX_CHUNKS + 1)]


def _headers(first, n):
    """The headers of a whole message of ``n`` datagrams whose first header is ``first`` (a bytearray)."""
    h = first * n
    h[HEADER - 2::HEADER] = _INDEXES[n]
    return h


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



class Reassembly:
    """The receiving side of ``loop.Tunnel``: it needs the sending side's
    ``chunk``, ``framing``, ``aead`` and ``role`` (``wire.Sealing``), and
    the ``stats`` of the loop."""

    def _init_receiving(self):
        self.rx_epoch = b"\0" * 6
        self.replay = Replay()
        self.pending = {}      # (epoch, counter) -> [count, {index: bytes}]
        self.pending_bytes = 0
        chunk, full = self.chunk, HEADER + self.chunk
        # in: the largest burst (64 KiB) as headers and payloads; the payloads and
        # their plaintext, written to the device from their start, start on a page
        # (``Pinned``: the kernel's copy is four times slower from some offsets)
        self._burst = 65535 // full + 1
        self._rh, self._rb = Pinned(self._burst * HEADER), Pinned(self._burst * chunk, paged=True)
        self._out = Pinned(self._burst * chunk, paged=True) if self.aead is not None else None
        self._rx_pieces = [p for i in range(self._burst)
                           for p in ((self._rh, i * HEADER, HEADER), (self._rb, i * chunk, chunk))]

    def open(self, dgram):
        """The message completed by ``dgram``, or None (not complete yet, or dropped and counted)."""
        if len(dgram) < HEADER:
            self.stats["drops"]["malformed"] += 1
            return None
        typ, n, ctr_b, epoch, idx = _HDR.unpack_from(dgram)
        if not self._admit(typ, epoch, ctr_b, idx, n):
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
                if rh[0] == self.framing == PLAIN:   # nothing to check or open: _admit and _finish in short
                    self.stats["rx_whole"] += 1
                    return [self._rb.view[:size - n * HEADER]]
                typ, _count, ctr_b, epoch, idx = _HDR.unpack_from(rh)
                if not self._admit(typ, epoch, ctr_b, idx, n):
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
        rh, rb, plain, out = self._rh.view, self._rb.view, self.framing == PLAIN, []
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

    def _admit(self, typ, epoch, ctr_b, idx, n):
        """Checks before any work: type, session, replay (counted when they fail)."""
        drops = self.stats["drops"]
        if typ not in (PLAIN, SEALED) or idx >= n:
            drops["malformed"] += 1
            return False
        if (typ == PLAIN) != (self.aead is None):
            drops["unsealed" if typ == PLAIN else "sealed_without_key"] += 1
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
