"""The order in which an apply brings devices up: a veth's peer comes up
once the run of creations is done (a carrier coming up sets the kernel to
work that slows every creation after it: a flat lab of 1,000 pairs took
twice as long), except where a later device of the run is made on that
peer and needs it up first; a device made on a veth whose peer waits
(a macvlan) is made down and comes up once every peer has (up on a lower
without carrier, the carrier's coming later costs the flat lab a third)."""
import json
import socket
import struct

import pytest

IFF_UP = 0x1
RTM_NEWLINK = 16
IFLA_IFNAME = 3


def _monitor():
    """Link announcements in the sandbox's namespace, from now on."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((0, 0x1))   # RTMGRP_LINK
    s.setblocking(False)
    return s


def _announced(s):
    """[(name, up)] of every RTM_NEWLINK announced, in order."""
    out = []
    while True:
        try:
            data = s.recv(1 << 20)
        except BlockingIOError:
            return out
        off = 0
        while off + 16 <= len(data):
            n, t = struct.unpack_from("=IH", data, off)
            if t == RTM_NEWLINK:
                flags = struct.unpack_from("=I", data, off + 24)[0]
                a = off + 32
                while a + 4 <= off + n:
                    alen, at = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if at == IFLA_IFNAME:
                        out.append((data[a + 4:a + alen].split(b"\0")[0].decode(), bool(flags & IFF_UP)))
                        break
                    a += (alen + 3) & ~3
            off += (n + 3) & ~3


@pytest.mark.needs("veth", "macvlan")
def test_the_peers_come_up_after_the_last_creation(sandbox):
    n = 6
    lines = ["name: order", "interfaces:"]
    for i in range(n):
        lines += [f"  - {{name: a{i}, kind: veth, peer: {{name: b{i}}}}}",
                  f"  - {{name: m{i}, kind: macvlan, link: a{i}, mode: bridge}}"]
    f = sandbox.write("order.yaml", "\n".join(lines) + "\n")
    mon = _monitor()
    sandbox.vnet("apply", f)
    seen = _announced(mon)
    names = [name for name, _up in seen]
    last_made = names.index(f"m{n - 1}")
    for i in range(n):
        first_up = next(k for k, (name, up) in enumerate(seen) if name == f"b{i}" and up)
        assert first_up > last_made, f"b{i} came up before m{n - 1} was made: {seen}"
    last_peer_up = max(seen.index((f"b{i}", True)) for i in range(n))   # the last to be brought up
    for i in range(n):
        assert (f"m{i}", True) not in seen[:last_peer_up], f"m{i} came up before every peer had: {seen}"
        assert (f"m{i}", True) in seen[last_peer_up:], f"m{i} never came up: {seen}"
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth", "macvlan")
def test_a_device_made_on_a_peer_is_made_once_the_peer_is_up(sandbox):
    # some kinds will not come up on a lower device that is down (a VLAN:
    # ENETDOWN): a creation that refers to a held peer has it settled first
    f = sandbox.write("onpeer.yaml", """name: onpeer
interfaces:
  - {name: v0, kind: veth, peer: {name: p0}}
  - {name: d0, kind: veth, peer: {name: d1}}
  - {name: m0, kind: macvlan, link: p0, mode: bridge}
""")
    mon = _monitor()
    sandbox.vnet("apply", f)
    seen = _announced(mon)
    names = [name for name, _up in seen]
    p0_up = next(k for k, (name, up) in enumerate(seen) if name == "p0" and up)
    assert p0_up < names.index("m0"), f"m0 was made on p0 before p0 came up: {seen}"
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth", "macvlan", "vxlan")
def test_a_device_the_kernel_will_not_bring_up_after_the_peers_undoes_the_apply(sandbox):
    # a VXLAN on a veth whose peer waits is made down and brought up with
    # the rest once the peers are (back to back); the kernel refuses to
    # bring this one up, its UDP port being taken (EADDRINUSE): the error
    # must name its device, and everything be undone
    before = sandbox.dump_all()
    f = sandbox.write("busy.yaml", """name: busy
interfaces:
  - {name: a0, kind: veth, peer: {name: b0}}
  - {name: m0, kind: macvlan, link: a0, mode: bridge}
  - {name: a1, kind: veth, peer: {name: b1}}
  - {name: vx1, kind: vxlan, vni: 5, dev: a1, dstport: 4790}
  - {name: m1, kind: macvlan, link: a1, mode: bridge}
""")
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        taken.bind(("0.0.0.0", 4790))
        mon = _monitor()
        r = sandbox.vnet("apply", f, check=False)
    finally:
        taken.close()
    seen = _announced(mon)
    assert r.returncode == 3, r.stdout + r.stderr
    # refused once the peers and the macvlan before it in its wave were up:
    # made down in the run, brought up with what was held
    for name in ("b0", "b1", "m0"):
        assert (name, True) in seen, f"{name} never came up before vx1 was refused: {seen}"
    assert "create link vx1" in r.stderr and "Address already in use" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert sandbox.dump_all() == before, "the apply the kernel refused was not undone"
    sandbox.vnet("apply", f)   # the port free again, it applies whole
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", f)
