"""The cache of validated topologies (vnet.topofile.cache): a big file read again
unchanged comes from the cache and equals a fresh validation; any change to
the file, its path or vnet's code is validated afresh; errors and small
files are never cached; a damaged entry is ignored."""
import os
import sys

import pytest

from vnet.errors import SpecError
from vnet.topofile import cache, loader
from vnet.topofile.loader import load, load_text

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))


def big_lab(n=400, extra=""):
    lines = ["name: big", "namespaces: [" + ", ".join(f"s{i}" for i in range(n)) + "]", "interfaces:",
             "  - {name: br0, kind: bridge}"]
    for i in range(n):
        lines.append(f"  - {{name: v{i}, kind: veth, master: br0, peer: {{name: eth0, netns: s{i}, "
                     f"addresses: [10.1.{i // 250}.{i % 250 + 1}/16, 'fd00::{i + 1:x}/64']}}}}")
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "cache"


def entries(d):
    return sorted(os.listdir(d)) if d.exists() else []


def test_a_big_file_is_validated_once_and_read_back_equal(state, tmp_path, monkeypatch):
    f = tmp_path / "lab.yaml"
    text = big_lab()
    f.write_text(text)
    assert len(text) >= cache.MIN_SIZE
    first = load(str(f))
    assert len(entries(state)) == 1 and oct(state.stat().st_mode & 0o777) == "0o700"
    # the second load is the cache's: validation is not run again
    with monkeypatch.context() as m:
        m.setattr(loader, "load_text", lambda *a: pytest.fail("validated again instead of read from the cache"))
        again = load(str(f))
    assert again == first == load_text(text, str(f))
    a = again.interfaces[5].peer.addresses
    assert [str(x) for x in a] == ["10.1.0.5/16", "fd00::5/64"] and a[0].network.prefixlen == 16
    # the cached entry is what was read: damage it and the load notices nothing
    (path,) = [state / e for e in entries(state)]
    path.write_bytes(b"not a pickle")
    assert load(str(f)) == first


def test_a_changed_file_or_path_is_validated_afresh(state, tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text(big_lab())
    load(str(f))
    f.write_text(big_lab().replace("v7, kind: veth,", "v7, kind: veth, mtu: 1400,"))
    t = load(str(f))
    assert {i.name: i.mtu for i in t.interfaces}["v7"] == 1400
    g = tmp_path / "other.yaml"
    g.write_text(f.read_text())
    assert load(str(g)).source == str(g)   # messages name the path they were given
    assert len(entries(state)) == 3


def test_errors_and_small_files_are_not_cached(state, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(big_lab().replace("10.1.0.9/16", "10.1.0.9/33"))
    for _ in range(2):
        with pytest.raises(SpecError, match="prefix length '33'"):
            load(str(f))
    small = tmp_path / "small.yaml"
    small.write_text("name: s\ninterfaces:\n  - {name: br0, kind: bridge}\n")
    load(str(small))
    assert entries(state) == []


def test_vnets_code_is_part_of_the_key(state, tmp_path, monkeypatch):
    f = tmp_path / "lab.yaml"
    f.write_text(big_lab())
    load(str(f))
    monkeypatch.setattr(cache, "_CODE", "another build of vnet")
    load(str(f))
    assert len(entries(state)) == 2


def test_only_the_newest_entries_are_kept(state, tmp_path):
    for i in range(cache.KEEP + 3):
        f = tmp_path / f"lab{i}.yaml"
        f.write_text(big_lab(n=300))
        load(str(f))
    assert len(entries(state)) == cache.KEEP


def test_an_edit_validates_again_only_the_interfaces_it_touched(state, tmp_path, monkeypatch):
    """The interfaces of the path's last version are kept by their place and
    text: an edit of one validates that one again, and the topology is the
    one a fresh validation gives; the rules across interfaces still see
    them all (a name given twice is still said)."""
    f = tmp_path / "lab.yaml"
    f.write_text(big_lab())
    load(str(f))
    made = []
    real = loader._interface
    monkeypatch.setattr(loader, "_interface", lambda *a: made.append(a[2]) or real(*a))
    edited = big_lab().replace("v7, kind: veth,", "v7, kind: veth, mtu: 1400,")
    f.write_text(edited)
    t = load(str(f))
    assert made == ["interfaces[8] (v7)"]
    assert t == load_text(edited, str(f)) and t.interfaces[8].mtu == 1400 and t.interfaces[8].path == made[0]
    # an entry moved is validated at its new place (its messages name the place)
    made.clear()
    moved = edited.replace("  - {name: br0, kind: bridge}\n", "") + "  - {name: br0, kind: bridge}\n"
    f.write_text(moved)
    t = load(str(f))
    assert len(made) == 401 and t == load_text(moved, str(f))
    # a new interface named as a kept one: the rule across interfaces says so
    made.clear()
    twice = moved + "  - {name: v3, kind: bridge}\n"
    f.write_text(twice)
    with pytest.raises(SpecError, match="v3"):
        load(str(f))
    assert made == ["interfaces[401] (v3)"]


def test_a_key_read_from_a_variable_or_file_is_read_again_every_load(state, tmp_path, monkeypatch):
    """An interface whose validation reads a key file or variable is never
    kept (nor is its topology): the key is read afresh, and its absence is
    said, on every load (found by a review: the memo kept the old key)."""
    f = tmp_path / "lab.yaml"
    keyfile = tmp_path / "k.hex"
    keyfile.write_text("33" * 16)
    extra = ("  - {name: d0, kind: dummy}\n"
             "  - {name: ms0, kind: macsec, link: d0, tx: {an: 0, key_id: '01', key_env: VNET_TEST_KEY}}\n"
             "  - {name: ms1, kind: macsec, link: d0, port: 2, tx: {an: 0, key_id: '02', key_file: k.hex}}\n")
    text = big_lab(extra=extra)
    monkeypatch.setenv("VNET_TEST_KEY", "11" * 16)
    f.write_text(text)
    assert load(str(f)).interfaces[-2].options["tx"]["key"].value == bytes.fromhex("11" * 16)
    monkeypatch.setenv("VNET_TEST_KEY", "22" * 16)
    keyfile.write_text("44" * 16)
    t = load(str(f))   # the same bytes: not from the cache either
    assert t.interfaces[-2].options["tx"]["key"].value == bytes.fromhex("22" * 16)
    assert t.interfaces[-1].options["tx"]["key"].value == bytes.fromhex("44" * 16)
    edited = text.replace("v7, kind: veth,", "v7, kind: veth, mtu: 1400,")
    f.write_text(edited)
    monkeypatch.setenv("VNET_TEST_KEY", "55" * 16)
    assert load(str(f)) == load_text(edited, str(f))
    assert load(str(f)).interfaces[-2].options["tx"]["key"].value == bytes.fromhex("55" * 16)
    monkeypatch.delenv("VNET_TEST_KEY")
    with pytest.raises(SpecError, match="VNET_TEST_KEY is not set"):
        load(str(f))


def test_an_alias_bomb_is_rejected_as_fast_with_a_memo_as_without(state, tmp_path):
    """The memo does not print a mapping that shares its lists (YAML
    aliases, whose text can take gigabytes: found by a review)."""
    import time
    f = tmp_path / "lab.yaml"
    f.write_text(big_lab())
    load(str(f))
    bomb = "  - {name: zz, kind: bridge, b0: &b0 [1, 1], " + ", ".join(
        f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]" for i in range(1, 26)) + "}\n"
    f.write_text(big_lab() + bomb)
    t = time.monotonic()
    with pytest.raises(SpecError, match="unknown field"):
        load(str(f))
    assert time.monotonic() - t < 3


def test_a_small_edit_leaves_the_memo_as_it_was(state, tmp_path, monkeypatch):
    """An edit of a few interfaces is not worth writing the memo again (the
    memo read still serves): the next edit validates the few of both; an
    edit of many writes it."""
    f = tmp_path / "lab.yaml"
    f.write_text(big_lab())
    load(str(f))
    memo = tmp_path / "state" / "memo"
    (saved,) = [memo / e for e in os.listdir(memo)]
    before = saved.read_bytes()
    one = big_lab().replace("v7, kind: veth,", "v7, kind: veth, mtu: 1400,")
    f.write_text(one)
    assert load(str(f)) == load_text(one, str(f))
    assert saved.read_bytes() == before
    made = []
    real = loader._interface
    monkeypatch.setattr(loader, "_interface", lambda *a: made.append(a[2]) or real(*a))
    two = one.replace("v9, kind: veth,", "v9, kind: veth, mtu: 1300,")
    f.write_text(two)
    assert load(str(f)) == load_text(two, str(f))
    assert made[:2] == ["interfaces[8] (v7)", "interfaces[10] (v9)"]
    many = two.replace("kind: veth,", "kind: veth, up: false,")
    f.write_text(many)
    load(str(f))
    assert saved.read_bytes() != before
