"""``netlink.parse_some`` reads a message laid out as one seen before in one
step (``_Layout``): whatever the messages, it must give exactly what a walk
of every attribute gives (``parse``, kept to the wanted types)."""
import random
import struct

import pytest

from vnet.kernel import netlink as nl

WANT = frozenset({3, 4, 10, 13, 18})


def _walked(buf, off, want):
    """The reference: every attribute, the last of a type kept, then only those wanted."""
    return {t: bytes(v) for t, v in nl.parse(buf, off).items() if t in want}


def _attr(t, payload, length=None):
    n = 4 + len(payload) if length is None else length
    return struct.pack("=HH", n, t) + payload + b"\0" * (-len(payload) % 4)


def _message(rng, types):
    out = b"\xaa" * 16   # a fixed header before the attributes, as a link message's
    for t in types:
        out += _attr(t, bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 4, 8, 6)))))
    return out


@pytest.fixture(autouse=True)
def _fresh_layouts(monkeypatch):
    monkeypatch.setattr(nl, "_LAYOUTS", {})


def test_messages_of_one_layout_read_their_own_values():
    rng = random.Random(1)
    types = list(range(1, 30))
    msgs = [_message(rng, types) for _ in range(50)]
    for m in msgs:
        assert {t: bytes(v) for t, v in nl.parse_some(m, 16, WANT).items()} == _walked(m, 16, WANT)
    assert len(nl._LAYOUTS) == len({len(m) for m in msgs})   # learned, then used


def test_same_length_other_layouts_are_walked():
    """Messages of one length but other attributes (a type swapped, an
    attribute moved, one longer and another shorter): never read through
    another message's layout."""
    rng = random.Random(2)
    for _ in range(400):
        types = rng.sample(range(1, 30), 20)
        if rng.random() < 0.3:
            types[rng.randrange(20)] = rng.choice(sorted(WANT))   # a wanted type twice: the last wins
        m = bytearray(b"\xbb" * 16)
        assert 16 + 8 * len(types) >= nl._Layout.SHORTEST
        for t in types:
            m += _attr(t, bytes(4 if rng.random() < 0.8 else 8))
        m = bytes(m)
        assert {t: bytes(v) for t, v in nl.parse_some(m, 16, WANT).items()} == _walked(m, 16, WANT)


def test_odd_endings_match_the_walk():
    """A header whose length is under 4 ends the walk; an attribute longer
    than what is left is cut at the end: as the walk does, whatever layout
    was seen first."""
    base = b"\xcc" * 16 + b"".join(_attr(t, b"\1\2\3\4") for t in range(1, 15)) + _attr(40, bytes(160))
    cases = [base + _attr(3, b"xyzw"),
             base + struct.pack("=HH", 2, 3) + b"\5\6\7\x08",       # n < 4: the walk stops there
             base + struct.pack("=HH", 8, 10) + b"\5\6\7\x08",      # same length, a real attribute
             base + struct.pack("=HH", 40, 13) + b"\5\6\7\x08",     # longer than what is left
             base + struct.pack("=HH", 8, 13) + b"\5\6\7\x08"]
    for _ in range(2):   # the second time through, each may be read by a layout
        for m in cases:
            assert {t: bytes(v) for t, v in nl.parse_some(m, 16, WANT).items()} == _walked(m, 16, WANT), m[-8:]
    assert nl._LAYOUTS   # (read by layouts the second time)


def test_layouts_are_bounded():
    rng = random.Random(3)
    for i in range(nl._Layout.MOST + 50):
        nl.parse_some(b"\0" * 16 + b"".join(_attr(t, b"\0" * (12 + 4 * (i % 3))) for t in range(1, 13))
                      + b"\0" * (4 * i), 16, WANT)
    assert len(nl._LAYOUTS) <= nl._Layout.MOST


def test_a_plain_set_of_wanted_types_is_walked():
    m = b"\0" * 16 + b"".join(_attr(t, b"\1\2\3\4") for t in range(1, 20))
    for _ in range(2):
        assert {t: bytes(v) for t, v in nl.parse_some(m, 16, set(WANT)).items()} == _walked(m, 16, WANT)
    assert nl._LAYOUTS == {}


def test_short_messages_are_walked():
    """An address's few attributes: no layout kept."""
    m = b"\0" * 8 + b"".join(_attr(t, b"\1\2\3\4") for t in (1, 2, 3, 4, 8, 6))
    assert len(m) < nl._Layout.SHORTEST
    for _ in range(2):
        assert {t: bytes(v) for t, v in nl.parse_some(m, 8, WANT).items()} == _walked(m, 8, WANT)
    assert nl._LAYOUTS == {}


def test_a_long_message_of_few_attributes_is_walked_and_not_learned_again(monkeypatch):
    m = b"\0" * 16 + b"".join(_attr(t, bytes(48)) for t in (3, 4, 5, 10))
    assert len(m) >= nl._Layout.SHORTEST
    learned = []
    real = nl._Layout.learn
    monkeypatch.setattr(nl._Layout, "learn", classmethod(lambda cls, *a: learned.append(1) or real(*a)))
    for _ in range(3):
        assert {t: bytes(v) for t, v in nl.parse_some(m, 16, WANT).items()} == _walked(m, 16, WANT)
    assert learned == [1] and list(nl._LAYOUTS.values()) == [[]]
