"""TUN and TAP devices from Python: what a userspace network program reads
and writes (the reference's Figure 1b).

    from vnet import tun
    with tun.open("tun0", netns="net1") as dev:      # created if absent, attached if it exists
        pkt = dev.read()                             # one IP packet (TAP: one Ethernet frame)
        dev.write(reply)
        sel.register(dev, selectors.EVENT_READ)      # fileno() for selectors and asyncio

Multi-queue devices give one file per queue (`queues=4`: ``dev.queues``).
With ``offload=True`` the device carries a virtio_net_hdr in front of each
packet and the kernel may hand over TCP super-packets of up to 64 KiB
(TUNSETOFFLOAD), and takes them back the same way: ``read_vnet()`` gives
(header, packet), ``write_vnet(header, packet)``. ``udp_offload=True`` adds
UDP ones (an application's UDP_SEGMENT sends; Linux 6.2 or later, and the
program that writes them to a device must run on one too)."""
import fcntl
import os
import struct

from .kernel.tun_ioctl import IFF_MULTI_QUEUE, IFF_NO_PI, IFF_TAP, IFF_TUN, IFF_VNET_HDR, TUNSETIFF, open_dev

TUNSETOFFLOAD, TUNSETVNETHDRSZ = 0x400454D0, 0x400454D8
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_UFO = 0x01, 0x02, 0x04, 0x08, 0x10
TUN_F_USO4, TUN_F_USO6 = 0x20, 0x40
VNET_HDR = struct.Struct("=BBHHHH")   # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VNET_HDR_F_NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4 = 0, 1, 3, 4, 5
MAX_PACKET = 65536 + VNET_HDR.size


class Device:
    """An open TUN/TAP device: one file descriptor per queue."""

    def __init__(self, name, fds, tap, offload):
        self.name, self.tap, self.offload = name, tap, offload
        self.queues = [Queue(fd, offload) for fd in fds]

    # the first queue stands for the device
    def fileno(self):
        return self.queues[0].fileno()

    def read(self, n=MAX_PACKET):
        return self.queues[0].read(n)

    def write(self, pkt):
        return self.queues[0].write(pkt)

    def read_vnet(self):
        return self.queues[0].read_vnet()

    def write_vnet(self, hdr, pkt):
        return self.queues[0].write_vnet(hdr, pkt)

    def set_blocking(self, on):
        for q in self.queues:
            os.set_blocking(q.fd, on)

    def close(self):
        for q in self.queues:
            q.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Queue:
    def __init__(self, fd, offload):
        self.fd, self.offload = fd, offload

    def fileno(self):
        return self.fd

    def read(self, n=MAX_PACKET):
        """One packet (with offload: its virtio_net_hdr stripped)."""
        data = os.read(self.fd, n)
        return data[VNET_HDR.size:] if self.offload else data

    def write(self, pkt):
        if self.offload:
            return os.write(self.fd, bytes(VNET_HDR.size) + bytes(pkt)) - VNET_HDR.size
        return os.write(self.fd, pkt)

    def read_vnet(self):
        """(header tuple, packet): a super-packet when gso_type is not GSO_NONE."""
        data = os.read(self.fd, MAX_PACKET)
        return VNET_HDR.unpack_from(data), memoryview(data)[VNET_HDR.size:]

    def write_vnet(self, hdr, pkt):
        return os.writev(self.fd, [VNET_HDR.pack(*hdr), pkt])

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def open(name, *, tap=False, netns=None, queues=1, offload=False, udp_offload=False):  # noqa: A001 - like os.open
    """Open (creating if needed) TUN/TAP device ``name`` in namespace
    ``netns`` (None: the caller's). A device created here is removed when the
    last queue closes, unless it existed (persistent, e.g. made by vnet apply)."""
    if udp_offload and not offload:
        raise ValueError("udp_offload needs offload=True (the virtio_net_hdr says what a super-packet is)")
    features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | (TUN_F_USO4 | TUN_F_USO6 if udp_offload else 0)
    from .kernel.session import Kernel
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI
    if queues > 1:
        flags |= IFF_MULTI_QUEUE
    if offload:
        flags |= IFF_VNET_HDR
    fds = []
    with Kernel() as k, k.entered(netns):
        try:
            for _ in range(queues):
                fd = open_dev()
                fds.append(fd)
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
        except OSError as e:
            for fd in fds:
                os.close(fd)
            raise OSError(e.errno, f"cannot open {'tap' if tap else 'tun'} device {name!r}"
                                   f"{'' if netns is None else ' in ' + netns}: {e.strerror} (a device of "
                                   "another type or other flags may hold the name)") from None
    try:
        for fd in fds if offload else ():
            fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR.size))
            # checksum and TCP (and UDP) segmentation offload: the kernel may hand
            # over super-packets, and takes them back to segment itself
            fcntl.ioctl(fd, TUNSETOFFLOAD, features)
    except OSError as e:
        for fd in fds:
            os.close(fd)
        if udp_offload and e.errno == 22:   # EINVAL: a kernel before 6.2 has no USO for TUN
            raise OSError(e.errno, f"cannot open {name!r} with UDP offload: this kernel ({os.uname().release}) "
                                   "does not offer it to TUN/TAP (Linux 6.2 does)") from None
        raise OSError(e.errno, f"cannot set the offloads of {name!r}: {e.strerror}") from None
    return Device(name, fds, tap, offload)
