"""Start-up: open the device and the socket in the tunnel's namespace, size
the device for the overhead, take the priority, and run one ``Tunnel``
until SIGTERM (`vnet tunnel` calls ``start``)."""
import os
import socket
import sys

from .. import tun
from ..errors import DeviceGone, SpecError, VnetError
from ..kernel import netlink as nl
from ..kernel import rtnl
from ..kernel.session import Kernel
from .batched import SOL_UDP, UDP_GRO
from .loop import Tunnel
from .endpoints import endpoints, role
from .options import NICE, UNDERLAY_MTU
from .wire import HEADER, datagram_size, inner_mtu, super_packet

IFLA_GSO_MAX_SIZE = 41


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


def start(dev_name, listen, peer, key=None, netns=None, tap=False, underlay_mtu=UNDERLAY_MTU, stats_file=None,
          ready=None, nice=NICE, create=True):
    """Open the device (made if absent, unless not ``create``: then
    DeviceGone) and the socket in ``netns``, size the device's MTU for the
    overhead, bring it up, and run until SIGTERM at priority ``nice`` (None:
    as it is)."""
    fam, laddr, paddr = endpoints(listen, peer)
    with Kernel() as k:
        with k.entered(netns):
            try:
                me = role(fam, laddr, paddr, lambda: _source(fam, paddr))
            except ValueError as e:
                raise SpecError(f"vnet tunnel: {e}") from None
        if not create and rtnl.get_link(k.sock(netns), dev_name) is None:
            raise DeviceGone(f"{dev_name}: no such device{'' if netns is None else ' in ' + netns}, "
                             "and it is not to be made (--no-create)")
        dev = tun.open(dev_name, tap=tap, netns=netns, offload=True)
        sock = _socket(k, netns, fam, laddr, dev)
        chunk = datagram_size(underlay_mtu, fam == socket.AF_INET6) - HEADER
        _size_device(k.sock(netns), dev_name, inner_mtu(underlay_mtu, key, tap, fam == socket.AF_INET6),
                     super_packet(chunk, key))
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


def _socket(k, netns, fam, laddr, dev):
    """The tunnel's UDP socket in ``netns``, bound to ``laddr``, taking
    bursts (UDP GRO) where the kernel can; ``dev`` is closed if it cannot
    be bound."""
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
        raise VnetError(f"cannot listen on {laddr[0]} port {laddr[1]}: {e.strerror}") from None
    try:
        sock.setsockopt(SOL_UDP, UDP_GRO, 1)   # bursts of chunks in one read
    except OSError:
        pass
    return sock


def _size_device(nlsock, dev_name, mtu, gso_max_size):
    """The device's MTU for the tunnel's overhead, up; its super-packets no
    larger than one UDP GSO send carries."""
    idx = rtnl.get_link(nlsock, dev_name).ifindex
    rtnl.set_link(nlsock, idx, up=True, attrs=rtnl.link_attrs(mtu=mtu))
    try:   # super-packets that leave in one UDP GSO send arrive as one burst: joined without bookkeeping
        rtnl.set_link(nlsock, idx, attrs=nl.u32(IFLA_GSO_MAX_SIZE, gso_max_size))
    except OSError:
        pass
