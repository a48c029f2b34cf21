"""The tunnel's chunked framing and replay window, without a kernel."""
import os
import random

from vnet.tunnel.loop import Tunnel
from vnet.tunnel.reassembly import WINDOW, Replay
from vnet.tunnel.wire import HEADER, TAG, datagram_size, inner_mtu


def pair(key=b"k" * 32, chunk=1400):
    return Tunnel(None, None, None, key, chunk, role=0), Tunnel(None, None, None, key, chunk, role=1)


def deliver(rx, dgrams):
    out = [m for m in (rx.open(d) for d in dgrams) if m is not None]
    return out


def test_messages_of_every_size_cross_in_chunks_in_any_order():
    for key in (b"k" * 32, None):
        a, b = pair(key)
        for size in (0, 1, 1399, 1400, 1401, 9000, 65546):
            msg = os.urandom(size)
            dgrams = a.seal(msg)
            assert all(len(d) <= HEADER + 1400 for d in dgrams)
            assert len(dgrams) == max(1, -(-(size + (TAG if key else 0)) // 1400))
            random.shuffle(dgrams)
            assert deliver(b, dgrams) == [msg]
    # the device's MTU leaves room for the headers, the tag and (TAP) the Ethernet header, in a datagram
    # whose size is a multiple of 8
    assert datagram_size(1500) == 1472 and datagram_size(1500, v6=True) == 1448 and datagram_size(1400) == 1368
    assert inner_mtu(1500, b"k" * 32, False) == 1472 - HEADER - 10 - TAG
    assert inner_mtu(1500, None, True, v6=True) == 1448 - HEADER - 10 - 14


def test_replay_window_accepts_reordering_and_drops_repeats():
    r = Replay()
    for n in (5, 3, 4, 10, 1):
        assert r.fresh(n)
        r.mark(n)
    assert not any(r.fresh(n) for n in (5, 3, 4, 10, 1))
    assert r.fresh(2) and r.fresh(11)
    r.mark(10 + WINDOW + 5)
    assert not r.fresh(10)        # fell out of the window: too old
    assert r.fresh(10 + WINDOW)   # inside it and unseen


def test_tampering_replay_loss_and_sessions_are_counted():
    a, b = pair()
    d1 = a.seal(b"one")
    assert deliver(b, d1) == [b"one"]
    assert deliver(b, d1) == [] and b.stats["drops"]["replayed"] == 1
    d2 = [bytearray(d) for d in a.seal(os.urandom(3000))]
    d2[1][-1] ^= 1
    assert deliver(b, [bytes(d) for d in d2]) == [] and b.stats["drops"]["forged"] == 1
    assert deliver(Tunnel(None, None, None, b"x" * 32, role=1), a.seal(b"three")) == []   # another key
    # a lost chunk: the message never completes, and later ones still do
    lost = a.seal(os.urandom(5000))[:-1]
    assert deliver(b, lost) == [] and deliver(b, a.seal(b"after")) == [b"after"]
    # a restarted sender (a newer session) is accepted; the old session is not any more
    old = a.seal(b"late")
    a2 = Tunnel(None, None, None, b"k" * 32)
    a2.epoch = (int.from_bytes(a.epoch, "big") + 1).to_bytes(6, "big")
    assert deliver(b, a2.seal(b"new")) == [b"new"]
    assert deliver(b, old) == [] and b.stats["drops"]["stale_session"] == 1


def test_plain_and_sealed_do_not_mix():
    plain, sealed = Tunnel(None, None, None, None), Tunnel(None, None, None, b"k" * 32)
    assert deliver(sealed, plain.seal(b"x")) == [] and sealed.stats["drops"]["unsealed"] == 1
    assert deliver(plain, sealed.seal(b"x")) == [] and plain.stats["drops"]["sealed_without_key"] == 1
    assert plain.open(b"") is None and plain.stats["drops"]["malformed"] == 1


def joined(msgs):
    """Messages as bytes (plain mode hands a whole burst over as its parts, for one writev)."""
    return [b"".join(m) if isinstance(m, list) else bytes(m) for m in msgs]


def test_a_burst_of_one_whole_message_and_mixed_bursts():
    for key in (b"k" * 32, None):
        a, b = pair(key)
        msg = os.urandom(20000)
        d = a.seal(msg)
        seg = len(d[0])
        whole = b"".join(d)
        assert joined(b.open_burst(memoryview(whole), seg)) == [msg]
        if key:   # plain mode has no counters to check (nothing is authenticated)
            assert b.open_burst(memoryview(whole), seg) == [] and b.stats["drops"]["replayed"] == 1
        # a message split over two bursts (the second only its short last chunk): the slow path
        m1, m2 = os.urandom(3000), os.urandom(3000)
        d1, d2 = a.seal(m1), a.seal(m2)
        assert b.open_burst(memoryview(b"".join(d1[:-1])), len(d1[0])) == []
        assert joined(b.open_burst(memoryview(d1[-1]), len(d1[0]))) == [m1]
        assert joined(b.open_burst(memoryview(b"".join(d2)), len(d2[0]))) == [m2]


def test_the_largest_super_packet_leaves_in_one_gso_send():
    """The device's gso_max_size is chosen so that a whole super-packet's
    message is one UDP GSO send, hence one burst at the other end."""
    from vnet.tunnel.wire import GSO_BYTES, GSO_SEGMENTS, VNET_HDR, super_packet
    for underlay_chunk in (1456, 1432, 1296):
        for key in (None, b"k" * 32):
            t = Tunnel(None, None, None, key, chunk=underlay_chunk)
            biggest = super_packet(underlay_chunk, key)
            parts = t.seal_parts(b"x" * (biggest + VNET_HDR))
            size = len(parts[0][0]) + len(parts[0][1])
            assert len(parts) <= min(GSO_SEGMENTS, GSO_BYTES // size)
            assert len(t.seal_parts(b"x" * (biggest + VNET_HDR + underlay_chunk))) > len(parts)
            assert biggest > 60000


def test_a_burst_is_joined_at_once_only_when_it_is_one_message_in_order():
    for key in (None, b"k" * 32):
        a, b = pair(key)
        m1, m2 = os.urandom(9000), os.urandom(9000)
        d1, d2 = a.seal(m1), a.seal(m2)
        seg = len(d1[0])
        swapped = [d1[1], d1[0]] + d1[2:]           # out of order: reassembled by index instead
        assert joined(b.open_burst(memoryview(b"".join(swapped)), seg)) == [m1]
        assert b.stats["rx_whole"] == 0 and b.stats["rx_chunks"] == len(d1)
        mixed = [d2[0], d1[1]] + d2[2:]              # a stranger's chunk inside: never joined into m2
        assert joined(b.open_burst(memoryview(b"".join(mixed)), seg)) == []
        assert b.stats["rx_whole"] == 0
        whole = b"".join(a.seal(m1))
        assert joined(b.open_burst(memoryview(whole), seg)) == [m1] and b.stats["rx_whole"] == 1


def test_an_end_drops_its_own_datagrams_sent_back_and_the_two_directions_never_share_a_nonce():
    """Both ends hold one key: without a role in the nonce, an end's own
    datagram sent back to it would open, as the newest session, and lock its
    peer out; and two ends started in the same millisecond would seal with
    the same nonces."""
    a, b = pair()
    b.epoch = a.epoch                       # started in the same millisecond
    da, db = a.seal(b"from a"), b.seal(b"from b")
    assert da[0][2:14] != db[0][2:14]       # counter and epoch: the nonce
    assert deliver(a, da) == [] and a.stats["drops"]["reflected"] == 1
    assert deliver(b, da) == [b"from a"] and deliver(a, db) == [b"from b"]
    # a newer session reflected: still dropped, and the peer's traffic still admitted
    a.epoch = (int.from_bytes(b.epoch, "big") + 5).to_bytes(6, "big")
    assert deliver(a, a.seal(b"again")) == [] and a.stats["drops"]["reflected"] == 2
    assert deliver(a, b.seal(b"still")) == [b"still"]


def test_the_roles_are_told_apart_by_port_then_address_the_same_way_at_both_ends():
    import socket
    import pytest
    from vnet.tunnel.endpoints import endpoints, role

    def roles(x, y, route=None):
        return role(*endpoints(x, y), route), role(*endpoints(y, x), route)
    assert roles("10.0.0.1:4789", "10.0.0.2:4789") == (0, 1)
    assert roles("10.0.0.9:4000", "10.0.0.2:5000") == (0, 1)      # the port first
    assert roles("[fd00::2]:4789", "[fd00::1]:4789") == (1, 0)
    assert role(*endpoints("0.0.0.0:4000", "10.0.0.2:5000")) == 0    # any address, another port: enough
    assert role(*endpoints("0.0.0.0:4789", "10.0.0.2:4789"), lambda: "10.0.0.3") == 1
    assert endpoints("[::1]:9", "[::2]:9")[0] == socket.AF_INET6
    for listen, peer, said in [("0.0.0.0:4789", "10.0.0.2:4789", "give the address, or another port"),
                               ("10.0.0.1:4789", "[fd00::1]:4789", "one is IPv4, the other IPv6"),
                               ("10.0.0.1:4789", "10.0.0.1:4789", "the same address"),
                               ("host.example:4789", "10.0.0.1:4789", "'host.example' is not an IP address"),
                               ("10.0.0.1", "10.0.0.2:4789", "not ADDR:PORT"),
                               ("10.0.0.1:0", "10.0.0.2:4789", "a port from 1 to 65535"),
                               ("[fe80::1%eth0]:4789", "[fe80::2]:4789", "a scoped address")]:
        with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)")):
            role(*endpoints(listen, peer))


def test_chunks_that_never_make_a_message_cannot_fill_the_memory():
    """Chunks are authenticated only once their message is whole: a flood of
    forged first chunks of 255-chunk messages is held within PENDING_BYTES
    (evicted oldest first, counted as incomplete), and a real message still
    crosses."""
    import struct
    from vnet.tunnel.reassembly import PENDING_BYTES
    a, b = pair()
    head = struct.Struct("<BB6s6sBx")
    for ctr in range(1, 201):             # 200 messages of 254 chunks out of 255: 71 MB unchecked
        for idx in range(254):
            forged = head.pack(0x5B, 255, ctr.to_bytes(6, "little"), a.epoch, idx) + bytes(1400)
            b.open(forged)
            if idx == 0:
                b.open(forged)                # the same chunk twice is held once
            assert b.pending_bytes <= PENDING_BYTES
    assert b.pending_bytes == sum(len(c) for _n, ch in b.pending.values() for c in ch.values())
    assert b.stats["drops"]["incomplete"] == 200 - len(b.pending) and len(b.pending) <= 12
    msg = os.urandom(20000)
    assert deliver(b, a.seal(msg)) == [msg]


def test_the_replay_window_edge():
    """WINDOW counters below the highest seen are still judged one by one;
    one more below is too old, seen or not."""
    r = Replay()
    r.mark(10_000)
    top = 10_000
    assert r.fresh(top - WINDOW + 1) and not r.fresh(top - WINDOW)
    r.mark(top - WINDOW + 1)
    assert not r.fresh(top - WINDOW + 1)
    r.mark(top + WINDOW - 1)                    # the window slides: the oldest falls out
    assert not r.fresh(top) and r.fresh(top + 1) and not r.fresh(top - 1)
    r.mark(top + 3 * WINDOW)                    # a jump past the whole window: only the new one is known
    assert r.bits == 1 and r.fresh(top + 3 * WINDOW - 1) and not r.fresh(top + 2 * WINDOW)


def test_the_buffers_the_kernel_copies_messages_out_of_start_on_a_page():
    """Where a buffer starts within a page decides how fast the kernel copies
    a message out of it (kernel/msgio.Pinned): the device's writes come from
    the receive payloads (plain) or their plaintext (sealed), the sends from
    the wire layout or the ciphertext; a bytearray would start wherever the
    heap put it."""
    import mmap
    for key in (None, b"k" * 32):
        t = Tunnel(None, None, None, key, 1456)
        bufs = [t._rb] + ([t._wire] if key is None else [t._out, t._msg, t._ct])
        assert [b.addr % mmap.PAGESIZE for b in bufs] == [0] * len(bufs)
        # a message handed to the device lies where the receive put it, from the buffer's start
        b = Tunnel(None, None, None, key, 1456, role=1)
        msg = os.urandom(30000)
        out = b.open_burst(b"".join(t.seal(msg)), HEADER + 1456)
        assert [bytes(m) for m in out] == [msg]
        assert _address(out[0]) == (b._rb if key is None else b._out).addr


def _address(view):
    import ctypes
    return ctypes.addressof(ctypes.c_char.from_buffer(view))
