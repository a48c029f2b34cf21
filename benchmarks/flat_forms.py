"""The flat lab's creations (benchmarks/control_plane.py: N veth pairs, a
macvlan on each pair's first end) sent in the forms a client may choose,
each timed to its last acknowledgement and to every device operational,
beside `ip -batch` of the same lab, in turns, in one sandbox:

  echo:    vnet's requests (each creation with NLM_F_ECHO, which gives the
           new device's index; every peer brought up at the end);
  noecho:  the same without the echo, the lower's index asked by name
           (if_nametoindex);
  chosen:  the same with every index chosen by the client (no echo, no
           query: the kernel takes ifi_index as the new device's);
  ip:      `ip -batch`: link add, both ends up, the macvlan, up.

    sudo .venv/bin/python benchmarks/flat_forms.py [--n 1000] [--rounds 3]

What it shows: whether any form of the requests costs the kernel less
than another (issue 23's flat target asks vnet's apply for 0.7x of
`ip -batch`)."""
import argparse
import os
import socket
import subprocess
import sys
import time

from private import run_inside

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
GROUP = 0x5eed


def _send(n, form):
    from vnet.kernel import netlink as nl, rtnl
    from vnet.kinds.macvlan import IFLA_MACVLAN_MODE, MODES
    from vnet.kinds.veth import VETH_INFO_PEER
    s = nl.Socket()
    try:
        base = 1000
        for i in range(n):
            ia, ib, im = (base + 3 * i, base + 3 * i + 1, base + 3 * i + 2) if form == "chosen" else (0, 0, 0)
            peer = rtnl.ifinfo(index=ib) + rtnl.link_attrs(name=f"b{i}", group=GROUP)
            a = s.request(rtnl.RTM_NEWLINK, rtnl.ifinfo(index=ia, flags=rtnl.IFF_UP, change=rtnl.IFF_UP)
                          + rtnl.link_attrs(name=f"a{i}", group=GROUP)
                          + rtnl.linkinfo("veth", nl.attr(VETH_INFO_PEER, peer)),
                          nl.F_CREATE | nl.F_EXCL | (nl.F_ECHO if form == "echo" else 0))
            if form == "echo":
                lower = rtnl._made([p for t, p in a if t == rtnl.RTM_NEWLINK][-1]).ifindex
            else:
                lower = ia or socket.if_nametoindex(f"a{i}")
            s.request(rtnl.RTM_NEWLINK, rtnl.ifinfo(index=im, flags=rtnl.IFF_UP, change=rtnl.IFF_UP)
                      + rtnl.link_attrs(name=f"m{i}", group=GROUP, link=lower)
                      + rtnl.linkinfo("macvlan", nl.u32(IFLA_MACVLAN_MODE, MODES["bridge"])),
                      nl.F_CREATE | nl.F_EXCL | (nl.F_ECHO if form == "echo" else 0))
        for i in range(n):
            rtnl.set_link_by_name(s, f"b{i}", up=True)
    finally:
        s.close()


def _ip(n):
    from control_plane import ip_batch, ip_flat
    ip_batch(ip_flat(n)[0])


def _clear(n):
    subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(f"link del a{i}" for i in range(n)),
                   text=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--inner", action="store_true")
    args = ap.parse_args()
    if not args.inner:
        run_inside(__file__, sys.argv[1:])
    from control_plane import operational, quiet
    forms = {"echo": lambda n: _send(n, "echo"), "noecho": lambda n: _send(n, "noecho"),
             "chosen": lambda n: _send(n, "chosen"), "ip": _ip}
    got = {f: [] for f in forms}
    for _ in range(args.rounds):
        for name, run in forms.items():
            quiet()
            t0 = time.monotonic()
            run(args.n)
            took = time.monotonic() - t0
            got[name].append((took, operational(t0)))
            _clear(args.n)
    ip = sorted(t for t, _o in got["ip"])[len(got["ip"]) // 2]
    print(f"flat lab, N = {args.n}, {args.rounds} rounds in turns; median ratio to ip -batch's median ({ip:.2f} s)")
    for name, runs in got.items():
        med = sorted(t for t, _o in runs)[len(runs) // 2]
        print(f"  {name:7s} returned {', '.join(f'{t:.2f}' for t, _o in runs)} s; operational "
              f"{', '.join(f'{o:.2f}' for _t, o in runs)} s; median {med / ip:.2f}x")


if __name__ == "__main__":
    main()
