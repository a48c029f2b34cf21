"""The order in which an apply brings devices up: a veth's peer comes up
once the run of creations is done (a carrier coming up sets the kernel to
work that slows every creation after it: a flat lab of 1,000 pairs took
twice as long), except where a later device of the run is made on that
peer and needs it up first."""
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
