"""The tunnel's datagram framing and replay window, without a kernel."""
import os

from vnet.tunnel import HEADER, TAG, WINDOW, Replay, Tunnel, overhead


def pair(key=b"k" * 32):
    return Tunnel(None, None, None, key), Tunnel(None, None, None, key)


def test_sealed_roundtrip_and_overhead():
    a, b = pair()
    for size in (0, 1, 1400, 65000):
        pkt = os.urandom(size)
        d = a.seal(pkt)
        assert len(d) == size + HEADER + TAG and b.open(d) == pkt
    assert overhead(True, False) == 20 + 8 + HEADER + TAG and overhead(None, True) == 20 + 8 + 1 + 14


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


def test_tampering_replay_and_sessions_are_counted():
    a, b = pair()
    d1 = a.seal(b"one")
    assert b.open(d1) == b"one"
    assert b.open(d1) is None and b.stats["drops"]["replayed"] == 1
    d2 = bytearray(a.seal(b"two"))
    d2[-1] ^= 1
    assert b.open(bytes(d2)) is None and b.stats["drops"]["forged"] == 1
    assert Tunnel(None, None, None, b"x" * 32).open(a.seal(b"three")) is None   # another key
    # a restarted sender (a newer session) is accepted; the old session is not any more
    old = a.seal(b"late")
    a2 = Tunnel(None, None, None, b"k" * 32)
    a2.epoch = (int.from_bytes(a.epoch, "big") + 1).to_bytes(6, "big")
    assert b.open(a2.seal(b"new")) == b"new"
    assert b.open(old) is None and b.stats["drops"]["stale_session"] == 1


def test_plain_and_sealed_do_not_mix():
    plain, sealed = Tunnel(None, None, None, None), Tunnel(None, None, None, b"k" * 32)
    assert sealed.open(plain.seal(b"x")) is None and sealed.stats["drops"]["unsealed"] == 1
    assert plain.open(sealed.seal(b"x")) is None and plain.stats["drops"]["sealed_without_key"] == 1
    assert plain.open(b"") is None and plain.stats["drops"]["malformed"] == 1
