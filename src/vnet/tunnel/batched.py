"""Batched I/O with the GSO fallback: a message of several datagrams leaves
in one UDP GSO send (UDP_SEGMENT), which the kernel segments; bursts of
datagrams arrive in one read (UDP_GRO). A kernel that refuses UDP GSO on
the path gets the datagrams one by one from then on. The calls are made
through iovecs over the buffers of ``wire`` and ``reassembly`` (ctypes,
``kernel.msgio``): no per-datagram Python object, no join."""
import ctypes
import errno
import os
import struct
import sys

from ..kernel.msgio import Vector, readv, recvmsg, sendmsg, sockaddr
from .wire import GSO_BYTES, GSO_SEGMENTS, HEADER, MAX_CHUNKS, TAG, VNET_HDR

SOL_UDP, UDP_SEGMENT, UDP_GRO = 17, 103, 104
READ_MAX = 65536 + VNET_HDR + 64   # the largest read from the device (a super-packet)
_PER_SEND, _PER_BATCH = 14, 15   # in BatchedIO._out_args: datagrams per GSO send, messages per batch


class BatchedIO:
    """The device's and the socket's side of ``loop.Tunnel``: it reads,
    frames (``wire.Sealing``) and sends; it receives and hands bursts to
    ``reassembly.Reassembly``; it counts in the loop's ``stats``.

    Out (``from_device``): a message of several datagrams leaves in one UDP
    GSO send, which the kernel segments. Messages of one datagram (TCP's
    ACKs, mostly) wait in slots 0, 1, 2... and leave together: one GSO send
    for a run of equal sizes (the last may be shorter), at most one full
    datagram's bytes, so one send and one receive for a burst of them
    instead of one each. Plain messages are read into the wire layout, from
    the first free slot on, and leave from where they lie; sealed ones are
    read whole and sealed into their slots."""

    def _init_io(self, dev, sock, peer):
        self.dev, self.sock, self.peer = dev, sock, peer
        self._gso = True       # False once the kernel refuses UDP GSO toward the peer (_give_up_gso)

    def _vectors(self):
        """The iovecs over the buffers above: the device's read (plain: the
        payload slots, from any slot on; sealed: the message buffer), a
        message's send (plain: one piece from any slot on; sealed: header,
        ciphertext slice...), a batch's send (its own UDP_SEGMENT) and the
        receive."""
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
        """Read messages from the device and send them (see the class). The
        calls are made here, through the iovecs' parts, a message's send
        included (no method call per message): this runs once per message."""
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
            if not ok and 1 < n <= per:   # the GSO send refused: once more, or one by one
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
